package decky

import (
	"fmt"
	"net/netip"
)

// DefaultSubnet and DefaultIPStart are where deckies live when the fleet
// names no network: loopback addresses the local driver can bind without
// any setup.
var (
	DefaultSubnet  = netip.MustParsePrefix("127.42.0.0/16")
	DefaultIPStart = netip.MustParseAddr("127.42.0.11")
)

// Allocate gives every decky without an address the next free host address
// of n.Subnet, counting up from n.IPStart (or the subnet's first host). It
// skips the network and broadcast addresses, the gateway, host (the
// machine's own address; zero when unknown) and every address a decky
// already has. With no subnet it allocates from DefaultSubnet starting at
// DefaultIPStart. It fails when the subnet runs out.
func Allocate(deckies []Decky, n Network, host netip.Addr) error {
	subnet, start := n.Subnet, n.IPStart
	if !subnet.IsValid() {
		subnet = DefaultSubnet
		if !start.IsValid() {
			start = DefaultIPStart
		}
	}
	if !start.IsValid() {
		start = subnet.Addr().Next()
	}
	if !subnet.Contains(start) {
		return fmt.Errorf("ip_start %s is outside net %s", start, subnet)
	}
	taken := map[netip.Addr]bool{n.Gateway: true, host: true}
	if subnet.Bits() <= 30 {
		taken[subnet.Addr()] = true
		taken[broadcast(subnet)] = true
	}
	for _, d := range deckies {
		if d.IP.IsValid() {
			taken[d.IP] = true
		}
	}
	next := start
	for i := range deckies {
		if deckies[i].IP.IsValid() {
			continue
		}
		for next.IsValid() && subnet.Contains(next) && taken[next] {
			next = next.Next()
		}
		if !next.IsValid() || !subnet.Contains(next) {
			return fmt.Errorf("net %s has no free address left for decky %s (from %s on); use a larger net or fewer deckies", subnet, deckies[i].Name, start)
		}
		deckies[i].IP = next
		taken[next] = true
	}
	return nil
}

// broadcast is the last address of an IPv4 prefix.
func broadcast(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	hostBits := 32 - p.Bits()
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	if hostBits > 0 {
		v |= 1<<hostBits - 1
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}
