package web

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/decnet-go/decnet/internal/attack"
	"github.com/decnet-go/decnet/internal/store"
	"github.com/decnet-go/decnet/internal/ttp"
)

// The TTP rule list: every rule the tagging engine runs with the state an
// operator gave it, and (admins) a switch per rule. The switch writes the
// ttp_rule_state row POST /api/v1/ttp/rules/{rule_id}/state writes and
// announces it on ttp.rule.state.<rule_id>, so the tagging worker re-reads
// the states.

// ruleStateStore reads and writes operator rule states. *store.Store
// implements it; a Store without it gets 404 on the rule list.
type ruleStateStore interface {
	RuleStates(ctx context.Context) (map[string]store.RuleState, error)
	SetRuleState(ctx context.Context, st store.RuleState) error
}

// maxRuleQuery bounds the rule list's filter text.
const maxRuleQuery = 200

// embeddedRules is the rule set compiled into the binary, loaded once,
// for a dashboard given no engine.
var embeddedRules = sync.OnceValue(func() *ttp.RuleSet {
	set, err := ttp.Load("", attack.Default())
	if err != nil {
		return &ttp.RuleSet{}
	}
	return set
})

// ruleSet is the running engine's rules, else the embedded ones (as the
// API serves them).
func (d *Dashboard) ruleSet() *ttp.RuleSet {
	if d.ttp != nil {
		if set := d.ttp.Rules(); set != nil {
			return set
		}
	}
	return embeddedRules()
}

// ruleRow is one rule on the list.
type ruleRow struct {
	ID, Name, Description string
	Version               int
	AppliesTo, Techniques []string
	Lifter                bool
	State                 string // enabled, disabled or clipped
	// ConfidenceMax is the clip of a clipped rule (zero: none).
	ConfidenceMax float64
	// ExpiresAt is when the state lapses (zero: never); SetAt is zero for
	// a rule no operator touched.
	ExpiresAt, SetAt time.Time
	Reason, SetBy    string
}

// rulesData is the rule list screen.
type rulesData struct {
	Now      time.Time
	Q        string
	Rules    []ruleRow
	Total    int
	Disabled int
	Notice   string
}

// ruleRowOf is a rule with its state; a state past its expiry no longer
// holds (the rule is enabled), as the API and the engine read it.
func ruleRowOf(r *ttp.Rule, st store.RuleState, has bool, now time.Time) ruleRow {
	row := ruleRow{ID: r.ID, Name: r.Name, Description: r.Description, Version: r.Version, AppliesTo: r.AppliesTo,
		Lifter: r.IsLifter(), State: store.RuleEnabled}
	for _, e := range r.Emits {
		if !slices.Contains(row.Techniques, e.Technique()) {
			row.Techniques = append(row.Techniques, e.Technique())
		}
	}
	if has && (st.ExpiresAt == nil || st.ExpiresAt.After(now)) {
		row.State, row.Reason, row.SetBy, row.SetAt = st.State, st.Reason, st.SetBy, st.SetAt
		if st.ConfidenceMax != nil {
			row.ConfidenceMax = *st.ConfidenceMax
		}
		if st.ExpiresAt != nil {
			row.ExpiresAt = *st.ExpiresAt
		}
	}
	return row
}

// matches reports whether the row holds every word of q (case-folded) in
// its id, name, description, techniques, applies_to, state or setter.
func (row ruleRow) matches(q string) bool {
	if q == "" {
		return true
	}
	hay := strings.ToLower(strings.Join([]string{row.ID, row.Name, row.Description, strings.Join(row.Techniques, " "),
		strings.Join(row.AppliesTo, " "), row.State, row.SetBy}, " "))
	for _, w := range strings.Fields(strings.ToLower(q)) {
		if !strings.Contains(hay, w) {
			return false
		}
	}
	return true
}

func (d *Dashboard) ruleStates() (ruleStateStore, error) {
	rs, ok := d.st.(ruleStateStore)
	if !ok {
		return nil, errNotFound
	}
	return rs, nil
}

// ttpRules lists the rules, filtered by ?q=. GET /ui/ttp/rules.
func (d *Dashboard) ttpRules(w http.ResponseWriter, r *http.Request, s *session) error {
	rs, err := d.ruleStates()
	if err != nil {
		return err
	}
	states, err := rs.RuleStates(r.Context())
	if err != nil {
		return err
	}
	v := rulesData{Now: d.now(), Q: truncate(maxRuleQuery, strings.TrimSpace(r.URL.Query().Get("q")))}
	v.Notice = noticeText(r.URL.Query())
	for _, rule := range d.ruleSet().Rules() {
		st, has := states[rule.ID]
		row := ruleRowOf(rule, st, has, v.Now)
		v.Total++
		if row.State == store.RuleDisabled {
			v.Disabled++
		}
		if row.matches(v.Q) {
			v.Rules = append(v.Rules, row)
		}
	}
	return d.renderPage(w, r, s, http.StatusOK, "ttp_rules", "TTP rules", v)
}

// setRuleState enables or disables a rule. POST
// /ui/ttp/rules/{rule_id}/state {csrf, state=enabled|disabled, q}. Both
// write the rule's ttp_rule_state row (enabled is recorded too, so the
// list says who turned it back on and when) and announce it on
// ttp.rule.state.<rule_id>, as the API's POST …/state does.
func (d *Dashboard) setRuleState(w http.ResponseWriter, r *http.Request, s *session) error {
	rule, ok := d.ruleSet().Rule(r.PathValue("rule_id"))
	if !ok {
		return errNotFound
	}
	rs, err := d.ruleStates()
	if err != nil {
		return err
	}
	state := r.PostFormValue("state")
	if state != store.RuleEnabled && state != store.RuleDisabled {
		d.renderError(w, r, s, http.StatusUnprocessableEntity, "Bad request", "State: enabled or disabled.")
		return nil
	}
	st := store.RuleState{RuleID: rule.ID, State: state, SetBy: s.user.Username, SetAt: d.now().UTC().Truncate(time.Millisecond)}
	if err := rs.SetRuleState(r.Context(), st); err != nil {
		return err
	}
	d.log.Info("web: ttp rule state changed", "user", s.user.Username, "rule_id", rule.ID, "state", state)
	d.notify("ttp.rule.state."+rule.ID, map[string]string{"rule_id": rule.ID, "state": state, "set_by": st.SetBy})
	q := url.Values{"ok": {state}, "what": {rule.ID}}
	if f := strings.TrimSpace(r.PostFormValue("q")); f != "" {
		q.Set("q", truncate(maxRuleQuery, f))
	}
	http.Redirect(w, r, "/ui/ttp/rules?"+q.Encode()+"#rule-"+url.PathEscape(rule.ID), http.StatusSeeOther)
	return nil
}
