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
	f, err := s.UpsertObservationSets(ctx, [][]Observation{os})
	if err != nil {
		return nil, err
	}
	return f[0], nil
}

// UpsertObservationSets is UpsertObservations for several pieces of
// evidence (each set sharing one evidence_ref) in one transaction: the
// BEHAVE stage stores a whole batch of sessions with one commit.
func (s *Store) UpsertObservationSets(ctx context.Context, sets [][]Observation) (fresh [][]bool, err error) {
	for _, os := range sets {
		for i := range os {
			o := &os[i]
			switch {
			case o.Primitive == "" || o.EvidenceRef == "":
				return nil, fmt.Errorf("%w: observation needs primitive and evidence_ref", ErrInvalid)
			case o.EvidenceRef != os[0].EvidenceRef:
				return nil, fmt.Errorf("%w: observations of one set must share evidence_ref", ErrInvalid)
			case !json.Valid(o.Value):
				return nil, fmt.Errorf("%w: observation %s value is not JSON", ErrInvalid, o.Primitive)
			}
		}
	}
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	fresh = make([][]bool, len(sets))
	var rows [][]any
	at := map[[2]string]int{}            // (evidence, primitive) → its row: a repeat updates, as separate upserts would
	seen := map[string]map[string]bool{} // evidence → primitives stored before or earlier in the batch
	for k, os := range sets {
		if len(os) == 0 {
			continue
		}
		ref := os[0].EvidenceRef
		known := seen[ref]
		if known == nil {
			if known, err = primitivesOf(ctx, tx.Tx, s.q("SELECT primitive FROM observations WHERE evidence_ref = ?"), ref); err != nil {
				return nil, err
			}
			seen[ref] = known
		}
		fresh[k] = make([]bool, len(os))
		for i, o := range os {
			if o.ID == "" {
				o.ID = hexID()
			}
			if o.V == 0 {
				o.V = 1
			}
			row := []any{o.ID, nullStr(o.IdentityRef), o.Primitive, string(o.Value), o.Confidence, o.Window.StartTS,
				o.Window.EndTS, o.Source, o.EvidenceRef, o.V, o.TS, nullStr(o.AttackerUUID)}
			key := [2]string{ref, o.Primitive}
			if j, ok := at[key]; ok {
				row[0] = rows[j][0] // the first id is kept
				rows[j] = row
			} else {
				at[key] = len(rows)
				rows = append(rows, row)
			}
			fresh[k][i] = !known[o.Primitive]
			known[o.Primitive] = true
		}
	}
	// Multi-row statements: a batch of sessions' observations costs a few
	// statements and one commit, not one of each per observation.
	if _, err := s.writeRows(ctx, tx.Tx, `INSERT INTO observations (id, identity_ref, primitive, value, confidence,
		window_start_ts, window_end_ts, source, evidence_ref, envelope_v, ts, attacker_uuid)`,
		`ON CONFLICT (evidence_ref, primitive) DO UPDATE SET identity_ref = excluded.identity_ref,
			value = excluded.value, confidence = excluded.confidence, window_start_ts = excluded.window_start_ts,
			window_end_ts = excluded.window_end_ts, source = excluded.source, envelope_v = excluded.envelope_v,
			ts = excluded.ts, attacker_uuid = excluded.attacker_uuid`, rows); err != nil {
		return nil, fmt.Errorf("store: upsert observations: %w", err)
	}
	return fresh, tx.Commit()
}

// primitivesOf runs query (one column of primitives) into a set.
func primitivesOf(ctx context.Context, tx *sql.Tx, query string, args ...any) (map[string]bool, error) {
	rs, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("store: observations: %w", err)
	}
	defer rs.Close()
	known := map[string]bool{}
	for rs.Next() {
		var p string
		if err := rs.Scan(&p); err != nil {
			return nil, err
		}
		known[p] = true
	}
	return known, rs.Err()
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
