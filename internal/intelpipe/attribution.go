package intelpipe

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/decnet-go/decnet/internal/attribution"
	"github.com/decnet-go/decnet/internal/behave"
	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/store"
)

// attribute is the attribution worker (S4), a consumer of its own of the
// same session_recorded events: once the BEHAVE worker has stored a
// session's observations (all at once), it links the attacker to its stub
// identity and recomputes, for each primitive the session observed, the
// state over the identity's whole series with attribution.Aggregate. The
// state row is written when it differs, and
// attribution.profile.state_changed published when the state did. The
// recomputation makes a redelivery a no-op.
func (p *Pipeline) attribute(ctx context.Context, e event.Event) error {
	r, ok := p.recordingOf(e)
	if !ok {
		return nil
	}
	obs, err := p.cfg.Store.ObservationsForEvidence(ctx, r.ref)
	if err != nil {
		return err
	}
	if len(obs) == 0 {
		// The BEHAVE worker has not stored them yet — or the session had
		// nothing to observe, which only time tells apart.
		if time.Since(e.Time) < maxDefer/5 {
			return retryLater(time.Second, "no observations yet for "+r.ref)
		}
		return nil
	}
	attacker := obs[0].AttackerUUID
	if attacker == "" {
		return nil
	}
	identity, err := p.cfg.Store.EnsureStubIdentityForAttacker(ctx, attacker)
	if errors.Is(err, store.ErrNotFound) {
		return nil // the attacker was deleted meanwhile
	}
	if err != nil {
		return err
	}
	for _, o := range obs {
		if err := p.attributePrimitive(ctx, identity, o.Primitive); err != nil {
			return err
		}
	}
	return nil
}

// attributePrimitive recomputes and stores the state of one primitive of
// an identity, publishing state_changed on a transition.
func (p *Pipeline) attributePrimitive(ctx context.Context, identity, primitive string) error {
	points, err := p.cfg.Store.ObservationsForIdentityPrimitive(ctx, identity, primitive)
	if err != nil {
		return err
	}
	series := make([]attribution.Observation, len(points))
	for i, pt := range points {
		series[i] = attribution.Observation{TS: pt.TS, Value: pt.Value, Confidence: pt.Confidence}
	}
	res := attribution.Aggregate(attribution.MergerFor(string(behave.KindOf(primitive))), series)
	prev, err := p.cfg.Store.AttributionState(ctx, identity, primitive)
	existed := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	next := store.AttributionState{IdentityUUID: identity, Primitive: primitive, CurrentValue: res.CurrentValue,
		State: string(res.Status), Confidence: res.Confidence, ObservationCount: res.ObservationCount,
		LastChangeTS: prev.LastChangeTS, LastObservationTS: res.LastObservationTS}
	changed := !existed || prev.State != next.State
	if changed {
		next.LastChangeTS = res.LastObservationTS
	}
	if existed && !changed && prev.ObservationCount == next.ObservationCount && prev.Confidence == next.Confidence &&
		prev.LastObservationTS == next.LastObservationTS && bytes.Equal(compactJSON(prev.CurrentValue), compactJSON(next.CurrentValue)) {
		return nil // a replay: nothing moved
	}
	if err := p.cfg.Store.UpsertAttributionState(ctx, next); err != nil {
		return err
	}
	if changed {
		var old any
		if existed {
			old = prev.State
		}
		p.cfg.Publish(attribution.SubjectStateChanged, map[string]any{
			"identity_uuid": identity, "primitive": primitive, "old_state": old, "new_state": next.State,
			"current_value": next.CurrentValue, "confidence": next.Confidence,
			"observation_count": next.ObservationCount, "ts": epoch(time.Now()),
		})
	}
	return nil
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
