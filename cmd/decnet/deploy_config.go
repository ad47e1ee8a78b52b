package main

import (
	"fmt"

	"github.com/decnet-go/decnet/internal/decky"
	"github.com/decnet-go/decnet/internal/engine/docker"
)

// loadFleetFile reads the fleet file of `decnet deploy --config`. The file's
// [general] network (subnet, gateway, interface) fills the flags that were
// not given; a flag always wins.
func loadFleetFile(path string, o *docker.DeployOptions) ([]decky.Decky, error) {
	f, err := decky.LoadFile(path, fleetCatalog())
	if err != nil {
		return nil, err
	}
	// The docker driver runs [custom-*] images too: no CheckRunnable.
	if !o.Subnet.IsValid() {
		o.Subnet = f.Network.Subnet
	}
	if !o.Gateway.IsValid() {
		o.Gateway = f.Network.Gateway
	}
	if o.Parent == "" && o.Network != "bridge" {
		o.Parent = f.Network.Interface
	}
	for _, d := range f.Deckies {
		if d.IP.IsLoopback() {
			return nil, fmt.Errorf("%s: decky %s is on loopback (%s): give the fleet a LAN subnet (net= in [general], or --subnet) for docker",
				path, d.Name, d.IP)
		}
	}
	return f.Deckies, nil
}
