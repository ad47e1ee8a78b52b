package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Passive fingerprint types: what the intel-loot stage reads off the
// events our services emit (docs/pipeline.md "Loot").
const (
	FingerprintHASSH            = "hassh"
	FingerprintSSHClientVersion = "ssh_client_version"
	FingerprintJA3              = "ja3"
	FingerprintJA4              = "ja4"
	FingerprintHTTPUserAgent    = "http_useragent"
	FingerprintHTTPHeaderOrder  = "http_header_order"
)

// MaxFingerprintValue is the longest fingerprint value stored, in runes;
// longer values (a user agent) are cut. It keeps the keys inside MySQL's
// index limit.
const MaxFingerprintValue = 256

// AttackerFingerprint is one passive fingerprint an address showed: a hash (HASSH,
// JA3, JA4, header order) or a value (client version, user agent), the
// first session, decky and service that showed it, and how many sessions
// did.
type AttackerFingerprint struct {
	AttackerIP string    `json:"attacker_ip"`
	Type       string    `json:"fingerprint_type"`
	Value      string    `json:"value"`
	SessionID  string    `json:"session_id"`
	Decky      string    `json:"decky"`
	Service    string    `json:"service"`
	FirstSeen  time.Time `json:"first_seen"`
	LastSeen   time.Time `json:"last_seen"`
	Sessions   int       `json:"session_count"`
}

// FingerprintSighting is one session showing a fingerprint (FirstSeen is
// when), with the bounty payload to write if it is the address's first.
type FingerprintSighting struct {
	AttackerFingerprint
	Bounty json.RawMessage
}

// AddFingerprints records, in one transaction, that session
// SessionID of AttackerIP showed the fingerprint (Type, Value) at
// FirstSeen, for each sighting. When the address shows a fingerprint for
// the first time, its fingerprint bounty is written too and first[i] is
// true. A session already recorded for it (a redelivered event) changes
// nothing.
func (s *Store) AddFingerprints(ctx context.Context, fps []FingerprintSighting) (first []bool, err error) {
	for i := range fps {
		fp := &fps[i]
		fp.Value = cleanText(fp.Value, MaxFingerprintValue)
		if fp.AttackerIP == "" || fp.Type == "" || fp.Value == "" {
			return nil, fmt.Errorf("%w: fingerprint needs an address, a type and a value", ErrInvalid)
		}
		if len(fp.Bounty) == 0 {
			fp.Bounty = json.RawMessage(`{}`)
		}
		if !json.Valid(fp.Bounty) {
			return nil, fmt.Errorf("%w: fingerprint bounty payload is not JSON", ErrInvalid)
		}
		if fp.FirstSeen.IsZero() {
			fp.FirstSeen = time.Now()
		}
	}
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	first = make([]bool, len(fps))
	changed := false
	for i, fp := range fps {
		ts := fmtTime(fp.FirstSeen)
		r, err := s.fpExec(ctx, tx.Tx, `INSERT INTO session_fingerprints (session_id, attacker_ip, fingerprint_type, value, ts)
			VALUES (?,?,?,?,?) ON CONFLICT (session_id, attacker_ip, fingerprint_type, value) DO NOTHING`,
			fp.SessionID, fp.AttackerIP, fp.Type, fp.Value, ts)
		if err != nil {
			return nil, fmt.Errorf("store: session fingerprint: %w", err)
		}
		if n, _ := r.RowsAffected(); n == 0 {
			continue // this session is recorded: a redelivery
		}
		changed = true
		r, err = s.fpExec(ctx, tx.Tx, `INSERT INTO attacker_fingerprints (attacker_ip, fingerprint_type, value, session_id,
			decky, service, first_seen, last_seen, session_count) VALUES (?,?,?,?,?,?,?,?,1)
			ON CONFLICT (attacker_ip, fingerprint_type, value) DO NOTHING`,
			fp.AttackerIP, fp.Type, fp.Value, fp.SessionID, fp.Decky, fp.Service, ts, ts)
		if err != nil {
			return nil, fmt.Errorf("store: attacker fingerprint: %w", err)
		}
		if n, _ := r.RowsAffected(); n > 0 {
			sum := sha256.Sum256(fp.Bounty)
			if _, err := s.fpExec(ctx, tx.Tx, `INSERT INTO bounty (ts, decky, service, attacker_ip, bounty_type, payload, payload_sha256)
				VALUES (?,?,?,?,?,?,?) ON CONFLICT (bounty_type, attacker_ip, payload_sha256) DO NOTHING`,
				ts, fp.Decky, fp.Service, fp.AttackerIP, BountyFingerprint, string(fp.Bounty), hex.EncodeToString(sum[:])); err != nil {
				return nil, fmt.Errorf("store: fingerprint bounty: %w", err)
			}
			first[i] = true
			continue
		}
		// CASE rather than MAX/GREATEST: SQLite has neither under one name.
		if _, err := s.fpExec(ctx, tx.Tx, `UPDATE attacker_fingerprints SET session_count = session_count + 1,
			last_seen = CASE WHEN last_seen < ? THEN ? ELSE last_seen END
			WHERE attacker_ip = ? AND fingerprint_type = ? AND value = ?`,
			ts, ts, fp.AttackerIP, fp.Type, fp.Value); err != nil {
			return nil, fmt.Errorf("store: attacker fingerprint: %w", err)
		}
	}
	if !changed {
		return first, nil
	}
	return first, tx.Commit()
}

// AddFingerprint is AddFingerprints for one sighting with bounty payload
// payload (nil: {}).
func (s *Store) AddFingerprint(ctx context.Context, fp AttackerFingerprint, payload json.RawMessage) (first bool, err error) {
	f, err := s.AddFingerprints(ctx, []FingerprintSighting{{fp, payload}})
	if err != nil {
		return false, err
	}
	return f[0], nil
}

// fpExec runs query in tx through the statement cache: the stage runs the
// same few statements for every fingerprint-bearing event.
func (s *Store) fpExec(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	st, err := s.txStmt(ctx, tx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

const fingerprintCols = `attacker_ip, fingerprint_type, value, session_id, decky, service, first_seen, last_seen, session_count`

// AttackerFingerprints lists the passive fingerprints an address showed,
// one row per (type, value), by type then first sighting. It reads the
// table's primary key, so it costs one index range per attacker.
func (s *Store) AttackerFingerprints(ctx context.Context, attackerIP string) ([]AttackerFingerprint, error) {
	return s.fingerprints(ctx, "SELECT "+fingerprintCols+" FROM attacker_fingerprints WHERE attacker_ip = ?"+
		" ORDER BY fingerprint_type, first_seen, value", attackerIP)
}

// SharedFingerprints lists the fingerprints of the given types (every type
// when none is given) that two or more addresses showed, ordered by type,
// value and address: each run of equal (type, value) is a set of attackers
// that share it — the edges identity clustering wants, in one query.
func (s *Store) SharedFingerprints(ctx context.Context, types ...string) ([]AttackerFingerprint, error) {
	w := &where{}
	if len(types) > 0 {
		args := make([]any, len(types))
		for i, t := range types {
			args[i] = t
		}
		w.add("fingerprint_type IN ("+placeholders(len(types), 1)+")", args...)
	}
	return s.fingerprints(ctx, `SELECT `+qualified("f", fingerprintCols)+` FROM attacker_fingerprints f
		JOIN (SELECT fingerprint_type, value FROM attacker_fingerprints`+w.String()+`
			GROUP BY fingerprint_type, value HAVING COUNT(*) >= 2) g
		ON f.fingerprint_type = g.fingerprint_type AND f.value = g.value
		ORDER BY f.fingerprint_type, f.value, f.attacker_ip`, w.args...)
}

// SessionFingerprints lists the passive fingerprints one session showed
// (SessionID, FirstSeen and LastSeen are the session's; Sessions is 1).
func (s *Store) SessionFingerprints(ctx context.Context, sessionID string) ([]AttackerFingerprint, error) {
	return s.fingerprints(ctx, `SELECT attacker_ip, fingerprint_type, value, session_id, '', '', ts, ts, 1
		FROM session_fingerprints WHERE session_id = ? ORDER BY fingerprint_type, value`, sessionID)
}

func qualified(alias, cols string) string {
	parts := strings.Split(cols, ", ")
	for i, c := range parts {
		parts[i] = alias + "." + c
	}
	return strings.Join(parts, ", ")
}

func (s *Store) fingerprints(ctx context.Context, query string, args ...any) ([]AttackerFingerprint, error) {
	rs, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, fmt.Errorf("store: fingerprints: %w", err)
	}
	defer rs.Close()
	out := []AttackerFingerprint{}
	for rs.Next() {
		var f AttackerFingerprint
		var first, last string
		if err := rs.Scan(&f.AttackerIP, &f.Type, &f.Value, &f.SessionID, &f.Decky, &f.Service, &first, &last, &f.Sessions); err != nil {
			return nil, err
		}
		f.FirstSeen, f.LastSeen = parseTime(first), parseTime(last)
		out = append(out, f)
	}
	return out, rs.Err()
}
