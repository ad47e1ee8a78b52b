package tftp

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/decnet-go/decnet/internal/decky"
	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/honeypot"
	"github.com/decnet-go/decnet/internal/honeypot/hptest"
	"github.com/decnet-go/decnet/internal/persona"
)

func TestMain(m *testing.M) {
	rexmt = 200 * time.Millisecond
	os.Exit(m.Run())
}

var testPersona = persona.New([]byte("secret"), "decky-test")

type testServer struct {
	addr  *net.UDPAddr
	rec   *hptest.Recorder
	drops *honeypot.Drops
	state string
}

func startServer(t testing.TB, cfg map[string]string) *testServer {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ts := &testServer{addr: pc.LocalAddr().(*net.UDPAddr), rec: &hptest.Recorder{},
		drops: &honeypot.Drops{Root: filepath.Join(dir, "drops")}, state: filepath.Join(dir, "state")}
	env := honeypot.Env{Decky: decky.Identity{Name: "decky-test"}, Persona: testPersona, Config: cfg,
		StateDir: ts.state, Drops: ts.drops, Emit: ts.rec.Emit}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- New().(Service).ServePacket(ctx, pc, env) }()
	var once sync.Once
	t.Cleanup(func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("ServePacket: %v", err)
			}
		})
	})
	return ts
}

func rq(op uint16, name, mode string, opts ...string) []byte {
	b := []byte{byte(op >> 8), byte(op)}
	for _, s := range append([]string{name, mode}, opts...) {
		b = append(b, s...)
		b = append(b, 0)
	}
	return b
}

// peer is a raw TFTP client socket.
type peer struct {
	t testing.TB
	c *net.UDPConn
}

func newPeer(t testing.TB) *peer {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &peer{t: t, c: c}
}

func (p *peer) send(to *net.UDPAddr, b []byte) {
	if _, err := p.c.WriteToUDP(b, to); err != nil {
		p.t.Fatal(err)
	}
}

// recv returns the next packet and its sender, or nil after d.
func (p *peer) recv(d time.Duration) ([]byte, *net.UDPAddr) {
	buf := make([]byte, 70000)
	p.c.SetReadDeadline(time.Now().Add(d))
	n, from, err := p.c.ReadFromUDP(buf)
	if err != nil {
		return nil, nil
	}
	return buf[:n], from
}

// get runs a whole RRQ and returns the file, or the first non-DATA packet.
func (p *peer) get(srv *net.UDPAddr, name string, opts ...string) ([]byte, []byte) {
	p.send(srv, rq(opRRQ, name, "octet", opts...))
	var out []byte
	blksize := 512
	for i := 0; i < 5000; i++ {
		pkt, from := p.recv(2 * time.Second)
		switch {
		case pkt == nil:
			p.t.Fatal("transfer stalled")
		case from.Port == srv.Port:
			p.t.Fatalf("answered from the service port, not a new socket")
		case binary.BigEndian.Uint16(pkt) == opOACK:
			p.send(from, ackPacket(0))
			if f := strings.Split(string(pkt[2:]), "\x00"); len(f) >= 2 && strings.EqualFold(f[0], "blksize") {
				blksize = atoi(f[1])
			}
			continue
		case binary.BigEndian.Uint16(pkt) != opDATA:
			return nil, pkt
		}
		out = append(out, pkt[4:]...)
		p.send(from, ackPacket(binary.BigEndian.Uint16(pkt[2:])))
		if len(pkt)-4 < blksize {
			return out, nil
		}
	}
	return out, nil
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

func switchConfig() string {
	for name := range baitFiles(testPersona) {
		if strings.HasSuffix(name, "-confg") {
			return name
		}
	}
	panic("no switch config bait")
}

// Errors are worded as tftpd-hpa words them and come from a new socket.
func TestErrors(t *testing.T) {
	rateBurst = 20 // more requests than the default burst, from one address
	t.Cleanup(func() { rateBurst = 10 })
	srv := startServer(t, map[string]string{"create": "false"})
	tests := []struct {
		name string
		pkt  []byte
		want []byte
	}{
		{"missing file", rq(opRRQ, "nope", "octet"), errorPacket(1, "File not found")},
		{"outside the root", rq(opRRQ, "../../etc/passwd", "octet"), errorPacket(1, "File not found")},
		{"directory", rq(opRRQ, "/", "octet"), errorPacket(0, "Is a directory")},
		{"mail mode", rq(opRRQ, "x", "mail"), errorPacket(4, "Unknown mode")},
		{"no mode", []byte("\x00\x01abc"), errorPacket(4, "Missing mode")},
		{"trailing junk", append(rq(opRRQ, switchConfig(), "octet"), "xx"...), errorPacket(4, "Request not null-terminated")},
		{"bad blksize", rq(opRRQ, switchConfig(), "octet", "blksize", "4"), errorPacket(8, "Unsupported option(s) requested")},
		{"tsize in netascii", rq(opRRQ, switchConfig(), "netascii", "tsize", "0"), errorPacket(8, "Unsupported option(s) requested")},
		{"write without create", rq(opWRQ, "new.bin", "octet"), errorPacket(1, "File not found")},
		{"overwrite a read-only file", rq(opWRQ, switchConfig(), "octet"), errorPacket(0, "Permission denied")},
	}
	p := newPeer(t)
	p.send(srv.addr, []byte("\x00\x09hello"))
	if got, _ := p.recv(300 * time.Millisecond); got != nil {
		t.Errorf("answered an unknown opcode: %q", got)
	}
	if e := srv.rec.WaitFor(t, "unknown_opcode", 1)[0]; e.Fields["opcode"] != 9 || e.Proto != "udp" {
		t.Errorf("unknown_opcode event %+v", e)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newPeer(t)
			p.send(srv.addr, tc.pkt)
			got, from := p.recv(2 * time.Second)
			if !bytes.Equal(got, tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			if from.Port == srv.addr.Port {
				t.Error("answered from the service port")
			}
		})
	}
}

// RRQ serves the bait and the operator's drops, with options; WRQ keeps
// an artifact, reports it, and the writer can read it back.
func TestTransfers(t *testing.T) {
	srv := startServer(t, nil)
	firmware := bytes.Repeat([]byte{0xAB}, 1500)
	if err := srv.drops.Write("/srv/tftp/firmware.bin", firmware, 0o644); err != nil {
		t.Fatal(err)
	}
	p := newPeer(t)
	cfg, errPkt := p.get(srv.addr, switchConfig())
	if errPkt != nil || !bytes.Contains(cfg, []byte("enable secret 5 $1$")) {
		t.Fatalf("bait config = %q, %q", cfg, errPkt)
	}
	if got, errPkt := p.get(srv.addr, "/firmware.bin", "blksize", "1024", "tsize", "0"); !bytes.Equal(got, firmware) {
		t.Fatalf("dropped file with options = %d bytes, %q", len(got), errPkt)
	}
	// The OACK echoes what was asked, with tsize filled in.
	p.send(srv.addr, rq(opRRQ, "firmware.bin", "octet", "BLKSIZE", "100000", "tsize", "0", "foo", "1"))
	if oack, _ := p.recv(2 * time.Second); string(oack) != "\x00\x06BLKSIZE\x0065464\x00tsize\x001500\x00" {
		t.Errorf("OACK %q", oack)
	}

	payload := []byte("interface Vlan1\n ip address 10.0.0.2 255.255.255.0\n")
	w := newPeer(t)
	w.send(srv.addr, rq(opWRQ, "evil-confg", "octet"))
	ack, from := w.recv(2 * time.Second)
	if !bytes.Equal(ack, ackPacket(0)) {
		t.Fatalf("WRQ answer %q", ack)
	}
	w.send(from, append([]byte{0, opDATA, 0, 1}, payload...))
	if ack, _ := w.recv(2 * time.Second); !bytes.Equal(ack, ackPacket(1)) {
		t.Fatalf("DATA 1 answer %q", ack)
	}
	ev := srv.rec.WaitFor(t, event.TypeFileCaptured, 1)[0]
	sum := sha256.Sum256(payload)
	if ev.Fields["sha256"] != hex.EncodeToString(sum[:]) || ev.Fields["orig_path"] != "/srv/tftp/evil-confg" || ev.Fields["complete"] != true {
		t.Errorf("file_captured %+v", ev.Fields)
	}
	if kept, err := os.ReadFile(filepath.Join(srv.state, "artifacts", ev.Fields["stored_as"].(string))); !bytes.Equal(kept, payload) {
		t.Errorf("artifact %q, %v", kept, err)
	}
	if back, _ := w.get(srv.addr, "evil-confg"); !bytes.Equal(back, payload) {
		t.Errorf("the writer reads back %q", back)
	}
	reqs := srv.rec.OfType(event.TypeRequest)
	if len(reqs) < 4 || reqs[0].Fields["op"] != "RRQ" || reqs[0].Fields["filename"] != switchConfig() || reqs[0].Fields["mode"] != "octet" {
		t.Errorf("request events %+v", reqs)
	}
	for _, e := range srv.rec.Events() {
		if err := e.Validate(); err != nil || e.Proto != "udp" {
			t.Errorf("event %+v: %v", e, err)
		}
	}
}

// A source that never acknowledges gets the first block at most twice,
// and a flood of requests is cut off: the decky is no reflector.
func TestNoAmplification(t *testing.T) {
	srv := startServer(t, nil)
	p := newPeer(t)
	p.send(srv.addr, rq(opRRQ, switchConfig(), "octet"))
	n := 0
	for {
		pkt, _ := p.recv(3 * time.Second)
		if pkt == nil {
			break
		}
		n++
	}
	if n != unverifiedSends {
		t.Errorf("an unacknowledged first block went out %d times, want %d", n, unverifiedSends)
	}
	f := newPeer(t)
	for range 50 {
		f.send(srv.addr, rq(opRRQ, "nope", "octet"))
	}
	answers := 0
	for {
		pkt, _ := f.recv(500 * time.Millisecond)
		if pkt == nil {
			break
		}
		answers++
	}
	if answers > int(rateBurst)+1 {
		t.Errorf("50 requests got %d answers; the per-source limit is %v", answers, rateBurst)
	}
}

func TestSchema(t *testing.T) {
	for _, cfg := range []map[string]string{{"root": "srv/tftp"}, {"root": "/srv/../etc"}, {"create": "yes please"}, {"max_upload": "0"}, {"port": "69"}} {
		if _, err := parseConfig(Service{}, cfg); err == nil {
			t.Errorf("config %v accepted", cfg)
		}
	}
	if _, err := parseConfig(Service{}, map[string]string{"root": "/tftpboot", "create": "false", "bait": "false", "max_upload": "1000"}); err != nil {
		t.Error(err)
	}
}
