package store

import (
	"context"
	"fmt"
	"sort"
	"time"
)

// EventQuery narrows the event list beyond a Page: Since and Until, when
// set, keep events with Since <= timestamp <= Until.
type EventQuery struct {
	Page
	Since, Until time.Time
}

func (q EventQuery) filter() *where {
	w := eventFilter(q.Page)
	if !q.Since.IsZero() {
		w.add("ts >= ?", fmtTime(q.Since))
	}
	if !q.Until.IsZero() {
		w.add("ts <= ?", fmtTime(q.Until))
	}
	return w
}

// EventsIn lists stored events, newest first, like Events, within the
// query's time bounds.
func (s *Store) EventsIn(ctx context.Context, q EventQuery) (rows []EventRow, total int, err error) {
	if q.Since.IsZero() && q.Until.IsZero() {
		return s.Events(ctx, q.Page)
	}
	w := q.filter()
	if err := s.db.QueryRowContext(ctx, s.q("SELECT COUNT(*) FROM events"+w.String()), w.args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("store: count events: %w", err)
	}
	rows, err = selectAll(ctx, s, "list events", "SELECT "+eventCols+" FROM events"+w.String()+" ORDER BY id DESC LIMIT ? OFFSET ?", append(w.args, q.Limit, q.Offset), scanEvent)
	return rows, total, err
}

// HistogramBucket is the number of events in one time bucket; Time is its
// start, "YYYY-MM-DD HH:MM:SS" in UTC as DECNET writes it.
type HistogramBucket struct {
	Time  string `json:"time"`
	Count int    `json:"count"`
}

// EventHistogram counts the events the query matches (its Limit and Offset
// are ignored) in buckets of interval, aligned on multiples of interval
// since the Unix epoch, oldest first. Empty buckets are left out.
//
// The database groups by minute with SUBSTR over the fixed-width timestamp
// text, which every dialect has; the minutes are folded into buckets here,
// so no dialect's date arithmetic is needed.
func (s *Store) EventHistogram(ctx context.Context, q EventQuery, interval time.Duration) ([]HistogramBucket, error) {
	step := int64(max(interval, time.Minute) / time.Second)
	w := q.filter()
	rs, err := s.db.QueryContext(ctx, s.q("SELECT SUBSTR(ts, 1, 16), COUNT(*) FROM events"+w.String()+" GROUP BY SUBSTR(ts, 1, 16)"), w.args...)
	if err != nil {
		return nil, fmt.Errorf("store: event histogram: %w", err)
	}
	defer rs.Close()
	buckets := map[int64]int{}
	for rs.Next() {
		var minute string
		var n int
		if err := rs.Scan(&minute, &n); err != nil {
			return nil, err
		}
		t, err := time.Parse("2006-01-02T15:04", minute)
		if err != nil {
			continue // not a timestamp this store wrote
		}
		sec := t.Unix()
		buckets[sec-mod(sec, step)] += n
	}
	if err := rs.Err(); err != nil {
		return nil, err
	}
	out := make([]HistogramBucket, 0, len(buckets))
	keys := make([]int64, 0, len(buckets))
	for k := range buckets {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	for _, k := range keys {
		out = append(out, HistogramBucket{Time: time.Unix(k, 0).UTC().Format(time.DateTime), Count: buckets[k]})
	}
	return out, nil
}

// mod is the non-negative remainder of a / b.
func mod(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}

// Attacker list orders (spec/data-api.md §3.3, sort_by).
const (
	SortRecent     = "recent"     // most recently seen first
	SortActive     = "active"     // most events first
	SortTraversals = "traversals" // only attackers that touched two or more deckies, most recent first
)

// AttackersSorted lists attacker profiles like Attackers, in the order sort
// names (SortRecent when empty).
func (s *Store) AttackersSorted(ctx context.Context, p Page, sortBy string) (rows []Attacker, total int, err error) {
	if sortBy == "" || sortBy == SortRecent {
		return s.Attackers(ctx, p)
	}
	w := &where{}
	if p.Search != "" {
		w.add(`ip LIKE ? ESCAPE '\'`, likeArg(p.Search))
	}
	if p.Service != "" {
		w.add(`services LIKE ? ESCAPE '\'`, likeArg(`"`+p.Service+`"`))
	}
	order := " ORDER BY last_seen DESC, ip"
	switch sortBy {
	case SortActive:
		order = " ORDER BY event_count DESC, last_seen DESC, ip"
	case SortTraversals:
		// deckies is a JSON array of names; a comma means two or more.
		w.add("deckies LIKE ?", "%,%")
	default:
		return nil, 0, fmt.Errorf("store: unknown attacker order %q", sortBy)
	}
	if total, err = s.countWhere(ctx, &s.totals.attackers, "attackers", w); err != nil {
		return nil, 0, fmt.Errorf("store: count attackers: %w", err)
	}
	rows, err = selectAll(ctx, s, "list attackers", "SELECT "+attackerCols+" FROM attackers"+w.String()+order+" LIMIT ? OFFSET ?", append(w.args, p.Limit, p.Offset), scanAttacker)
	return rows, total, err
}

// ServiceActivity is what an attacker did with each service: services where
// it got past connecting (a login, a command, a request, …) and services it
// only connected to.
type ServiceActivity struct {
	Interacted []string `json:"interacted"`
	Scanned    []string `json:"scanned"`
}

// AttackerServiceActivity sorts the services an address touched into
// interacted and only-scanned ones.
func (s *Store) AttackerServiceActivity(ctx context.Context, ip string) (ServiceActivity, error) {
	act := ServiceActivity{Interacted: []string{}, Scanned: []string{}}
	rs, err := s.db.QueryContext(ctx, s.q(`SELECT service, SUM(CASE WHEN event_type IN ('connect', 'disconnect') THEN 0 ELSE 1 END)
		FROM events WHERE attacker_ip = ? GROUP BY service ORDER BY service`), ip)
	if err != nil {
		return act, fmt.Errorf("store: service activity of %s: %w", ip, err)
	}
	defer rs.Close()
	for rs.Next() {
		var svc string
		var n int64
		if err := rs.Scan(&svc, &n); err != nil {
			return act, err
		}
		if n > 0 {
			act.Interacted = append(act.Interacted, svc)
		} else {
			act.Scanned = append(act.Scanned, svc)
		}
	}
	return act, rs.Err()
}
