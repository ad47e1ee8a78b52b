package engine

import (
	"context"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/decnet-go/decnet/internal/decky"
	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/honeypot"
)

// echo is a tiny service for driver tests: it emits connect and echoes a line.
type echo struct{ port int }

func (e echo) Name() string            { return "telnet" }
func (e echo) Ports() []honeypot.Port  { return []honeypot.Port{{Number: e.port, Proto: "tcp"}} }
func (e echo) Schema() honeypot.Schema { return honeypot.Schema{{Key: "banner", Type: "string"}} }
func (e echo) Serve(ctx context.Context, l net.Listener, env honeypot.Env) error {
	return honeypot.Serve(ctx, l, env, e.Name(), honeypot.DefaultLimits, func(_ context.Context, c *honeypot.Conn) {
		c.EmitConnect()
		c.Write([]byte("hello\n"))
	})
}

func TestPortFallback(t *testing.T) {
	ip := netip.MustParseAddr("127.44.0.1")
	// Take the service's port, as a host daemon would.
	taken, err := net.Listen("tcp", net.JoinHostPort(ip.String(), "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	port := taken.Addr().(*net.TCPAddr).Port // ephemeral: at most 60999, so +1000 fits

	var mu sync.Mutex
	var got []event.Event
	l := &Local{
		Registry:   honeypot.NewRegistry(func() honeypot.Service { return echo{port: port} }),
		Secret:     []byte("secret"),
		StateDir:   t.TempDir(),
		PortOffset: 1000,
		Emit:       func(e event.Event) { mu.Lock(); got = append(got, e); mu.Unlock() },
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); l.Wait() }()
	running, err := l.Start(ctx, []decky.Decky{{Name: "decky-01", IP: ip, Services: []string{"telnet"}}})
	if err != nil {
		t.Fatal(err)
	}
	b := running[0].Bindings[0]
	if b.Err != nil || b.Port != port+1000 || b.RequestedPort != port {
		t.Fatalf("binding = %+v; want port %d moved to %d", b, port, port+1000)
	}
	if !strings.Contains(b.Fallback, "taken") || !strings.Contains(b.Fallback, strconv.Itoa(port+1000)) {
		t.Errorf("fallback note %q does not say why and where", b.Fallback)
	}
	c, err := net.Dial("tcp", b.Addr)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 6)
	if _, err := c.Read(buf); err != nil || string(buf) != "hello\n" {
		t.Fatalf("read %q, %v", buf, err)
	}
	c.Close()
}

func TestStartRejectsBadFleet(t *testing.T) {
	l := &Local{Registry: honeypot.NewRegistry(func() honeypot.Service { return echo{port: 23} }), Secret: []byte("s")}
	tests := []struct {
		name  string
		fleet []decky.Decky
		want  string
	}{
		{"unknown service", []decky.Decky{{Name: "d1", IP: netip.MustParseAddr("127.44.0.2"), Services: []string{"gopher"}}}, `unknown service "gopher"`},
		{"bad name", []decky.Decky{{Name: "Decky_1", IP: netip.MustParseAddr("127.44.0.2"), Services: []string{"telnet"}}}, "decky name"},
		{"no ip", []decky.Decky{{Name: "d1", Services: []string{"telnet"}}}, "ip is missing"},
		{"bad config key", []decky.Decky{{Name: "d1", IP: netip.MustParseAddr("127.44.0.2"), Services: []string{"telnet"},
			Config: map[string]map[string]string{"telnet": {"banerr": "x"}}}}, `unknown key "banerr"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := l.Start(context.Background(), tc.fleet)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Start error = %v; want it to mention %q", err, tc.want)
			}
		})
	}
}
