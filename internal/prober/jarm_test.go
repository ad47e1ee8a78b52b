package prober

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// tlsConfigs are the loopback TLS servers the JARM tests run, with the
// hash each gives. The values were computed by this package and checked
// equal, raw string and hash, to Salesforce's jarm.py run against the same
// servers (DECNET_JARM_REFERENCE, TestJARMMatchesReference). Go's server
// picks AES-GCM or ChaCha20 by the CPU's AES support, so the second value
// holds on machines with AES-NI (the project's machines have it).
var tlsConfigs = []struct {
	name string
	cfg  *tls.Config
	want string
}{
	{
		name: "tls12-one-suite",
		cfg: &tls.Config{MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS12,
			CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}},
		want: "27d27d27d00027d00027d27d27d27dc354372cf4e0f164e5808b722db3fafd",
	},
	{
		name: "tls13-default-h2",
		cfg:  &tls.Config{NextProtos: []string{"h2", "http/1.1"}},
		want: "40d40d40d00000000043d43d00043d6aff5ab0f4fc31897186312c9e639319",
	},
	{
		name: "tls13-only",
		cfg:  &tls.Config{MinVersion: tls.VersionTLS13},
		want: "00000000000000000043d43d00043de2a97eabb398317329f027c66e4c1b01",
	},
}

func TestJARMLoopbackTLS(t *testing.T) {
	p := &Prober{Timeout: 2 * time.Second}
	seen := map[string]string{}
	for _, tc := range tlsConfigs {
		t.Run(tc.name, func(t *testing.T) {
			srv := startTLS(t, tc.cfg)
			r, err := p.JARMDetail(context.Background(), srv.addr)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("hash %s\nraw  %s", r.Hash, r.Raw)
			if len(r.Hash) != 62 || r.Hash == ZeroJARM {
				t.Fatalf("hash %q: want a 62-character non-zero JARM", r.Hash)
			}
			if tc.want != "" && r.Hash != tc.want {
				t.Errorf("hash %s, want %s", r.Hash, tc.want)
			}
			if other, dup := seen[r.Hash]; dup {
				t.Errorf("same hash as %s", other)
			}
			seen[r.Hash] = tc.name
			if got := srv.accepted.Load(); got != 10 {
				t.Errorf("%d connections, want the 10 JARM hellos", got)
			}
		})
	}
}

func TestJARMMatchesReference(t *testing.T) {
	p := &Prober{Timeout: 2 * time.Second}
	for _, tc := range tlsConfigs {
		t.Run(tc.name, func(t *testing.T) {
			srv := startTLS(t, tc.cfg)
			wantHash, wantRaw := referenceJARM(t, srv.addr)
			r, err := p.JARMDetail(context.Background(), srv.addr)
			if err != nil {
				t.Fatal(err)
			}
			if r.Raw != wantRaw || r.Hash != wantHash {
				t.Errorf("ours:\n  %s\n  %s\nreference:\n  %s\n  %s", r.Hash, r.Raw, wantHash, wantRaw)
			}
		})
	}
}

func TestJARMNotTLS(t *testing.T) {
	p := &Prober{Timeout: 2 * time.Second}
	cases := []struct {
		name   string
		handle func(net.Conn)
	}{
		{"http", func(c net.Conn) {
			c.Read(make([]byte, 4096))
			io.WriteString(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
		}},
		{"ssh-banner", func(c net.Conn) { io.WriteString(c, "SSH-2.0-OpenSSH_9.6\r\n"); c.Read(make([]byte, 4096)) }},
		{"closes-at-once", func(c net.Conn) {}},
		{"alert", func(c net.Conn) {
			c.Read(make([]byte, 4096))
			c.Write([]byte{21, 3, 3, 0, 2, 2, 40})
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := startServer(t, tc.handle)
			r, err := p.JARMDetail(context.Background(), srv.addr)
			if err != nil {
				t.Fatal(err)
			}
			if r.Hash != ZeroJARM || r.Raw != zeroRaw {
				t.Errorf("got %s (%s), want the all-zero JARM", r.Hash, r.Raw)
			}
			if os.Getenv("DECNET_JARM_REFERENCE") != "" {
				if want, _ := referenceJARM(t, srv.addr); want != r.Hash {
					t.Errorf("reference says %s", want)
				}
			}
		})
	}
}

// A server that never answers times out, which the reference turns into
// the zero hash at once, without the other nine hellos.
func TestJARMSilentServerTimesOut(t *testing.T) {
	srv := startServer(t, func(c net.Conn) { c.Read(make([]byte, 1<<16)); time.Sleep(time.Second) })
	p := &Prober{Timeout: 200 * time.Millisecond}
	r, err := p.JARMDetail(context.Background(), srv.addr)
	if err != nil || r.Hash != ZeroJARM {
		t.Fatalf("got %q, %v; want the zero JARM and no error", r.Hash, err)
	}
	if n := srv.accepted.Load(); n != 1 {
		t.Errorf("%d connections after a timeout, want 1", n)
	}
}

func TestJARMClosedPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	r, err := (&Prober{Timeout: time.Second}).JARMDetail(context.Background(), addr)
	if !errors.Is(err, ErrUnreachable) {
		t.Errorf("error %v, want ErrUnreachable", err)
	}
	if r.Hash != ZeroJARM {
		t.Errorf("hash %s, want zero", r.Hash)
	}
}

func TestJARMContextCancelled(t *testing.T) {
	srv := startTLS(t, &tls.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := (&Prober{}).JARM(ctx, srv.addr); !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}
	if n := srv.accepted.Load(); n != 0 {
		t.Errorf("%d connections after cancel, want 0", n)
	}
}

func TestCipherLists(t *testing.T) {
	if len(allCiphers) != 69 || len(no13Ciphers) != 64 || len(cipherIndex) != 69 {
		t.Fatalf("lists of %d, %d, %d ciphers; want 69, 64, 69", len(allCiphers), len(no13Ciphers), len(cipherIndex))
	}
	a, b := slices.Clone(allCiphers), slices.Clone(cipherIndex)
	slices.Sort(a)
	slices.Sort(b)
	if !slices.Equal(a, b) {
		t.Error("the hash's cipher list is not a permutation of ALL")
	}
	for _, tc := range []struct{ cipher, want string }{
		{"", "00"}, {"0004", "01"}, {"c02b", "27"}, {"c02f", "29"}, {"c030", "2a"}, {"1301", "41"}, {"1305", "45"}, {"abcd", "46"},
	} {
		if got := cipherByte(tc.cipher); got != tc.want {
			t.Errorf("cipherByte(%q) = %s, want %s", tc.cipher, got, tc.want)
		}
	}
	for _, tc := range []struct{ version, want string }{{"", "0"}, {"0301", "b"}, {"0302", "c"}, {"0303", "d"}, {"0304", "e"}, {"7f1c", "0"}} {
		if got := versionByte(tc.version); got != tc.want {
			t.Errorf("versionByte(%q) = %s, want %s", tc.version, got, tc.want)
		}
	}
}

func TestMung(t *testing.T) {
	odd := []int{0, 1, 2, 3, 4}
	even := []int{0, 1, 2, 3}
	for _, tc := range []struct {
		name string
		in   []int
		o    order
		want []int
	}{
		{"forward", odd, forward, []int{0, 1, 2, 3, 4}},
		{"reverse", odd, reverse, []int{4, 3, 2, 1, 0}},
		{"bottom-odd", odd, bottomHalf, []int{3, 4}},
		{"bottom-even", even, bottomHalf, []int{2, 3}},
		{"top-odd", odd, topHalf, []int{2, 1, 0}},
		{"top-even", even, topHalf, []int{1, 0}},
		{"middle-odd", odd, middleOut, []int{2, 3, 1, 4, 0}},
		{"middle-even", even, middleOut, []int{2, 1, 3, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := mung(tc.in, tc.o); !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	// The reference's ALPN list has "spdy/3" and "h2" as one element.
	if len(alpnAll) != 8 || string(alpnAll[5]) != "\x06spdy/3\x02h2" {
		t.Errorf("ALPN list %q lost the reference's merged spdy/3+h2 element", alpnAll)
	}
}

// TestClientHellos checks each hello is a well-formed record that says
// what its probe says: versions, GREASE, the extensions present.
func TestClientHellos(t *testing.T) {
	for i, h := range jarmHellos {
		rec := h.build("127.0.0.1")
		if rec[0] != 0x16 || int(binary.BigEndian.Uint16(rec[3:5])) != len(rec)-5 || rec[5] != 1 {
			t.Fatalf("hello %d: bad record framing % x", i, rec[:9])
		}
		wantRec, wantHello := h.version, h.version
		if h.version == 0x0304 {
			wantRec, wantHello = 0x0301, 0x0303
		}
		if v := binary.BigEndian.Uint16(rec[1:3]); v != wantRec {
			t.Errorf("hello %d: record version %04x, want %04x", i, v, wantRec)
		}
		if v := binary.BigEndian.Uint16(rec[9:11]); v != wantHello {
			t.Errorf("hello %d: hello version %04x, want %04x", i, v, wantHello)
		}
		body := rec[9:]
		sid := int(body[34])
		cs := body[35+sid:]
		n := int(binary.BigEndian.Uint16(cs))
		suites := cs[2 : 2+n]
		greased := suites[0] == suites[1] && suites[1]&0x0f == 0x0a
		if greased != h.grease {
			t.Errorf("hello %d: first suite % x, grease %v", i, suites[:2], h.grease)
		}
		wantN := len(h.ciphers)
		switch h.order {
		case topHalf, bottomHalf:
			wantN = len(mung(h.ciphers, h.order))
		}
		if h.grease {
			wantN++
		}
		if n/2 != wantN {
			t.Errorf("hello %d: %d suites, want %d", i, n/2, wantN)
		}
		ext := cs[2+n+2:]
		el := int(binary.BigEndian.Uint16(ext))
		if el != len(ext)-2 {
			t.Fatalf("hello %d: extensions length %d, have %d", i, el, len(ext)-2)
		}
		var types []uint16
		for e := ext[2:]; len(e) >= 4; {
			typ, l := binary.BigEndian.Uint16(e), int(binary.BigEndian.Uint16(e[2:]))
			types = append(types, typ)
			e = e[4+l:]
		}
		hasSV := slices.Contains(types, 0x002b)
		if want := h.version == 0x0304 || h.sv == sv12; hasSV != want {
			t.Errorf("hello %d: supported_versions present %v, want %v", i, hasSV, want)
		}
		for _, must := range []uint16{0x0000, 0x0017, 0x0001, 0xff01, 0x000a, 0x000b, 0x0023, 0x0010, 0x000d, 0x0033, 0x002d} {
			if !slices.Contains(types, must) {
				t.Errorf("hello %d: extension %04x missing from %04x", i, must, types)
			}
		}
	}
}

func TestJARMHash(t *testing.T) {
	if got := JARMHash(zeroRaw); got != ZeroJARM {
		t.Errorf("zero raw: %s", got)
	}
	// A raw string from the reference (tls12-one-suite above) and its hash.
	raw := "c02b|0303||0023-ff01-0017-000b-0000,c02b|0303||0023-ff01-0017-000b-0000,c02b|0303||0023-ff01-0017-000b-0000,|||,c02b|0303||0023-ff01-0017-000b-0000,|||,c02b|0303||0023-ff01-0017-000b-0000,c02b|0303||0023-ff01-0017-000b-0000,c02b|0303||0023-ff01-0017-000b-0000,c02b|0303||0023-ff01-0017-000b-0000"
	if got := JARMHash(raw); got != tlsConfigs[0].want {
		t.Errorf("JARMHash = %s, want %s", got, tlsConfigs[0].want)
	}
	// Hostile raw strings (a '|' or ',' in the ALPN) still hash, to 62+ hex.
	for _, r := range []string{"c02b|0303|a|b|c", "x,y,z", strings.Repeat("|", 50)} {
		if h := JARMHash(r); len(h) < 32 {
			t.Errorf("JARMHash(%q) = %q", r, h)
		}
	}
}

// serverHello builds a TLS 1.2 ServerHello record with the given session
// id length, cipher and extensions.
func serverHello(sidLen int, cipher uint16, exts []byte) []byte {
	var b []byte
	b = append(b, 3, 3)
	b = append(b, make([]byte, 32)...)
	b = append(b, byte(sidLen))
	b = append(b, make([]byte, sidLen)...)
	b = binary.BigEndian.AppendUint16(b, cipher)
	b = append(b, 0)
	b = binary.BigEndian.AppendUint16(b, uint16(len(exts)))
	b = append(b, exts...)
	hs := append([]byte{2, 0}, binary.BigEndian.AppendUint16(nil, uint16(len(b)))...)
	hs = append(hs, b...)
	rec := append([]byte{22, 3, 3}, binary.BigEndian.AppendUint16(nil, uint16(len(hs)))...)
	return append(rec, hs...)
}

func TestParseServerHello(t *testing.T) {
	alpnH2 := []byte{0x00, 0x10, 0x00, 0x05, 0x00, 0x03, 0x02, 'h', '2'}
	ems := []byte{0x00, 0x17, 0x00, 0x00}
	emptyALPN := []byte{0x00, 0x10, 0x00, 0x00}
	badUTF8 := []byte{0x00, 0x10, 0x00, 0x04, 0x00, 0x02, 0x01, 0xff}
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "|||"},
		{"alert", []byte{21, 3, 3, 0, 2, 2, 40}, "|||"},
		{"http", []byte("HTTP/1.1 400 Bad Request\r\n\r\n"), "|||"},
		{"short", []byte{22, 3, 3, 0, 4, 2}, "|||"},
		{"h2", serverHello(32, 0xc02f, append(slices.Clone(alpnH2), ems...)), "c02f|0303|h2|0010-0017"},
		{"no-sid", serverHello(0, 0x1301, ems), "1301|0303||0017"},
		{"zero-length-alpn", serverHello(32, 0xc02f, emptyALPN), "|||"},
		{"bad-utf8-alpn", serverHello(32, 0xc02f, badUTF8), "|||"},
		{"truncated-after-cipher", serverHello(32, 0xc02f, ems)[:78], "c02f|0303||||"},
		{"bad-version", append(serverHello(0, 0xc02f, ems)[:9], 0x7f, 0x1c), "|||"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ParseServerHello(tc.data); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func FuzzParseServerHello(f *testing.F) {
	f.Add(serverHello(32, 0xc02f, []byte{0x00, 0x10, 0x00, 0x05, 0x00, 0x03, 0x02, 'h', '2', 0x00, 0x17, 0x00, 0x00}))
	f.Add(serverHello(0, 0x1301, []byte{0x00, 0x2b, 0x00, 0x02, 0x03, 0x04}))
	f.Add([]byte{21, 3, 3, 0, 2, 2, 40})
	f.Add([]byte("SSH-2.0-OpenSSH_9.6\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > jarmRecvMax {
			data = data[:jarmRecvMax]
		}
		s := ParseServerHello(data)
		raw := strings.TrimSuffix(strings.Repeat(s+",", 10), ",")
		if h := JARMHash(raw); len(h) < 32 {
			t.Fatalf("hash %q of %q", h, raw)
		}
	})
}

// BenchmarkJARM probes a loopback crypto/tls server; probes/s is the
// number of complete JARMs (ten connections each) per second.
func BenchmarkJARM(b *testing.B) {
	srv := startTLS(b, &tls.Config{NextProtos: []string{"h2", "http/1.1"}})
	p := &Prober{Timeout: 2 * time.Second}
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		if h, err := p.JARM(ctx, srv.addr); err != nil || h == ZeroJARM {
			b.Fatal(h, err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "probes/s")
}
