package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
)

// Observation is one BEHAVE observation envelope (spec intel.md §3.2) as
// stored, plus the attacker it was derived from. Times are float epoch
// seconds, as in the envelope.
type Observation struct {
	ID           string            `json:"id"` // 32-hex; stable across re-upserts
	V            int               `json:"v"`  // envelope schema version
	TS           float64           `json:"ts"` // emission time
	Primitive    string            `json:"primitive"`
	Value        json.RawMessage   `json:"value"`
	Confidence   float64           `json:"confidence"`
	Window       ObservationWindow `json:"window"`
	Source       string            `json:"source"`
	EvidenceRef  string            `json:"evidence_ref"` // shard:{decky}/{service}/{shard}#{sid}
	IdentityRef  string            `json:"identity_ref,omitempty"`
	AttackerUUID string            `json:"attacker_uuid,omitempty"`
}

// ObservationWindow is the time span an observation covers.
type ObservationWindow struct {
	StartTS float64 `json:"start_ts"`
	EndTS   float64 `json:"end_ts"`
}

// LatestObservation is the newest value of one primitive for an attacker.
type LatestObservation struct {
	Value      json.RawMessage `json:"value"`
	Confidence float64         `json:"confidence"`
	TS         float64         `json:"ts"`
	Source     string          `json:"source"`
}

// ObservationPoint is one step of a primitive's time series.
type ObservationPoint struct {
	TS         float64         `json:"ts"`
	Value      json.RawMessage `json:"value"`
	Confidence float64         `json:"confidence"`
}

// ErrInvalid is returned when a value given to the store breaks its rules
// (a missing key field, malformed JSON, an unknown state).
var ErrInvalid = errors.New("store: invalid")

// hexID is a fresh 32-hex-digit random id (uuid4 without dashes), the
// format of observation and stub identity ids.
func hexID() string { return strings.ReplaceAll(uuid.NewString(), "-", "") }

// nullStr stores "" as NULL.
func nullStr(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// UpsertObservation stores an observation keyed by (evidence_ref,
// primitive) and returns its id. Storing the same key again overwrites
// every field but the id, which stays the one first stored, so the BEHAVE
// worker can re-run a session without minting new ids. A new row takes
// o.ID, or a fresh 32-hex id when o.ID is empty.
func (s *Store) UpsertObservation(ctx context.Context, o Observation) (string, error) {
	switch {
	case o.Primitive == "" || o.EvidenceRef == "":
		return "", fmt.Errorf("%w: observation needs primitive and evidence_ref", ErrInvalid)
	case !json.Valid(o.Value):
		return "", fmt.Errorf("%w: observation %s value is not JSON", ErrInvalid, o.Primitive)
	}
	if o.ID == "" {
		o.ID = hexID()
	}
	if o.V == 0 {
		o.V = 1
	}
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return "", err
	}
	defer tx.Rollback()
	_, err = tx.ExecContext(ctx, s.q(`INSERT INTO observations (id, identity_ref, primitive, value, confidence,
		window_start_ts, window_end_ts, source, evidence_ref, envelope_v, ts, attacker_uuid)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?)
		ON CONFLICT (evidence_ref, primitive) DO UPDATE SET identity_ref = excluded.identity_ref,
			value = excluded.value, confidence = excluded.confidence, window_start_ts = excluded.window_start_ts,
			window_end_ts = excluded.window_end_ts, source = excluded.source, envelope_v = excluded.envelope_v,
			ts = excluded.ts, attacker_uuid = excluded.attacker_uuid`),
		o.ID, nullStr(o.IdentityRef), o.Primitive, string(o.Value), o.Confidence, o.Window.StartTS, o.Window.EndTS,
		o.Source, o.EvidenceRef, o.V, o.TS, nullStr(o.AttackerUUID))
	if err != nil {
		return "", fmt.Errorf("store: upsert observation %s: %w", o.Primitive, err)
	}
	var id string
	if err := tx.QueryRowContext(ctx, s.q("SELECT id FROM observations WHERE evidence_ref = ? AND primitive = ?"),
		o.EvidenceRef, o.Primitive).Scan(&id); err != nil {
		return "", err
	}
	return id, tx.Commit()
}

// ObservationByID returns one observation, or ErrNotFound.
func (s *Store) ObservationByID(ctx context.Context, id string) (Observation, error) {
	var o Observation
	var identity, attacker sql.NullString
	var value string
	var ws, we sql.NullFloat64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT id, identity_ref, primitive, value, confidence, window_start_ts,
		window_end_ts, source, evidence_ref, envelope_v, ts, attacker_uuid FROM observations WHERE id = ?`), id).
		Scan(&o.ID, &identity, &o.Primitive, &value, &o.Confidence, &ws, &we, &o.Source, &o.EvidenceRef, &o.V, &o.TS, &attacker)
	if errors.Is(err, sql.ErrNoRows) {
		return o, ErrNotFound
	}
	o.IdentityRef, o.AttackerUUID, o.Value = identity.String, attacker.String, json.RawMessage(value)
	o.Window = ObservationWindow{ws.Float64, we.Float64}
	return o, err
}

// LatestObservationPerPrimitive returns, for each primitive observed on
// an attacker, its newest observation; an empty map when there is none.
// Portable: a per-primitive MAX(ts) joined back, not DISTINCT ON. Of two
// observations with the same newest ts, the one with the larger id wins.
func (s *Store) LatestObservationPerPrimitive(ctx context.Context, attackerUUID string) (map[string]LatestObservation, error) {
	rs, err := s.db.QueryContext(ctx, s.q(`SELECT o.primitive, o.value, o.confidence, o.ts, o.source
		FROM observations o
		JOIN (SELECT primitive, MAX(ts) AS max_ts FROM observations WHERE attacker_uuid = ? GROUP BY primitive) m
			ON o.primitive = m.primitive AND o.ts = m.max_ts
		WHERE o.attacker_uuid = ?
		ORDER BY o.primitive, o.id`), attackerUUID, attackerUUID)
	if err != nil {
		return nil, fmt.Errorf("store: latest observations of %s: %w", attackerUUID, err)
	}
	defer rs.Close()
	out := map[string]LatestObservation{}
	for rs.Next() {
		var p, v string
		var l LatestObservation
		if err := rs.Scan(&p, &v, &l.Confidence, &l.TS, &l.Source); err != nil {
			return nil, err
		}
		l.Value = json.RawMessage(v)
		out[p] = l
	}
	return out, rs.Err()
}

// ObservationsTimeSeries returns every observation of one primitive on an
// attacker, oldest first.
func (s *Store) ObservationsTimeSeries(ctx context.Context, attackerUUID, primitive string) ([]ObservationPoint, error) {
	return s.points(ctx, s.q(`SELECT ts, value, confidence FROM observations
		WHERE attacker_uuid = ? AND primitive = ? ORDER BY ts ASC, id ASC`), attackerUUID, primitive)
}

// ObservationsForIdentityPrimitive returns the observations of one
// primitive across every attacker of an identity, oldest first: the input
// of the attribution state machine.
func (s *Store) ObservationsForIdentityPrimitive(ctx context.Context, identityUUID, primitive string) ([]ObservationPoint, error) {
	series, err := s.ObservationsForIdentity(ctx, identityUUID, primitive)
	if pts := series[primitive]; pts != nil || err != nil {
		return pts, err
	}
	return []ObservationPoint{}, nil
}

// ObservationsForIdentity returns, per primitive, the observations of the
// given primitives across every attacker of an identity, oldest first: the
// input of the attribution state machine for a whole session in one query.
//
// The attackers of the identity drive the query (the identity_id index,
// then (attacker_uuid, primitive, ts)); joining the other way round lets a
// planner walk every observation of a primitive fleet-wide.
func (s *Store) ObservationsForIdentity(ctx context.Context, identityUUID string, primitives ...string) (map[string][]ObservationPoint, error) {
	out := make(map[string][]ObservationPoint, len(primitives))
	if len(primitives) == 0 {
		return out, nil
	}
	want := make(map[string]bool, len(primitives))
	for _, p := range primitives {
		want[p] = true
	}
	// The primitives are filtered here, not in SQL: given "primitive IN
	// (…)", planners pick the (primitive, ts) index and walk every
	// observation of those primitives fleet-wide.
	rs, err := s.db.QueryContext(ctx, s.q(`SELECT o.primitive, o.ts, o.value, o.confidence FROM observations o
		WHERE o.attacker_uuid IN (SELECT a.uuid FROM attackers a WHERE a.identity_id = ?)
		ORDER BY o.primitive, o.ts ASC, o.id ASC`), identityUUID)
	if err != nil {
		return out, fmt.Errorf("store: observation series of %s: %w", identityUUID, err)
	}
	defer rs.Close()
	for rs.Next() {
		var p ObservationPoint
		var prim, v string
		if err := rs.Scan(&prim, &p.TS, &v, &p.Confidence); err != nil {
			return out, err
		}
		if !want[prim] {
			continue
		}
		p.Value = json.RawMessage(v)
		out[prim] = append(out[prim], p)
	}
	return out, rs.Err()
}

func (s *Store) points(ctx context.Context, query string, args ...any) ([]ObservationPoint, error) {
	rs, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("store: observation series: %w", err)
	}
	defer rs.Close()
	out := []ObservationPoint{}
	for rs.Next() {
		var p ObservationPoint
		var v string
		if err := rs.Scan(&p.TS, &v, &p.Confidence); err != nil {
			return nil, err
		}
		p.Value = json.RawMessage(v)
		out = append(out, p)
	}
	return out, rs.Err()
}

// HasObservationsForEvidence reports whether any observation carries
// evidenceRef: the BEHAVE worker's "session already profiled?" check.
func (s *Store) HasObservationsForEvidence(ctx context.Context, evidenceRef string) (bool, error) {
	var one int
	err := s.db.QueryRowContext(ctx, s.q("SELECT 1 FROM observations WHERE evidence_ref = ? LIMIT 1"), evidenceRef).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}
