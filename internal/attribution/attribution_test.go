package attribution

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"
)

// series makes observations one hour apart from JSON values.
func series(vals ...string) []Observation {
	s := make([]Observation, len(vals))
	for i, v := range vals {
		s[i] = Observation{ID: strconv.Itoa(i), TS: 1e9 + float64(i)*3600, Value: json.RawMessage(v), Confidence: 0.7}
	}
	return s
}

func labels(ls ...string) []Observation {
	vals := make([]string, len(ls))
	for i, l := range ls {
		vals[i] = strconv.Quote(l)
	}
	return series(vals...)
}

func repeat(v string, n int) []string { return slices.Repeat([]string{v}, n) }

func cat(parts ...[]string) []string { return slices.Concat(parts...) }

// TestCategorical ports the categorical merger cases of spec §11.4.
func TestCategorical(t *testing.T) {
	cases := []struct {
		name    string
		in      []string
		state   Status
		current string
		conf    float64
	}{
		{"no observation", nil, Unknown, "null", 0},
		{"two are not enough", []string{"a", "a"}, Unknown, `"a"`, 0},
		{"three alike", []string{"a", "a", "a"}, Stable, `"a"`, 1},
		{"three, one differs", []string{"a", "a", "b"}, Conflicted, `"b"`, 2.0 / 3},
		{"one outlier in five is stable", []string{"a", "a", "b", "a", "a"}, Stable, `"a"`, 0.8},
		{"stable across windows", cat(repeat("a", 5), []string{"a", "b", "a", "a", "a"}), Stable, `"a"`, 0.8},
		{"a new value took over", cat(repeat("a", 5), repeat("b", 5)), Drifting, `"b"`, 1},
		{"converged after a muddle", []string{"a", "b", "c", "b", "a", "c", "c", "c", "c", "c"}, Drifting, `"c"`, 1},
		{"alternation is multi_actor", []string{"a", "b", "a", "b", "a"}, MultiActor, `"a"`, 0.6},
		{"four alternating", []string{"a", "b", "a", "b"}, MultiActor, `"b"`, 0.5},
		{"pairs are conflicted, not alternation", []string{"a", "a", "b", "b", "a"}, Conflicted, `"a"`, 0.6},
		{"three values are conflicted", []string{"a", "b", "c", "a", "b"}, Conflicted, `"b"`, 0.4},
		{"only the last five count", cat(repeat("x", 20), repeat("a", 5)), Drifting, `"a"`, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := Aggregate(Categorical, labels(tc.in...))
			if r.Status != tc.state || string(r.CurrentValue) != tc.current || math.Abs(r.Confidence-tc.conf) > 1e-9 ||
				r.ObservationCount != len(tc.in) {
				t.Errorf("got %s %s conf %v n %d, want %s %s conf %v", r.Status, r.CurrentValue, r.Confidence,
					r.ObservationCount, tc.state, tc.current, tc.conf)
			}
		})
	}
}

// TestNumeric ports the numeric EWMA and CV branches.
func TestNumeric(t *testing.T) {
	cases := []struct {
		name    string
		in      []string
		state   Status
		current float64
		conf    float64
	}{
		{"two are not enough", []string{"100", "120"}, Unknown, 120, 0},
		{"steady values", []string{"100", "100", "100"}, Stable, 100, 1},
		{"small spread", []string{"100", "110", "90", "105", "95"}, Stable, ewmaOf(100, 110, 90, 105, 95), -1},
		{"mean moved by 50%", []string{"100", "100", "100", "100", "100", "150", "150", "150", "150", "150"}, Drifting, 150, 1},
		{"mean moved by 20% is stable", []string{"100", "100", "100", "100", "100", "120", "120", "120", "120", "120"}, Stable, 120, 1},
		{"wild spread is conflicted", []string{"1", "500", "2", "900", "3"}, Conflicted, ewmaOf(1, 500, 2, 900, 3), 0.5},
		{"zero mean, constant", []string{"0", "0", "0"}, Stable, 0, 1},
		{"zero-ish mean, varying", []string{"-1", "1", "0.1"}, Conflicted, ewmaOf(-1, 1, 0.1), 0.5},
		{"exactly zero mean, varying", []string{"1", "-1", "0"}, Conflicted, ewmaOf(1, -1, 0), 0.5},
		{"bools and nulls coerce", []string{"true", "true", "null", "true", "true"}, Stable, ewmaOf(1, 1, 0, 1, 1), -1},
		{"older mean of zero: denominator 1", []string{"0", "0", "0", "0", "0", "0.5", "0.5", "0.5", "0.5", "0.5"}, Drifting, 0.5, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := Aggregate(Numeric, series(tc.in...))
			var cur float64
			json.Unmarshal(r.CurrentValue, &cur)
			if r.Status != tc.state || math.Abs(cur-tc.current) > 1e-9 || tc.conf >= 0 && math.Abs(r.Confidence-tc.conf) > 1e-9 {
				t.Errorf("got %s %v conf %v, want %s %v conf %v", r.Status, cur, r.Confidence, tc.state, tc.current, tc.conf)
			}
		})
	}
}

func ewmaOf(xs ...float64) float64 {
	m := xs[0]
	for _, x := range xs[1:] {
		m = NumericEWMAAlpha*x + (1-NumericEWMAAlpha)*m
	}
	return m
}

// TestHash ports the rotation-in-24-hours cases.
func TestHash(t *testing.T) {
	at := func(h float64, v string) Observation {
		return Observation{TS: 1e9 + h*3600, Value: json.RawMessage(strconv.Quote(v))}
	}
	cases := []struct {
		name  string
		in    []Observation
		state Status
		conf  float64
		cur   string
	}{
		{"empty", nil, Unknown, 0, "null"},
		{"a single observation is stable", []Observation{at(0, "aa")}, Stable, 1, `"aa"`},
		{"same hash all day", []Observation{at(0, "aa"), at(5, "aa"), at(20, "aa")}, Stable, 1, `"aa"`},
		{"one rotation", []Observation{at(0, "aa"), at(1, "bb")}, Drifting, 0.5, `"bb"`},
		{"two rotations", []Observation{at(0, "aa"), at(1, "bb"), at(2, "cc")}, Drifting, 1.0 / 3, `"cc"`},
		{"three rotations", []Observation{at(0, "aa"), at(1, "bb"), at(2, "cc"), at(3, "dd")}, Conflicted, 0.25, `"dd"`},
		{"rotations older than 24 h are forgotten", []Observation{at(0, "aa"), at(1, "bb"), at(2, "cc"), at(30, "dd")}, Stable, 1, `"dd"`},
		{"exactly 24 h back still counts", []Observation{at(0, "aa"), at(24, "bb")}, Drifting, 0.5, `"bb"`},
		{"nulls are not a value", []Observation{at(0, "aa"), {TS: 1e9 + 3600, Value: json.RawMessage("null")}}, Stable, 1, "null"},
		{"unordered input is ordered by ts", []Observation{at(3, "bb"), at(1, "aa")}, Drifting, 0.5, `"bb"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := Aggregate(Hash, tc.in)
			if r.Status != tc.state || math.Abs(r.Confidence-tc.conf) > 1e-9 || string(r.CurrentValue) != tc.cur {
				t.Errorf("got %s conf %v %s, want %s conf %v %s", r.Status, r.Confidence, r.CurrentValue, tc.state, tc.conf, tc.cur)
			}
		})
	}
}

func TestMergerFor(t *testing.T) {
	for in, want := range map[string]Kind{"numeric": Numeric, "hash": Hash, "categorical": Categorical, "bool": Categorical,
		"free_string": Categorical, "array": Categorical, "": Categorical, "whatever": Categorical} {
		if got := MergerFor(in); got != want {
			t.Errorf("MergerFor(%q) = %s, want %s", in, got, want)
		}
	}
}

// TestApplyTransitions walks one primitive through its states and checks
// when state_changed is due and its exact payload.
func TestApplyTransitions(t *testing.T) {
	now := time.Unix(1767400000, 0)
	st := New("idn-1", "motor.input_modality", Categorical)
	steps := []struct {
		value   string
		changed bool
		from    Status
		to      Status
	}{
		{"typed", true, "", Unknown}, // no prior row: a transition
		{"typed", false, Unknown, Unknown},
		{"typed", true, Unknown, Stable},
		{"typed", false, Stable, Stable},
		{"pasted", false, Stable, Stable},        // one outlier in five: t t t t p
		{"pasted", true, Stable, Conflicted},     // t t t p p: no majority, no alternation
		{"typed", false, Conflicted, Conflicted}, // t t p p t: 2 flips, 2 repeats
		{"pasted", true, Conflicted, MultiActor}, // t p p t p: 3 flips, 1 repeat
		{"typed", false, MultiActor, MultiActor},
		{"typed", false, MultiActor, MultiActor},
		{"typed", true, MultiActor, Drifting}, // t p t t t after a muddled window
		{"typed", false, Drifting, Drifting},
	}
	for i, s := range steps {
		obs := Observation{ID: strconv.Itoa(i), TS: 1e9 + float64(i), Value: json.RawMessage(strconv.Quote(s.value)), Confidence: 0.75}
		prev := st
		var tr Transition
		st, tr = Apply(st, obs, now)
		if tr.Changed != s.changed || tr.From != s.from || tr.To != s.to {
			t.Fatalf("step %d (%s): transition %+v, want changed=%v %q→%q", i, s.value, tr, s.changed, s.from, s.to)
		}
		if !tr.Changed {
			if tr.Payload != nil || st.LastChangeTS != prev.LastChangeTS {
				t.Errorf("step %d: silent step has payload %v or moved last_change_ts", i, tr.Payload)
			}
			continue
		}
		if st.LastChangeTS != obs.TS {
			t.Errorf("step %d: last_change_ts %v, want %v", i, st.LastChangeTS, obs.TS)
		}
		var old any
		if s.from != "" {
			old = string(s.from)
		}
		want := map[string]any{
			"identity_uuid": "idn-1", "primitive": "motor.input_modality", "old_state": old, "new_state": string(s.to),
			"current_value": st.CurrentValue, "confidence": st.Confidence, "observation_count": i + 1, "ts": 1767400000.0,
		}
		if tr.Subject != SubjectStateChanged || !reflect.DeepEqual(tr.Payload, want) {
			t.Errorf("step %d: %s %v\nwant %v", i, tr.Subject, tr.Payload, want)
		}
	}
	// The payload is JSON with exactly the spec's keys.
	_, tr := Apply(New("i", "p", Categorical), Observation{TS: 1, Value: json.RawMessage(`"x"`)}, now)
	j, _ := json.Marshal(tr.Payload)
	var keys map[string]json.RawMessage
	json.Unmarshal(j, &keys)
	if len(keys) != 8 || string(keys["old_state"]) != "null" || string(keys["current_value"]) != `"x"` {
		t.Errorf("payload JSON %s", j)
	}
}

// TestApplyIsIdempotent: the same observation applied again (a bus
// redelivery) changes nothing and publishes nothing.
func TestApplyIsIdempotent(t *testing.T) {
	st := New("i", "p", Numeric)
	obs := series("1", "2", "3")
	for _, o := range obs {
		st, _ = Apply(st, o, time.Unix(0, 0))
	}
	again, tr := Apply(st, obs[1], time.Unix(0, 0))
	if tr.Changed || again.ObservationCount != 3 || !reflect.DeepEqual(again, st) {
		t.Errorf("replay changed the state: %+v %+v", tr, again)
	}
}

// TestApplyMatchesAggregate: folding a shuffled series one by one, with a
// JSON round trip of the state between every step (as it is stored),
// ends where Aggregate over the whole series does.
func TestApplyMatchesAggregate(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	gen := map[Kind]func() string{
		Categorical: func() string { return strconv.Quote([]string{"a", "b", "c"}[rng.IntN(3)]) },
		Numeric:     func() string { return strconv.FormatFloat(50+rng.Float64()*100, 'f', 3, 64) },
		Hash:        func() string { return strconv.Quote([]string{"h1", "h2", "h3", "h4", "h5"}[rng.IntN(5)]) },
	}
	for kind, g := range gen {
		for trial := range 200 {
			n := rng.IntN(30)
			var s []Observation
			for i := range n {
				// Hash series span days so that the 24 h window matters.
				s = append(s, Observation{ID: strconv.Itoa(i), TS: float64(rng.IntN(n*7200 + 1)), Value: json.RawMessage(g())})
			}
			st := New("i", "p", kind)
			for _, o := range s {
				st, _ = Apply(st, o, time.Unix(0, 0))
				j, err := json.Marshal(st)
				if err != nil {
					t.Fatal(err)
				}
				st = State{}
				if err := json.Unmarshal(j, &st); err != nil {
					t.Fatal(err)
				}
			}
			want := Aggregate(kind, s)
			if n == 0 {
				continue
			}
			if st.Status != want.Status || key(st.CurrentValue) != key(want.CurrentValue) ||
				math.Abs(st.Confidence-want.Confidence) > 1e-12 || st.ObservationCount != n || st.LastObservationTS != want.LastObservationTS {
				t.Fatalf("%s trial %d: Apply gives %s %s %v, Aggregate %s %s %v", kind, trial, st.Status, st.CurrentValue,
					st.Confidence, want.Status, want.CurrentValue, want.Confidence)
			}
		}
	}
}

// TestMultiActor ports the multi_actor_suspected dedup and re-arm cases.
func TestMultiActor(t *testing.T) {
	states := []State{
		{Primitive: "motor.input_modality", Status: MultiActor},
		{Primitive: "motor.keystroke_cadence", Status: Stable},
	}
	if got := MultiActorPrimitives(states); got != nil {
		t.Errorf("one primitive in multi_actor suspected: %v", got)
	}
	states[1].Status = MultiActor
	if got := MultiActorPrimitives(states); !slices.Equal(got, []string{"motor.input_modality", "motor.keystroke_cadence"}) {
		t.Errorf("two primitives in multi_actor: %v", got)
	}

	now := time.Unix(1767400000, 0)
	two := map[string][]string{"idn": {"b", "a"}}
	three := map[string][]string{"idn": {"a", "b", "c"}}
	var tk Tracker
	steps := []struct {
		name string
		in   map[string][]string
		want [][]string // primitives of each message
	}{
		{"first sighting fires", two, [][]string{{"a", "b"}}},
		{"the same set is silent", two, nil},
		{"a joining primitive fires again", three, [][]string{{"a", "b", "c"}}},
		{"still silent", three, nil},
		{"dropping out re-arms", map[string][]string{}, nil},
		{"and fires on return", two, [][]string{{"a", "b"}}},
		{"fewer than two never fires", map[string][]string{"idn": {"a"}, "other": {"x"}}, nil},
	}
	for _, s := range steps {
		got := tk.Check(s.in, now)
		if len(got) != len(s.want) {
			t.Fatalf("%s: %d messages, want %d", s.name, len(got), len(s.want))
		}
		for i, m := range got {
			want := map[string]any{"identity_uuid": "idn", "primitives": s.want[i], "confidence": 0.6, "ts": 1767400000.0,
				"evidence_summary": m.Payload["evidence_summary"]}
			if m.Subject != SubjectMultiActorSuspected || !reflect.DeepEqual(m.Payload, want) || m.Payload["evidence_summary"] == "" {
				t.Errorf("%s: %v", s.name, m.Payload)
			}
		}
	}
	var restarted Tracker
	if got := restarted.Check(two, now); len(got) != 1 {
		t.Errorf("a restarted tracker re-emits the current set: %d", len(got))
	}
}
