package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/decnet-go/decnet/internal/event"
)

// CredentialReuse is one secret (with its principal) seen on two or more
// targets — distinct (decky, service) pairs — by one or more attackers: a
// sign that stolen or sprayed credentials move through the fleet.
type CredentialReuse struct {
	ID            string    `json:"id"`
	SecretSHA256  string    `json:"secret_sha256"`
	SecretKind    string    `json:"secret_kind"`
	Principal     string    `json:"principal"`
	AttackerUUIDs []string  `json:"attacker_uuids"`
	AttackerIPs   []string  `json:"attacker_ips"`
	Deckies       []string  `json:"deckies"`
	Services      []string  `json:"services"`
	TargetCount   int       `json:"target_count"`
	AttemptCount  int       `json:"attempt_count"`
	Confidence    float64   `json:"confidence"`
	FirstSeen     time.Time `json:"first_seen"`
	LastSeen      time.Time `json:"last_seen"`
	UpdatedAt     time.Time `json:"updated_at"`
	// SecretPrintable and SecretB64 show the secret itself, from one of
	// the credentials rows it was computed from.
	SecretPrintable string `json:"secret_printable"`
	SecretB64       string `json:"secret_b64"`
}

// ReuseQuery narrows the reuse list: rows with at least MinTargets targets
// (2 when lower) and, when set, of one secret kind.
type ReuseQuery struct {
	Limit, Offset int
	MinTargets    int
	SecretKind    string
}

// reuseKey identifies a reuse row: the credential_reuse unique key.
type reuseKey struct{ sha, kind, principal string }

// reuseFold folds credentials rows into one reuse group per key. The
// per-group lists are folded here, so no dialect's JSON or string
// aggregation is needed.
type reuseFold struct {
	groups  map[reuseKey]*CredentialReuse
	targets map[reuseKey]map[[2]string]bool
	order   []reuseKey
}

// reuseMemberCols are the credentials columns a fold reads, joined with the
// attacker of each row (alias c for credentials, a for attackers).
const reuseMemberCols = `c.id, c.secret_sha256, c.secret_kind, c.principal, c.attacker_ip, c.decky,
	c.service, c.attempt_count, c.first_seen, c.last_seen, a.uuid`

// reuseMember is one credentials row of a fold.
type reuseMember struct {
	id                 int64
	key                reuseKey
	ip, decky, service string
	attempts           int
	first, last        string
	attacker           sql.NullString
}

// foldRows reads reuseMemberCols rows into a fold, calling each (when not
// nil) on every row. A popular secret folds hundreds of rows, so values
// are collected in sets and times compared as stored text (fixed-width
// UTC, sortable), parsed once per group at the end.
func foldRows(rs *sql.Rows, each func(reuseMember)) (*reuseFold, error) {
	defer rs.Close()
	f := &reuseFold{groups: map[reuseKey]*CredentialReuse{}, targets: map[reuseKey]map[[2]string]bool{}}
	acc := map[reuseKey]*foldSets{}
	for rs.Next() {
		var m reuseMember
		if err := rs.Scan(&m.id, &m.key.sha, &m.key.kind, &m.key.principal, &m.ip, &m.decky, &m.service, &m.attempts,
			&m.first, &m.last, &m.attacker); err != nil {
			return nil, err
		}
		if each != nil {
			each(m)
		}
		k := m.key
		g, a := f.groups[k], acc[k]
		if g == nil {
			g = &CredentialReuse{SecretSHA256: k.sha, SecretKind: k.kind, Principal: k.principal, Confidence: 1}
			a = &foldSets{ips: map[string]bool{}, uuids: map[string]bool{}, deckies: map[string]bool{}, services: map[string]bool{},
				first: m.first, last: m.last}
			f.groups[k], f.targets[k], acc[k] = g, map[[2]string]bool{}, a
			f.order = append(f.order, k)
		}
		a.ips[m.ip], a.deckies[m.decky], a.services[m.service] = true, true, true
		if m.attacker.String != "" {
			a.uuids[m.attacker.String] = true
		}
		g.AttemptCount += m.attempts
		a.first, a.last = min(a.first, m.first), max(a.last, m.last)
		f.targets[k][[2]string{m.decky, m.service}] = true
	}
	if err := rs.Err(); err != nil {
		return nil, err
	}
	for k, g := range f.groups {
		a := acc[k]
		g.TargetCount = len(f.targets[k])
		g.FirstSeen, g.LastSeen = parseTime(a.first), parseTime(a.last)
		g.AttackerUUIDs, g.AttackerIPs = sortedSet(a.uuids, ReuseListMax), sortedSet(a.ips, ReuseListMax)
		g.Deckies, g.Services = sortedSet(a.deckies, 0), sortedSet(a.services, 0)
	}
	return f, nil
}

// foldSets is what a fold collects of one secret's rows.
type foldSets struct {
	ips, uuids, deckies, services map[string]bool
	first, last                   string
}

// sortedSet is the set's members in order, at most max of them (0: all).
func sortedSet(set map[string]bool, max int) []string {
	out := make([]string, 0, len(set))
	for v := range set {
		if v != "" {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	if max > 0 && len(out) > max {
		out = out[:max]
	}
	return out
}

// RefreshCredentialReuse recomputes the reuse rows of every secret used on
// a credentials row seen at or after since (the zero time: every secret)
// and reports the ids of the rows it inserted or changed. The computation
// is a portable GROUP BY over credentials.
func (s *Store) RefreshCredentialReuse(ctx context.Context, since time.Time) (changed []string, err error) {
	rs, err := s.db.QueryContext(ctx, s.q(`SELECT `+reuseMemberCols+`
		FROM credentials c
		JOIN (SELECT secret_sha256, secret_kind, principal FROM credentials
			GROUP BY secret_sha256, secret_kind, principal HAVING COUNT(*) >= 2 AND MAX(last_seen) >= ?) g
		ON c.secret_sha256 = g.secret_sha256 AND c.secret_kind = g.secret_kind AND c.principal = g.principal
		LEFT JOIN attackers a ON a.ip = c.attacker_ip
		ORDER BY c.secret_sha256, c.secret_kind, c.principal, c.id`), fmtTime(since))
	if err != nil {
		return nil, fmt.Errorf("store: reuse candidates: %w", err)
	}
	f, err := foldRows(rs, nil)
	if err != nil {
		return nil, fmt.Errorf("store: reuse candidates: %w", err)
	}
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	for _, k := range f.order {
		g := f.groups[k]
		if g.TargetCount < 2 {
			continue // several attackers, one target: not reuse
		}
		w, err := s.writeReuse(ctx, tx.Tx, g)
		if err != nil {
			return nil, err
		}
		if w.changed {
			changed = append(changed, g.ID)
		}
	}
	return changed, tx.Commit()
}

// ReuseUpdate is what refreshing the reuse row of one credential did.
type ReuseUpdate struct {
	// CredentialID is the credentials row the event was stored in; 0 when
	// the ingest has not stored it yet.
	CredentialID int64
	// Reuse is the secret's reuse row, nil while the secret has been tried
	// on one target only.
	Reuse *CredentialReuse
	// Known: the fast path answered — the reuse row exists, the event's
	// target was already in it and so was its address (or the row's list
	// is full): nothing to write, Reuse is nil.
	Known bool
	// Inserted: the row is new. Changed: the row was written (new, or
	// something in it moved — an attempt, an attacker, a target).
	Inserted, Changed bool
	// Announce: the row's target count is above the count last announced,
	// and the new count is now recorded as announced; the caller publishes
	// credential.reuse.detected (at most once per growth).
	Announce bool
}

// RefreshCredentialReuseOf recomputes the reuse row of the secret (and
// principal) an event's credential carries, from that secret's credentials
// rows only (an index range, not the whole table). A second event with
// the same outcome changes nothing and announces nothing. ErrInvalid when
// the event carries no readable credential.
func (s *Store) RefreshCredentialReuseOf(ctx context.Context, e event.Event) (ReuseUpdate, error) {
	var u ReuseUpdate
	c := e.Credential
	if c == nil {
		return u, fmt.Errorf("%w: event %s carries no credential", ErrInvalid, e.ID)
	}
	sha, err := c.SHA256()
	if err != nil {
		return u, fmt.Errorf("%w: event %s: %v", ErrInvalid, e.ID, err)
	}
	k := reuseKey{sha, c.Kind(), cleanText(c.Principal, maxPrincipal)}
	if u.CredentialID, err = s.knownReuseMember(ctx, k, e); err != nil || u.CredentialID != 0 {
		u.Known = u.CredentialID != 0
		return u, err
	}
	rs, err := s.cachedQuery(ctx, `SELECT `+reuseMemberCols+`
		FROM credentials c LEFT JOIN attackers a ON a.ip = c.attacker_ip
		WHERE c.secret_sha256 = ? AND c.secret_kind = ? AND c.principal = ? ORDER BY c.id`, k.sha, k.kind, k.principal)
	if err != nil {
		return u, fmt.Errorf("store: reuse of a secret: %w", err)
	}
	f, err := foldRows(rs, func(m reuseMember) {
		if m.ip == e.SrcIP && m.decky == e.Decky && m.service == e.Service {
			u.CredentialID = m.id
		}
	})
	if err != nil {
		return u, fmt.Errorf("store: reuse of a secret: %w", err)
	}
	g := f.groups[k]
	if g == nil || g.TargetCount < 2 {
		return u, nil
	}
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return u, err
	}
	defer tx.Rollback()
	w, err := s.writeReuse(ctx, tx.Tx, g)
	if err != nil {
		return u, err
	}
	u.Reuse, u.Inserted, u.Changed = g, w.inserted, w.changed
	if g.TargetCount > w.notified {
		if _, err := tx.ExecContext(ctx, s.q("UPDATE credential_reuse SET notified_targets = ? WHERE id = ?"), g.TargetCount, g.ID); err != nil {
			return u, fmt.Errorf("store: credential reuse announced: %w", err)
		}
		u.Announce = true
	}
	if !u.Changed && !u.Announce {
		return u, nil
	}
	return u, tx.Commit()
}

// knownReuseMember is the fast path of RefreshCredentialReuseOf: when the
// secret's reuse row exists, another credentials row already used it on
// the event's target (decky, service), and the row already lists the
// event's address (or lists as many as it keeps), the event changes
// nothing but counts, so it returns the event's credentials row id without
// folding. Zero means "fold": a popular sprayed secret has thousands of
// rows, and folding them all for every new address was quadratic.
func (s *Store) knownReuseMember(ctx context.Context, k reuseKey, e event.Event) (int64, error) {
	var ips string
	err := s.pointRow(ctx, `SELECT attacker_ips FROM credential_reuse
		WHERE secret_sha256 = ? AND secret_kind = ? AND principal = ?`, k.sha, k.kind, k.principal).Scan(&ips)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("store: reuse of a secret: %w", err)
	}
	var listed []string
	if json.Unmarshal([]byte(ips), &listed) != nil || (len(listed) < ReuseListMax && !slices.Contains(listed, e.SrcIP)) {
		return 0, nil
	}
	var id int64
	err = s.pointRow(ctx, `SELECT id FROM credentials WHERE attacker_ip = ? AND decky = ? AND service = ?
		AND secret_kind = ? AND secret_sha256 = ? AND principal = ?`, e.SrcIP, e.Decky, e.Service, k.kind, k.sha, k.principal).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil // not stored yet: the fold says so too
	}
	if err != nil {
		return 0, fmt.Errorf("store: reuse member: %w", err)
	}
	var other int
	err = s.pointRow(ctx, `SELECT 1 FROM credentials WHERE secret_sha256 = ? AND secret_kind = ? AND principal = ?
		AND decky = ? AND service = ? AND id <> ? LIMIT 1`, k.sha, k.kind, k.principal, e.Decky, e.Service, id).Scan(&other)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil // a new target: fold, the count grows
	}
	if err != nil {
		return 0, fmt.Errorf("store: reuse target: %w", err)
	}
	return id, nil
}

// ReuseListMax bounds the attacker lists of a reuse row: a secret sprayed
// by thousands of addresses keeps the first ReuseListMax of them (sorted);
// the credentials table has them all.
const ReuseListMax = 100

// reuseWrite is what writeReuse did.
type reuseWrite struct {
	inserted, changed bool
	notified          int // the target count last announced
}

// writeReuse stores g (a group of two or more targets) unless its row
// already says the same, and sets g.ID to the row's id.
func (s *Store) writeReuse(ctx context.Context, tx *sql.Tx, g *CredentialReuse) (w reuseWrite, err error) {
	id, same, notified, err := s.compareReuse(ctx, tx, g)
	if err != nil {
		return w, err
	}
	w.notified = notified
	if same {
		g.ID = id
		return w, nil
	}
	uuids, ips, deckies, services := jsonList(g.AttackerUUIDs), jsonList(g.AttackerIPs), jsonList(g.Deckies), jsonList(g.Services)
	now := fmtTime(time.Now())
	if id == "" {
		id = newUUID()
		w.inserted = true
		_, err = tx.ExecContext(ctx, s.q(`INSERT INTO credential_reuse (id, secret_sha256, secret_kind, principal,
			attacker_uuids, attacker_ips, deckies, services, target_count, attempt_count, confidence, first_seen, last_seen, updated_at)
			VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)`), id, g.SecretSHA256, g.SecretKind, g.Principal, uuids, ips, deckies, services,
			g.TargetCount, g.AttemptCount, g.Confidence, fmtTime(g.FirstSeen), fmtTime(g.LastSeen), now)
	} else {
		_, err = tx.ExecContext(ctx, s.q(`UPDATE credential_reuse SET attacker_uuids = ?, attacker_ips = ?, deckies = ?,
			services = ?, target_count = ?, attempt_count = ?, first_seen = ?, last_seen = ?, updated_at = ? WHERE id = ?`),
			uuids, ips, deckies, services, g.TargetCount, g.AttemptCount, fmtTime(g.FirstSeen), fmtTime(g.LastSeen), now, id)
	}
	if err != nil {
		return w, fmt.Errorf("store: write credential reuse: %w", err)
	}
	g.ID, g.UpdatedAt, w.changed = id, parseTime(now), true
	return w, nil
}

// compareReuse finds the stored row of g's key: its id ("" when none),
// whether it already says what g says, and the target count last
// announced.
func (s *Store) compareReuse(ctx context.Context, tx *sql.Tx, g *CredentialReuse) (id string, same bool, notified int, err error) {
	var uuids, ips, deckies, services, first, last string
	var targetCount, attempts int
	err = tx.QueryRowContext(ctx, s.q(`SELECT id, attacker_uuids, attacker_ips, deckies, services, target_count, attempt_count,
		first_seen, last_seen, notified_targets FROM credential_reuse WHERE secret_sha256 = ? AND secret_kind = ? AND principal = ?`),
		g.SecretSHA256, g.SecretKind, g.Principal).Scan(&id, &uuids, &ips, &deckies, &services, &targetCount, &attempts, &first, &last, &notified)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, 0, nil
	}
	if err != nil {
		return "", false, 0, fmt.Errorf("store: read credential reuse: %w", err)
	}
	same = targetCount == g.TargetCount && attempts == g.AttemptCount && first == fmtTime(g.FirstSeen) && last == fmtTime(g.LastSeen) &&
		slices.Equal(stringList(uuids), g.AttackerUUIDs) && slices.Equal(stringList(ips), g.AttackerIPs) &&
		slices.Equal(stringList(deckies), g.Deckies) && slices.Equal(stringList(services), g.Services)
	return id, same, notified, nil
}

func jsonList(l []string) string {
	if l == nil {
		l = []string{}
	}
	b, _ := json.Marshal(l)
	return string(b)
}

// reuseCols selects a reuse row with one of its secrets' display forms.
const reuseCols = `r.id, r.secret_sha256, r.secret_kind, r.principal, r.attacker_uuids, r.attacker_ips, r.deckies, r.services,
	r.target_count, r.attempt_count, r.confidence, r.first_seen, r.last_seen, r.updated_at,
	(SELECT MIN(c.secret_printable) FROM credentials c WHERE c.secret_sha256 = r.secret_sha256 AND c.secret_kind = r.secret_kind),
	(SELECT MIN(c.secret_b64) FROM credentials c WHERE c.secret_sha256 = r.secret_sha256 AND c.secret_kind = r.secret_kind)`

func scanReuse(sc interface{ Scan(...any) error }) (CredentialReuse, error) {
	var r CredentialReuse
	var uuids, ips, deckies, services, first, last, updated string
	var printable, b64 sql.NullString
	if err := sc.Scan(&r.ID, &r.SecretSHA256, &r.SecretKind, &r.Principal, &uuids, &ips, &deckies, &services, &r.TargetCount,
		&r.AttemptCount, &r.Confidence, &first, &last, &updated, &printable, &b64); err != nil {
		return r, err
	}
	r.AttackerUUIDs, r.AttackerIPs, r.Deckies, r.Services = stringList(uuids), stringList(ips), stringList(deckies), stringList(services)
	r.FirstSeen, r.LastSeen, r.UpdatedAt = parseTime(first), parseTime(last), parseTime(updated)
	r.SecretPrintable, r.SecretB64 = printable.String, b64.String
	return r, nil
}

// CredentialReuses lists reuse rows, most targets first, with their total.
func (s *Store) CredentialReuses(ctx context.Context, q ReuseQuery) (rows []CredentialReuse, total int, err error) {
	w := &where{}
	w.add("r.target_count >= ?", max(q.MinTargets, 2))
	if q.SecretKind != "" {
		w.add("r.secret_kind = ?", q.SecretKind)
	}
	if err := s.db.QueryRowContext(ctx, s.q("SELECT COUNT(*) FROM credential_reuse r"+w.String()), w.args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("store: count credential reuse: %w", err)
	}
	rs, err := s.db.QueryContext(ctx, s.q("SELECT "+reuseCols+" FROM credential_reuse r"+w.String()+
		" ORDER BY r.target_count DESC, r.last_seen DESC, r.id LIMIT ? OFFSET ?"), append(w.args, q.Limit, q.Offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("store: list credential reuse: %w", err)
	}
	defer rs.Close()
	rows = []CredentialReuse{}
	for rs.Next() {
		r, err := scanReuse(rs)
		if err != nil {
			return nil, 0, err
		}
		rows = append(rows, r)
	}
	return rows, total, rs.Err()
}

// CredentialReuseByID returns one reuse row, or ErrNotFound.
func (s *Store) CredentialReuseByID(ctx context.Context, id string) (CredentialReuse, error) {
	r, err := scanReuse(s.db.QueryRowContext(ctx, s.q("SELECT "+reuseCols+" FROM credential_reuse r WHERE r.id = ?"), id))
	if errors.Is(err, sql.ErrNoRows) {
		return r, ErrNotFound
	}
	return r, err
}
