package tlsfp

import (
	"bytes"
	"encoding/hex"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Published test vectors. The raw hellos are the samples of CyberChef's
// JA3/JA4 operation tests; the expected values are those its tests and
// FoxIO's documentation state:
//   - chrome.hex: Chrome to content-autofill.googleapis.com, GREASE in
//     ciphers, extensions, groups and versions; FoxIO technical_details/JA4.md
//     gives t13d1516h2_8daaf6152771_e5627efa2ab1 and the JA4_r lists below.
//   - firefox.hex: Firefox to contile.services.mozilla.com, FoxIO's
//     tls12.pcap test capture: t13d1715h2_5b57614c22b0_3d5424432f57.
//   - openssl.hex: an OpenSSL 1.0 TLS 1.2 hello with its published JA3
//     string (the hash is the MD5 of that string).
var vectors = []struct {
	file, ja4, ja3, ja3Hash, sni, alpn, version string
}{
	{file: "chrome.hex", ja4: "t13d1516h2_8daaf6152771_e5627efa2ab1", sni: "content-autofill.googleapis.com", alpn: "h2,http/1.1", version: "TLS 1.3"},
	{file: "firefox.hex", ja4: "t13d1715h2_5b57614c22b0_3d5424432f57", sni: "contile.services.mozilla.com", alpn: "h2,http/1.1", version: "TLS 1.3"},
	{file: "openssl.hex", ja4: "", version: "TLS 1.2",
		ja3: "771,49200-49196-49192-49188-49172-49162-163-159-107-106-57-56-136-135-49202-49198-49194-49190-49167-49157-157-61-53-132-49170-49160-" +
			"22-19-49165-49155-10-49199-49195-49191-49187-49171-49161-162-158-103-64-51-50-154-153-69-68-49201-49197-49193-49189-49166-49156-" +
			"156-60-47-150-65-7-49169-49159-49164-49154-5-4-21-18-9-20-17-8-6-3-255,11-10-35-13-15,24-23,0-1-2",
		ja3Hash: "c1a36e1a870786cc75edddc0009eaf3a"},
}

func readVector(t testing.TB, name string) []byte {
	t.Helper()
	h, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	b, err := hex.DecodeString(strings.TrimSpace(string(h)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// conn is a net.Conn reading from a byte slice, for Sniff.
type conn struct {
	net.Conn
	r io.Reader
}

func (c conn) Read(p []byte) (int, error)      { return c.r.Read(p) }
func (c conn) SetReadDeadline(time.Time) error { return nil }
func newConn(b []byte) net.Conn                { return conn{r: bytes.NewReader(b)} }
func (c conn) Close() error                    { return nil }
func (c conn) RemoteAddr() net.Addr            { return &net.TCPAddr{} }

func TestKnownHellos(t *testing.T) {
	for _, v := range vectors {
		t.Run(v.file, func(t *testing.T) {
			raw := readVector(t, v.file)
			replay, h, err := Sniff(newConn(raw))
			if err != nil {
				t.Fatalf("Sniff: %v", err)
			}
			if v.ja4 != "" && h.JA4() != v.ja4 {
				t.Errorf("JA4 = %s, want %s", h.JA4(), v.ja4)
			}
			if v.ja3 != "" && h.JA3() != v.ja3 {
				t.Errorf("JA3 = %s\nwant   %s", h.JA3(), v.ja3)
			}
			if v.ja3Hash != "" && h.JA3Hash() != v.ja3Hash {
				t.Errorf("JA3 hash = %s", h.JA3Hash())
			}
			f := h.Fields()
			if f["sni"] != v.sni || f["alpn"] != v.alpn || f["tls_version"] != v.version {
				t.Errorf("fields %v", f)
			}
			again, _ := io.ReadAll(replay)
			if !bytes.Equal(again, raw) {
				t.Error("the replayed stream differs from what was sent")
			}
		})
	}
}

// TestChromeRaw checks the lists JA4_r shows for the Chrome sample: the
// sorted ciphers and extensions (SNI and ALPN left out) that are hashed.
func TestChromeRaw(t *testing.T) {
	_, h, err := Sniff(newConn(readVector(t, "chrome.hex")))
	if err != nil {
		t.Fatal(err)
	}
	if got := hexList(sortedNoGREASE(h.CipherSuites)); got != "002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9" {
		t.Errorf("ciphers %s", got)
	}
	if got := hexList(noGREASE(h.SignatureAlgorithms)); got != "0403,0804,0401,0503,0805,0501,0806,0601" {
		t.Errorf("signature algorithms %s", got)
	}
	if !IsGREASE(h.CipherSuites[0]) || !IsGREASE(h.Extensions[0]) {
		t.Error("GREASE values were not kept in the wire lists")
	}
}

func sortedNoGREASE(v []uint16) []uint16 {
	out := noGREASE(v)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func TestJA4ALPN(t *testing.T) {
	for _, tc := range []struct {
		name string
		alpn []string
		want string
	}{
		{"none", nil, "00"},
		{"h2", []string{"h2", "http/1.1"}, "h2"},
		{"http/1.1", []string{"http/1.1"}, "h1"},
		{"empty value", []string{""}, "00"},
		{"non-alphanumeric", []string{"\xab\xcd"}, "ad"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ja4ALPN(tc.alpn); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestSniffPlainText(t *testing.T) {
	in := []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	replay, h, err := Sniff(newConn(in))
	if err != ErrNotTLS || h != nil {
		t.Fatalf("got %v, %v; want ErrNotTLS", h, err)
	}
	got, _ := io.ReadAll(replay)
	if !bytes.Equal(got, in) {
		t.Errorf("replay %q", got)
	}
}

// TestSniffFragmented splits the hello over several records, as some
// clients and middleboxes do.
func TestSniffFragmented(t *testing.T) {
	raw := readVector(t, "firefox.hex")
	msg := raw[5:]
	var frag []byte
	for len(msg) > 0 {
		n := min(len(msg), 100)
		frag = append(frag, 0x16, 0x03, 0x01, byte(n>>8), byte(n))
		frag = append(frag, msg[:n]...)
		msg = msg[n:]
	}
	_, h, err := Sniff(newConn(frag))
	if err != nil || h.JA4() != vectors[1].ja4 {
		t.Fatalf("fragmented hello: %v", err)
	}
}

var ja4Shape = regexp.MustCompile(`^t(13|12|11|10|s3|s2|d1|d2|d3|00)[di]\d\d\d\d[0-9A-Za-z]{2}_[0-9a-f]{12}_[0-9a-f]{12}$`)

// FuzzSniff feeds arbitrary bytes as the start of a connection: Sniff must
// not panic, must replay exactly what it was given, and any hello it
// returns must fingerprint to well-formed values.
func FuzzSniff(f *testing.F) {
	for _, v := range vectors {
		raw := readVector(f, v.file)
		f.Add(raw)
		f.Add(raw[:len(raw)/2])
	}
	f.Add([]byte("GET / HTTP/1.0\r\n\r\n"))
	f.Add([]byte{0x16, 0x03, 0x01, 0x00, 0x04, 0x01, 0x00, 0x00, 0x00})
	f.Fuzz(func(t *testing.T, in []byte) {
		replay, h, _ := Sniff(newConn(in))
		got, _ := io.ReadAll(replay)
		if !bytes.Equal(got, in) {
			t.Fatalf("replay %x, want %x", got, in)
		}
		if h == nil {
			return
		}
		if ja4 := h.JA4(); !ja4Shape.MatchString(ja4) {
			t.Fatalf("JA4 %q", ja4)
		}
		if len(h.JA3Hash()) != 32 {
			t.Fatalf("JA3 hash %q", h.JA3Hash())
		}
		h.Fields()
	})
}

func TestPersonaCertificateStable(t *testing.T) {
	dir := t.TempDir()
	at := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	a, err := PersonaCertificate(dir, "web-07.example", at)
	if err != nil {
		t.Fatal(err)
	}
	b, err := PersonaCertificate(dir, "web-07.example", at)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Certificate[0], b.Certificate[0]) {
		t.Error("the certificate changed across restarts")
	}
	leaf := a.Leaf
	if leaf.Subject.CommonName != "web-07.example" || len(leaf.DNSNames) != 1 || leaf.DNSNames[0] != "web-07.example" {
		t.Errorf("names %v %v", leaf.Subject, leaf.DNSNames)
	}
	if !leaf.NotBefore.Equal(at) || leaf.NotAfter.Sub(leaf.NotBefore) != 3650*24*time.Hour || leaf.IsCA {
		t.Errorf("validity %v–%v, CA %v", leaf.NotBefore, leaf.NotAfter, leaf.IsCA)
	}
	if leaf.SerialNumber.BitLen() < 120 || leaf.Issuer.String() != leaf.Subject.String() {
		t.Errorf("serial %v issuer %v", leaf.SerialNumber, leaf.Issuer)
	}
	c, err := PersonaCertificate(dir, "other-host", at)
	if err != nil || c.Leaf.Subject.CommonName != "other-host" {
		t.Errorf("a new host name kept the old certificate (%v)", err)
	}
	if info, err := os.Stat(filepath.Join(dir, KeyFile)); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("key file %v %v", info, err)
	}
}
