package api

import (
	"context"
	"sync"
	"time"

	"github.com/decnet-go/decnet/internal/store"
)

// Account cache bounds (spec/data-api.md §4 allows 10 s; we keep 5 s).
const (
	userCacheTTL = 5 * time.Second
	userCacheMax = 4096
)

// userCache keeps the account rows that authenticated requests load (role,
// must-change flag, token cut-off) for a few seconds, so a burst of requests
// costs one query. Every change made through this process drops the row at
// once; a change made by another process shows within userCacheTTL.
type userCache struct {
	mu  sync.Mutex
	ttl time.Duration
	m   map[string]cachedUser
	gen uint64 // bumped by forget: a load that began before is not cached
	now func() time.Time
}

type cachedUser struct {
	u       store.User
	expires time.Time
}

func newUserCache(ttl time.Duration) *userCache {
	return &userCache{ttl: ttl, m: map[string]cachedUser{}, now: time.Now}
}

// get returns the account id from the cache, or loads it with load. Misses
// (unknown ids) are not cached.
func (c *userCache) get(ctx context.Context, id string, load func(context.Context, string) (store.User, error)) (store.User, error) {
	now := c.now()
	c.mu.Lock()
	e, ok := c.m[id]
	gen := c.gen
	c.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.u, nil
	}
	u, err := load(ctx, id)
	if err != nil {
		return u, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return u, nil // changed while loading: maybe stale, do not keep it
	}
	if len(c.m) >= userCacheMax {
		clear(c.m) // rows are cheap to reload; a bound matters more than hits
	}
	c.m[id] = cachedUser{u: u, expires: now.Add(c.ttl)}
	return u, nil
}

// forget drops an account after this process changed it.
func (c *userCache) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, id)
	c.gen++
}
