package api

import (
	"context"
	"sync"
	"time"
)

// revocationCacheMax bounds the token ids remembered.
const revocationCacheMax = 1 << 16

// revocations remembers, per token id, whether the store says it is
// revoked, for userCacheTTL: without it every authenticated request costs a
// query, which is most of the cost of a cached page. A logout through this
// process marks its token at once; one through another process (several
// API nodes on one database) shows within the TTL, like a role change.
type revocations struct {
	mu  sync.Mutex
	ttl time.Duration
	m   map[string]revocation
	now func() time.Time
}

type revocation struct {
	revoked bool
	until   time.Time
}

func newRevocations(ttl time.Duration) *revocations {
	return &revocations{ttl: ttl, m: map[string]revocation{}, now: time.Now}
}

// revoked reports whether jti is revoked, asking load when it does not know.
func (c *revocations) revoked(ctx context.Context, jti string, load func(context.Context, string) (bool, error)) (bool, error) {
	now := c.now()
	c.mu.Lock()
	e, ok := c.m[jti]
	c.mu.Unlock()
	if ok && (e.revoked || now.Before(e.until)) {
		return e.revoked, nil
	}
	revoked, err := load(ctx, jti)
	if err != nil {
		return false, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= revocationCacheMax {
		clear(c.m)
	}
	if prev := c.m[jti]; !prev.revoked { // a logout while loading wins
		c.m[jti] = revocation{revoked: revoked, until: now.Add(c.ttl)}
	}
	return revoked, nil
}

// revoke records that this process revoked jti.
func (c *revocations) revoke(jti string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= revocationCacheMax {
		clear(c.m)
	}
	c.m[jti] = revocation{revoked: true}
}
