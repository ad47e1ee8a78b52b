package canary

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/decnet-go/decnet/internal/testkit/gate"
)

// startDNS runs the rig's listener on a loopback UDP port.
func startDNS(t *testing.T, r *rig) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.l.ServeDNS(ctx, pc) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ServeDNS: %v", err)
		}
		pc.Close()
	})
	return pc.LocalAddr().String()
}

// query builds a DNS query the way a stub resolver does.
func query(id uint16, name string, qtype uint16, edns bool) []byte {
	b := []byte{byte(id >> 8), byte(id), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0}
	for _, l := range strings.Split(strings.TrimSuffix(name, "."), ".") {
		b = append(b, byte(len(l)))
		b = append(b, l...)
	}
	b = append(b, 0)
	b = binary.BigEndian.AppendUint16(b, qtype)
	b = binary.BigEndian.AppendUint16(b, dnsClassIN)
	if edns {
		b[11] = 1
		b = append(b, 0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0)
	}
	return b
}

func exchange(t *testing.T, addr string, q []byte) []byte {
	t.Helper()
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write(q); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1500)
	n, err := c.Read(buf)
	if err != nil {
		return nil
	}
	return buf[:n]
}

func TestDNSAnswers(t *testing.T) {
	zone := strings.Split(testZone, ".")
	slugName := "k3j4h5g6f7d8s9a0q1w2." + testZone
	cases := []struct {
		name            string
		pkt             []byte
		silent          bool
		rcode           int
		aa              bool
		an, ns, ar      int
		slug            string
		wantA, wantEcho bool
	}{
		{"A slug", query(1, slugName, dnsTypeA, false), false, rcodeNoError, true, 1, 0, 0, "k3j4h5g6f7d8s9a0q1w2", true, true},
		{"A slug 0x20 case", query(2, "K3j4H5g6f7d8s9a0q1w2.T.Example.ORG", dnsTypeA, false), false, rcodeNoError, true, 1, 0, 0, "k3j4h5g6f7d8s9a0q1w2", true, true},
		{"ANY slug", query(3, slugName, dnsTypeANY, false), false, rcodeNoError, true, 1, 0, 0, "k3j4h5g6f7d8s9a0q1w2", true, true},
		{"AAAA slug no data", query(4, slugName, dnsTypeAAAA, true), false, rcodeNoError, true, 0, 1, 1, "k3j4h5g6f7d8s9a0q1w2", false, true},
		{"deeper name", query(5, "a.b."+testZone, dnsTypeA, false), false, rcodeNXDomain, true, 0, 1, 0, "", false, true},
		{"not a slug label", query(6, "we_b."+testZone, dnsTypeA, false), false, rcodeNXDomain, true, 0, 1, 0, "", false, true},
		{"apex SOA", query(7, testZone, dnsTypeSOA, false), false, rcodeNoError, true, 1, 0, 0, "", false, true},
		{"apex A", query(8, testZone, dnsTypeA, false), false, rcodeNoError, true, 0, 1, 0, "", false, true},
		{"out of zone", query(9, "example.com", dnsTypeA, false), false, rcodeRefused, false, 0, 0, 0, "", false, true},
		{"two questions", func() []byte { q := query(10, slugName, dnsTypeA, false); q[5] = 2; return q }(), false, rcodeFormErr, false, 0, 0, 0, "", false, false},
		{"compression pointer", append(query(11, "x", dnsTypeA, false)[:12], 0xc0, 0x0c, 0, 1, 0, 1), false, rcodeFormErr, false, 0, 0, 0, "", false, false},
		{"trailing junk", append(query(12, slugName, dnsTypeA, false), 1, 2, 3), false, rcodeFormErr, false, 0, 0, 0, "", false, false},
		{"notify opcode", func() []byte { q := query(13, slugName, dnsTypeA, false); q[2] |= 4 << 3; return q }(), false, rcodeNotImp, false, 0, 0, 0, "", false, true},
		{"response", func() []byte { q := query(14, slugName, dnsTypeA, false); q[2] |= 0x80; return q }(), true, 0, false, 0, 0, 0, "", false, false},
		{"short", []byte{1, 2, 3}, true, 0, false, 0, 0, 0, "", false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			reply, slug, _ := respondDNS(tc.pkt, zone, 2026050101)
			if tc.silent {
				if reply != nil {
					t.Fatalf("answered %x", reply)
				}
				return
			}
			if len(reply) < 12 {
				t.Fatalf("reply %x", reply)
			}
			if reply[0] != tc.pkt[0] || reply[1] != tc.pkt[1] || reply[2]&0x80 == 0 {
				t.Fatal("id or QR")
			}
			if got := int(reply[3] & 0xf); got != tc.rcode {
				t.Fatalf("rcode %d, want %d", got, tc.rcode)
			}
			if aa := reply[2]&0x04 != 0; aa != tc.aa {
				t.Fatalf("AA %v", aa)
			}
			an, ns, ar := int(binary.BigEndian.Uint16(reply[6:])), int(binary.BigEndian.Uint16(reply[8:])), int(binary.BigEndian.Uint16(reply[10:]))
			if an != tc.an || ns != tc.ns || ar != tc.ar {
				t.Fatalf("counts an=%d ns=%d ar=%d", an, ns, ar)
			}
			if slug != tc.slug {
				t.Fatalf("slug %q", slug)
			}
			if tc.wantEcho && string(reply[12:12+len(tc.pkt)-12-11*int(tc.pkt[11])]) != string(tc.pkt[12:len(tc.pkt)-11*int(tc.pkt[11])]) {
				t.Fatal("question not echoed as received")
			}
			if tc.wantA && !strings.HasSuffix(string(reply), "\x00\x00\x00\x3c\x00\x04\xc0\x00\x02\x01") {
				t.Fatalf("A record %x", reply)
			}
		})
	}
}

// TestDNSResolver resolves through the listener with Go's resolver (a real
// client), fires once per lookup and records the resolver's address.
func TestDNSResolver(t *testing.T) {
	tok := testToken("ssh_key", "k3j4h5g6f7d8s9a0q1w2")
	r := newRig(tok)
	addr := startDNS(t, r)
	res := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", addr)
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ips, err := res.LookupHost(ctx, "k3j4h5g6f7d8s9a0q1w2."+testZone)
	if err != nil || len(ips) != 1 || ips[0] != "192.0.2.1" {
		t.Fatalf("LookupHost: %v %v", ips, err)
	}
	_, err = res.LookupHost(ctx, "x.y."+testZone)
	var dnsErr *net.DNSError
	if !errors.As(err, &dnsErr) || !dnsErr.IsNotFound {
		t.Fatalf("deeper name: %v", err)
	}
	// An unknown slug resolves the same and records nothing.
	if ips, err := res.LookupHost(ctx, "unknownslug0000000000."+testZone); err != nil || ips[0] != "192.0.2.1" {
		t.Fatalf("unknown slug: %v %v", ips, err)
	}
	// Over the wire, a malformed query gets FORMERR.
	bad := query(77, "k3j4h5g6f7d8s9a0q1w2."+testZone, dnsTypeA, false)
	bad[5] = 2
	if reply := exchange(t, addr, bad); len(reply) != 12 || reply[3]&0xf != rcodeFormErr || reply[1] != 77 {
		t.Fatalf("formerr reply %x", reply)
	}
	trs := waitTriggers(t, r, 1)
	if tr := trs[0]; tr.Via != "dns" || tr.SrcIP != "127.0.0.1" || tr.DNSQName != "k3j4h5g6f7d8s9a0q1w2."+testZone || tr.TokenUUID != tok.UUID {
		t.Fatalf("trigger %+v", tr)
	}
	evs := r.sink.Events()
	if len(evs) != 1 || evs[0].Fields["kind"] != "dns" || evs[0].Fields["dns_qname"] != "k3j4h5g6f7d8s9a0q1w2."+testZone || evs[0].Fields["via"] != "dns" {
		t.Fatalf("events %+v", evs)
	}
}

// waitTriggers polls (the DNS path records beside the answer) until n
// triggers are in, and checks no more arrive with the ones it waited for.
func waitTriggers(t *testing.T, r *rig, n int) []Trigger {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		trs := r.tokens.Triggers()
		if len(trs) >= n {
			if len(trs) > n {
				t.Fatalf("%d triggers, want %d", len(trs), n)
			}
			return trs
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d triggers after 5s, want %d", len(trs), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestDNSWithDig asks with dig, the client operators (and attackers) use.
func TestDNSWithDig(t *testing.T) {
	dig := gate.Tool(t, "dig")
	tok := testToken("mysql_dump", "k3j4h5g6f7d8s9a0q1w2")
	r := newRig(tok)
	addr := startDNS(t, r)
	host, port, _ := net.SplitHostPort(addr)
	cases := []struct{ name, qname, qtype, want string }{
		{"slug A", "K3J4H5G6F7D8S9A0Q1W2." + testZone, "A", "status: NOERROR"},
		{"slug AAAA", "k3j4h5g6f7d8s9a0q1w2." + testZone, "AAAA", "ANSWER: 0, AUTHORITY: 1"},
		{"nx", "a.b." + testZone, "A", "status: NXDOMAIN"},
		{"refused", "example.com", "A", "status: REFUSED"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := exec.Command(dig, "@"+host, "-p", port, "+tries=1", "+time=2", tc.qname, tc.qtype).CombinedOutput()
			if err != nil {
				t.Fatalf("dig: %v %s", err, out)
			}
			if !strings.Contains(string(out), tc.want) {
				t.Fatalf("dig output lacks %q:\n%s", tc.want, out)
			}
			if tc.name == "slug A" && (!strings.Contains(strings.Join(strings.Fields(string(out)), " "), ". 60 IN A 192.0.2.1") || !strings.Contains(string(out), "flags: qr aa")) {
				t.Fatalf("dig answer:\n%s", out)
			}
		})
	}
	// A then AAAA for the same name from the same resolver is one lookup.
	trs := waitTriggers(t, r, 1)
	if trs[0].Via != "dns" {
		t.Fatalf("trigger %+v", trs[0])
	}
}

func TestServeDNSNeedsZone(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if err := (&Listener{}).ServeDNS(context.Background(), pc); !errors.Is(err, ErrNoDNSZone) {
		t.Fatalf("ServeDNS without zone: %v", err)
	}
}
