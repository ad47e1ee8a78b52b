package ssh

// Differential tests: the same probes against the real sshd from Debian's
// openssh-server package and against the service, answers compared on the
// wire. What x/crypto/ssh cannot imitate is listed with the reason; any
// other difference fails.

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/decnet-go/decnet/internal/honeypot/hptest"
	"github.com/decnet-go/decnet/internal/testkit/gate"
)

// startSSHD runs the real sshd on a loopback port with throwaway host keys
// and Debian's stock authentication settings, until the test ends.
func startSSHD(t *testing.T) string {
	t.Helper()
	sshd := gate.Tool(t, "sshd")
	keygen := gate.Tool(t, "ssh-keygen")
	// sshd refuses to start without its privilege separation directory,
	// which systemd-tmpfiles creates on a booted system.
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		gate.Missing(t, "sshd needs /run/sshd (mkdir -p /run/sshd as root): "+err.Error())
	}
	dir := t.TempDir()
	var conf strings.Builder
	conf.WriteString("ListenAddress 127.0.0.1\n")
	for _, typ := range []string{"rsa", "ecdsa", "ed25519"} {
		key := filepath.Join(dir, "ssh_host_"+typ+"_key")
		gen := exec.Command(keygen, "-q", "-t", typ, "-N", "", "-f", key)
		if typ == "rsa" { // faster than the 3072-bit default; no probe depends on the size
			gen.Args = append(gen.Args, "-b", "2048")
		}
		if out, err := gen.CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen -t %s: %v\n%s", typ, err, out)
		}
		fmt.Fprintf(&conf, "HostKey %s\n", key)
	}
	// Debian's /etc/ssh/sshd_config: PAM on, keyboard-interactive off.
	fmt.Fprintf(&conf, "PidFile %s\nUsePAM yes\nKbdInteractiveAuthentication no\nStrictModes no\n", filepath.Join(dir, "sshd.pid"))
	cfg := filepath.Join(dir, "sshd_config")
	if err := os.WriteFile(cfg, []byte(conf.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	port := freePort(hptest.FreeAddr(t))
	var logs bytes.Buffer
	cmd := exec.Command(sshd, "-D", "-e", "-f", cfg, "-p", strconv.Itoa(port))
	cmd.Stdout, cmd.Stderr = &logs, &logs
	// Its per-connection children share its process group, so the cleanup
	// stops them too; WaitDelay bounds the wait for one holding the pipe.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatalf("start sshd: %v", err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
		if t.Failed() {
			t.Logf("sshd log:\n%s", logs.String())
		}
	})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	waitListening(t, addr, func() string { return logs.String() })
	return addr
}

// waitListening waits until addr accepts connections.
func waitListening(t *testing.T, addr string, logs func() string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			// Read the banner so sshd does not log a failed connection.
			c.SetDeadline(time.Now().Add(time.Second))
			bufioLine(c)
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon never listened on %s: %v\n%s", addr, err, logs())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// bufioLine reads one line byte by byte (so nothing after it is consumed).
func bufioLine(r io.Reader) (string, error) {
	var line []byte
	b := make([]byte, 1)
	for len(line) < 1024 {
		if _, err := io.ReadFull(r, b); err != nil {
			return string(line), err
		}
		line = append(line, b[0])
		if b[0] == '\n' {
			return string(line), nil
		}
	}
	return string(line), errors.New("line too long")
}

// pair is the real daemon and the service imitating it.
type pair struct {
	real, ours string // addresses
	banner     string // the real identification line, CRLF included
}

// startPair starts sshd and a service whose banner is sshd's own.
func startPair(t *testing.T) pair {
	t.Helper()
	realAddr := startSSHD(t)
	c, err := net.Dial("tcp", realAddr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	banner, err := bufioLine(c)
	c.Close()
	if err != nil || !strings.HasPrefix(banner, "SSH-2.0-OpenSSH_") {
		t.Fatalf("sshd banner %q: %v", banner, err)
	}
	version := strings.TrimSuffix(strings.TrimPrefix(banner, "SSH-2.0-"), "\r\n")
	ours := startServer(t, sharedKeys, map[string]string{"banner": version})
	return pair{real: realAddr, ours: ours.addr, banner: banner}
}

// packet is one cleartext binary packet as it came on the wire.
type packet struct {
	length  uint32
	padding []byte
	payload []byte
}

func readPacket(r io.Reader) (packet, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return packet{}, err
	}
	p := packet{length: binary.BigEndian.Uint32(hdr[:])}
	if p.length < 2 || p.length > 64<<10 || uint32(hdr[4])+1 > p.length {
		return p, fmt.Errorf("bad packet length %d padding %d", p.length, hdr[4])
	}
	rest := make([]byte, p.length-1)
	if _, err := io.ReadFull(r, rest); err != nil {
		return p, err
	}
	n := len(rest) - int(hdr[4])
	p.payload, p.padding = rest[:n], rest[n:]
	return p, nil
}

// framing describes a packet's framing: sshd pads cleartext packets to a
// multiple of 8 with 4 to 11 zero bytes.
func (p packet) framing() string {
	zero := !bytes.ContainsFunc(p.padding, func(r rune) bool { return r != 0 })
	return fmt.Sprintf("msg %d: total %d (mod 8 = %d), padding %d, zero padding %v",
		p.payload[0], p.length+4, (p.length+4)%8, len(p.padding), zero)
}

// kexInit is a parsed SSH_MSG_KEXINIT.
type kexInit struct {
	lists   [10][]string
	follows byte
	tail    uint32
}

var kexListNames = [10]string{
	"kex_algorithms", "server_host_key_algorithms",
	"encryption_algorithms_client_to_server", "encryption_algorithms_server_to_client",
	"mac_algorithms_client_to_server", "mac_algorithms_server_to_client",
	"compression_algorithms_client_to_server", "compression_algorithms_server_to_client",
	"languages_client_to_server", "languages_server_to_client",
}

func parseKexInit(payload []byte) (kexInit, error) {
	var k kexInit
	if len(payload) < 17 || payload[0] != 20 {
		return k, fmt.Errorf("not a KEXINIT: %x", payload[:min(len(payload), 17)])
	}
	r := payload[17:]
	for i := range k.lists {
		if len(r) < 4 {
			return k, errors.New("short KEXINIT")
		}
		n := binary.BigEndian.Uint32(r)
		if uint32(len(r)-4) < n {
			return k, errors.New("short KEXINIT list")
		}
		if n > 0 {
			k.lists[i] = strings.Split(string(r[4:4+n]), ",")
		}
		r = r[4+n:]
	}
	if len(r) != 5 {
		return k, fmt.Errorf("KEXINIT has %d bytes after the lists, want 5", len(r))
	}
	k.follows, k.tail = r[0], binary.BigEndian.Uint32(r[1:])
	return k, nil
}

// serverKexInit connects, reads the identification line, sends a client
// identification and returns the server's KEXINIT packet, which sshd and
// x/crypto send without waiting for the client's.
func serverKexInit(t *testing.T, addr string) (banner string, p packet) {
	t.Helper()
	c := hptest.Dial(t, addr)
	banner, err := bufioLine(c)
	if err != nil {
		t.Fatalf("%s: banner: %v", addr, err)
	}
	io.WriteString(c, "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n")
	p, err = readPacket(c)
	if err != nil {
		t.Fatalf("%s: KEXINIT: %v", addr, err)
	}
	return banner, p
}

// knownKexGaps are the algorithms sshd offers that x/crypto/ssh does not
// implement, so the service cannot offer them; each is left out and the
// rest keeps sshd's order.
var knownKexGaps = map[string]string{
	"sntrup761x25519-sha512":             "x/crypto/ssh has no Streamlined NTRU Prime KEX",
	"sntrup761x25519-sha512@openssh.com": "x/crypto/ssh has no Streamlined NTRU Prime KEX",
	"diffie-hellman-group18-sha512":      "x/crypto/ssh has no 8192-bit MODP group",
	"umac-64-etm@openssh.com":            "x/crypto/ssh has no UMAC",
	"umac-128-etm@openssh.com":           "x/crypto/ssh has no UMAC",
	"umac-64@openssh.com":                "x/crypto/ssh has no UMAC",
	"umac-128@openssh.com":               "x/crypto/ssh has no UMAC",
	"hmac-sha1-etm@openssh.com":          "x/crypto/ssh has no encrypt-then-MAC SHA-1",
	"zlib@openssh.com":                   "x/crypto/ssh has no compression",
}

func TestCompareKexInit(t *testing.T) {
	p := startPair(t)
	realBanner, realPkt := serverKexInit(t, p.real)
	ourBanner, ourPkt := serverKexInit(t, p.ours)
	if ourBanner != realBanner {
		t.Errorf("identification line %q, sshd sends %q", ourBanner, realBanner)
	}
	if !sameFramingRule(ourPkt, realPkt) {
		t.Errorf("KEXINIT framing %s; sshd: %s", ourPkt.framing(), realPkt.framing())
	}
	real, err := parseKexInit(realPkt.payload)
	if err != nil {
		t.Fatalf("sshd: %v", err)
	}
	ours, err := parseKexInit(ourPkt.payload)
	if err != nil {
		t.Fatalf("ours: %v", err)
	}
	for i, name := range kexListNames {
		var want []string
		for _, a := range real.lists[i] {
			if _, gap := knownKexGaps[a]; gap {
				t.Logf("%s: %s not offered: %s", name, a, knownKexGaps[a])
				continue
			}
			want = append(want, a)
		}
		if got := strings.Join(ours.lists[i], ","); got != strings.Join(want, ",") {
			t.Errorf("%s:\n ours %s\n sshd %s\n want %s (sshd's minus documented gaps)",
				name, got, strings.Join(real.lists[i], ","), strings.Join(want, ","))
		}
	}
	if ours.follows != real.follows || ours.tail != real.tail {
		t.Errorf("first_kex_packet_follows/reserved %d/%d, sshd %d/%d", ours.follows, ours.tail, real.follows, real.tail)
	}
}

// sameFramingRule reports whether both packets follow sshd's cleartext
// framing: a multiple of 8 bytes, the least padding of at least 4, zeros.
func sameFramingRule(a, b packet) bool {
	rule := func(p packet) string {
		want := 8 - (5+len(p.payload))%8
		if want < 4 {
			want += 8
		}
		return fmt.Sprint((p.length+4)%8 == 0, len(p.padding) == want, !bytes.ContainsFunc(p.padding, func(r rune) bool { return r != 0 }))
	}
	return rule(a) == rule(b)
}

// TestCompareKexPackets runs a key exchange by hand (curve25519-sha256,
// ssh-ed25519) and compares the cleartext packets byte counts and padding:
// everything but the random and key-dependent bytes.
func TestCompareKexPackets(t *testing.T) {
	p := startPair(t)
	realPkts := rawKex(t, p.real)
	ourPkts := rawKex(t, p.ours)
	if len(ourPkts) != len(realPkts) {
		t.Fatalf("%d cleartext packets, sshd sends %d", len(ourPkts), len(realPkts))
	}
	for i := range realPkts {
		r, o := realPkts[i], ourPkts[i]
		if i == 0 { // KEXINIT lengths differ with the algorithm lists
			if !sameFramingRule(o, r) {
				t.Errorf("KEXINIT framing %s; sshd %s", o.framing(), r.framing())
			}
			continue
		}
		if o.framing() != r.framing() {
			t.Errorf("packet %d: %s; sshd %s", i, o.framing(), r.framing())
		}
	}
}

// rawKex sends a client KEXINIT and ECDH init and returns the server's
// cleartext packets: KEXINIT, KEX_ECDH_REPLY, NEWKEYS.
func rawKex(t *testing.T, addr string) []packet {
	t.Helper()
	c := hptest.Dial(t, addr)
	if _, err := bufioLine(c); err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n")
	kex := []byte{20}
	kex = append(kex, make([]byte, 16)...)
	for _, l := range []string{"curve25519-sha256", "ssh-ed25519", "aes128-ctr", "aes128-ctr",
		"hmac-sha2-256", "hmac-sha2-256", "none", "none", "", ""} {
		kex = binary.BigEndian.AppendUint32(kex, uint32(len(l)))
		kex = append(kex, l...)
	}
	kex = append(kex, 0, 0, 0, 0, 0)
	priv, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	q := priv.PublicKey().Bytes()
	ecdhInit := binary.BigEndian.AppendUint32([]byte{30}, uint32(len(q)))
	ecdhInit = append(ecdhInit, q...)
	var out []byte
	out = appendCleartextPacket(out, kex)
	out = appendCleartextPacket(out, ecdhInit)
	c.Write(out)
	var pkts []packet
	for len(pkts) < 3 {
		p, err := readPacket(c)
		if err != nil {
			t.Fatalf("%s: packet %d: %v", addr, len(pkts), err)
		}
		pkts = append(pkts, p)
	}
	for i, want := range []byte{20, 31, 21} {
		if pkts[i].payload[0] != want {
			t.Fatalf("%s: packet %d is message %d, want %d", addr, i, pkts[i].payload[0], want)
		}
	}
	return pkts
}

// outcome is what a server did with a probe: the bytes it sent (a leading
// KEXINIT shown as "<KEXINIT>") and how the connection ended.
type outcome struct {
	Sent string
	End  string // "closed", "reset" or "open"
}

// probe sends data on a fresh connection (after reading the banner) and
// waits up to wait for the server to answer and close. It may run on any
// goroutine: failures to connect show in the outcome.
func probe(addr string, data string, wait time.Duration) outcome {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return outcome{End: "dial: " + err.Error()}
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := bufioLine(c); err != nil {
		return outcome{End: "banner: " + err.Error()}
	}
	io.WriteString(c, data)
	c.SetDeadline(time.Now().Add(wait))
	var got []byte
	buf := make([]byte, 4096)
	o := outcome{End: "open"}
	for {
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			var ne net.Error
			switch {
			case errors.Is(err, io.EOF):
				o.End = "closed"
			case errors.Is(err, syscall.ECONNRESET):
				o.End = "reset"
			case errors.As(err, &ne) && ne.Timeout():
			default:
				o.End = err.Error()
			}
			break
		}
	}
	if p, err := readPacket(bytes.NewReader(got)); err == nil && len(p.payload) > 0 && p.payload[0] == 20 {
		got = []byte("<KEXINIT>")
	}
	o.Sent = string(got)
	return o
}

// probeBoth probes sshd and the service at the same time.
func probeBoth(t *testing.T, p pair, data string) (real, ours outcome) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		real = probe(p.real, data, time.Second)
	}()
	ours = probe(p.ours, data, time.Second)
	<-done
	return real, ours
}

// knownProbeGaps are probes the service answers differently, with why.
var knownProbeGaps = map[string]string{
	"identification of 300 bytes": "x/crypto/ssh reads at most 255 bytes of identification and closes; " +
		"the line is part of the exchange hash, so it cannot be shortened for the library",
}

func TestCompareIdentification(t *testing.T) {
	p := startPair(t)
	long := "SSH-2.0-" + strings.Repeat("A", 292) + "\r\n"
	for _, tc := range []struct{ name, data string }{
		{"http request line", "GET / HTTP/1.0\r\n"},
		{"http request", "GET / HTTP/1.0\r\n\r\n"},
		{"empty line", "\r\n"},
		{"lower-case ssh", "ssh-2.0-x\r\n"},
		{"protocol 1.5", "SSH-1.5-probe\r\n"},
		{"protocol 3.0", "SSH-3.0-probe\r\n"},
		{"protocol 1.99", "SSH-1.99-probe\r\n"},
		{"no software version", "SSH-2.0\r\n"},
		{"empty software version", "SSH-2.0-\r\n"},
		{"CR inside the line", "SSH-2.0-a\rb"},
		{"NUL inside the line", "SSH-2.0-a\x00"},
		{"TLS ClientHello", "\x16\x03\x01\x00"},
		{"bare LF", "SSH-2.0-probe\n"},
		{"comment", "SSH-2.0-probe some comment\r\n"},
		{"identification of 300 bytes", long},
	} {
		t.Run(tc.name, func(t *testing.T) {
			real, ours := probeBoth(t, p, tc.data)
			// A close with unread input is a reset, which may drop the
			// last bytes in flight; compare the text without its CRLF.
			if real.End == "reset" || ours.End == "reset" {
				real.Sent, ours.Sent = strings.TrimSuffix(real.Sent, "\r\n"), strings.TrimSuffix(ours.Sent, "\r\n")
			}
			if ours == real {
				return
			}
			if why, ok := knownProbeGaps[tc.name]; ok {
				t.Logf("known difference (%s): ours %+v, sshd %+v", why, ours, real)
				return
			}
			t.Errorf("%q:\n ours %+v\n sshd %+v", tc.data, ours, real)
		})
	}
}

// TestCompareAfterBanner sends bad binary packets after a valid
// identification line.
func TestCompareAfterBanner(t *testing.T) {
	p := startPair(t)
	const hello = "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n"
	for _, tc := range []struct{ name, data string }{
		{"http request", "GET / HTTP/1.0\r\n\r\n"},
		{"packet too large", "\x00\x10\x00\x00\x04" + strings.Repeat("a", 20)},
		{"padding longer than the packet", "\x00\x00\x00\x0c\x20" + strings.Repeat("\x14", 12)},
		{"userauth before kex", "\x00\x00\x00\x0c\x0a\x32" + strings.Repeat("\x00", 10)},
		{"ignore before kex", "\x00\x00\x00\x0c\x0a\x02" + strings.Repeat("\x00", 10)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			real, ours := probeBoth(t, p, hello+tc.data)
			if real.End == "reset" || ours.End == "reset" { // see TestCompareIdentification
				real.End, ours.End = "closed", "closed"
			}
			if ours != real {
				t.Errorf("%q:\n ours %+v\n sshd %+v", tc.data, ours, real)
			}
		})
	}
}

// knownAuthMethods maps what sshd lists after a "none" request to what the
// service lists instead: x/crypto/ssh fixes the order (password,
// publickey, keyboard-interactive), and the service offers keyboard-
// interactive on purpose, to capture logins of clients that only try it.
// The list travels encrypted, so only a client that completes KEX sees it.
var knownAuthMethods = map[string]string{
	"publickey,password": "password,publickey,keyboard-interactive",
}

var canContinue = regexp.MustCompile(`Authentications that can continue: (\S+)`)

// TestCompareAuthMethods asks the OpenSSH client which methods the server
// lists in its answer to the client's first ("none") request.
func TestCompareAuthMethods(t *testing.T) {
	ssh := gate.Tool(t, "ssh")
	p := startPair(t)
	methods := func(addr string) string {
		host, port, _ := net.SplitHostPort(addr)
		out, _ := exec.Command(ssh, "-v", "-F", "/dev/null", "-p", port, "-o", "BatchMode=yes",
			"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
			"-o", "IdentityFile=/dev/null", "-o", "IdentitiesOnly=yes", "-o", "ConnectTimeout=5",
			"root@"+host, "true").CombinedOutput()
		m := canContinue.FindStringSubmatch(string(out))
		if m == nil {
			t.Fatalf("ssh -v against %s shows no method list:\n%s", addr, out)
		}
		return m[1]
	}
	real, ours := methods(p.real), methods(p.ours)
	switch {
	case ours == real:
	case knownAuthMethods[real] == ours:
		t.Logf("known difference: ours %s, sshd %s", ours, real)
	default:
		t.Errorf("methods after none: ours %s, sshd %s", ours, real)
	}
}

// freePort is the port of a free loopback address.
func freePort(addr string) int {
	_, p, _ := net.SplitHostPort(addr)
	n, _ := strconv.Atoi(p)
	return n
}
