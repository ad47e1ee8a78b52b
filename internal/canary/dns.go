package canary

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"strings"
	"time"
)

// The DNS listener is authoritative for the canary zone: the operator
// delegates the zone's NS to it, so an attacker's resolver asks it about
// <slug>.<zone> and the lookup becomes a trigger. The parser accepts one
// question, no compression in it, and nothing else that a stub or
// recursive resolver would not send.

// DNS constants (RFC 1035, RFC 6891).
const (
	dnsTypeA    = 1
	dnsTypeNS   = 2
	dnsTypeSOA  = 6
	dnsTypeAAAA = 28
	dnsTypeOPT  = 41
	dnsTypeANY  = 255
	dnsClassIN  = 1

	rcodeNoError  = 0
	rcodeFormErr  = 1
	rcodeNXDomain = 3
	rcodeNotImp   = 4
	rcodeRefused  = 5

	dnsMaxPacket = 4096
	dnsTTL       = 60
	dnsDedup     = 10 * time.Second
	maxDNSSeen   = 4096
	maxDNSFires  = 64 // concurrent trigger recordings
)

// canaryA is the address every slug resolves to: TEST-NET-1, which routes
// nowhere, so the lookup is all the attacker gets.
var canaryA = [4]byte{192, 0, 2, 1}

var errDNSFormat = errors.New("malformed dns query")

// dnsQuery is a parsed query.
type dnsQuery struct {
	id       uint16
	flags    uint16 // as received: opcode and RD are echoed
	labels   []string
	qtype    uint16
	qclass   uint16
	question []byte // the question section as received (0x20 case kept)
	edns     bool
}

// parseDNSQuery parses a query strictly. A packet that is not a query at
// all (too short, a response) returns ok=false: it gets no answer.
func parseDNSQuery(b []byte) (q dnsQuery, ok bool, err error) {
	if len(b) < 12 {
		return q, false, errDNSFormat
	}
	q.id = binary.BigEndian.Uint16(b[0:2])
	q.flags = binary.BigEndian.Uint16(b[2:4])
	if q.flags&0x8000 != 0 {
		return q, false, errDNSFormat // a response: answering could loop
	}
	qd, an, ns, ar := binary.BigEndian.Uint16(b[4:6]), binary.BigEndian.Uint16(b[6:8]), binary.BigEndian.Uint16(b[8:10]), binary.BigEndian.Uint16(b[10:12])
	if qd != 1 || an != 0 || ns != 0 || ar > 1 {
		return q, true, errDNSFormat
	}
	off := 12
	total := 0
	for {
		if off >= len(b) {
			return q, true, errDNSFormat
		}
		n := int(b[off])
		off++
		if n == 0 {
			break
		}
		if n > 63 { // a compression pointer or reserved label type
			return q, true, errDNSFormat
		}
		if off+n > len(b) || len(q.labels) >= 127 {
			return q, true, errDNSFormat
		}
		total += n + 1
		if total > 254 {
			return q, true, errDNSFormat
		}
		q.labels = append(q.labels, string(b[off:off+n]))
		off += n
	}
	if off+4 > len(b) {
		return q, true, errDNSFormat
	}
	q.qtype = binary.BigEndian.Uint16(b[off:])
	q.qclass = binary.BigEndian.Uint16(b[off+2:])
	off += 4
	q.question = b[12:off]
	if ar == 1 {
		// Only an EDNS OPT record may follow: root name, type 41.
		if off+11 > len(b) || b[off] != 0 || binary.BigEndian.Uint16(b[off+1:]) != dnsTypeOPT {
			return q, true, errDNSFormat
		}
		rdlen := int(binary.BigEndian.Uint16(b[off+9:]))
		if off+11+rdlen != len(b) {
			return q, true, errDNSFormat
		}
		q.edns = true
	} else if off != len(b) {
		return q, true, errDNSFormat
	}
	return q, true, nil
}

// dnsAnswer is what the listener decided for a query.
type dnsAnswer struct {
	rcode uint16
	a     bool   // include the A record
	soa   bool   // include the zone's SOA (authority for negatives, answer for SOA at the apex)
	slug  string // the label that fires, "" for none
}

// decideDNS answers a parsed query for zone (lower-case, no trailing dot).
func decideDNS(q dnsQuery, zone []string) dnsAnswer {
	if (q.flags>>11)&0xf != 0 {
		return dnsAnswer{rcode: rcodeNotImp}
	}
	if q.qclass != dnsClassIN && q.qclass != dnsTypeANY {
		return dnsAnswer{rcode: rcodeRefused}
	}
	if len(zone) == 0 || len(q.labels) < len(zone) {
		return dnsAnswer{rcode: rcodeRefused}
	}
	sub := len(q.labels) - len(zone)
	for i, z := range zone {
		if !strings.EqualFold(q.labels[sub+i], z) {
			return dnsAnswer{rcode: rcodeRefused} // not ours: what an authoritative-only server says
		}
	}
	switch sub {
	case 0: // the apex exists; only its SOA is served
		return dnsAnswer{rcode: rcodeNoError, soa: true}
	case 1:
		label := strings.ToLower(q.labels[0])
		if !validSlug(label) {
			return dnsAnswer{rcode: rcodeNXDomain, soa: true}
		}
		// Every slug-shaped name exists, known or not, as every slug
		// gets the GIF over HTTP: the answer tells nothing.
		ans := dnsAnswer{rcode: rcodeNoError, slug: label, soa: true}
		if q.qtype == dnsTypeA || q.qtype == dnsTypeANY {
			ans.a, ans.soa = true, false
		}
		return ans
	}
	return dnsAnswer{rcode: rcodeNXDomain, soa: true}
}

// buildDNSResponse renders the answer. serial is the SOA serial.
func buildDNSResponse(q dnsQuery, ans dnsAnswer, zone []string, serial uint32) []byte {
	out := make([]byte, 12, 160+len(q.question))
	binary.BigEndian.PutUint16(out[0:], q.id)
	// QR, the received opcode and RD, AA; RA stays 0 (no recursion here).
	flags := uint16(0x8000) | (q.flags & 0x7900) | 0x0400 | ans.rcode
	if ans.rcode == rcodeRefused || ans.rcode == rcodeNotImp || ans.rcode == rcodeFormErr {
		flags &^= 0x0400
	}
	binary.BigEndian.PutUint16(out[2:], flags)
	if q.question == nil {
		return out // FORMERR: header only
	}
	binary.BigEndian.PutUint16(out[4:], 1)
	out = append(out, q.question...)
	var an, ns uint16
	if ans.a {
		out = append(out, 0xc0, 0x0c) // the question's name
		out = binary.BigEndian.AppendUint16(out, dnsTypeA)
		out = binary.BigEndian.AppendUint16(out, dnsClassIN)
		out = binary.BigEndian.AppendUint32(out, dnsTTL)
		out = binary.BigEndian.AppendUint16(out, 4)
		out = append(out, canaryA[:]...)
		an++
	}
	// The SOA is only ever added for names inside the zone.
	if ans.soa && ans.rcode != rcodeRefused && ans.rcode != rcodeNotImp && len(q.labels) >= len(zone) {
		// Offset of the zone's first label inside the question, for
		// compression pointers to the zone name.
		zoneOff := 12
		for _, l := range q.labels[:len(q.labels)-len(zone)] {
			zoneOff += 1 + len(l)
		}
		ptr := []byte{0xc0 | byte(zoneOff>>8), byte(zoneOff)}
		out = append(out, ptr...)
		out = binary.BigEndian.AppendUint16(out, dnsTypeSOA)
		out = binary.BigEndian.AppendUint16(out, dnsClassIN)
		out = binary.BigEndian.AppendUint32(out, dnsTTL)
		var rd []byte
		rd = append(rd, 3, 'n', 's', '1')
		rd = append(rd, ptr...)
		rd = append(rd, 10, 'h', 'o', 's', 't', 'm', 'a', 's', 't', 'e', 'r')
		rd = append(rd, ptr...)
		rd = binary.BigEndian.AppendUint32(rd, serial)
		rd = binary.BigEndian.AppendUint32(rd, 7200)    // refresh
		rd = binary.BigEndian.AppendUint32(rd, 3600)    // retry
		rd = binary.BigEndian.AppendUint32(rd, 1209600) // expire
		rd = binary.BigEndian.AppendUint32(rd, dnsTTL)  // negative TTL
		out = binary.BigEndian.AppendUint16(out, uint16(len(rd)))
		out = append(out, rd...)
		if q.qtype == dnsTypeSOA && len(q.labels) == len(zone) {
			an++
		} else {
			ns++
		}
	}
	binary.BigEndian.PutUint16(out[6:], an)
	binary.BigEndian.PutUint16(out[8:], ns)
	if q.edns {
		out = append(out, 0, 0, dnsTypeOPT, 0x04, 0xd0, 0, 0, 0, 0, 0, 0) // OPT, UDP 1232
		binary.BigEndian.PutUint16(out[10:], 1)
	}
	return out
}

// respondDNS handles one packet: the reply (nil for silence) and the slug
// the query names, if any.
func respondDNS(pkt []byte, zone []string, serial uint32) (reply []byte, slug, qname string) {
	q, ok, err := parseDNSQuery(pkt)
	if !ok {
		return nil, "", ""
	}
	if err != nil {
		fe := dnsQuery{id: q.id, flags: q.flags}
		return buildDNSResponse(fe, dnsAnswer{rcode: rcodeFormErr}, zone, serial), "", ""
	}
	ans := decideDNS(q, zone)
	return buildDNSResponse(q, ans, zone, serial), ans.slug, strings.ToLower(strings.Join(q.labels, "."))
}

// ServeDNS answers queries on pc until ctx ends. Answers go out at once;
// recording a trigger (store, events) happens beside, bounded, and
// ServeDNS waits for those before it returns.
func (l *Listener) ServeDNS(ctx context.Context, pc net.PacketConn) error {
	l.init()
	zone := strings.Split(normZone(l.DNSZone), ".")
	if zone[0] == "" {
		return ErrNoDNSZone
	}
	stop := context.AfterFunc(ctx, func() { _ = pc.SetReadDeadline(time.Now()) })
	defer stop()
	defer l.dnsWG.Wait()
	sem := make(chan struct{}, maxDNSFires)
	buf := make([]byte, dnsMaxPacket)
	for {
		n, addr, err := pc.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		now := l.now().UTC()
		serial := uint32(now.Year())*1000000 + uint32(now.Month())*10000 + uint32(now.Day())*100 + 1
		reply, slug, qname := l.safeRespond(buf[:n], zone, serial, addr)
		if reply == nil {
			continue
		}
		_ = pc.SetWriteDeadline(time.Now().Add(2 * time.Second))
		if _, err := pc.WriteTo(reply, addr); err != nil {
			l.log().Debug("canary: dns write", "service", Service, "err", err)
		}
		if slug == "" {
			continue
		}
		src := addrIP(addr)
		if !l.dnsFirst(slug, src, now) {
			continue
		}
		select {
		case sem <- struct{}{}:
		default:
			l.log().Warn("canary: dns trigger dropped, too many in flight", "service", Service, "src_ip", src)
			continue
		}
		l.dnsWG.Add(1)
		go func() {
			defer l.dnsWG.Done()
			defer func() { <-sem }()
			defer func() {
				if v := recover(); v != nil {
					l.log().Error("canary: dns trigger panic", "service", Service, "src_ip", src, "panic", v)
				}
			}()
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
			defer cancel()
			l.dnsHit(fctx, slug, qname, src)
		}()
	}
}

// safeRespond is respondDNS behind a recover: one bad packet must not
// take the listener down (the parser is fuzzed; this is the backstop).
func (l *Listener) safeRespond(pkt []byte, zone []string, serial uint32, from net.Addr) (reply []byte, slug, qname string) {
	defer func() {
		if v := recover(); v != nil {
			l.log().Error("canary: dns packet panic", "service", Service, "src_ip", addrIP(from), "panic", v)
			reply, slug, qname = nil, "", ""
		}
	}()
	return respondDNS(pkt, zone, serial)
}

func addrIP(a net.Addr) string {
	if ua, ok := a.(*net.UDPAddr); ok {
		if ip, ok := netip.AddrFromSlice(ua.IP); ok {
			return ip.Unmap().String()
		}
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return host
}

// dnsFirst reports whether this is the first query for slug from src in
// the de-duplication window.
func (l *Listener) dnsFirst(slug, src string, now time.Time) bool {
	key := slug + "|" + src
	l.mu.Lock()
	defer l.mu.Unlock()
	if t, ok := l.dnsSeen[key]; ok && now.Sub(t) < dnsDedup {
		return false
	}
	if len(l.dnsSeen) >= maxDNSSeen {
		for k, t := range l.dnsSeen {
			if now.Sub(t) >= dnsDedup {
				delete(l.dnsSeen, k)
			}
		}
		if len(l.dnsSeen) >= maxDNSSeen {
			clear(l.dnsSeen) // a flood: forgetting only costs duplicate triggers
		}
	}
	l.dnsSeen[key] = now
	return true
}

func (l *Listener) dnsHit(ctx context.Context, slug, qname, src string) {
	tok, ok := l.plantedToken(ctx, slug)
	if !ok {
		return
	}
	l.fire(ctx, tok, Trigger{Via: "dns", SrcIP: src, DNSQName: qname, RawHeaders: map[string]string{}})
}
