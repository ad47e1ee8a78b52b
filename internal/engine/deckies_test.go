package engine

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"

	"github.com/decnet-go/decnet/internal/decky"
	"github.com/decnet-go/decnet/internal/honeypot"
)

func startedLocal(t *testing.T) *Local {
	t.Helper()
	l := &Local{
		Registry: honeypot.NewRegistry(func() honeypot.Service { return echo{port: 0} }),
		Secret:   []byte("secret"),
		StateDir: t.TempDir(),
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); l.Wait() })
	if _, err := l.Start(ctx, []decky.Decky{{Name: "decky-01", IP: netip.MustParseAddr("127.44.1.1"), Services: []string{"telnet"}}}); err != nil {
		t.Fatal(err)
	}
	return l
}

func TestAddRemoveDecky(t *testing.T) {
	l := startedLocal(t)
	ctx := context.Background()
	d := decky.Decky{Name: "decky-02", IP: netip.MustParseAddr("127.44.1.2"), Services: []string{"telnet"}}
	if err := l.AddDecky(ctx, d); err != nil {
		t.Fatal(err)
	}
	r, ok := l.Decky("decky-02")
	if !ok || len(r.Bindings) != 1 || r.Bindings[0].Err != nil {
		t.Fatalf("decky-02 = %+v, %v", r, ok)
	}
	addr := r.Bindings[0].Addr
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 6)
	if _, err := c.Read(buf); err != nil || string(buf) != "hello\n" {
		t.Fatalf("read %q, %v", buf, err)
	}
	c.Close()
	if got := len(l.Running()); got != 2 {
		t.Fatalf("running %d deckies; want 2", got)
	}

	if err := l.RemoveDecky(ctx, "decky-02"); err != nil {
		t.Fatal(err)
	}
	if _, ok := l.Decky("decky-02"); ok {
		t.Fatal("decky-02 still known after RemoveDecky")
	}
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Fatalf("%s still accepts connections after RemoveDecky", addr)
	}
	if err := l.RemoveDecky(ctx, "decky-02"); !errors.Is(err, ErrUnknownDecky) {
		t.Fatalf("second RemoveDecky = %v; want ErrUnknownDecky", err)
	}
	// The name and address are free again.
	if err := l.AddDecky(ctx, d); err != nil {
		t.Fatalf("redeploy: %v", err)
	}
}

func TestAddDeckyRejects(t *testing.T) {
	l := startedLocal(t)
	ip := netip.MustParseAddr("127.44.1.3")
	tests := []struct {
		name string
		d    decky.Decky
		want error
	}{
		{"name taken", decky.Decky{Name: "decky-01", IP: ip, Services: []string{"telnet"}}, ErrDeckyExists},
		{"ip taken", decky.Decky{Name: "decky-03", IP: netip.MustParseAddr("127.44.1.1"), Services: []string{"telnet"}}, ErrDeckyExists},
		{"unknown service", decky.Decky{Name: "decky-03", IP: ip, Services: []string{"gopher"}}, ErrUnknownService},
		{"bad config", decky.Decky{Name: "decky-03", IP: ip, Services: []string{"telnet"},
			Config: map[string]map[string]string{"telnet": {"banerr": "x"}}}, ErrBadConfig},
		{"no ip", decky.Decky{Name: "decky-03", Services: []string{"telnet"}}, ErrBadConfig},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := l.AddDecky(context.Background(), tc.d); !errors.Is(err, tc.want) {
				t.Fatalf("AddDecky = %v; want %v", err, tc.want)
			}
		})
	}
	if n := len(l.Running()); n != 1 {
		t.Fatalf("%d deckies run after rejected adds; want 1", n)
	}
}

func TestAddDeckyNotStarted(t *testing.T) {
	l := &Local{Registry: honeypot.NewRegistry(func() honeypot.Service { return echo{port: 0} }), Secret: []byte("s")}
	err := l.AddDecky(context.Background(), decky.Decky{Name: "d1", IP: netip.MustParseAddr("127.44.1.9"), Services: []string{"telnet"}})
	if !errors.Is(err, ErrDriver) {
		t.Fatalf("AddDecky before Start = %v; want ErrDriver", err)
	}
}

func TestAddRemoveDeckyConcurrent(t *testing.T) {
	l := startedLocal(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	var mu sync.Mutex
	added := 0
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Pairs of goroutines race for the same name: exactly one wins.
			d := decky.Decky{Name: "race-" + string(rune('a'+i/2)), IP: netip.AddrFrom4([4]byte{127, 44, 2, byte(10 + i)}), Services: []string{"telnet"}}
			err := l.AddDecky(ctx, d)
			switch {
			case err == nil:
				mu.Lock()
				added++
				mu.Unlock()
				l.Running()
				if err := l.RemoveDecky(ctx, d.Name); err != nil {
					t.Error(err)
				}
			case !errors.Is(err, ErrDeckyExists):
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if added < 8 {
		t.Fatalf("only %d adds succeeded; want at least one per name", added)
	}
	if n := len(l.Running()); n != 1 {
		t.Fatalf("%d deckies after the race; want 1", n)
	}
}
