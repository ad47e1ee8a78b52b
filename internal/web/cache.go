package web

import (
	"context"
	"sync"
	"time"

	"github.com/decnet-go/decnet/internal/store"
)

// aggregateTTL is how old the overview's aggregates (chart, top attackers,
// top services) may be. They scan whole tables, which at 100 000 events
// takes longer than a page may; counters and latest rows stay live.
const aggregateTTL = 30 * time.Second

// aggregates are the overview panels that are costly to compute.
type aggregates struct {
	Chart        chart
	TopAttackers []store.Attacker
	TopServices  []store.ServiceCount
	at           time.Time
}

// aggregateCache keeps the last aggregates. When they are stale, one
// request recomputes them while concurrent ones are served the stale copy,
// so a burst of page loads costs one computation.
type aggregateCache struct {
	mu        sync.Mutex
	cur       *aggregates
	computing bool
}

// get returns aggregates no older than aggregateTTL, computing them with
// compute when needed (or when there are none yet).
func (c *aggregateCache) get(ctx context.Context, now time.Time, compute func(context.Context) (*aggregates, error)) (*aggregates, error) {
	c.mu.Lock()
	cur := c.cur
	fresh := cur != nil && now.Sub(cur.at) < aggregateTTL && !now.Before(cur.at)
	if fresh || (cur != nil && c.computing) {
		c.mu.Unlock()
		return cur, nil
	}
	c.computing = true
	c.mu.Unlock()

	next, err := compute(ctx)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.computing = false
	if err != nil {
		if cur != nil {
			return cur, nil // a stale overview beats an error page
		}
		return nil, err
	}
	next.at = now
	c.cur = next
	return next, nil
}
