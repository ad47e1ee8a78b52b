package tftp

// End-to-end tests with tftp-hpa's client, and differential tests against
// tftpd-hpa itself (in.tftpd -L -s DIR on a loopback port).

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/testkit/gate"
)

func runTFTP(t *testing.T, dir string, addr *net.UDPAddr, cmds ...string) (string, error) {
	t.Helper()
	bin := gate.Tool(t, "tftp")
	args := []string{"-m", "binary", addr.IP.String(), strconv.Itoa(addr.Port), "-c"}
	cmd := exec.Command(bin, append(args, cmds...)...)
	cmd.Dir = dir
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestTFTPClient(t *testing.T) {
	srv := startServer(t, nil)
	dir := t.TempDir()
	if out, err := runTFTP(t, dir, srv.addr, "get", switchConfig(), "sw.cfg"); err != nil {
		t.Fatalf("get: %v\n%s", err, out)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "sw.cfg")); !bytes.Equal(got, baitFiles(testPersona)[switchConfig()]) {
		t.Errorf("got %q", got)
	}
	out, _ := runTFTP(t, dir, srv.addr, "get", "nope.bin")
	if !bytes.Contains([]byte(out), []byte("File not found")) {
		t.Errorf("get of a missing file: %q", out)
	}
	payload := bytes.Repeat([]byte("firmware-image-"), 100) // several blocks
	if err := os.WriteFile(filepath.Join(dir, "fw.bin"), payload, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := runTFTP(t, dir, srv.addr, "put", "fw.bin"); err != nil || out != "" {
		t.Fatalf("put: %v\n%s", err, out)
	}
	ev := srv.rec.WaitFor(t, event.TypeFileCaptured, 1)[0]
	sum := sha256.Sum256(payload)
	if ev.Fields["sha256"] != hex.EncodeToString(sum[:]) || ev.Fields["size"] != int64(len(payload)) {
		t.Errorf("file_captured %+v", ev.Fields)
	}
	if kept, _ := os.ReadFile(filepath.Join(srv.state, "artifacts", ev.Fields["stored_as"].(string))); !bytes.Equal(kept, payload) {
		t.Errorf("artifact differs (%d bytes)", len(kept))
	}
}

// startTftpd runs tftpd-hpa on a loopback port serving dir, as Debian's
// tftpd-hpa package runs it (--secure).
func startTftpd(t *testing.T, dir string) *net.UDPAddr {
	t.Helper()
	gate.RealServers(t)
	bin := gate.Tool(t, "in.tftpd")
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().(*net.UDPAddr)
	pc.Close()
	var logs bytes.Buffer
	cmd := exec.Command(bin, "-L", "-a", addr.String(), "-s", dir)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatalf("start in.tftpd: %v", err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
		if t.Failed() {
			t.Logf("in.tftpd log:\n%s", logs.String())
		}
	})
	time.Sleep(200 * time.Millisecond)
	return addr
}

// TestCompareTftpd sends the same first packet to both servers, each root
// holding the same world-readable file, and compares the first answer.
func TestCompareTftpd(t *testing.T) {
	dir := t.TempDir()
	content := bytes.Repeat([]byte("0123456789abcdef"), 100)
	if err := os.WriteFile(filepath.Join(dir, "boot.img"), content, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ro.cfg"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	real := startTftpd(t, dir)
	// The probes come fast from one address and never acknowledge: lift
	// the per-source limits, which TestNoAmplification checks.
	rateBurst, perSource = 100, 100
	t.Cleanup(func() { rateBurst, perSource = 10, 8 })
	srv := startServer(t, map[string]string{"create": "false", "bait": "false"})
	srv.drops.Write("/srv/tftp/boot.img", content, 0o644)
	srv.drops.Write("/srv/tftp/ro.cfg", []byte("x"), 0o644)
	probes := []struct {
		name string
		pkt  []byte
	}{
		{"rrq", rq(opRRQ, "boot.img", "octet")},
		{"rrq absolute", rq(opRRQ, "/boot.img", "octet")},
		{"rrq netascii", rq(opRRQ, "boot.img", "netascii")},
		{"rrq upper-case mode", rq(opRRQ, "boot.img", "OCTET")},
		{"rrq missing", rq(opRRQ, "nope", "octet")},
		{"rrq escape", rq(opRRQ, "../../../etc/passwd", "octet")},
		{"rrq directory", rq(opRRQ, "/", "octet")},
		{"rrq mail", rq(opRRQ, "boot.img", "mail")},
		{"rrq no mode", []byte("\x00\x01boot.img")},
		{"rrq empty name", rq(opRRQ, "", "octet")},
		{"rrq junk after", append(rq(opRRQ, "boot.img", "octet"), 'x')},
		{"options", rq(opRRQ, "boot.img", "octet", "blksize", "1024", "tsize", "0", "timeout", "3")},
		{"blksize too small", rq(opRRQ, "boot.img", "octet", "blksize", "4")},
		{"blksize huge", rq(opRRQ, "boot.img", "octet", "blksize", "100000")},
		{"blksize not a number", rq(opRRQ, "boot.img", "octet", "blksize", "abc")},
		{"timeout zero", rq(opRRQ, "boot.img", "octet", "timeout", "0")},
		{"tsize netascii", rq(opRRQ, "boot.img", "netascii", "tsize", "0")},
		{"unknown option", rq(opRRQ, "boot.img", "octet", "windowsize", "4", "foo", "1")},
		{"wrq new without create", rq(opWRQ, "new.bin", "octet")},
		{"wrq read-only file", rq(opWRQ, "ro.cfg", "octet")},
		{"unknown opcode", []byte("\x00\x09hello")},
		{"ack to the port", []byte("\x00\x04\x00\x01")},
	}
	for _, p := range probes {
		t.Run(p.name, func(t *testing.T) {
			want := firstAnswer(t, real, p.pkt)
			got := firstAnswer(t, srv.addr, p.pkt)
			if !bytes.Equal(got, want) {
				t.Errorf("first answer differs\ntftpd-hpa: %q\nservice:   %q", want, got)
			}
		})
	}
}

// firstAnswer sends pkt and returns the first packet back (up to 64
// bytes), or "(none)".
func firstAnswer(t testing.TB, to *net.UDPAddr, pkt []byte) []byte {
	p := newPeer(t)
	p.send(to, pkt)
	got, _ := p.recv(700 * time.Millisecond)
	if got == nil {
		return []byte("(none)")
	}
	return []byte(fmt.Sprintf("%q", got[:min(len(got), 64)]))
}
