package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Reads the dashboard (internal/web) makes on every page, shaped so that
// none of them scans a whole table: point reads by primary key, counts
// that stop at a cap, and lists of addresses cut to what a page shows.

// EventByID returns the event with cursor id, or ErrNotFound.
func (s *Store) EventByID(ctx context.Context, id int64) (EventRow, error) {
	r, err := scanEvent(s.db.QueryRowContext(ctx, s.q("SELECT "+eventCols+" FROM events WHERE id = ?"), id))
	if errors.Is(err, sql.ErrNoRows) {
		return r, ErrNotFound
	}
	return r, err
}

// EventsCapped lists events like Events, newest first, but counts a
// filtered list only up to atMost: a total of atMost means "atMost or
// more". An unfiltered list has its exact (cached) total. Counting every
// match of a filter scans the events table; the dashboard does not need
// the exact number past a few pages.
func (s *Store) EventsCapped(ctx context.Context, p Page, atMost int) (rows []EventRow, total int, err error) {
	w := eventFilter(p)
	if len(w.conds) == 0 {
		total, err = s.countAll(ctx, &s.totals.events, "events")
	} else {
		err = s.db.QueryRowContext(ctx, s.q("SELECT COUNT(*) FROM (SELECT 1 FROM events"+w.String()+" LIMIT ?) capped"),
			append(w.args, atMost)...).Scan(&total)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("store: count events: %w", err)
	}
	order := " ORDER BY id DESC"
	if p.AfterID > 0 {
		order = " ORDER BY id ASC"
	}
	rows, err = selectAll(ctx, s, "list events", "SELECT "+eventCols+" FROM events"+w.String()+order+" LIMIT ? OFFSET ?",
		append(w.args, p.Limit, p.Offset), scanEvent)
	return rows, total, err
}

// ReuseSummary is a reused secret as a list shows it: the row without its
// attacker UUIDs and with only the first few addresses, and how many
// addresses there are in all.
type ReuseSummary struct {
	CredentialReuse
	AttackerCount int
}

// reusePrefixBytes is how much of the address list CredentialReuseSummaries
// reads: enough for a dozen addresses.
const reusePrefixBytes = 640

// CredentialReuseSummaries lists the secrets used on two or more targets,
// most targets first, with at most ipCap addresses each, and their total.
// A secret sprayed by every attacker holds every address in its row; this
// read neither transfers nor decodes that list.
func (s *Store) CredentialReuseSummaries(ctx context.Context, limit, ipCap int) (rows []ReuseSummary, total int, err error) {
	if err := s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM credential_reuse WHERE target_count >= 2").Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("store: count credential reuse: %w", err)
	}
	// The top rows are chosen first (the target_count index), so the
	// address list is measured and the secret looked up for them only.
	rs, err := s.db.QueryContext(ctx, s.q(`SELECT r.id, r.secret_sha256, r.secret_kind, r.principal,
		SUBSTR(r.attacker_ips, 1, ?), LENGTH(r.attacker_ips) - LENGTH(REPLACE(r.attacker_ips, ',', '')), r.deckies, r.services,
		r.target_count, r.attempt_count, r.confidence, r.first_seen, r.last_seen, r.updated_at,
		(SELECT c.secret_printable FROM credentials c WHERE c.secret_sha256 = r.secret_sha256 AND c.secret_kind = r.secret_kind LIMIT 1),
		(SELECT c.secret_b64 FROM credentials c WHERE c.secret_sha256 = r.secret_sha256 AND c.secret_kind = r.secret_kind LIMIT 1)
		FROM (SELECT id FROM credential_reuse WHERE target_count >= 2 ORDER BY target_count DESC, last_seen DESC, id LIMIT ?) top
		JOIN credential_reuse r ON r.id = top.id
		ORDER BY r.target_count DESC, r.last_seen DESC, r.id`), reusePrefixBytes, limit)
	if err != nil {
		return nil, 0, fmt.Errorf("store: list credential reuse: %w", err)
	}
	defer rs.Close()
	rows = []ReuseSummary{}
	for rs.Next() {
		var r ReuseSummary
		var ips, deckies, services, first, last, updated string
		var commas int
		var printable, b64 sql.NullString
		if err := rs.Scan(&r.ID, &r.SecretSHA256, &r.SecretKind, &r.Principal, &ips, &commas, &deckies, &services,
			&r.TargetCount, &r.AttemptCount, &r.Confidence, &first, &last, &updated, &printable, &b64); err != nil {
			return nil, 0, err
		}
		r.AttackerIPs = listPrefix(ips, ipCap)
		if len(r.AttackerIPs) > 0 {
			r.AttackerCount = commas + 1
		}
		r.Deckies, r.Services = stringList(deckies), stringList(services)
		r.FirstSeen, r.LastSeen, r.UpdatedAt = parseTime(first), parseTime(last), parseTime(updated)
		r.SecretPrintable, r.SecretB64 = printable.String, b64.String
		rows = append(rows, r)
	}
	return rows, total, rs.Err()
}

// listPrefix decodes the complete strings at the start of a JSON string
// list that may be cut anywhere, at most n of them (n < 0: all).
func listPrefix(s string, n int) []string {
	dec := json.NewDecoder(strings.NewReader(s))
	if t, err := dec.Token(); err != nil || t != json.Delim('[') {
		return nil
	}
	out := []string{}
	for dec.More() && (n < 0 || len(out) < n) {
		t, err := dec.Token()
		if err != nil {
			break
		}
		str, ok := t.(string)
		if !ok {
			break
		}
		out = append(out, str)
	}
	return out
}

// DashboardStats is Stats with the events and attackers totals taken from
// the counts this Store keeps (see totals.go) instead of counted: counting
// a million events on every overview would cost more than the page may.
func (s *Store) DashboardStats(ctx context.Context) (Stats, error) {
	var st Stats
	var err error
	if st.Events, err = s.countAll(ctx, &s.totals.events, "events"); err != nil {
		return st, fmt.Errorf("store: count events: %w", err)
	}
	if st.Attackers, err = s.countAll(ctx, &s.totals.attackers, "attackers"); err != nil {
		return st, fmt.Errorf("store: count attackers: %w", err)
	}
	err = s.db.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM credentials), (SELECT COUNT(*) FROM sessions),
		(SELECT COUNT(*) FROM deckies)`).Scan(&st.Credentials, &st.Sessions, &st.Deckies)
	return st, err
}

// EventDigest is what the dashboard's overview counts of one event.
type EventDigest struct {
	ID         int64
	Hour       time.Time // the event's time, truncated to the hour
	Service    string
	Type       string
	AttackerIP string
	Session    string
}

// EventDigestsAfter returns up to limit events with an id above after,
// oldest first, reduced to their digest. Reading by id is a range of the
// primary key: the overview advances its counters with what was stored
// since it last looked, instead of scanning the events table.
func (s *Store) EventDigestsAfter(ctx context.Context, after int64, limit int) ([]EventDigest, error) {
	rs, err := s.db.QueryContext(ctx, s.q("SELECT id, SUBSTR(ts, 1, 13), service, event_type, attacker_ip, session FROM events WHERE id > ? ORDER BY id LIMIT ?"), after, limit)
	if err != nil {
		return nil, fmt.Errorf("store: event digests after %d: %w", after, err)
	}
	defer rs.Close()
	out := make([]EventDigest, 0, min(limit, 4096))
	var hour string
	var lastHour string
	var lastT time.Time
	for rs.Next() {
		var d EventDigest
		if err := rs.Scan(&d.ID, &hour, &d.Service, &d.Type, &d.AttackerIP, &d.Session); err != nil {
			return nil, err
		}
		if hour != lastHour {
			lastHour = hour
			lastT, _ = time.Parse("2006-01-02T15", hour) // zero for a time this store did not write
		}
		d.Hour = lastT
		out = append(out, d)
	}
	return out, rs.Err()
}

// LatestCredentials returns the n credentials seen last, newest first,
// without counting them all (Credentials does).
func (s *Store) LatestCredentials(ctx context.Context, n int) ([]Credential, error) {
	rs, err := s.db.QueryContext(ctx, s.q(`SELECT id, attacker_ip, decky, service, principal, secret_kind, secret_sha256,
		secret_b64, secret_printable, outcome, first_seen, last_seen, attempt_count FROM credentials
		ORDER BY last_seen DESC, id DESC LIMIT ?`), n)
	if err != nil {
		return nil, fmt.Errorf("store: latest credentials: %w", err)
	}
	defer rs.Close()
	var rows []Credential
	for rs.Next() {
		var c Credential
		var first, last string
		if err := rs.Scan(&c.ID, &c.AttackerIP, &c.Decky, &c.Service, &c.Principal, &c.SecretKind, &c.SecretSHA256,
			&c.SecretB64, &c.SecretPrintable, &c.Outcome, &first, &last, &c.AttemptCount); err != nil {
			return nil, err
		}
		c.FirstSeen, c.LastSeen = parseTime(first), parseTime(last)
		rows = append(rows, c)
	}
	return rows, rs.Err()
}

// OverviewBase is where the dashboard's overview counters start: the
// stored totals they would otherwise read event by event.
type OverviewBase struct {
	Through  int64           // the newest event id when read
	Hours    map[string]int  // "2006-01-02T15" → events
	PerIP    map[string]int  // address → events
	Sessions []SessionDigest // every session
}

// SessionDigest is a session as the overview counts it.
type SessionDigest struct {
	ID, Service, AttackerIP string
}

// OverviewBase reads the overview counters' starting point: events per
// hour since since, events per address (the attackers table's counts) and
// every session. It scans the events table once, which the counters then
// never do again.
func (s *Store) OverviewBase(ctx context.Context, since time.Time) (OverviewBase, error) {
	b := OverviewBase{Hours: map[string]int{}, PerIP: map[string]int{}}
	if err := s.db.QueryRowContext(ctx, "SELECT COALESCE(MAX(id), 0) FROM events").Scan(&b.Through); err != nil {
		return b, fmt.Errorf("store: overview base: %w", err)
	}
	rs, err := s.db.QueryContext(ctx, s.q("SELECT SUBSTR(ts, 1, 13), COUNT(*) FROM events WHERE id <= ? AND ts >= ? GROUP BY SUBSTR(ts, 1, 13)"),
		b.Through, fmtTime(since))
	if err != nil {
		return b, fmt.Errorf("store: overview hours: %w", err)
	}
	for rs.Next() {
		var h string
		var n int
		if err := rs.Scan(&h, &n); err != nil {
			rs.Close()
			return b, err
		}
		b.Hours[h] = n
	}
	rs.Close()
	if err := rs.Err(); err != nil {
		return b, err
	}
	rs, err = s.db.QueryContext(ctx, "SELECT ip, event_count FROM attackers")
	if err != nil {
		return b, fmt.Errorf("store: overview addresses: %w", err)
	}
	for rs.Next() {
		var ip string
		var n int
		if err := rs.Scan(&ip, &n); err != nil {
			rs.Close()
			return b, err
		}
		b.PerIP[ip] = n
	}
	rs.Close()
	if err := rs.Err(); err != nil {
		return b, err
	}
	b.Sessions, err = selectAll(ctx, s, "overview sessions", "SELECT id, service, attacker_ip FROM sessions", nil,
		func(sc scanner) (SessionDigest, error) {
			var d SessionDigest
			return d, sc.Scan(&d.ID, &d.Service, &d.AttackerIP)
		})
	return b, err
}
