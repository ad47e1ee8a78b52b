package prober

import (
	"context"
	"errors"
	"io"
	"net"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestTCPFingerprintLoopback(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("TCP_INFO fingerprint is Linux-only")
	}
	silent := startServer(t, func(c net.Conn) { io.Copy(io.Discard, c) })
	p := &Prober{Timeout: 2 * time.Second}
	a, err := p.TCPDetail(context.Background(), silent.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s -> %s (rtt %v)", a.Raw, a.Hash, a.RTT)
	if len(a.Hash) != 32 || !strings.HasPrefix(a.Raw, "tcpfp1:mss=") {
		t.Fatalf("fingerprint %+v", a)
	}
	// Linux loopback negotiates all of these by default.
	if a.MSS <= 0 || !a.SACK || !a.Timestamps || a.WScale < 0 || !a.WindowKnown || a.Window <= 0 {
		t.Errorf("unexpected loopback handshake: %+v", a)
	}
	b, err := p.TCPDetail(context.Background(), silent.addr)
	if err != nil {
		t.Fatal(err)
	}
	if a.Hash != b.Hash {
		t.Errorf("not stable: %s then %s", a.Raw, b.Raw)
	}

	// A listener with a tiny receive buffer answers the SYN with another
	// window: another fingerprint.
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		rc.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 2048) })
		return serr
	}}
	l, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(io.Discard, c); c.Close() }()
		}
	}()
	small, err := p.TCPDetail(context.Background(), l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("small buffer: %s", small.Raw)
	if small.Hash == a.Hash {
		t.Errorf("a 2 KiB receive buffer gives the same fingerprint %s", small.Raw)
	}
}

func TestTCPFingerprintClosedPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	if _, err := (&Prober{Timeout: time.Second}).TCPFingerprint(context.Background(), addr); !errors.Is(err, ErrUnreachable) {
		t.Errorf("error %v, want ErrUnreachable", err)
	}
}

func TestTCPRaw(t *testing.T) {
	got := tcpRaw(TCPInfo{MSS: 1448, WScale: 7, SACK: true, Timestamps: true, Window: 65535, WindowKnown: true})
	if want := "tcpfp1:mss=1448:ws=7:sack=1:ts=1:ecn=0:win=65535"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if got := tcpRaw(TCPInfo{MSS: 536, WScale: -1}); got != "tcpfp1:mss=536:ws=-:sack=0:ts=0:ecn=0:win=?" {
		t.Errorf("got %s", got)
	}
}
