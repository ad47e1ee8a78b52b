package docker

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/decnet-go/decnet/internal/decky"
)

// FlagFleet makes the fleet of `decnet deploy --deckies N --services …`:
// decky-01…NN with addresses taken one after another from the subnet,
// skipping the network address, the gateway and the broadcast address.
// It belongs with the fleet model in internal/decky once that package has
// its allocator.
func FlagFleet(n int, services []string, subnet netip.Prefix, gateway netip.Addr) ([]decky.Decky, error) {
	if n < 1 || n > 99 {
		return nil, fmt.Errorf("--deckies %d: choose 1 to 99", n)
	}
	if len(services) == 0 {
		return nil, errors.New("--services is empty: name at least one (e.g. ssh,http)")
	}
	subnet = subnet.Masked()
	if !subnet.IsValid() || !subnet.Addr().Is4() {
		return nil, fmt.Errorf("--subnet %s: an IPv4 subnet is needed to allocate addresses", subnet)
	}
	if !gateway.IsValid() {
		gateway = subnet.Addr().Next()
	}
	bcast := lastAddr(subnet)
	var out []decky.Decky
	for ip := subnet.Addr().Next(); subnet.Contains(ip) && ip != bcast && len(out) < n; ip = ip.Next() {
		if ip == gateway {
			continue
		}
		out = append(out, decky.Decky{
			Name:     fmt.Sprintf("decky-%02d", len(out)+1),
			IP:       ip,
			Services: append([]string(nil), services...),
		})
	}
	if len(out) < n {
		return nil, fmt.Errorf("--subnet %s has room for %d deckies, not %d", subnet, len(out), n)
	}
	return out, nil
}

func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := (uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])) | host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}
