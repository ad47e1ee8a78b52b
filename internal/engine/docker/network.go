package docker

import (
	"context"
	"fmt"
	"net/netip"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
)

// networkSpec is the docker network a fleet lives on.
type networkSpec struct {
	Name    string
	Driver  string // bridge, macvlan or ipvlan
	Options map[string]string
	Subnet  netip.Prefix
	Gateway netip.Addr
	IPRange netip.Prefix // macvlan/ipvlan: the tightest CIDR covering the deckies
}

// planNetwork checks the network options against the fleet's addresses.
func planNetwork(name string, o DeployOptions, ips []netip.Addr) (networkSpec, error) {
	n := networkSpec{Name: name, Driver: o.Network, Subnet: o.Subnet.Masked(), Gateway: o.Gateway}
	if n.Driver == "" {
		n.Driver = "bridge"
	}
	if !n.Subnet.IsValid() {
		return n, fmt.Errorf("--subnet is not set: the %s network needs the subnet the deckies live in", n.Driver)
	}
	if !n.Subnet.Addr().Is4() {
		return n, fmt.Errorf("--subnet %s: only IPv4 subnets are supported", o.Subnet)
	}
	if !n.Gateway.IsValid() {
		n.Gateway = n.Subnet.Addr().Next()
	}
	if !n.Subnet.Contains(n.Gateway) {
		return n, fmt.Errorf("--gateway %s is outside --subnet %s", n.Gateway, n.Subnet)
	}
	switch n.Driver {
	case "bridge":
		if o.Parent != "" {
			return n, fmt.Errorf("--parent %s: only macvlan and ipvlan networks have a parent NIC", o.Parent)
		}
	case "macvlan", "ipvlan":
		if o.Parent == "" {
			return n, fmt.Errorf("--parent is not set: a %s network needs the host NIC on the LAN (e.g. eth0)", n.Driver)
		}
		n.Options = map[string]string{"parent": o.Parent}
		if n.Driver == "macvlan" {
			n.Options["macvlan_mode"] = "bridge"
		} else {
			n.Options["ipvlan_mode"] = "l2"
		}
		if len(ips) > 0 {
			n.IPRange = coverPrefix(ips)
		}
	default:
		return n, fmt.Errorf("--network %q: use bridge, macvlan or ipvlan", o.Network)
	}
	return n, nil
}

// coverPrefix is the smallest IPv4 prefix holding every address.
func coverPrefix(ips []netip.Addr) netip.Prefix {
	lo, hi := ips[0], ips[0]
	for _, ip := range ips[1:] {
		if ip.Less(lo) {
			lo = ip
		}
		if hi.Less(ip) {
			hi = ip
		}
	}
	a, b := lo.As4(), hi.As4()
	x := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	y := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	bits := 32
	for x>>(32-bits) != y>>(32-bits) {
		bits--
	}
	p, _ := lo.Prefix(bits)
	return p
}

// ensureNetwork creates the network, or reuses it when it already matches.
// A network of that name that decnet does not manage is never touched.
func (d *Driver) ensureNetwork(ctx context.Context, n networkSpec, progress func(string, ...any)) error {
	res, err := d.cli.NetworkInspect(ctx, n.Name, client.NetworkInspectOptions{})
	switch {
	case err == nil:
		nw := res.Network
		if nw.Labels[LabelManaged] != "true" {
			return fmt.Errorf("docker network %s exists and was not created by decnet: remove it or choose another name", n.Name)
		}
		same := nw.Driver == n.Driver && len(nw.IPAM.Config) == 1 && nw.IPAM.Config[0].Subnet == n.Subnet &&
			(n.Options["parent"] == "" || nw.Options["parent"] == n.Options["parent"])
		if same {
			if !n.IPRange.IsValid() || nw.IPAM.Config[0].IPRange == n.IPRange || len(nw.Containers) > 0 {
				progress("network %s (%s %s) is up to date", n.Name, n.Driver, n.Subnet)
				return nil
			}
		}
		if len(nw.Containers) > 0 {
			return fmt.Errorf("docker network %s is %s %s with containers attached; the fleet needs %s %s: run `decnet teardown --all` first",
				n.Name, nw.Driver, subnetOf(nw), n.Driver, n.Subnet)
		}
		if _, err := d.cli.NetworkRemove(ctx, nw.ID, client.NetworkRemoveOptions{}); err != nil {
			return fmt.Errorf("remove outdated network %s: %w", n.Name, err)
		}
		progress("network %s removed (it was %s %s)", n.Name, nw.Driver, subnetOf(nw))
	case !cerrdefs.IsNotFound(err):
		return fmt.Errorf("inspect network %s: %w", n.Name, err)
	}
	cfg := network.IPAMConfig{Subnet: n.Subnet, Gateway: n.Gateway, IPRange: n.IPRange}
	_, err = d.cli.NetworkCreate(ctx, n.Name, client.NetworkCreateOptions{
		Driver:  n.Driver,
		Options: n.Options,
		IPAM:    &network.IPAM{Driver: "default", Config: []network.IPAMConfig{cfg}},
		Labels:  map[string]string{LabelManaged: "true", LabelNetwork: n.Name},
	})
	if err != nil {
		return fmt.Errorf("create %s network %s (%s): %w", n.Driver, n.Name, n.Subnet, err)
	}
	progress("network %s created (%s %s, gateway %s)", n.Name, n.Driver, n.Subnet, n.Gateway)
	return nil
}

func subnetOf(nw network.Inspect) string {
	if len(nw.IPAM.Config) == 0 {
		return "(no subnet)"
	}
	return nw.IPAM.Config[0].Subnet.String()
}

// FreeSubnet returns a /24 in 172.30.0.0/16 that no docker network uses,
// for a bridge network when no subnet is given.
func (d *Driver) FreeSubnet(ctx context.Context) (netip.Prefix, error) {
	res, err := d.cli.NetworkList(ctx, client.NetworkListOptions{})
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("list docker networks: %w", err)
	}
	var used []netip.Prefix
	for _, nw := range res.Items {
		for _, c := range nw.IPAM.Config {
			if c.Subnet.IsValid() {
				used = append(used, c.Subnet)
			}
		}
	}
next:
	for i := 0; i < 256; i++ {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{172, 30, byte(i), 0}), 24)
		for _, u := range used {
			if u.Overlaps(p) {
				continue next
			}
		}
		return p, nil
	}
	return netip.Prefix{}, fmt.Errorf("no free /24 in 172.30.0.0/16: give one with --subnet")
}

// currentSubnet is the subnet of the fleet's network when decnet made it
// already; the zero prefix when there is none.
func (d *Driver) currentSubnet(ctx context.Context) (netip.Prefix, error) {
	res, err := d.cli.NetworkInspect(ctx, d.network(), client.NetworkInspectOptions{})
	if cerrdefs.IsNotFound(err) {
		return netip.Prefix{}, nil
	}
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("inspect network %s: %w", d.network(), err)
	}
	if res.Network.Labels[LabelManaged] != "true" || len(res.Network.IPAM.Config) == 0 {
		return netip.Prefix{}, nil
	}
	return res.Network.IPAM.Config[0].Subnet, nil
}
