package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// FingerprintChange is what recording an active fingerprint found.
type FingerprintChange struct {
	First         bool   // first sighting of this (attacker, port, probe type)
	Rotated       bool   // the hash differs from the last one
	OldHash       string // the previous hash when Rotated
	RotationCount int    // rotations of this (attacker, port, probe type) so far
}

// RecordFingerprint stores the hash an active probe (jarm, hassh, tcpfp)
// got from an attacker's port. A first sighting is stored; the same hash
// only moves last_seen; a different hash is a rotation: the state takes
// the new hash and counts it, and the attacker's rotation_count and
// last_rotation_at move too, in the same transaction. ErrNotFound when the
// attacker does not exist.
func (s *Store) RecordFingerprint(ctx context.Context, attackerUUID string, port int, probeType, hash string, at time.Time) (FingerprintChange, error) {
	var c FingerprintChange
	if probeType == "" || hash == "" {
		return c, fmt.Errorf("%w: fingerprint needs probe type and hash", ErrInvalid)
	}
	if at.IsZero() {
		at = time.Now()
	}
	ts := fmtTime(at)
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return c, err
	}
	defer tx.Rollback()
	// Touch the attacker row first: it exists, and it is locked for the
	// rest of the transaction, which serialises racing probes of it.
	r, err := tx.ExecContext(ctx, s.q("UPDATE attackers SET rotation_count = rotation_count WHERE uuid = ?"), attackerUUID)
	if err != nil {
		return c, fmt.Errorf("store: fingerprint of %s: %w", attackerUUID, err)
	}
	if n, _ := r.RowsAffected(); n == 0 {
		var one int
		if err := tx.QueryRowContext(ctx, s.q("SELECT 1 FROM attackers WHERE uuid = ?"), attackerUUID).Scan(&one); errors.Is(err, sql.ErrNoRows) {
			return c, ErrNotFound
		}
	}
	var id, last string
	err = tx.QueryRowContext(ctx, s.q(`SELECT uuid, last_hash, rotation_count FROM attacker_fingerprint_state
		WHERE attacker_uuid = ? AND port = ? AND probe_type = ?`), attackerUUID, port, probeType).Scan(&id, &last, &c.RotationCount)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		c.First = true
		_, err = tx.ExecContext(ctx, s.q(`INSERT INTO attacker_fingerprint_state (uuid, attacker_uuid, port, probe_type,
			last_hash, last_seen, rotation_count) VALUES (?,?,?,?,?,?,0)`), newUUID(), attackerUUID, port, probeType, hash, ts)
	case err != nil:
	case last == hash:
		_, err = tx.ExecContext(ctx, s.q("UPDATE attacker_fingerprint_state SET last_seen = ? WHERE uuid = ?"), ts, id)
	default:
		c.Rotated, c.OldHash = true, last
		c.RotationCount++
		_, err = tx.ExecContext(ctx, s.q(`UPDATE attacker_fingerprint_state SET last_hash = ?, last_seen = ?,
			rotation_count = rotation_count + 1 WHERE uuid = ?`), hash, ts, id)
		if err == nil {
			_, err = tx.ExecContext(ctx, s.q(`UPDATE attackers SET rotation_count = rotation_count + 1,
				last_rotation_at = ? WHERE uuid = ?`), ts, attackerUUID)
		}
	}
	if err != nil {
		return FingerprintChange{}, fmt.Errorf("store: fingerprint of %s: %w", attackerUUID, err)
	}
	return c, tx.Commit()
}

// AttackerRotation returns an attacker's fingerprint rotation count and
// the time of the last rotation (nil when none); ErrNotFound when there is
// no such attacker.
func (s *Store) AttackerRotation(ctx context.Context, attackerUUID string) (int, *time.Time, error) {
	var n int
	var last sql.NullString
	err := s.db.QueryRowContext(ctx, s.q("SELECT rotation_count, last_rotation_at FROM attackers WHERE uuid = ?"), attackerUUID).Scan(&n, &last)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil, ErrNotFound
	}
	return n, optTime(last), err
}
