package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// Bounty is a finding derived from attacker traffic that is worth keeping
// on its own: a fingerprint (JA3, HASSH, …), a leaked internal address, an
// artifact. Identical findings from one address are stored once.
type Bounty struct {
	ID         int64           `json:"id"`
	TS         time.Time       `json:"timestamp"`
	Decky      string          `json:"decky"`
	Service    string          `json:"service"`
	AttackerIP string          `json:"attacker_ip"`
	BountyType string          `json:"bounty_type"`
	Payload    json.RawMessage `json:"payload"`
}

// Bounty types (data-api.md §1.6).
const (
	BountyFingerprint = "fingerprint"
	BountyIPLeak      = "ip_leak"
	BountyArtifact    = "artifact"
)

// BountyQuery narrows the bounty list to one type and rows whose address,
// decky, service or payload contains Search.
type BountyQuery struct {
	Limit, Offset int
	BountyType    string
	Search        string
}

// AddBounty stores a finding unless the same (type, address, payload) is
// already stored, and reports whether it was new. The payload must be JSON.
func (s *Store) AddBounty(ctx context.Context, b Bounty) (bool, error) {
	if b.BountyType == "" || b.AttackerIP == "" {
		return false, fmt.Errorf("%w: bounty needs a type and an attacker address", ErrInvalid)
	}
	if len(b.Payload) == 0 {
		b.Payload = json.RawMessage(`{}`)
	}
	if !json.Valid(b.Payload) {
		return false, fmt.Errorf("%w: bounty payload is not JSON", ErrInvalid)
	}
	sum := sha256.Sum256(b.Payload)
	r, err := s.execWrite(ctx, s.q(`INSERT INTO bounty (ts, decky, service, attacker_ip, bounty_type, payload, payload_sha256)
		VALUES (?,?,?,?,?,?,?) ON CONFLICT (bounty_type, attacker_ip, payload_sha256) DO NOTHING`),
		fmtTime(b.TS), b.Decky, b.Service, b.AttackerIP, b.BountyType, string(b.Payload), hex.EncodeToString(sum[:]))
	if err != nil {
		return false, fmt.Errorf("store: add bounty: %w", err)
	}
	n, _ := r.RowsAffected()
	return n > 0, nil
}

// Bounties lists findings, newest first, with their total.
func (s *Store) Bounties(ctx context.Context, q BountyQuery) (rows []Bounty, total int, err error) {
	w := &where{}
	if q.BountyType != "" {
		w.add("bounty_type = ?", q.BountyType)
	}
	if q.Search != "" {
		a := likeArg(q.Search)
		w.add(`(attacker_ip LIKE ? ESCAPE '\' OR decky LIKE ? ESCAPE '\' OR service LIKE ? ESCAPE '\' OR payload LIKE ? ESCAPE '\')`, a, a, a, a)
	}
	if err := s.db.QueryRowContext(ctx, s.q("SELECT COUNT(*) FROM bounty"+w.String()), w.args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("store: count bounty: %w", err)
	}
	rs, err := s.db.QueryContext(ctx, s.q("SELECT id, ts, decky, service, attacker_ip, bounty_type, payload FROM bounty"+w.String()+
		" ORDER BY ts DESC, id DESC LIMIT ? OFFSET ?"), append(w.args, q.Limit, q.Offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("store: list bounty: %w", err)
	}
	defer rs.Close()
	rows = []Bounty{}
	for rs.Next() {
		var b Bounty
		var ts, payload string
		if err := rs.Scan(&b.ID, &ts, &b.Decky, &b.Service, &b.AttackerIP, &b.BountyType, &payload); err != nil {
			return nil, 0, err
		}
		b.TS, b.Payload = parseTime(ts), json.RawMessage(payload)
		rows = append(rows, b)
	}
	return rows, total, rs.Err()
}
