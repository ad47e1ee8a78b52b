package intel

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// CacheConfig configures a Cache. Zero fields take the defaults.
type CacheConfig struct {
	// TTL is how long an answer is served without asking again (default 24 h).
	TTL time.Duration
	// ErrorBackoff is how long, after the provider failed, the stale answer
	// is served without asking again (default 5 min).
	ErrorBackoff time.Duration
	// MaxEntries bounds the cache (default 100 000); past it an arbitrary
	// entry is evicted, expired ones first when met.
	MaxEntries int
	Now        func() time.Time
	Logger     *slog.Logger
}

// Cache wraps an IntelProvider with a TTL cache. Concurrent lookups of one
// address share one request. When the provider fails and an earlier answer
// exists, that answer is returned with Stale set and a nil error
// (stale-while-error); ErrDisabled is never hidden. Verdicts it returns share
// their slices: treat them as read-only.
type Cache struct {
	p       IntelProvider
	ttl     time.Duration
	backoff time.Duration
	max     int
	now     func() time.Time
	log     *slog.Logger

	mu      sync.Mutex
	entries map[netip.Addr]*cacheEntry
	group   singleflight.Group
}

type cacheEntry struct {
	v       Verdict
	at      time.Time // when v was fetched
	retryAt time.Time // after a provider error: serve stale until then
}

// NewCache wraps p.
func NewCache(p IntelProvider, c CacheConfig) *Cache {
	cc := &Cache{p: p, ttl: c.TTL, backoff: c.ErrorBackoff, max: c.MaxEntries, now: c.Now, log: c.Logger,
		entries: make(map[netip.Addr]*cacheEntry)}
	if cc.ttl <= 0 {
		cc.ttl = 24 * time.Hour
	}
	if cc.backoff <= 0 {
		cc.backoff = 5 * time.Minute
	}
	if cc.max <= 0 {
		cc.max = 100_000
	}
	if cc.now == nil {
		cc.now = time.Now
	}
	if cc.log == nil {
		cc.log = slog.Default()
	}
	return cc
}

// Name returns the wrapped provider's name.
func (c *Cache) Name() string { return c.p.Name() }

// Len returns the number of cached addresses.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// Lookup returns the cached answer for ip when fresh, else asks the provider.
func (c *Cache) Lookup(ctx context.Context, ip netip.Addr) (Verdict, error) {
	ip = ip.Unmap()
	now := c.now()
	c.mu.Lock()
	e := c.entries[ip]
	var have bool
	var old cacheEntry
	if e != nil {
		have, old = true, *e
	}
	c.mu.Unlock()
	if have && (now.Sub(old.at) < c.ttl) {
		return old.v, nil
	}
	if have && now.Before(old.retryAt) {
		return staleOf(old.v), nil
	}
	res, err, _ := c.group.Do(ip.String(), func() (any, error) {
		return c.p.Lookup(ctx, ip)
	})
	v, _ := res.(Verdict)
	if err != nil {
		if !have || errors.Is(err, ErrDisabled) || errors.Is(err, ErrInvalidAddr) {
			return v, err
		}
		c.log.Warn("intel provider failed; serving the last good answer",
			"provider", c.p.Name(), "src_ip", ip.String(), "err", err, "answer_age", now.Sub(old.at).Round(time.Second))
		c.mu.Lock()
		if e := c.entries[ip]; e != nil && e.at.Equal(old.at) {
			e.retryAt = now.Add(c.backoff)
		}
		c.mu.Unlock()
		return staleOf(old.v), nil
	}
	c.mu.Lock()
	if _, ok := c.entries[ip]; !ok && len(c.entries) >= c.max {
		c.evictLocked(now)
	}
	c.entries[ip] = &cacheEntry{v: v, at: now}
	c.mu.Unlock()
	return v, nil
}

func staleOf(v Verdict) Verdict {
	v.Stale = true
	return v
}

// evictLocked drops one entry, preferring an expired one among the first few
// the (randomised) map iteration meets.
func (c *Cache) evictLocked(now time.Time) {
	var victim netip.Addr
	seen := 0
	for ip, e := range c.entries {
		if !victim.IsValid() {
			victim = ip
		}
		if now.Sub(e.at) >= c.ttl {
			victim = ip
			break
		}
		if seen++; seen >= 8 {
			break
		}
	}
	delete(c.entries, victim)
}
