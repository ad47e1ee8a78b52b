package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
)

// UpsertObservations stores the observations of one piece of evidence in
// one transaction, as UpsertObservation does each (keyed by evidence_ref
// and primitive, the first id kept), and reports which were new: fresh[i]
// is true when observation i had no row before. All of them share
// os[0].EvidenceRef. Storing the set in one transaction lets a reader of
// the evidence (the attribution worker) see all of it or none.
func (s *Store) UpsertObservations(ctx context.Context, os []Observation) (fresh []bool, err error) {
	if len(os) == 0 {
		return nil, nil
	}
	ref := os[0].EvidenceRef
	for i := range os {
		o := &os[i]
		switch {
		case o.Primitive == "" || o.EvidenceRef == "":
			return nil, fmt.Errorf("%w: observation needs primitive and evidence_ref", ErrInvalid)
		case o.EvidenceRef != ref:
			return nil, fmt.Errorf("%w: observations of one call must share evidence_ref", ErrInvalid)
		case !json.Valid(o.Value):
			return nil, fmt.Errorf("%w: observation %s value is not JSON", ErrInvalid, o.Primitive)
		}
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	known := map[string]bool{}
	rs, err := tx.QueryContext(ctx, s.q("SELECT primitive FROM observations WHERE evidence_ref = ?"), ref)
	if err != nil {
		return nil, fmt.Errorf("store: observations of %s: %w", ref, err)
	}
	for rs.Next() {
		var p string
		if err := rs.Scan(&p); err != nil {
			rs.Close()
			return nil, err
		}
		known[p] = true
	}
	rs.Close()
	if err := rs.Err(); err != nil {
		return nil, err
	}
	fresh = make([]bool, len(os))
	for i, o := range os {
		if o.ID == "" {
			o.ID = hexID()
		}
		if o.V == 0 {
			o.V = 1
		}
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
			return nil, fmt.Errorf("store: upsert observation %s: %w", o.Primitive, err)
		}
		fresh[i] = !known[o.Primitive]
		known[o.Primitive] = true
	}
	return fresh, tx.Commit()
}

// ObservationsForEvidence returns every observation made from one piece
// of evidence (a session recording), ordered by primitive.
func (s *Store) ObservationsForEvidence(ctx context.Context, evidenceRef string) ([]Observation, error) {
	rs, err := s.db.QueryContext(ctx, s.q(`SELECT id, identity_ref, primitive, value, confidence, window_start_ts,
		window_end_ts, source, evidence_ref, envelope_v, ts, attacker_uuid FROM observations
		WHERE evidence_ref = ? ORDER BY primitive`), evidenceRef)
	if err != nil {
		return nil, fmt.Errorf("store: observations of %s: %w", evidenceRef, err)
	}
	defer rs.Close()
	var out []Observation
	for rs.Next() {
		var o Observation
		var identity, attacker sql.NullString
		var value string
		var ws, we sql.NullFloat64
		if err := rs.Scan(&o.ID, &identity, &o.Primitive, &value, &o.Confidence, &ws, &we, &o.Source,
			&o.EvidenceRef, &o.V, &o.TS, &attacker); err != nil {
			return nil, err
		}
		o.IdentityRef, o.AttackerUUID, o.Value = identity.String, attacker.String, json.RawMessage(value)
		o.Window = ObservationWindow{ws.Float64, we.Float64}
		out = append(out, o)
	}
	return out, rs.Err()
}
