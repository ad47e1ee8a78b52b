package engine

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/decnet-go/decnet/internal/decky"
	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/honeypot"
)

// banner is a test service that greets with its "banner" key.
type banner struct{ name string }

func (b banner) Name() string            { return b.name }
func (b banner) Ports() []honeypot.Port  { return []honeypot.Port{{Number: 0, Proto: "tcp"}} }
func (b banner) Schema() honeypot.Schema { return honeypot.Schema{{Key: "banner", Type: "string"}} }
func (b banner) Serve(ctx context.Context, l net.Listener, env honeypot.Env) error {
	greet := env.Config["banner"]
	if greet == "" {
		greet = "hello"
	}
	return honeypot.Serve(ctx, l, env, b.name, honeypot.DefaultLimits, func(_ context.Context, c *honeypot.Conn) {
		c.Write([]byte(greet + "\n"))
	})
}

func startOps(t *testing.T) (*Local, string) {
	t.Helper()
	l := &Local{
		Registry: honeypot.NewRegistry(func() honeypot.Service { return banner{"alpha"} }, func() honeypot.Service { return banner{"beta"} }),
		Secret:   []byte("secret"),
		StateDir: t.TempDir(),
		Emit:     func(event.Event) {},
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); l.Wait() })
	ip := netip.MustParseAddr("127.44.0.9")
	if _, err := l.Start(ctx, []decky.Decky{{Name: "decky-01", IP: ip, Services: []string{"alpha"}}}); err != nil {
		t.Fatal(err)
	}
	return l, "decky-01"
}

func addrOf(t *testing.T, l *Local, d, svc string) string {
	t.Helper()
	r, _ := l.Decky(d)
	for _, b := range r.Bindings {
		if b.Service == svc {
			if b.Err != nil {
				t.Fatalf("%s not listening: %v", svc, b.Err)
			}
			return b.Addr
		}
	}
	return ""
}

func greeting(addr string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	b, err := io.ReadAll(io.LimitReader(c, 64))
	if len(b) > 0 {
		err = nil
	}
	return string(b), err
}

func TestOperatorLifecycle(t *testing.T) {
	ctx := context.Background()
	l, d := startOps(t)
	alpha := addrOf(t, l, d, "alpha")

	if err := l.AddService(ctx, d, "beta", map[string]string{"banner": "hi"}); err != nil {
		t.Fatal(err)
	}
	beta := addrOf(t, l, d, "beta")
	if g, err := greeting(beta); g != "hi\n" {
		t.Fatalf("beta after add: %q, %v", g, err)
	}
	if svcs, _ := l.Services(ctx, d); len(svcs) != 2 || svcs[1] != "beta" {
		t.Fatalf("services = %v", svcs)
	}

	if re, err := l.ConfigureService(ctx, d, "beta", map[string]string{"banner": "yo"}, false); err != nil || re {
		t.Fatalf("save config: %v, %v", re, err)
	}
	if g, _ := greeting(addrOf(t, l, d, "beta")); g != "hi\n" {
		t.Fatalf("saved (not applied) config took effect: %q", g)
	}
	if r, _ := l.Decky(d); r.Decky.Config["beta"]["banner"] != "yo" {
		t.Fatalf("saved config not kept: %+v", r.Decky.Config)
	}
	if re, err := l.ConfigureService(ctx, d, "beta", map[string]string{"banner": "yo"}, true); err != nil || !re {
		t.Fatalf("apply config: %v, %v", re, err)
	}
	if g, _ := greeting(addrOf(t, l, d, "beta")); g != "yo\n" {
		t.Fatalf("applied config: %q", g)
	}

	beta = addrOf(t, l, d, "beta")
	if err := l.RemoveService(ctx, d, "beta"); err != nil {
		t.Fatal(err)
	}
	if _, err := net.DialTimeout("tcp", beta, time.Second); err == nil {
		t.Fatal("beta's port still open after remove")
	}
	if g, _ := greeting(alpha); g != "hello\n" {
		t.Fatalf("alpha hurt by removing beta: %q", g)
	}
}

func TestOperatorErrors(t *testing.T) {
	ctx := context.Background()
	l, d := startOps(t)
	tests := []struct {
		name string
		op   func() error
		want error
	}{
		{"add unknown service", func() error { return l.AddService(ctx, d, "gopher", nil) }, ErrUnknownService},
		{"add bad config", func() error { return l.AddService(ctx, d, "beta", map[string]string{"banerr": "x"}) }, ErrBadConfig},
		{"add present", func() error { return l.AddService(ctx, d, "alpha", nil) }, ErrServiceExists},
		{"add unknown decky", func() error { return l.AddService(ctx, "decky-99", "beta", nil) }, ErrUnknownDecky},
		{"remove absent", func() error { return l.RemoveService(ctx, d, "beta") }, ErrServiceAbsent},
		{"remove last", func() error { return l.RemoveService(ctx, d, "alpha") }, ErrDriver},
		{"remove unknown decky", func() error { return l.RemoveService(ctx, "decky-99", "alpha") }, ErrUnknownDecky},
		{"configure absent", func() error { _, err := l.ConfigureService(ctx, d, "beta", nil, true); return err }, ErrServiceAbsent},
		{"configure bad", func() error {
			_, err := l.ConfigureService(ctx, d, "alpha", map[string]string{"x": "y"}, false)
			return err
		}, ErrBadConfig},
		{"write relative", func() error { return l.WriteFile(ctx, d, "root/x", nil, 0o644, time.Time{}) }, ErrBadPath},
		{"write dotdot", func() error { return l.WriteFile(ctx, d, "/root/../../x", nil, 0o644, time.Time{}) }, ErrBadPath},
		{"write root dir", func() error { return l.WriteFile(ctx, d, "/", nil, 0o644, time.Time{}) }, ErrBadPath},
		{"write unknown decky", func() error { return l.WriteFile(ctx, "decky-99", "/x", nil, 0o644, time.Time{}) }, ErrUnknownDecky},
		{"remove file bad path", func() error { return l.RemoveFile(ctx, d, "x") }, ErrBadPath},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.op(); !errors.Is(err, tc.want) {
				t.Fatalf("error = %v; want %v", err, tc.want)
			}
		})
	}
}

func TestOperatorFiles(t *testing.T) {
	ctx := context.Background()
	l, d := startOps(t)
	if err := l.WriteFile(ctx, d, "/root/notes.txt", []byte("x"), 0o600, time.Time{}); err != nil {
		t.Fatal(err)
	}
	onDisk := filepath.Join(l.StateDir, d, "drops", "root", "notes.txt")
	if b, err := os.ReadFile(onDisk); err != nil || string(b) != "x" {
		t.Fatalf("drop on disk: %q, %v", b, err)
	}
	// A backdated drop keeps the time it was given.
	old := time.Date(2024, 2, 3, 4, 5, 6, 0, time.UTC)
	if err := l.WriteFile(ctx, d, "/opt/app/.env", []byte("DB_PASSWORD=x"), 0o640, old); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(l.StateDir, d, "drops", "opt", "app", ".env")); err != nil || !fi.ModTime().Equal(old) {
		t.Fatalf("backdated drop: %v, %v; want mtime %v", fi, err, old)
	}
	if err := l.RemoveFile(ctx, d, "/root/notes.txt"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(onDisk); !os.IsNotExist(err) {
		t.Fatalf("drop still on disk: %v", err)
	}
	if err := l.RemoveFile(ctx, d, "/root/notes.txt"); err != nil {
		t.Fatalf("removing an absent file (rm -f): %v", err)
	}
}

// Concurrent operations keep the state consistent (run with -race).
func TestOperatorConcurrent(t *testing.T) {
	ctx := context.Background()
	l, d := startOps(t)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			switch i % 4 {
			case 0:
				l.AddService(ctx, d, "beta", nil)
			case 1:
				l.RemoveService(ctx, d, "beta")
			case 2:
				l.ConfigureService(ctx, d, "alpha", map[string]string{"banner": "x"}, true)
			case 3:
				l.Running()
			}
		}()
	}
	wg.Wait()
	r, _ := l.Decky(d)
	seen := map[string]bool{}
	for _, b := range r.Bindings {
		seen[b.Service] = true
	}
	if len(seen) != len(r.Decky.Services) {
		t.Fatalf("bindings %v disagree with services %v", seen, r.Decky.Services)
	}
}
