package honeypot

import (
	"net/netip"
	"testing"

	"github.com/decnet-go/decnet/internal/decky"
)

func TestPacketEvent(t *testing.T) {
	env := Env{Decky: decky.Identity{Name: "decky-01"}}
	src := netip.MustParseAddrPort("[::ffff:198.51.100.7]:40000")
	dst := netip.MustParseAddrPort("10.0.0.5:69")
	e := PacketEvent(env, "tftp", "sess-1", src, dst, "request")
	if err := e.Validate(); err != nil {
		t.Fatal(err)
	}
	want := struct {
		decky, service, typ, session, proto, src, dst string
		sport, dport                                  int
	}{"decky-01", "tftp", "request", "sess-1", "udp", "198.51.100.7", "10.0.0.5", 40000, 69}
	if e.Decky != want.decky || e.Service != want.service || e.Type != want.typ || e.Session != want.session ||
		e.Proto != want.proto || e.SrcIP != want.src || e.DstIP != want.dst || e.SrcPort != want.sport || e.DstPort != want.dport {
		t.Errorf("PacketEvent = %+v", e)
	}
	if e := PacketEvent(env, "tftp", "", netip.AddrPort{}, netip.AddrPort{}, "request"); e.SrcIP != "" || e.DstPort != 0 {
		t.Errorf("zero addresses filled in: %+v", e)
	}
}
