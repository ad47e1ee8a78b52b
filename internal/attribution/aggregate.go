package attribution

import (
	"bytes"
	"encoding/json"
	"math"
	"slices"
	"strconv"
)

// Thresholds of the mergers, ported from the original's _thresholds.py.
const (
	CategoricalWindowN           = 5
	MinObservationsForState      = 3
	CategoricalMajorityThreshold = 4
	NumericEWMAAlpha             = 0.3
	NumericDriftMeanShiftPct     = 0.30
	NumericConflictDispersionPct = 1.0
	HashDriftMax                 = 2
	HashDriftWindowSecs          = 86400
	MultiActorMaxConfidence      = 0.6
	MultiActorMinPrimitives      = 2
	MultiActorTickSecs           = 60
)

// Status is the attribution state of one primitive of one identity; the
// vocabulary is frozen.
type Status string

// The five states.
const (
	Unknown    Status = "unknown"     // too few observations to say
	Stable     Status = "stable"      // one value, holding
	Drifting   Status = "drifting"    // a new value took over, or is settling
	Conflicted Status = "conflicted"  // no clear value
	MultiActor Status = "multi_actor" // two values taking turns: several people?
)

// Kind selects the merger that folds a primitive's values.
type Kind string

// Mergers.
const (
	Categorical Kind = "categorical" // last-5 majority
	Numeric     Kind = "numeric"     // EWMA and coefficient of variation
	Hash        Kind = "hash"        // distinct values (rotations) within 24 h
)

// MergerFor maps a BEHAVE value kind to its merger: "numeric" and "hash"
// have their own; categorical, bool, free_string, array and anything
// unknown are categorical, as in the original.
func MergerFor(valueKind string) Kind {
	switch valueKind {
	case "numeric":
		return Numeric
	case "hash":
		return Hash
	}
	return Categorical
}

// Observation is one observation as the state machine sees it.
type Observation struct {
	ID         string          `json:"id,omitempty"` // the envelope id; replays of it are ignored by Apply
	TS         float64         `json:"ts"`           // epoch seconds
	Value      json.RawMessage `json:"value"`
	Confidence float64         `json:"confidence"`
}

// Result is what the mergers make of a series.
type Result struct {
	CurrentValue      json.RawMessage `json:"current_value"`
	Status            Status          `json:"state"`
	Confidence        float64         `json:"confidence"`
	ObservationCount  int             `json:"observation_count"`
	LastObservationTS float64         `json:"last_observation_ts"`
}

// Aggregate folds a whole series of observations of one primitive, in any
// order (it orders them by ts), with the merger of kind.
func Aggregate(kind Kind, series []Observation) Result {
	s := slices.Clone(series)
	slices.SortStableFunc(s, func(a, b Observation) int { return cmpFloat(a.TS, b.TS) })
	return merge(kind, s, len(s))
}

// merge applies a merger to a series sorted by ts, of which only the tail
// may be present: n is the full series' length.
func merge(kind Kind, s []Observation, n int) Result {
	r := Result{Status: Unknown, ObservationCount: n, CurrentValue: json.RawMessage("null")}
	if len(s) == 0 {
		return r
	}
	r.LastObservationTS = s[len(s)-1].TS
	switch kind {
	case Numeric:
		mergeNumeric(&r, s, n)
	case Hash:
		mergeHash(&r, s)
	default:
		mergeCategorical(&r, s, n)
	}
	return r
}

// window splits the tail of s into the recent window and the one before.
func window(s []Observation) (recent, older []Observation) {
	k := max(0, len(s)-CategoricalWindowN)
	recent = s[k:]
	older = s[max(0, k-CategoricalWindowN):k]
	return recent, older
}

// top is the most common value of w (the earliest on ties), its count,
// and whether the window is clear: top ≥ min(4, len(w)).
func top(w []Observation) (value json.RawMessage, count int, clear bool) {
	counts := map[string]int{}
	var order []string
	first := map[string]json.RawMessage{}
	for _, o := range w {
		k := key(o.Value)
		if counts[k] == 0 {
			order = append(order, k)
			first[k] = o.Value
		}
		counts[k]++
	}
	best := ""
	for _, k := range order {
		if counts[k] > count {
			best, count = k, counts[k]
		}
	}
	return first[best], count, count >= min(CategoricalMajorityThreshold, len(w))
}

func mergeCategorical(r *Result, s []Observation, n int) {
	last := s[len(s)-1].Value
	if n < MinObservationsForState {
		r.CurrentValue = last
		return
	}
	recent, older := window(s)
	value, count, clear := top(recent)
	r.Confidence = float64(count) / float64(len(recent))
	if !clear {
		r.CurrentValue = last
		r.Status = Conflicted
		if alternates(recent) {
			r.Status = MultiActor
			r.Confidence = math.Min(r.Confidence, MultiActorMaxConfidence)
		}
		return
	}
	r.CurrentValue = value
	r.Status = Stable
	if len(older) > 0 {
		oldValue, _, oldClear := top(older)
		if !oldClear || key(oldValue) != key(value) {
			r.Status = Drifting
		}
	}
}

// alternates is the multi-actor test: at least four values, exactly two
// distinct, and at least twice as many flips between neighbours as
// repeats.
func alternates(w []Observation) bool {
	if len(w) < 4 {
		return false
	}
	distinct := map[string]bool{}
	flips := 0
	for i, o := range w {
		distinct[key(o.Value)] = true
		if i > 0 && key(o.Value) != key(w[i-1].Value) {
			flips++
		}
	}
	repeats := len(w) - 1 - flips
	return len(distinct) == 2 && flips >= 2*max(repeats, 1)
}

func mergeNumeric(r *Result, s []Observation, n int) {
	if n < MinObservationsForState {
		r.CurrentValue = number(toFloat(s[len(s)-1].Value))
		return
	}
	recent, older := window(s)
	mean := ewma(recent)
	cv := dispersion(recent, mean)
	r.CurrentValue = number(mean)
	r.Confidence = 1 - math.Min(cv, 1)
	switch {
	case cv > NumericConflictDispersionPct:
		r.Status, r.Confidence = Conflicted, 0.5
	case len(older) > 0 && shift(mean, ewma(older)) >= NumericDriftMeanShiftPct:
		r.Status = Drifting
	default:
		r.Status = Stable
	}
}

// ewma is the exponentially weighted mean of w, seeded with its first
// value.
func ewma(w []Observation) float64 {
	m := toFloat(w[0].Value)
	for _, o := range w[1:] {
		m = NumericEWMAAlpha*toFloat(o.Value) + (1-NumericEWMAAlpha)*m
	}
	return m
}

// dispersion is the coefficient of variation of w around mean: the
// population standard deviation over |mean|; 1e9 for a zero mean over
// values that are not all equal.
func dispersion(w []Observation, mean float64) float64 {
	sum, constant := 0.0, true
	x0 := toFloat(w[0].Value)
	for _, o := range w {
		x := toFloat(o.Value)
		sum += (x - mean) * (x - mean)
		constant = constant && x == x0
	}
	if mean == 0 {
		if constant {
			return 0
		}
		return 1e9
	}
	return math.Sqrt(sum/float64(len(w))) / math.Abs(mean)
}

func shift(recent, older float64) float64 {
	den := math.Abs(older)
	if older == 0 {
		den = 1
	}
	return math.Abs(recent-older) / den
}

func mergeHash(r *Result, s []Observation) {
	last := s[len(s)-1]
	r.CurrentValue = last.Value
	distinct := map[string]bool{}
	for _, o := range s {
		if o.TS >= last.TS-HashDriftWindowSecs && !isNull(o.Value) {
			distinct[key(o.Value)] = true
		}
	}
	rotations := max(len(distinct)-1, 0)
	r.Confidence = 1 / (1 + float64(rotations))
	switch {
	case rotations == 0:
		r.Status = Stable
	case rotations <= HashDriftMax:
		r.Status = Drifting
	default:
		r.Status = Conflicted
	}
}

// key is the canonical form of a JSON value, for equality.
func key(v json.RawMessage) string {
	var b bytes.Buffer
	if json.Compact(&b, v) != nil {
		return string(v)
	}
	if b.Len() > 0 && b.Bytes()[0] == '"' {
		var s string
		if json.Unmarshal(b.Bytes(), &s) == nil {
			return strconv.Quote(s)
		}
	}
	return b.String()
}

func isNull(v json.RawMessage) bool { return len(bytes.TrimSpace(v)) == 0 || key(v) == "null" }

// toFloat coerces a value for the numeric merger: numbers as they are,
// true/false as 1/0, numeric strings parsed, anything else (null) 0.
func toFloat(v json.RawMessage) float64 {
	var x any
	if json.Unmarshal(v, &x) != nil {
		return 0
	}
	switch t := x.(type) {
	case float64:
		return t
	case bool:
		if t {
			return 1
		}
	case string:
		if f, err := strconv.ParseFloat(t, 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
			return f
		}
	}
	return 0
}

func number(x float64) json.RawMessage {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return json.RawMessage("null")
	}
	return json.RawMessage(strconv.FormatFloat(x, 'g', -1, 64))
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
