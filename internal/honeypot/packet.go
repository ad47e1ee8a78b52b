package honeypot

import (
	"net/netip"

	"github.com/decnet-go/decnet/internal/event"
)

// PacketEvent returns an event of a datagram exchange with the envelope
// filled in, as Conn.Event does for a TCP connection: proto "udp", the
// addresses of both ends and session as given (one id per exchange — a
// tftp transfer, an snmp request). A datagram service builds its events
// with it and sends them through env.Emit.
func PacketEvent(env Env, service, session string, src, dst netip.AddrPort, typ string) event.Event {
	e := event.New(env.Decky.Name, service, typ)
	e.Session = session
	e.Proto = "udp"
	if src.IsValid() {
		e.SrcIP, e.SrcPort = src.Addr().Unmap().String(), int(src.Port())
	}
	if dst.IsValid() {
		e.DstIP, e.DstPort = dst.Addr().Unmap().String(), int(dst.Port())
	}
	return e
}
