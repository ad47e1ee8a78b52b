package intelpipe

import (
	"bytes"
	"context"
	"encoding/json"
	"time"

	"github.com/decnet-go/decnet/internal/attribution"
	"github.com/decnet-go/decnet/internal/behave"
	"github.com/decnet-go/decnet/internal/store"
)

// attribution computes, from their whole series (two queries however many
// primitives), the states of some primitives of an identity that moved,
// and the state_changed messages of their transitions, to publish once
// the states are stored.
func (p *Pipeline) attribution(ctx context.Context, identity string, primitives []string) (writes []store.AttributionState, transitions []map[string]any, err error) {
	series, err := p.cfg.Store.ObservationsForIdentity(ctx, identity, primitives...)
	if err != nil {
		return nil, nil, err
	}
	states, err := p.cfg.Store.AttributionStates(ctx, identity)
	if err != nil {
		return nil, nil, err
	}
	prevs := make(map[string]store.AttributionState, len(states))
	for _, st := range states {
		prevs[st.Primitive] = st
	}
	for _, primitive := range primitives {
		points := series[primitive]
		obs := make([]attribution.Observation, len(points))
		for i, pt := range points {
			obs[i] = attribution.Observation{TS: pt.TS, Value: pt.Value, Confidence: pt.Confidence}
		}
		res := attribution.Aggregate(attribution.MergerFor(string(behave.KindOf(primitive))), obs)
		prev, existed := prevs[primitive]
		next := store.AttributionState{IdentityUUID: identity, Primitive: primitive, CurrentValue: res.CurrentValue,
			State: string(res.Status), Confidence: res.Confidence, ObservationCount: res.ObservationCount,
			LastChangeTS: prev.LastChangeTS, LastObservationTS: res.LastObservationTS}
		changed := !existed || prev.State != next.State
		if changed {
			next.LastChangeTS = res.LastObservationTS
		}
		if existed && !changed && prev.ObservationCount == next.ObservationCount && prev.Confidence == next.Confidence &&
			prev.LastObservationTS == next.LastObservationTS && bytes.Equal(compactJSON(prev.CurrentValue), compactJSON(next.CurrentValue)) {
			continue // a replay: nothing moved
		}
		writes = append(writes, next)
		if changed {
			var old any
			if existed {
				old = prev.State
			}
			transitions = append(transitions, map[string]any{
				"identity_uuid": identity, "primitive": primitive, "old_state": old, "new_state": next.State,
				"current_value": next.CurrentValue, "confidence": next.Confidence,
				"observation_count": next.ObservationCount, "ts": epoch(time.Now()),
			})
		}
	}
	return writes, transitions, nil
}

func compactJSON(b []byte) []byte {
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		return b
	}
	return out.Bytes()
}

// multiActorLoop runs the periodic multi-actor check and publishes
// attribution.profile.multi_actor_suspected for each identity whose set of
// multi_actor primitives is new.
func (p *Pipeline) multiActorLoop(ctx context.Context) {
	var tr attribution.Tracker
	t := time.NewTicker(p.cfg.MultiActorEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ids, err := p.cfg.Store.MultiActorIdentities(ctx)
		if err != nil {
			if ctx.Err() == nil {
				p.log.Warn("attribution: multi-actor check failed", "err", err)
			}
			continue
		}
		current := make(map[string][]string, len(ids))
		for _, m := range ids {
			current[m.IdentityUUID] = m.Primitives
		}
		for _, s := range tr.Check(current, time.Now()) {
			p.cfg.Publish(s.Subject, s.Payload)
		}
	}
}
