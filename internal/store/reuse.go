package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
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

// RefreshCredentialReuse recomputes the reuse rows of every secret used on
// a credentials row seen at or after since (the zero time: every secret)
// and reports the ids of the rows it inserted or changed. The computation
// is a portable GROUP BY over credentials; the per-group lists are folded
// here, so no dialect's JSON or string aggregation is needed.
func (s *Store) RefreshCredentialReuse(ctx context.Context, since time.Time) (changed []string, err error) {
	rs, err := s.db.QueryContext(ctx, s.q(`SELECT c.secret_sha256, c.secret_kind, c.principal, c.attacker_ip, c.decky,
		c.service, c.attempt_count, c.first_seen, c.last_seen, a.uuid
		FROM credentials c
		JOIN (SELECT secret_sha256, secret_kind, principal FROM credentials
			GROUP BY secret_sha256, secret_kind, principal HAVING COUNT(*) >= 2 AND MAX(last_seen) >= ?) g
		ON c.secret_sha256 = g.secret_sha256 AND c.secret_kind = g.secret_kind AND c.principal = g.principal
		LEFT JOIN attackers a ON a.ip = c.attacker_ip
		ORDER BY c.secret_sha256, c.secret_kind, c.principal, c.id`), fmtTime(since))
	if err != nil {
		return nil, fmt.Errorf("store: reuse candidates: %w", err)
	}
	groups := map[reuseKey]*CredentialReuse{}
	targets := map[reuseKey]map[[2]string]bool{}
	var order []reuseKey
	for rs.Next() {
		var k reuseKey
		var ip, decky, service, first, last string
		var attempts int
		var attacker sql.NullString
		if err := rs.Scan(&k.sha, &k.kind, &k.principal, &ip, &decky, &service, &attempts, &first, &last, &attacker); err != nil {
			rs.Close()
			return nil, err
		}
		g := groups[k]
		if g == nil {
			g = &CredentialReuse{SecretSHA256: k.sha, SecretKind: k.kind, Principal: k.principal, Confidence: 1,
				AttackerUUIDs: []string{}, FirstSeen: parseTime(first), LastSeen: parseTime(last)}
			groups[k], targets[k] = g, map[[2]string]bool{}
			order = append(order, k)
		}
		g.AttackerIPs, g.Deckies, g.Services = appendNew(g.AttackerIPs, ip), appendNew(g.Deckies, decky), appendNew(g.Services, service)
		g.AttackerUUIDs = appendNew(g.AttackerUUIDs, attacker.String)
		g.AttemptCount += attempts
		g.FirstSeen, g.LastSeen = minTime(g.FirstSeen, parseTime(first)), maxTime(g.LastSeen, parseTime(last))
		targets[k][[2]string{decky, service}] = true
	}
	rs.Close()
	if err := rs.Err(); err != nil {
		return nil, err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	now := fmtTime(time.Now())
	for _, k := range order {
		g := groups[k]
		g.TargetCount = len(targets[k])
		if g.TargetCount < 2 {
			continue // several attackers, one target: not reuse
		}
		for _, l := range [][]string{g.AttackerUUIDs, g.AttackerIPs, g.Deckies, g.Services} {
			slices.Sort(l)
		}
		id, same, err := s.compareReuse(ctx, tx, g)
		if err != nil {
			return nil, err
		}
		if same {
			continue
		}
		uuids, ips, deckies, services := jsonList(g.AttackerUUIDs), jsonList(g.AttackerIPs), jsonList(g.Deckies), jsonList(g.Services)
		if id == "" {
			id = newUUID()
			_, err = tx.ExecContext(ctx, s.q(`INSERT INTO credential_reuse (id, secret_sha256, secret_kind, principal,
				attacker_uuids, attacker_ips, deckies, services, target_count, attempt_count, confidence, first_seen, last_seen, updated_at)
				VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)`), id, k.sha, k.kind, k.principal, uuids, ips, deckies, services,
				g.TargetCount, g.AttemptCount, g.Confidence, fmtTime(g.FirstSeen), fmtTime(g.LastSeen), now)
		} else {
			_, err = tx.ExecContext(ctx, s.q(`UPDATE credential_reuse SET attacker_uuids = ?, attacker_ips = ?, deckies = ?,
				services = ?, target_count = ?, attempt_count = ?, first_seen = ?, last_seen = ?, updated_at = ? WHERE id = ?`),
				uuids, ips, deckies, services, g.TargetCount, g.AttemptCount, fmtTime(g.FirstSeen), fmtTime(g.LastSeen), now, id)
		}
		if err != nil {
			return nil, fmt.Errorf("store: write credential reuse: %w", err)
		}
		changed = append(changed, id)
	}
	return changed, tx.Commit()
}

// compareReuse finds the stored row of g's key: its id ("" when none) and
// whether it already says what g says.
func (s *Store) compareReuse(ctx context.Context, tx *sql.Tx, g *CredentialReuse) (id string, same bool, err error) {
	var uuids, ips, deckies, services, first, last string
	var targetCount, attempts int
	err = tx.QueryRowContext(ctx, s.q(`SELECT id, attacker_uuids, attacker_ips, deckies, services, target_count, attempt_count,
		first_seen, last_seen FROM credential_reuse WHERE secret_sha256 = ? AND secret_kind = ? AND principal = ?`),
		g.SecretSHA256, g.SecretKind, g.Principal).Scan(&id, &uuids, &ips, &deckies, &services, &targetCount, &attempts, &first, &last)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("store: read credential reuse: %w", err)
	}
	same = targetCount == g.TargetCount && attempts == g.AttemptCount && first == fmtTime(g.FirstSeen) && last == fmtTime(g.LastSeen) &&
		slices.Equal(stringList(uuids), g.AttackerUUIDs) && slices.Equal(stringList(ips), g.AttackerIPs) &&
		slices.Equal(stringList(deckies), g.Deckies) && slices.Equal(stringList(services), g.Services)
	return id, same, nil
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
