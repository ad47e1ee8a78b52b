package api

import (
	"context"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/store"
)

// clock is a settable time source for the caches.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestPageCacheFreshness(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(dir, "decnet.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &testEnv{t: t, st: st, srv: newServer(Config{JWTSecret: testSecret}, st)}
	clk := &clock{t: time.Now()}
	e.srv.pages.now = clk.now
	tok := e.viewerToken()
	// Another process writing to the same database: its writes do not move
	// this Store's change counter.
	other, err := store.Open(ctx, filepath.Join(dir, "decnet.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })

	ingest := func(s *store.Store, ip string) {
		t.Helper()
		ev := event.New("decky-01", "ssh", event.TypeConnect)
		ev.SrcIP = ip
		if _, err := s.IngestBatch(ctx, []event.Event{ev}); err != nil {
			t.Fatal(err)
		}
	}
	rows := func(path string) int {
		t.Helper()
		rec := e.do("GET", path, tok, "")
		var env envelope[map[string]any]
		decode(t, rec, &env)
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s: %d", path, rec.Code)
		}
		return len(env.Data) // the rows; the total may lag by the store's count cache (2 s) on another process's writes
	}
	steps := []struct {
		name   string
		act    func()
		logs   int
		attack int
	}{
		{"first read", func() { ingest(st, "198.51.100.1") }, 1, 1},
		{"this process's write shows at once", func() { ingest(st, "198.51.100.2") }, 2, 2},
		{"another process's write waits for the TTL", func() { ingest(other, "198.51.100.3") }, 2, 2},
		{"and shows after it", func() { clk.add(pageCacheTTL) }, 3, 3},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			s.act()
			if got := rows("/api/v1/logs?limit=5"); got != s.logs {
				t.Errorf("%d log rows; want %d", got, s.logs)
			}
			if got := rows("/api/v1/attackers?limit=5"); got != s.attack {
				t.Errorf("%d attacker rows; want %d", got, s.attack)
			}
		})
	}
	// A cached page is still only for a valid token.
	if rec := e.do("GET", "/api/v1/logs?limit=5", "", ""); rec.Code != http.StatusUnauthorized {
		t.Errorf("cached page without a token: %d", rec.Code)
	}
	// Error answers are not cached.
	for range 2 {
		if rec := e.do("GET", "/api/v1/attackers?sort_by=nope", tok, ""); rec.Code != http.StatusUnprocessableEntity {
			t.Errorf("bad sort: %d", rec.Code)
		}
	}
}

func TestRevocationByAnotherProcess(t *testing.T) {
	e := newEnv(t)
	clk := &clock{t: time.Now()}
	e.srv.revoked.now = clk.now
	tok := e.viewerToken()
	if rec := e.do("GET", "/api/v1/stats", tok, ""); rec.Code != http.StatusOK {
		t.Fatalf("stats: %d", rec.Code)
	}
	id, err := e.srv.authenticate(context.Background(), "Bearer "+tok)
	if err != nil {
		t.Fatal(err)
	}
	// Another API node revokes the token in the shared store.
	if err := e.st.RevokeToken(context.Background(), id.jti, id.user.UUID, id.expires); err != nil {
		t.Fatal(err)
	}
	clk.add(userCacheTTL)
	if rec := e.do("GET", "/api/v1/stats", tok, ""); rec.Code != http.StatusUnauthorized {
		t.Fatalf("token revoked elsewhere, after the cache TTL: %d; want 401", rec.Code)
	}
}
