package api

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"

	"github.com/decnet-go/decnet/internal/store"
)

// intelReader is what the intelligence routes read. *store.Store
// implements it; a Store that does not answers empty lists.
type intelReader interface {
	LatestObservationPerPrimitive(ctx context.Context, attackerUUID string) (map[string]store.LatestObservation, error)
	MultiActorIdentities(ctx context.Context) ([]store.MultiActor, error)
}

// observationRow is one entry of an attacker's observations: the newest
// value of one BEHAVE primitive.
type observationRow struct {
	Primitive  string          `json:"primitive"`
	Value      json.RawMessage `json:"value"`
	Confidence float64         `json:"confidence"`
	TS         float64         `json:"ts"`
	Source     string          `json:"source"`
}

// attackerObservations lists the newest observation of each primitive of
// an attacker, sorted by primitive (data-api.md §3.3).
func (s *server) attackerObservations(ctx context.Context, attackerUUID string) ([]observationRow, error) {
	out := []observationRow{}
	ir, ok := s.st.(intelReader)
	if !ok {
		return out, nil
	}
	latest, err := ir.LatestObservationPerPrimitive(ctx, attackerUUID)
	if err != nil {
		return nil, err
	}
	for p, l := range latest {
		out = append(out, observationRow{Primitive: p, Value: l.Value, Confidence: l.Confidence, TS: l.TS, Source: l.Source})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Primitive < out[j].Primitive })
	return out, nil
}

// multiActorIdentities lists the identities with at least two primitives
// in state multi_actor, each with those primitives.
// GET /api/v1/identities/multi-actor.
func (s *server) multiActorIdentities(w http.ResponseWriter, r *http.Request, _ *identity) error {
	rows := []store.MultiActor{}
	if ir, ok := s.st.(intelReader); ok {
		var err error
		if rows, err = ir.MultiActorIdentities(r.Context()); err != nil {
			return err
		}
	}
	return writeJSON(w, http.StatusOK, multiActorList{len(rows), orEmpty(rows)})
}

// multiActorList is the answer of GET /identities/multi-actor.
type multiActorList struct {
	Total int                `json:"total"`
	Data  []store.MultiActor `json:"data"`
}
