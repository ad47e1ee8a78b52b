package store

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// totalTTL is how long an unfiltered table count is trusted when no write
// of this process says otherwise: rows written by another process (several
// nodes on one MySQL or PostgreSQL server) show within it. DECNET caches the
// same totals for 2 s (spec/data-api.md §3.0).
const totalTTL = 2 * time.Second

// rowCount caches COUNT(*) of one whole table. Counting a million-row table
// costs tens of milliseconds on every engine, and the paginated lists ask
// for it on every page, so without the cache the count is most of a list's
// cost. Writes of this process keep it exact: an insert of a known number of
// rows adds them, any other write marks it dirty. While one caller
// recounts, the others get the last count rather than wait or count too.
type rowCount struct {
	mu      sync.Mutex
	n       int
	at      time.Time     // when n was counted; zero: never
	dirty   bool          // a write changed the table by an unknown amount
	loading chan struct{} // closed when the count in flight ends; nil: none
}

// get returns the count, recounting with load when it is stale. Only one
// count runs at a time: while it does, callers get the last count, or wait
// for this one when there is none yet.
func (c *rowCount) get(ctx context.Context, load func(context.Context) (int, error)) (int, error) {
	for {
		c.mu.Lock()
		fresh := !c.at.IsZero() && !c.dirty && time.Since(c.at) < totalTTL
		if fresh || (c.loading != nil && !c.at.IsZero()) {
			n := c.n
			c.mu.Unlock()
			return n, nil
		}
		if c.loading == nil {
			break // this caller counts; c.mu still held
		}
		wait := c.loading
		c.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	done := make(chan struct{})
	c.loading, c.dirty = done, false
	c.mu.Unlock()

	start := time.Now()
	n, err := load(ctx)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.loading = nil
	close(done)
	if err != nil {
		c.dirty = true
		return 0, err
	}
	if !c.dirty { // no write raced the count
		c.n, c.at = n, start
	} else if c.at.IsZero() {
		c.n = n // better than nothing for waiters; dirty makes the next get recount
		c.at = start
	}
	return n, nil
}

// add records that this process inserted n rows.
func (c *rowCount) add(n int) {
	if n == 0 {
		return
	}
	c.mu.Lock()
	if c.loading != nil || c.at.IsZero() {
		c.dirty = true // the count in flight may or may not include them
	} else {
		c.n += n
	}
	c.mu.Unlock()
}

// invalidate records a write that changed the table by an unknown amount.
func (c *rowCount) invalidate() {
	c.mu.Lock()
	c.dirty = true
	c.mu.Unlock()
}

// totals are the cached counts of the tables the API pages through
// unfiltered on every request, and a counter of the ingest writes of this
// process.
type totals struct {
	events, attackers rowCount
	changes           atomic.Uint64
}

// wrote records a committed ingest batch that added events and attackers
// rows (and changed sessions and credentials).
func (t *totals) wrote(events, attackers int) {
	if events == 0 {
		return // a redelivered batch changes nothing
	}
	t.events.add(events)
	t.attackers.add(attackers)
	t.changes.Add(1)
}

// Changes counts the ingest batches this Store has committed that changed
// anything. A reader that caches what it read from events, attackers,
// sessions or credentials can compare it to know the cache is stale
// (writes of other processes do not count).
func (s *Store) Changes() uint64 { return s.totals.changes.Load() }

// countAll returns COUNT(*) of table through its cache.
func (s *Store) countAll(ctx context.Context, c *rowCount, table string) (int, error) {
	return c.get(ctx, func(ctx context.Context) (int, error) {
		var n int
		err := s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+table).Scan(&n)
		return n, err
	})
}
