package runtime

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/decnet-go/decnet/internal/decky"
	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/honeypot"
)

// hello emits connect on an ephemeral port; broken fails at once.
type hello struct{ fail bool }

func (h hello) Name() string {
	if h.fail {
		return "telnet"
	}
	return "ssh"
}
func (hello) Ports() []honeypot.Port  { return []honeypot.Port{{Number: 0, Proto: "tcp"}} }
func (hello) Schema() honeypot.Schema { return nil }
func (h hello) Serve(ctx context.Context, l net.Listener, env honeypot.Env) error {
	if h.fail {
		l.Close()
		return errors.New("host key unreadable")
	}
	return honeypot.Serve(ctx, l, env, h.Name(), honeypot.DefaultLimits, func(_ context.Context, c *honeypot.Conn) {
		c.EmitConnect()
	})
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func testDecky() decky.Decky {
	return decky.Decky{Name: "decky-07", IP: netip.MustParseAddr("10.0.0.7"), Services: []string{"ssh", "telnet"}}
}

func TestSpecRoundTrip(t *testing.T) {
	d := testDecky()
	d.OSFamily, d.Config = "windows", map[string]map[string]string{"ssh": {"banner": "x"}}
	s, err := EncodeSpec(d)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeSpec(s)
	if err != nil || got.Name != d.Name || got.IP != d.IP || got.OSFamily != "windows" || got.Config["ssh"]["banner"] != "x" {
		t.Errorf("round trip = %+v, %v", got, err)
	}
	for _, bad := range []string{"", "!!", "bm90IGpzb24="} {
		if _, err := DecodeSpec(bad); err == nil || !strings.Contains(err.Error(), EnvSpec) {
			t.Errorf("DecodeSpec(%q) = %v, want an error naming %s", bad, err, EnvSpec)
		}
	}
	if _, err := DecodeSecret("abcd"); err == nil {
		t.Error("a 2-byte secret was accepted")
	}
}

func TestEventsGoToStdout(t *testing.T) {
	var out syncBuf
	reg := honeypot.NewRegistry(func() honeypot.Service { return hello{} }, func() honeypot.Service { return hello{fail: true} })
	r, err := Start(context.Background(), Options{Decky: testDecky(), Secret: []byte("s"), Services: []string{"ssh"},
		StateDir: t.TempDir(), Stdout: &out, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Stop(context.Background())
	if len(r.Bindings) != 1 || !strings.HasPrefix(r.Bindings[0].Addr, "[::]:") && !strings.HasPrefix(r.Bindings[0].Addr, "0.0.0.0:") {
		t.Fatalf("bindings %+v, want ssh alone on every address", r.Bindings)
	}
	_, port, _ := net.SplitHostPort(r.Bindings[0].Addr)
	c, err := net.Dial("tcp", "127.0.0.1:"+port)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), " connect ") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	line, _, _ := strings.Cut(out.String(), "\n")
	e, err := event.DecodeRFC5424(line)
	if err != nil || e.Decky != "decky-07" || e.Service != "ssh" || e.Type != event.TypeConnect {
		t.Errorf("stdout %q decodes to %+v, %v; want a decky-07 ssh connect", out.String(), e, err)
	}
}

func TestFailedServiceEndsRun(t *testing.T) {
	reg := honeypot.NewRegistry(func() honeypot.Service { return hello{} }, func() honeypot.Service { return hello{fail: true} })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := Run(ctx, Options{Decky: testDecky(), Secret: []byte("s"), StateDir: t.TempDir(), Stdout: &syncBuf{}, Registry: reg})
	if err == nil || !strings.Contains(err.Error(), "telnet") || ctx.Err() != nil {
		t.Errorf("Run = %v; want it to end at once with the telnet failure", err)
	}
}

func TestUnknownServiceFlag(t *testing.T) {
	_, err := Start(context.Background(), Options{Decky: testDecky(), Secret: []byte("s"), Services: []string{"smb"}, StateDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "--service smb") {
		t.Errorf("err = %v, want one naming --service smb", err)
	}
}

// envSeen records the Env its Serve gets.
type envSeen struct{ got chan honeypot.Env }

func (envSeen) Name() string            { return "ssh" }
func (envSeen) Ports() []honeypot.Port  { return nil }
func (envSeen) Schema() honeypot.Schema { return nil }
func (e envSeen) Serve(_ context.Context, _ net.Listener, env honeypot.Env) error {
	e.got <- env
	return nil
}

// --drops replaces the default drops directory of the state dir.
func TestWatchDrops(t *testing.T) {
	got := make(chan honeypot.Env, 2)
	base := honeypot.NewRegistry(func() honeypot.Service { return envSeen{got} })
	def := &honeypot.Drops{Root: "/state/d/drops"}
	for _, c := range []struct {
		drops *honeypot.Drops
		want  string
	}{{&honeypot.Drops{Root: "/drops"}, "/drops"}, {nil, "/state/d/drops"}} {
		s, err := watch(base, []string{"ssh"}, make(chan error, 1), c.drops).New("ssh")
		if err != nil {
			t.Fatal(err)
		}
		s.Serve(context.Background(), nil, honeypot.Env{Drops: def})
		if env := <-got; env.Drops == nil || env.Drops.Root != c.want {
			t.Errorf("drops %+v: service saw %+v, want root %s", c.drops, env.Drops, c.want)
		}
	}
}

// packetSeen is a service that answers datagrams.
type packetSeen struct{ envSeen }

func (p packetSeen) Name() string { return "tftp" }
func (p packetSeen) ServePacket(_ context.Context, _ net.PacketConn, env honeypot.Env) error {
	p.got <- env
	return nil
}

// A watched service that answers datagrams still does (the engine binds
// its udp ports only for a PacketService), with the runtime's drops.
func TestWatchKeepsDatagrams(t *testing.T) {
	got := make(chan honeypot.Env, 1)
	base := honeypot.NewRegistry(func() honeypot.Service { return packetSeen{envSeen{got}} })
	s, err := watch(base, []string{"tftp"}, make(chan error, 1), &honeypot.Drops{Root: "/drops"}).New("tftp")
	if err != nil {
		t.Fatal(err)
	}
	ps, ok := s.(honeypot.PacketService)
	if !ok {
		t.Fatal("the watched tftp service lost ServePacket")
	}
	ps.ServePacket(context.Background(), nil, honeypot.Env{})
	if env := <-got; env.Drops == nil || env.Drops.Root != "/drops" {
		t.Errorf("ServePacket saw drops %+v; want /drops", env.Drops)
	}
}
