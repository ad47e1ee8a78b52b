package intel

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// stubProvider answers from a function and counts calls.
type stubProvider struct {
	name  string
	calls atomic.Int64
	fn    func(ip netip.Addr) (Verdict, error)
}

func (s *stubProvider) Name() string { return s.name }
func (s *stubProvider) Lookup(_ context.Context, ip netip.Addr) (Verdict, error) {
	s.calls.Add(1)
	return s.fn(ip)
}

func TestCacheTTL(t *testing.T) {
	clock := newFakeClock()
	p := &stubProvider{name: "stub", fn: func(netip.Addr) (Verdict, error) {
		return Verdict{Provider: "stub", Level: LevelSuspicious, FetchedAt: clock.Now()}, nil
	}}
	c := NewCache(p, CacheConfig{TTL: time.Hour, Now: clock.Now, Logger: quietLogger()})
	ctx := context.Background()
	for range 5 {
		if v, err := c.Lookup(ctx, attacker); err != nil || v.Level != LevelSuspicious {
			t.Fatalf("%+v %v", v, err)
		}
	}
	if p.calls.Load() != 1 {
		t.Fatalf("%d provider calls within the TTL, want 1", p.calls.Load())
	}
	clock.Advance(time.Hour)
	_, _ = c.Lookup(ctx, attacker)
	if p.calls.Load() != 2 {
		t.Fatalf("%d provider calls after the TTL, want 2", p.calls.Load())
	}
	// IPv4-mapped form shares the entry.
	_, _ = c.Lookup(ctx, netip.MustParseAddr("::ffff:198.51.100.23"))
	if p.calls.Load() != 2 {
		t.Error("mapped address missed the cache")
	}
}

func TestCacheStaleWhileError(t *testing.T) {
	clock := newFakeClock()
	var failing atomic.Bool
	p := &stubProvider{name: "stub", fn: func(netip.Addr) (Verdict, error) {
		if failing.Load() {
			return Verdict{}, fmt.Errorf("stub: %w", &StatusError{Provider: "stub", Status: 503})
		}
		return Verdict{Provider: "stub", Level: LevelMalicious, Malicious: true, Score: 90}, nil
	}}
	c := NewCache(p, CacheConfig{TTL: time.Hour, ErrorBackoff: 10 * time.Minute, Now: clock.Now, Logger: quietLogger()})
	ctx := context.Background()
	if _, err := c.Lookup(ctx, attacker); err != nil {
		t.Fatal(err)
	}
	failing.Store(true)
	clock.Advance(2 * time.Hour)
	v, err := c.Lookup(ctx, attacker)
	if err != nil || !v.Malicious || v.Score != 90 || !v.Stale {
		t.Fatalf("want the last good answer marked stale, got %+v %v", v, err)
	}
	// Within the error backoff the provider is not asked again.
	calls := p.calls.Load()
	clock.Advance(5 * time.Minute)
	if v, _ := c.Lookup(ctx, attacker); !v.Stale {
		t.Error("not stale during backoff")
	}
	if p.calls.Load() != calls {
		t.Error("provider asked again during the error backoff")
	}
	// After the backoff it is asked again, and a recovery replaces the answer.
	failing.Store(false)
	clock.Advance(6 * time.Minute)
	v, err = c.Lookup(ctx, attacker)
	if err != nil || v.Stale || p.calls.Load() != calls+1 {
		t.Errorf("after recovery: %+v %v calls=%d", v, err, p.calls.Load())
	}
	// Without an earlier answer, the error is returned.
	failing.Store(true)
	other := netip.MustParseAddr("192.0.2.9")
	if _, err := c.Lookup(ctx, other); err == nil {
		t.Error("error hidden with nothing cached")
	}
	if c.Len() != 1 {
		t.Errorf("errors were cached: %d entries", c.Len())
	}
}

func TestCacheDoesNotHideDisabled(t *testing.T) {
	var disabled atomic.Bool
	p := &stubProvider{name: "stub", fn: func(netip.Addr) (Verdict, error) {
		if disabled.Load() {
			return Verdict{}, ErrDisabled
		}
		return Verdict{Level: LevelBenign}, nil
	}}
	clock := newFakeClock()
	c := NewCache(p, CacheConfig{TTL: time.Minute, Now: clock.Now, Logger: quietLogger()})
	_, _ = c.Lookup(context.Background(), attacker)
	disabled.Store(true)
	clock.Advance(time.Hour)
	if _, err := c.Lookup(context.Background(), attacker); !errors.Is(err, ErrDisabled) {
		t.Errorf("err = %v, want ErrDisabled", err)
	}
}

func TestCacheBounded(t *testing.T) {
	p := &stubProvider{name: "stub", fn: func(netip.Addr) (Verdict, error) { return Verdict{}, nil }}
	c := NewCache(p, CacheConfig{MaxEntries: 10, Logger: quietLogger()})
	for i := range 100 {
		_, _ = c.Lookup(context.Background(), netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}))
	}
	if n := c.Len(); n != 10 {
		t.Errorf("cache holds %d entries, want 10", n)
	}
}

func TestCacheCoalescesConcurrentLookups(t *testing.T) {
	release := make(chan struct{})
	p := &stubProvider{name: "stub", fn: func(netip.Addr) (Verdict, error) {
		<-release
		return Verdict{Level: LevelBenign}, nil
	}}
	c := NewCache(p, CacheConfig{Logger: quietLogger()})
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() { _, _ = c.Lookup(context.Background(), attacker) })
	}
	time.Sleep(50 * time.Millisecond)
	close(release)
	wg.Wait()
	if n := p.calls.Load(); n != 1 {
		t.Errorf("%d provider calls for 10 concurrent lookups, want 1", n)
	}
}
