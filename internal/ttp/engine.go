package ttp

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/decnet-go/decnet/internal/attack"
	"github.com/decnet-go/decnet/internal/event"
)

// Mode is the operational state of a rule.
type Mode string

// Rule modes, as stored in ttp_rule_state.
const (
	Enabled  Mode = "enabled"
	Disabled Mode = "disabled"
	Clipped  Mode = "clipped" // fires, with confidence capped at ConfidenceMax
)

// State is an operator's override of a rule. An expired state counts as
// no override (the rule is enabled).
type State struct {
	Mode          Mode
	ConfidenceMax float64
	ExpiresAt     time.Time
}

// StateSource answers the current state of a rule; the store implements it
// over ttp_rule_state. ok is false for a rule with no override.
type StateSource interface {
	RuleState(ruleID string) (s State, ok bool)
}

// StateMap is an in-memory StateSource, for tests and for running without a store.
type StateMap struct {
	mu sync.RWMutex
	m  map[string]State
}

// Set records a rule's state.
func (s *StateMap) Set(ruleID string, st State) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]State{}
	}
	s.m[ruleID] = st
}

// Clear reverts a rule to its default (enabled).
func (s *StateMap) Clear(ruleID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, ruleID)
}

// RuleState implements StateSource.
func (s *StateMap) RuleState(ruleID string) (State, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st, ok := s.m[ruleID]
	return st, ok
}

// Options are the engine's collaborators. All are optional: a rule whose
// lifter needs a missing lookup never fires.
type Options struct {
	Catalogue    *attack.Catalogue // default attack.Default()
	States       StateSource
	Hashes       HashIntel
	IPs          IPIntel
	Fingerprints FingerprintCatalogue
	Logger       *slog.Logger
	Now          func() time.Time // for state expiry; default time.Now
}

// Engine tags events with the rules of its current rule set. It is safe for
// concurrent use; Reload swaps the rule set atomically.
type Engine struct {
	opts  Options
	cat   *attack.Catalogue
	rules atomic.Pointer[compiled]
}

type compiled struct {
	set        *RuleSet
	byKind     map[string][]*Rule  // single-event rules
	windowed   map[string][]*Rule  // rules for a Tracker
	memoFields map[string][]string // per kind, the fields its regex rules read
	memo       regexMemo           // regex outcomes of recent texts, for this set only
}

// New returns an engine over set.
func New(set *RuleSet, opts Options) *Engine {
	if opts.Catalogue == nil {
		opts.Catalogue = attack.Default()
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	e := &Engine{opts: opts, cat: opts.Catalogue}
	e.Reload(set)
	return e
}

// Reload replaces the rule set. Events being tagged finish with the old set.
func (e *Engine) Reload(set *RuleSet) {
	c := &compiled{set: set, byKind: map[string][]*Rule{}, windowed: map[string][]*Rule{}}
	for _, r := range set.rules {
		for _, k := range r.AppliesTo {
			if r.Windowed() {
				c.windowed[k] = append(c.windowed[k], r)
			} else {
				c.byKind[k] = append(c.byKind[k], r)
			}
		}
	}
	c.memoFields = memoFields(c.byKind)
	e.rules.Store(c)
}

// ReloadDir loads the embedded rules with dir laid over them and, if they
// are valid, makes them current. On error the current rules stay.
func (e *Engine) ReloadDir(dir string) error {
	set, err := Load(dir, e.cat)
	if err != nil {
		return err
	}
	e.Reload(set)
	return nil
}

// Rules is the current rule set.
func (e *Engine) Rules() *RuleSet { return e.rules.Load().set }

// Catalogue is the ATT&CK catalogue the engine validates against.
func (e *Engine) Catalogue() *attack.Catalogue { return e.cat }

// active returns the confidence cap of a rule, or ok=false when the rule is
// disabled.
func (e *Engine) active(ruleID string) (ceiling float64, ok bool) {
	if e.opts.States == nil {
		return 1, true
	}
	st, found := e.opts.States.RuleState(ruleID)
	if !found || (!st.ExpiresAt.IsZero() && !e.opts.Now().Before(st.ExpiresAt)) {
		return 1, true
	}
	switch st.Mode {
	case Disabled:
		return 0, false
	case Clipped:
		if st.ConfidenceMax > 0 && st.ConfidenceMax < 1 {
			return st.ConfidenceMax, true
		}
	}
	return 1, true
}

// Tag returns the tags of the single-event rules that match ev. Tags below
// ConfidenceFloor are dropped. The same event always yields the same tag ids.
// What the regex rules make of a short text is remembered until the next
// Reload, since bots send the same commands again and again.
func (e *Engine) Tag(ev event.Event) []Tag {
	v := view{ev: &ev, kind: SourceKind(&ev)}
	if v.kind == "" {
		return nil
	}
	c := e.rules.Load()
	// A text the regex rules have read before is answered from the memo.
	var buf [maxMemoKey]byte
	key, memoOK := c.memoKey(&v, buf[:0])
	var known []memoHit // regex rules that fired on this text, in rule order
	recalled := false
	if memoOK {
		known, recalled = c.memo.get(key)
	}
	var fresh []memoHit // what to remember when the text is new
	var tags []Tag
	var low lowCache // field → lower-cased text, built lazily
	for i, r := range c.byKind[v.kind] {
		var hits []hit
		switch {
		case r.lifter != nil:
			if !r.appliesToEvent(&ev) {
				continue
			}
			hits = r.lifter.eval(e, r, &v)
		case recalled: // the key holds service and type, so appliesToEvent is in the answer
			if len(known) == 0 || known[0].rule != i {
				continue
			}
			hits = []hit{known[0].h}
			known = known[1:]
		default:
			if !r.appliesToEvent(&ev) {
				continue
			}
			h, ok := r.matchRegex(&v, &low)
			if !ok {
				continue
			}
			hits = []hit{h}
			if memoOK {
				fresh = append(fresh, memoHit{rule: i, h: h})
			}
		}
		for _, h := range hits {
			tags = e.emit(tags, r, &v, h)
		}
	}
	if memoOK && !recalled {
		c.memo.put(key, fresh)
	}
	return tags
}

func (r *Rule) appliesToEvent(ev *event.Event) bool {
	if len(r.Services) > 0 && !contains(r.Services, ev.Service) {
		return false
	}
	if len(r.EventTypes) > 0 && !contains(r.EventTypes, ev.Type) {
		return false
	}
	return true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// matchRegex runs the rule's regexes: with match.all every one must match,
// otherwise the first that matches wins. The evidence quotes the first match.
func (r *Rule) matchRegex(v *view, low *lowCache) (hit, bool) {
	var first hit
	found := false
	for _, m := range r.matchers {
		matched, ok := m.find(v, low)
		if !ok {
			if r.matchAll {
				return hit{}, false
			}
			continue
		}
		if !found {
			first, found = hit{matched: matched, field: m.field}, true
		}
		if !r.matchAll {
			break
		}
	}
	return first, found
}

// lowCache holds the lowered text of the few fields one event's rules read.
type lowCache struct {
	n      int
	fields [4]string
	low    [4]lowered
}

func (c *lowCache) get(field, text string) *lowered {
	for i := 0; i < c.n; i++ {
		if c.fields[i] == field {
			return &c.low[i]
		}
	}
	if c.n == len(c.fields) { // more fields than slots: recycle the last
		c.n--
	}
	c.fields[c.n], c.low[c.n] = field, newLowered(text)
	c.n++
	return &c.low[c.n-1]
}

// MaxRegexInput is how much of a field the regexes read: a command or path
// longer than this is cut (at a rune boundary) before matching, so one
// pasted blob cannot make tagging slow.
const MaxRegexInput = 4 << 10

func capText(s string) string {
	if len(s) <= MaxRegexInput {
		return s
	}
	i := MaxRegexInput
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i]
}

func (m *fieldMatcher) find(v *view, low *lowCache) (string, bool) {
	text, ok := v.get(m.field)
	if !ok || text == "" {
		return "", false
	}
	text = capText(text)
	if m.filter != nil && !m.filter.pass(low.get(m.field, text)) {
		return "", false
	}
	loc := m.re.FindStringIndex(text)
	if loc == nil {
		return "", false
	}
	matched := text[loc[0]:loc[1]]
	if len(matched) > 256 {
		matched = matched[:256]
	}
	return matched, true
}

// hit is one firing of a rule: evidence beyond the rule's fields, and
// optionally a different source id, a subset of the emits and a confidence
// multiplier.
type hit struct {
	evidence map[string]any
	matched  string // regex rules: the matched text and the field it is in
	field    string
	sourceID string
	only     map[string]bool // technique ids (parent or sub) to emit; nil = all
	mult     float64         // 0 = 1
}

func (e *Engine) emit(tags []Tag, r *Rule, v *view, h hit) []Tag {
	ceiling, ok := e.active(r.ID)
	if !ok {
		return tags
	}
	sourceID := h.sourceID
	if sourceID == "" {
		sourceID = v.sourceID()
	}
	var evidence map[string]any
	for _, em := range r.Emits {
		if h.only != nil && !h.only[em.TechniqueID] && !h.only[em.Technique()] {
			continue
		}
		conf := em.Confidence
		if h.mult > 0 {
			conf *= h.mult
		}
		conf = min(conf, ceiling)
		if conf < ConfidenceFloor {
			continue
		}
		if evidence == nil {
			evidence = v.evidence(r, &h)
		}
		tags = append(tags, Tag{
			ID:             TagID(v.kind, sourceID, r.ID, r.Version, em.TechniqueID, em.SubTechniqueID),
			SourceKind:     v.kind,
			SourceID:       sourceID,
			RuleID:         r.ID,
			RuleVersion:    r.Version,
			Tactic:         em.Tactic,
			TechniqueID:    em.TechniqueID,
			SubTechniqueID: em.SubTechniqueID,
			Confidence:     conf,
			Evidence:       evidence,
			AttackRelease:  e.cat.Release,
			MitreURL:       e.cat.URL(em.Technique()),
			EventID:        v.ev.ID,
			Decky:          v.ev.Decky,
			Service:        v.ev.Service,
			SrcIP:          v.ev.SrcIP,
			Session:        v.ev.Session,
			ObservedAt:     v.ev.Time,
		})
	}
	return tags
}

// sourceID is the source id of the event's tags: the event id, except for
// a mail, which its message id names, and a fingerprint seen in a session,
// which the session names. The raw event and the derived notification of
// the same thing (message_stored and email.received; a handshake and the
// attacker.fingerprinted of its session) then give the same tag ids, and
// an insert-or-ignore store keeps one.
func (v *view) sourceID() string {
	switch v.kind {
	case KindEmail:
		if id, ok := v.ev.Fields["msg_id"].(string); ok && id != "" {
			return id
		}
	case KindFingerprint:
		if v.ev.Session != "" {
			return v.ev.Session
		}
	}
	return v.ev.ID
}

func (e *Engine) logOnce(key string, msg string, args ...any) {
	if _, loaded := warned.LoadOrStore(key, true); !loaded {
		e.opts.Logger.Warn(msg, args...)
	}
}

var warned sync.Map
