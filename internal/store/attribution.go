package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Attribution states (spec intel.md §4.2), a frozen vocabulary.
const (
	AttributionUnknown    = "unknown"
	AttributionStable     = "stable"
	AttributionDrifting   = "drifting"
	AttributionConflicted = "conflicted"
	AttributionMultiActor = "multi_actor"
)

// AttributionState is the materialised state machine of one primitive of
// one identity. Times are float epoch seconds.
type AttributionState struct {
	IdentityUUID      string          `json:"identity_uuid"`
	Primitive         string          `json:"primitive"`
	CurrentValue      json.RawMessage `json:"current_value"`
	State             string          `json:"state"`
	Confidence        float64         `json:"confidence"`
	ObservationCount  int             `json:"observation_count"`
	LastChangeTS      float64         `json:"last_change_ts"`
	LastObservationTS float64         `json:"last_observation_ts"`
	SchemaVersion     int             `json:"schema_version"`
	UpdatedAt         time.Time       `json:"updated_at"`
}

// MultiActor is an identity whose behaviour alternates like several
// people on more than one primitive.
type MultiActor struct {
	IdentityUUID string   `json:"identity_uuid"`
	Primitives   []string `json:"primitives"` // sorted
}

// EnsureStubIdentityForAttacker returns the identity of an attacker,
// creating a 1:1 stub identity (32-hex id, first and last seen copied from
// the attacker) when it has none. ErrNotFound when the attacker does not
// exist yet (the caller defers). Two racing callers get the same identity:
// the loser's stub is removed, not orphaned.
func (s *Store) EnsureStubIdentityForAttacker(ctx context.Context, attackerUUID string) (string, error) {
	ids, err := s.EnsureStubIdentities(ctx, []string{attackerUUID})
	if err != nil {
		return "", err
	}
	id, ok := ids[attackerUUID]
	if !ok {
		return "", ErrNotFound
	}
	return id, nil
}

// EnsureStubIdentities is EnsureStubIdentityForAttacker for several
// attackers in one transaction: the identity of each, by attacker uuid.
// Attackers that do not exist are left out of the map.
func (s *Store) EnsureStubIdentities(ctx context.Context, attackerUUIDs []string) (map[string]string, error) {
	out := make(map[string]string, len(attackerUUIDs))
	if len(attackerUUIDs) == 0 {
		return out, nil
	}
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	now := fmtTime(time.Now())
	for _, attacker := range attackerUUIDs {
		if _, done := out[attacker]; done {
			continue
		}
		var identity sql.NullString
		var first, last string
		err = tx.QueryRowContext(ctx, s.q("SELECT identity_id, first_seen, last_seen FROM attackers WHERE uuid = ?"), attacker).
			Scan(&identity, &first, &last)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("store: attacker %s: %w", attacker, err)
		}
		if identity.Valid {
			out[attacker] = identity.String
			continue
		}
		id := hexID()
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO attacker_identities
			(uuid, first_seen_at, last_seen_at, created_at, updated_at, observation_count) VALUES (?,?,?,?,?,1)`),
			id, first, last, now, now); err != nil {
			return nil, fmt.Errorf("store: stub identity for %s: %w", attacker, err)
		}
		r, err := tx.ExecContext(ctx, s.q("UPDATE attackers SET identity_id = ? WHERE uuid = ? AND identity_id IS NULL"), id, attacker)
		if err != nil {
			return nil, err
		}
		if n, _ := r.RowsAffected(); n == 1 {
			out[attacker] = id
			continue
		}
		// Another writer linked the attacker first: drop our stub, take theirs.
		if _, err := tx.ExecContext(ctx, s.q("DELETE FROM attacker_identities WHERE uuid = ?"), id); err != nil {
			return nil, err
		}
		err = tx.QueryRowContext(ctx, s.q("SELECT identity_id FROM attackers WHERE uuid = ?"), attacker).Scan(&identity)
		if err != nil || !identity.Valid {
			return nil, fmt.Errorf("store: identity of %s: %v", attacker, err)
		}
		out[attacker] = identity.String
	}
	return out, tx.Commit()
}

func validAttributionState(st string) bool {
	switch st {
	case AttributionUnknown, AttributionStable, AttributionDrifting, AttributionConflicted, AttributionMultiActor:
		return true
	}
	return false
}

// UpsertAttributionState writes the state of (identity, primitive),
// replacing the previous one; updated_at is set to now.
func (s *Store) UpsertAttributionState(ctx context.Context, a AttributionState) error {
	return s.UpsertAttributionStates(ctx, []AttributionState{a})
}

// UpsertAttributionStates writes several states in one transaction (the
// primitives one session moved), replacing the previous ones; updated_at
// is set to now. Nothing is written when one of them is invalid.
func (s *Store) UpsertAttributionStates(ctx context.Context, states []AttributionState) error {
	for _, a := range states {
		switch {
		case a.IdentityUUID == "" || a.Primitive == "":
			return fmt.Errorf("%w: attribution state needs identity_uuid and primitive", ErrInvalid)
		case !validAttributionState(a.State):
			return fmt.Errorf("%w: attribution state %q", ErrInvalid, a.State)
		case !json.Valid(a.CurrentValue):
			return fmt.Errorf("%w: attribution current_value is not JSON", ErrInvalid)
		}
	}
	if len(states) == 0 {
		return nil
	}
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return fmt.Errorf("store: attribution state: %w", err)
	}
	defer tx.Rollback()
	stmt, err := s.txStmt(ctx, tx.Tx, `INSERT INTO attribution_state (identity_uuid, primitive, current_value, state,
		confidence, observation_count, last_change_ts, last_observation_ts, schema_version, updated_at)
		VALUES (?,?,?,?,?,?,?,?,1,?)
		ON CONFLICT (identity_uuid, primitive) DO UPDATE SET current_value = excluded.current_value,
			state = excluded.state, confidence = excluded.confidence, observation_count = excluded.observation_count,
			last_change_ts = excluded.last_change_ts, last_observation_ts = excluded.last_observation_ts,
			updated_at = excluded.updated_at`)
	if err != nil {
		return fmt.Errorf("store: attribution state: %w", err)
	}
	now := fmtTime(time.Now())
	for _, a := range states {
		if _, err := stmt.ExecContext(ctx, a.IdentityUUID, a.Primitive, string(a.CurrentValue), a.State, a.Confidence,
			a.ObservationCount, a.LastChangeTS, a.LastObservationTS, now); err != nil {
			return fmt.Errorf("store: attribution state %s/%s: %w", a.IdentityUUID, a.Primitive, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: attribution state: %w", err)
	}
	return nil
}

const attributionCols = `identity_uuid, primitive, current_value, state, confidence, observation_count,
	last_change_ts, last_observation_ts, schema_version, updated_at`

func scanAttribution(sc interface{ Scan(...any) error }) (AttributionState, error) {
	var a AttributionState
	var v, upd string
	err := sc.Scan(&a.IdentityUUID, &a.Primitive, &v, &a.State, &a.Confidence, &a.ObservationCount,
		&a.LastChangeTS, &a.LastObservationTS, &a.SchemaVersion, &upd)
	a.CurrentValue, a.UpdatedAt = json.RawMessage(v), parseTime(upd)
	return a, err
}

// AttributionState returns the state of (identity, primitive), or
// ErrNotFound.
func (s *Store) AttributionState(ctx context.Context, identityUUID, primitive string) (AttributionState, error) {
	a, err := scanAttribution(s.db.QueryRowContext(ctx, s.q("SELECT "+attributionCols+
		" FROM attribution_state WHERE identity_uuid = ? AND primitive = ?"), identityUUID, primitive))
	if errors.Is(err, sql.ErrNoRows) {
		return a, ErrNotFound
	}
	return a, err
}

// AttributionStates returns every primitive's state of an identity,
// ordered by primitive.
func (s *Store) AttributionStates(ctx context.Context, identityUUID string) ([]AttributionState, error) {
	rs, err := s.db.QueryContext(ctx, s.q("SELECT "+attributionCols+
		" FROM attribution_state WHERE identity_uuid = ? ORDER BY primitive"), identityUUID)
	if err != nil {
		return nil, fmt.Errorf("store: attribution of %s: %w", identityUUID, err)
	}
	defer rs.Close()
	out := []AttributionState{}
	for rs.Next() {
		a, err := scanAttribution(rs)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rs.Err()
}

// MultiActorIdentities lists the identities with at least two primitives
// in state multi_actor, each with those primitives, ordered by identity.
func (s *Store) MultiActorIdentities(ctx context.Context) ([]MultiActor, error) {
	rs, err := s.db.QueryContext(ctx, s.q(`SELECT identity_uuid, primitive FROM attribution_state
		WHERE state = ? AND identity_uuid IN (
			SELECT identity_uuid FROM attribution_state WHERE state = ? GROUP BY identity_uuid HAVING COUNT(*) >= 2)
		ORDER BY identity_uuid, primitive`), AttributionMultiActor, AttributionMultiActor)
	if err != nil {
		return nil, fmt.Errorf("store: multi-actor identities: %w", err)
	}
	defer rs.Close()
	out := []MultiActor{}
	for rs.Next() {
		var id, p string
		if err := rs.Scan(&id, &p); err != nil {
			return nil, err
		}
		if n := len(out); n == 0 || out[n-1].IdentityUUID != id {
			out = append(out, MultiActor{IdentityUUID: id})
		}
		out[len(out)-1].Primitives = append(out[len(out)-1].Primitives, p)
	}
	return out, rs.Err()
}
