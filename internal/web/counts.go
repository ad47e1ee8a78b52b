package web

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/decnet-go/decnet/internal/store"
)

// digestBatch is how many events one read of the overview's counters takes.
const digestBatch = 20000

// digestReader is what the overview's counters start from and advance
// with. *store.Store implements it.
type digestReader interface {
	OverviewBase(ctx context.Context, since time.Time) (store.OverviewBase, error)
	EventDigestsAfter(ctx context.Context, after int64, limit int) ([]store.EventDigest, error)
}

// overviewCounts are the overview's aggregates (events per hour, events
// per address, sessions and addresses per service), kept in memory and
// advanced on each look with only the events stored since the last one:
// a read of the primary key's newest range instead of a scan of the whole
// events table. The first look after a start reads where they stand
// (store.OverviewBase), which scans the events table once.
//
// They count what the events table holds by id; rows another process
// commits out of id order, and rows retention deletes later, are not
// reflected until the process restarts.
type overviewCounts struct {
	mu      sync.Mutex
	through int64                // events up to this id are counted
	hours   map[int64]int        // unix hour → events
	perIP   map[string]int       // address → events
	svc     map[string]*svcTally // service → sessions and addresses
	// sessions holds a hash of every session id counted, as the sessions
	// table has one row per id (8 bytes a session, not the id).
	sessions map[uint64]struct{}
}

type svcTally struct {
	sessions int                 // sessions opened on the service
	ips      map[uint64]struct{} // hashes of the addresses that opened them
}

// hash64 is FNV-1a of s: set members the counters need not give back.
func hash64(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// hourKeep is how far back hourly counts are kept.
const hourKeep = 48 * time.Hour

// advance counts the events stored since the last call.
func (c *overviewCounts) advance(ctx context.Context, st digestReader, now time.Time) error {
	if c.hours == nil {
		if err := c.start(ctx, st, now); err != nil {
			return err
		}
	}
	for {
		rows, err := st.EventDigestsAfter(ctx, c.through, digestBatch)
		if err != nil {
			return err
		}
		for _, e := range rows {
			c.through = e.ID
			if !e.Hour.IsZero() {
				c.hours[e.Hour.Unix()]++
			}
			if e.AttackerIP == "" || e.Service == "" {
				continue // startup, shutdown and other notices of the node
			}
			c.perIP[e.AttackerIP]++
			if e.Session != "" {
				c.count(e.Session, e.Service, e.AttackerIP)
			}
		}
		if len(rows) < digestBatch {
			break
		}
	}
	cut := now.Add(-hourKeep).Unix()
	for h := range c.hours {
		if h < cut {
			delete(c.hours, h)
		}
	}
	return nil
}

// start sets the counters to the store's totals.
func (c *overviewCounts) start(ctx context.Context, st digestReader, now time.Time) error {
	b, err := st.OverviewBase(ctx, now.Add(-hourKeep))
	if err != nil {
		return err
	}
	c.through, c.perIP, c.svc, c.sessions = b.Through, b.PerIP, map[string]*svcTally{}, make(map[uint64]struct{}, len(b.Sessions))
	c.hours = make(map[int64]int, len(b.Hours))
	for h, n := range b.Hours {
		if t, err := time.Parse("2006-01-02T15", h); err == nil {
			c.hours[t.Unix()] += n
		}
	}
	for _, s := range b.Sessions {
		c.count(s.ID, s.Service, s.AttackerIP)
	}
	return nil
}

// count adds a session the first time its id is seen.
func (c *overviewCounts) count(session, service, ip string) {
	k := hash64(session)
	if _, seen := c.sessions[k]; seen {
		return
	}
	c.sessions[k] = struct{}{}
	t := c.svc[service]
	if t == nil {
		t = &svcTally{ips: map[uint64]struct{}{}}
		c.svc[service] = t
	}
	t.sessions++
	t.ips[hash64(ip)] = struct{}{}
}

// addressCount is an address and its events.
type addressCount struct {
	IP     string
	Events int
}

// snapshot returns the hourly buckets from since (as the histogram
// shape), the n busiest addresses and the n services with most sessions.
func (c *overviewCounts) snapshot(since time.Time, n int) ([]store.HistogramBucket, []addressCount, []store.ServiceCount) {
	var hist []store.HistogramBucket
	for h, k := range c.hours {
		if h >= since.Unix() {
			hist = append(hist, store.HistogramBucket{Time: time.Unix(h, 0).UTC().Format(time.DateTime), Count: k})
		}
	}
	slices.SortFunc(hist, func(a, b store.HistogramBucket) int { return cmp.Compare(a.Time, b.Time) })

	top := make([]addressCount, 0, n+1)
	for ip, k := range c.perIP {
		if len(top) == n && !busier(addressCount{ip, k}, top[n-1]) {
			continue
		}
		i, _ := slices.BinarySearchFunc(top, addressCount{ip, k}, func(a, b addressCount) int {
			if busier(a, b) {
				return -1
			}
			return 1
		})
		top = slices.Insert(top, i, addressCount{ip, k})
		if len(top) > n {
			top = top[:n]
		}
	}

	svcs := make([]store.ServiceCount, 0, len(c.svc))
	for name, t := range c.svc {
		if t.sessions > 0 {
			svcs = append(svcs, store.ServiceCount{Service: name, Sessions: t.sessions, Attackers: len(t.ips)})
		}
	}
	slices.SortFunc(svcs, func(a, b store.ServiceCount) int {
		return cmp.Or(cmp.Compare(b.Sessions, a.Sessions), cmp.Compare(a.Service, b.Service))
	})
	return hist, top, svcs[:min(n, len(svcs))]
}

// busier orders addresses by events, most first, then by address.
func busier(a, b addressCount) bool {
	return a.Events > b.Events || a.Events == b.Events && a.IP < b.IP
}
