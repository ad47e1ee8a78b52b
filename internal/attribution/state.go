package attribution

import (
	"encoding/json"
	"slices"
	"sort"
	"strings"
	"time"
)

// Subjects published by the attribution worker.
const (
	SubjectStateChanged        = "attribution.profile.state_changed"
	SubjectMultiActorSuspected = "attribution.profile.multi_actor_suspected"
	maxHashValues              = 64 // distinct hashes a State remembers
	keptWindow                 = 2 * CategoricalWindowN
)

// State is the attribution state of one primitive of one identity: the
// attribution_state row, plus the few latest observations the mergers
// need to go on incrementally. It round-trips through JSON.
type State struct {
	IdentityUUID      string          `json:"identity_uuid"`
	Primitive         string          `json:"primitive"`
	Kind              Kind            `json:"kind"`
	CurrentValue      json.RawMessage `json:"current_value"`
	Status            Status          `json:"state"` // "" before the first observation
	Confidence        float64         `json:"confidence"`
	ObservationCount  int             `json:"observation_count"`
	LastChangeTS      float64         `json:"last_change_ts"`
	LastObservationTS float64         `json:"last_observation_ts"`
	// Recent is the tail of the series, ordered by ts: the last ten
	// observations (categorical, numeric), or the latest observation of
	// each distinct hash (hash).
	Recent []Observation `json:"recent,omitempty"`
}

// New is the state of a primitive of an identity before any observation.
func New(identityUUID, primitive string, kind Kind) State {
	return State{IdentityUUID: identityUUID, Primitive: primitive, Kind: kind}
}

// Transition says whether Apply changed the state, and if so what to
// publish.
type Transition struct {
	Changed bool
	From    Status // "" when there was no state before
	To      Status
	// Subject and Payload are the attribution.profile.state_changed
	// message, set only when Changed.
	Subject string
	Payload map[string]any
}

// Apply folds one observation into st and reports the transition. A
// state changes when it did not exist before or its status differs;
// LastChangeTS then becomes the new LastObservationTS. An observation
// whose id is already among st.Recent is a replay and changes nothing.
// now stamps the published message.
func Apply(st State, obs Observation, now time.Time) (State, Transition) {
	if obs.ID != "" && slices.ContainsFunc(st.Recent, func(o Observation) bool { return o.ID == obs.ID }) {
		return st, Transition{From: st.Status, To: st.Status}
	}
	if len(obs.Value) == 0 {
		obs.Value = json.RawMessage("null")
	}
	next := st
	next.Recent = insert(slices.Clone(st.Recent), obs)
	next.Recent = trim(st.Kind, next.Recent)
	r := merge(st.Kind, next.Recent, st.ObservationCount+1)
	next.CurrentValue, next.Status, next.Confidence = r.CurrentValue, r.Status, r.Confidence
	next.ObservationCount, next.LastObservationTS = r.ObservationCount, r.LastObservationTS
	tr := Transition{From: st.Status, To: next.Status, Changed: st.Status == "" || st.Status != next.Status}
	if !tr.Changed {
		return next, tr
	}
	next.LastChangeTS = next.LastObservationTS
	var old any
	if st.Status != "" {
		old = string(st.Status)
	}
	tr.Subject = SubjectStateChanged
	tr.Payload = map[string]any{
		"identity_uuid": st.IdentityUUID, "primitive": st.Primitive, "old_state": old,
		"new_state": string(next.Status), "current_value": next.CurrentValue, "confidence": next.Confidence,
		"observation_count": next.ObservationCount, "ts": epoch(now),
	}
	return next, tr
}

// insert places o in s, ordered by ts (after observations of equal ts).
func insert(s []Observation, o Observation) []Observation {
	i := sort.Search(len(s), func(i int) bool { return s[i].TS > o.TS })
	return slices.Insert(s, i, o)
}

// trim drops what no merger will look at again.
func trim(kind Kind, s []Observation) []Observation {
	if kind != Hash {
		return s[max(0, len(s)-keptWindow):]
	}
	// Hash: the latest observation of each value within 24 h of the
	// newest, and the newest always.
	last := s[len(s)-1]
	seen := map[string]bool{}
	var keep []Observation
	for i := len(s) - 1; i >= 0; i-- {
		o := s[i]
		k := key(o.Value)
		if i != len(s)-1 && (seen[k] || o.TS < last.TS-HashDriftWindowSecs) {
			continue
		}
		seen[k] = true
		keep = append(keep, o)
		if len(keep) == maxHashValues {
			break
		}
	}
	slices.Reverse(keep)
	return keep
}

func epoch(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// MultiActorPrimitives is the pure test behind
// attribution.profile.multi_actor_suspected: the sorted primitives of an
// identity in state multi_actor when there are at least
// MultiActorMinPrimitives of them, else nil.
func MultiActorPrimitives(states []State) []string {
	var ps []string
	for _, s := range states {
		if s.Status == MultiActor {
			ps = append(ps, s.Primitive)
		}
	}
	if len(ps) < MultiActorMinPrimitives {
		return nil
	}
	slices.Sort(ps)
	return slices.Compact(ps)
}

// Suspicion is one attribution.profile.multi_actor_suspected message.
type Suspicion struct {
	IdentityUUID string
	Primitives   []string
	Subject      string
	Payload      map[string]any
}

// Tracker runs the periodic multi-actor check (every MultiActorTickSecs):
// it remembers, in memory, the set of primitives last reported for each
// identity, so that the same set is reported once, a changed set is
// reported again, and an identity that dropped out can fire again later.
// A restarted worker has an empty Tracker and reports the current sets
// again, as the original does. Not safe for concurrent use.
type Tracker struct {
	reported map[string]string // identity → joined primitive set
}

// Check takes the identities with at least MultiActorMinPrimitives
// primitives in multi_actor (identity → primitives, as the store lists
// them) and returns the messages to publish, ordered by identity.
func (t *Tracker) Check(current map[string][]string, now time.Time) []Suspicion {
	if t.reported == nil {
		t.reported = map[string]string{}
	}
	for id := range t.reported {
		if len(current[id]) < MultiActorMinPrimitives {
			delete(t.reported, id)
		}
	}
	ids := make([]string, 0, len(current))
	for id := range current {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var out []Suspicion
	for _, id := range ids {
		ps := slices.Compact(slices.Sorted(slices.Values(current[id])))
		if len(ps) < MultiActorMinPrimitives {
			continue
		}
		set := strings.Join(ps, "\x00")
		if t.reported[id] == set {
			continue
		}
		t.reported[id] = set
		out = append(out, Suspicion{IdentityUUID: id, Primitives: ps, Subject: SubjectMultiActorSuspected,
			Payload: map[string]any{
				"identity_uuid": id, "primitives": ps, "confidence": MultiActorMaxConfidence, "ts": epoch(now),
				"evidence_summary": strings.Join(ps, ", ") + " alternate between two values",
			}})
	}
	return out
}
