package tftp

import (
	"net"
	"testing"
)

// BenchmarkRRQ measures a whole read of the switch-config bait (a few
// blocks) by one client.
func BenchmarkRRQ(b *testing.B) {
	rateBurst, perSource = 1e9, 1000
	b.Cleanup(func() { rateBurst, perSource = 10, 8 })
	srv := startServer(b, nil)
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	p := &peer{t: b, c: c}
	name := switchConfig()
	for b.Loop() {
		if got, errPkt := p.get(srv.addr, name); len(got) == 0 {
			b.Fatalf("RRQ: %q", errPkt)
		}
	}
}
