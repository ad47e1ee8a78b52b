package prober

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/decnet-go/decnet/internal/decky"
	"github.com/decnet-go/decnet/internal/honeypot"
	"github.com/decnet-go/decnet/internal/honeypot/hptest"
	sshsvc "github.com/decnet-go/decnet/internal/honeypot/ssh"
	"github.com/decnet-go/decnet/internal/persona"
	"github.com/decnet-go/decnet/internal/testkit/gate"
)

// startHoneypotSSH runs our ssh honeypot service on a loopback listener.
func startHoneypotSSH(t *testing.T) (addr string, p *persona.Persona, rec *hptest.Recorder) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p = persona.New([]byte("prober-test"), "decky-prober")
	rec = &hptest.Recorder{}
	env := honeypot.Env{Decky: decky.Identity{Name: "decky-prober"}, Persona: p, StateDir: t.TempDir(), Emit: rec.Emit}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sshsvc.New().Serve(ctx, l, env) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ssh Serve: %v", err)
		}
	})
	return l.Addr().String(), p, rec
}

var (
	sshDebugVersion = regexp.MustCompile(`remote software version (\S+)`)
	sshDebugList    = regexp.MustCompile(`debug2: (KEX algorithms|ciphers stoc|MACs stoc|compression stoc): (.*)`)
)

// openSSHServerHASSH asks the OpenSSH client for the server's KEXINIT
// (ssh -vv prints the peer's proposal) and computes hasshServer from it:
// an oracle independent of this package's parser.
func openSSHServerHASSH(t *testing.T, addr string) (hash, software string) {
	t.Helper()
	bin := gate.Tool(t, "ssh")
	host, port, _ := net.SplitHostPort(addr)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, bin, "-vv", "-F", "/dev/null", "-p", port,
		"-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "PreferredAuthentications=none", "-o", "ConnectTimeout=5", "nobody@"+host, "true").CombinedOutput()
	// The peer's proposal is the second block of lists ssh prints (its
	// own comes first).
	var lists []string
	for _, m := range sshDebugList.FindAllStringSubmatch(string(out), -1) {
		lists = append(lists, strings.TrimRight(m[2], "\r "))
	}
	if len(lists) < 8 {
		t.Fatalf("ssh -vv printed %d algorithm lists, want 8:\n%s", len(lists), out)
	}
	peer := lists[4:8]
	if m := sshDebugVersion.FindStringSubmatch(string(out)); m != nil {
		software = strings.TrimRight(m[1], "\r")
	}
	sum := md5.Sum([]byte(strings.Join(peer, ";")))
	return hex.EncodeToString(sum[:]), software
}

func TestHASSHServerHoneypot(t *testing.T) {
	addr, pers, rec := startHoneypotSSH(t)
	hash, banner, err := (&Prober{Timeout: 3 * time.Second}).HASSHServer(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	if banner != "SSH-2.0-"+pers.SSHVersion {
		t.Errorf("banner %q, want SSH-2.0-%s", banner, pers.SSHVersion)
	}
	if len(hash) != 32 {
		t.Fatalf("hash %q", hash)
	}
	// Never authenticated: the honeypot saw no login attempt.
	time.Sleep(100 * time.Millisecond)
	if n := len(rec.OfType("login_attempt")); n != 0 {
		t.Errorf("%d login attempts recorded, want none", n)
	}
	want, _ := openSSHServerHASSH(t, addr)
	if hash != want {
		t.Errorf("hasshServer %s, OpenSSH client's view gives %s", hash, want)
	}
}

// startSSHD runs the system's OpenSSH server on a loopback port with a
// fresh host key and a throwaway config, until the test ends.
func startSSHD(t *testing.T) string {
	t.Helper()
	gate.RealServers(t)
	bin := gate.Tool(t, "sshd")
	keygen := gate.Tool(t, "ssh-keygen")
	dir := t.TempDir()
	key := filepath.Join(dir, "host_ed25519")
	if out, err := exec.Command(keygen, "-q", "-t", "ed25519", "-N", "", "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Logf("privilege separation dir: %v", err)
	}
	addr := freeAddr(t)
	host, port, _ := net.SplitHostPort(addr)
	conf := fmt.Sprintf("Port %s\nListenAddress %s\nHostKey %s\nPidFile %s\nUsePAM no\nStrictModes no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nLogLevel ERROR\n",
		port, host, key, filepath.Join(dir, "sshd.pid"))
	cfgPath := filepath.Join(dir, "sshd_config")
	if err := os.WriteFile(cfgPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	startDaemon(t, bin, "-D", "-e", "-f", cfgPath)
	waitListening(t, addr)
	return addr
}

func TestHASSHServerOpenSSH(t *testing.T) {
	addr := startSSHD(t)
	hash, banner, err := (&Prober{Timeout: 3 * time.Second}).HASSHServer(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	want, software := openSSHServerHASSH(t, addr)
	if hash != want {
		t.Errorf("hasshServer %s, OpenSSH client's view gives %s", hash, want)
	}
	if !strings.HasPrefix(banner, "SSH-2.0-OpenSSH_") || !strings.Contains(banner, software) {
		t.Errorf("banner %q, ssh -v says remote software %q", banner, software)
	}
	t.Logf("sshd hasshServer %s banner %q", hash, banner)
}

// kexinitPacket frames a KEXINIT with the given lists as an unencrypted
// SSH binary packet.
func kexinitPacket(lists [10]string) []byte {
	payload := []byte{20}
	payload = append(payload, make([]byte, 16)...)
	for _, l := range lists {
		payload = binary.BigEndian.AppendUint32(payload, uint32(len(l)))
		payload = append(payload, l...)
	}
	payload = append(payload, 0, 0, 0, 0, 0)
	pad := 8 - (len(payload)+5)%8
	if pad < 4 {
		pad += 8
	}
	pkt := binary.BigEndian.AppendUint32(nil, uint32(len(payload)+pad+1))
	pkt = append(pkt, byte(pad))
	pkt = append(pkt, payload...)
	return append(pkt, make([]byte, pad)...)
}

var sampleLists = [10]string{
	"curve25519-sha256,diffie-hellman-group14-sha256", "ssh-ed25519",
	"aes128-ctr", "chacha20-poly1305@openssh.com,aes256-gcm@openssh.com", "hmac-sha2-256", "umac-64-etm@openssh.com,hmac-sha2-512",
	"none", "none,zlib@openssh.com", "", "",
}

func TestReadSSHServer(t *testing.T) {
	kex := kexinitPacket(sampleLists)
	ignore := []byte{0, 0, 0, 12, 10, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	wantAlgs := "curve25519-sha256,diffie-hellman-group14-sha256;chacha20-poly1305@openssh.com,aes256-gcm@openssh.com;umac-64-etm@openssh.com,hmac-sha2-512;none,zlib@openssh.com"
	for _, tc := range []struct {
		name    string
		stream  []byte
		banner  string
		wantErr bool
	}{
		{"plain", append([]byte("SSH-2.0-Test_1\r\n"), kex...), "SSH-2.0-Test_1", false},
		{"preamble-lines", append([]byte("hello\r\nworld\nSSH-2.0-X y\r\n"), kex...), "SSH-2.0-X y", false},
		{"ignore-first", append(append([]byte("SSH-2.0-A\r\n"), ignore...), kex...), "SSH-2.0-A", false},
		{"ssh1", []byte("SSH-1.5-old\r\n"), "", true},
		{"http", []byte("HTTP/1.1 400 Bad Request\r\n\r\n"), "", true},
		{"huge-packet", append([]byte("SSH-2.0-A\r\n"), 0x7f, 0xff, 0xff, 0xff, 4), "", true},
		{"not-kexinit", append([]byte("SSH-2.0-A\r\n"), 0, 0, 0, 12, 10, 21, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), "", true},
		{"endless-line", bytes.Repeat([]byte("a"), 5000), "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			info, err := readSSHServer(bufio.NewReader(bytes.NewReader(tc.stream)))
			if tc.wantErr {
				if !errors.Is(err, ErrNotSSH) {
					t.Errorf("error %v, want ErrNotSSH", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if info.Banner != tc.banner || info.Algorithms != wantAlgs {
				t.Errorf("got %q %q", info.Banner, info.Algorithms)
			}
			sum := md5.Sum([]byte(wantAlgs))
			if info.HASSH != hex.EncodeToString(sum[:]) {
				t.Errorf("hash %s", info.HASSH)
			}
		})
	}
}

// A server that sends nothing hits the timeout, not a hang.
func TestHASSHServerSilent(t *testing.T) {
	srv := startServer(t, func(c net.Conn) { io.Copy(io.Discard, c) })
	start := time.Now()
	_, _, err := (&Prober{Timeout: 300 * time.Millisecond}).HASSHServer(context.Background(), srv.addr)
	if err == nil || time.Since(start) > 2*time.Second {
		t.Errorf("err %v after %v", err, time.Since(start))
	}
}

func FuzzParseKEXINIT(f *testing.F) {
	f.Add(kexinitPacket(sampleLists)[5:])
	f.Add([]byte{20})
	f.Fuzz(func(t *testing.T, payload []byte) {
		k, err := ParseKEXINIT(payload)
		if err == nil && len(k.HASSHServer()) != 32 {
			t.Fatal("bad hash")
		}
	})
}

// FuzzReadSSHServer feeds hostile server byte streams to the reader.
func FuzzReadSSHServer(f *testing.F) {
	f.Add(append([]byte("SSH-2.0-Test_1\r\n"), kexinitPacket(sampleLists)...))
	f.Add([]byte("SSH-2.0-A\r\n\x00\x00\x00\x0c\x0a\x02"))
	f.Fuzz(func(t *testing.T, stream []byte) {
		info, err := readSSHServer(bufio.NewReader(bytes.NewReader(stream)))
		if err == nil && (len(info.HASSH) != 32 || !strings.HasPrefix(info.Banner, "SSH-")) {
			t.Fatalf("accepted %+v", info)
		}
	})
}
