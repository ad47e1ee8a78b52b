package docker

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
)

// Hairpin interface names, as DECNET names them: macvlan and ipvlan
// children cannot talk to their parent NIC, so the host reaches its
// deckies through a sibling interface of its own on the same parent.
const (
	hairpinMacvlan = "decnet_macvlan0"
	hairpinIPvlan  = "decnet_ipvlan0"
)

func hairpinName(driver string) string {
	if driver == "ipvlan" {
		return hairpinIPvlan
	}
	return hairpinMacvlan
}

// HostAddr is the host's own IPv4 address on parent inside subnet: the
// address the hairpin interface takes (as a /32) and where deckies reach
// the host.
func HostAddr(parent string, subnet netip.Prefix) (netip.Addr, error) {
	link, err := netlink.LinkByName(parent)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("--parent %s: %w", parent, err)
	}
	addrs, err := netlink.AddrList(link, netlink.FAMILY_V4)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("--parent %s: list addresses: %w", parent, err)
	}
	for _, a := range addrs {
		if ip, ok := netip.AddrFromSlice(a.IP.To4()); ok && subnet.Contains(ip) {
			return ip, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("--parent %s has no address in %s: the host needs one on the deckies' LAN", parent, subnet)
}

// ensureHairpin creates (or refreshes) the host's hairpin interface on the
// parent of a macvlan/ipvlan network: hostIP/32 on it and a route to the
// deckies' range through it. It needs CAP_NET_ADMIN.
func ensureHairpin(n networkSpec, hostIP netip.Addr, progress func(string, ...any)) error {
	if n.Driver != "macvlan" && n.Driver != "ipvlan" {
		return nil
	}
	if !n.IPRange.IsValid() {
		return errors.New("hairpin: the deckies' range is unknown")
	}
	parent, err := netlink.LinkByName(n.Options["parent"])
	if err != nil {
		return fmt.Errorf("hairpin: parent %s: %w", n.Options["parent"], err)
	}
	name := hairpinName(n.Driver)
	link, err := netlink.LinkByName(name)
	if err == nil && link.Attrs().ParentIndex != parent.Attrs().Index {
		// Left over from a fleet on another NIC.
		if err := netlink.LinkDel(link); err != nil {
			return fmt.Errorf("hairpin: remove stale %s: %w", name, err)
		}
		link = nil
	}
	if link == nil || err != nil {
		attrs := netlink.NewLinkAttrs()
		attrs.Name = name
		attrs.ParentIndex = parent.Attrs().Index
		var nl netlink.Link = &netlink.Macvlan{LinkAttrs: attrs, Mode: netlink.MACVLAN_MODE_BRIDGE}
		if n.Driver == "ipvlan" {
			nl = &netlink.IPVlan{LinkAttrs: attrs, Mode: netlink.IPVLAN_MODE_L2}
		}
		if err := netlink.LinkAdd(nl); err != nil {
			return fmt.Errorf("hairpin: create %s on %s (needs CAP_NET_ADMIN): %w", name, parent.Attrs().Name, err)
		}
		if link, err = netlink.LinkByName(name); err != nil {
			return fmt.Errorf("hairpin: %w", err)
		}
		progress("hairpin %s created on %s", name, parent.Attrs().Name)
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: hostIP.AsSlice(), Mask: net.CIDRMask(32, 32)}}
	if err := netlink.AddrReplace(link, addr); err != nil {
		return fmt.Errorf("hairpin: address %s on %s: %w", hostIP, name, err)
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return fmt.Errorf("hairpin: bring %s up: %w", name, err)
	}
	r := n.IPRange.Masked()
	route := &netlink.Route{LinkIndex: link.Attrs().Index, Dst: &net.IPNet{IP: r.Addr().AsSlice(), Mask: net.CIDRMask(r.Bits(), 32)},
		Scope: netlink.SCOPE_LINK}
	if err := netlink.RouteReplace(route); err != nil {
		return fmt.Errorf("hairpin: route %s via %s: %w", r, name, err)
	}
	progress("hairpin %s: %s/32, route to %s", name, hostIP, r)
	return nil
}

// removeHairpin deletes the hairpin interface of a network driver (its
// address and route go with it); a missing one is no error.
func removeHairpin(driver string) error {
	link, err := netlink.LinkByName(hairpinName(driver))
	var nf netlink.LinkNotFoundError
	if errors.As(err, &nf) {
		return nil
	}
	if err != nil {
		return err
	}
	return netlink.LinkDel(link)
}
