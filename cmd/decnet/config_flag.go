package main

import (
	"fmt"
	"strings"

	"github.com/decnet-go/decnet/internal/decky"
	"github.com/decnet-go/decnet/internal/honeypot/builtin"
)

// registryCatalog lets the fleet loader check service names and persona
// keys against the compiled-in services. (The adapter lives here because
// honeypot imports decky, so decky cannot name honeypot types.)
// fleetCatalog is the service catalog every fleet file is checked against.
func fleetCatalog() decky.ServiceCatalog { return builtin.Registry() }

// loadLocalFleet reads the fleet file of `decnet up --config` for the local
// driver, which runs every decky in this process on a loopback address. A
// fleet planned for a real LAN is refused, not rewritten.
func loadLocalFleet(path string) ([]decky.Decky, error) {
	f, err := decky.LoadFile(path, fleetCatalog())
	if err != nil {
		return nil, err
	}
	if err := f.CheckRunnable(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var off []string
	for _, d := range f.Deckies {
		if !d.IP.IsLoopback() {
			off = append(off, fmt.Sprintf("%s (%s)", d.Name, d.IP))
		}
	}
	if len(off) > 0 {
		more := ""
		if len(off) > 3 {
			more = fmt.Sprintf(" and %d more", len(off)-3)
			off = off[:3]
		}
		return nil, fmt.Errorf("%s: decky %s%s not on loopback.\n"+
			"  decnet up runs every decky in this process on a loopback address (127.x.y.z);\n"+
			"  a fleet with real LAN addresses is meant for the docker driver (decnet deploy --driver docker).\n"+
			"  To run this fleet here, drop net= from [general] and the ip= keys (addresses are then\n"+
			"  allocated from 127.42.0.11), or give 127.x.y.z addresses",
			path, strings.Join(off, ", "), more)
	}
	return f.Deckies, nil
}
