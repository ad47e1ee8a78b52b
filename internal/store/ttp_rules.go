package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// RuleState is an operator's override of a TTP rule (ttp_rule_state): the
// rule is enabled, disabled, or clipped to ConfidenceMax, optionally until
// ExpiresAt.
type RuleState struct {
	RuleID        string     `json:"rule_id"`
	State         string     `json:"state"` // enabled | disabled | clipped
	ConfidenceMax *float64   `json:"confidence_max"`
	ExpiresAt     *time.Time `json:"expires_at"`
	Reason        string     `json:"reason"`
	SetBy         string     `json:"set_by"`
	SetAt         time.Time  `json:"set_at"`
}

// Rule states.
const (
	RuleEnabled  = "enabled"
	RuleDisabled = "disabled"
	RuleClipped  = "clipped"
)

// SetRuleState records (replacing) a rule's state.
func (s *Store) SetRuleState(ctx context.Context, st RuleState) error {
	switch st.State {
	case RuleEnabled, RuleDisabled, RuleClipped:
	default:
		return fmt.Errorf("%w: rule state %q: use enabled, disabled or clipped", ErrInvalid, st.State)
	}
	if st.RuleID == "" {
		return fmt.Errorf("%w: rule state needs a rule_id", ErrInvalid)
	}
	if st.SetAt.IsZero() {
		st.SetAt = time.Now()
	}
	var cmax, exp any
	if st.ConfidenceMax != nil {
		cmax = *st.ConfidenceMax
	}
	if st.ExpiresAt != nil {
		exp = fmtTime(*st.ExpiresAt)
	}
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO ttp_rule_state (rule_id, state, confidence_max, expires_at, reason, set_by, set_at)
		VALUES (?,?,?,?,?,?,?)
		ON CONFLICT (rule_id) DO UPDATE SET state = excluded.state, confidence_max = excluded.confidence_max,
		expires_at = excluded.expires_at, reason = excluded.reason, set_by = excluded.set_by, set_at = excluded.set_at`),
		st.RuleID, st.State, cmax, exp, st.Reason, st.SetBy, fmtTime(st.SetAt))
	if err != nil {
		return fmt.Errorf("store: set rule state %s: %w", st.RuleID, err)
	}
	return nil
}

// ClearRuleState reverts a rule to its default (enabled). Clearing a rule
// with no state is not an error.
func (s *Store) ClearRuleState(ctx context.Context, ruleID string) error {
	if _, err := s.db.ExecContext(ctx, s.q("DELETE FROM ttp_rule_state WHERE rule_id = ?"), ruleID); err != nil {
		return fmt.Errorf("store: clear rule state %s: %w", ruleID, err)
	}
	return nil
}

// RuleStates returns every recorded rule state by rule id.
func (s *Store) RuleStates(ctx context.Context) (map[string]RuleState, error) {
	rs, err := s.db.QueryContext(ctx, s.q("SELECT rule_id, state, confidence_max, expires_at, reason, set_by, set_at FROM ttp_rule_state"))
	if err != nil {
		return nil, fmt.Errorf("store: rule states: %w", err)
	}
	defer rs.Close()
	out := map[string]RuleState{}
	for rs.Next() {
		var st RuleState
		var cmax sql.NullFloat64
		var exp sql.NullString
		var setAt string
		if err := rs.Scan(&st.RuleID, &st.State, &cmax, &exp, &st.Reason, &st.SetBy, &setAt); err != nil {
			return nil, fmt.Errorf("store: rule states: %w", err)
		}
		if cmax.Valid {
			st.ConfidenceMax = &cmax.Float64
		}
		if exp.Valid && exp.String != "" {
			t := parseTime(exp.String)
			st.ExpiresAt = &t
		}
		st.SetAt = parseTime(setAt)
		out[st.RuleID] = st
	}
	return out, rs.Err()
}

// TechniqueRow is one technique (or sub-technique) of a scope's TTP rollup.
type TechniqueRow struct {
	TechniqueID    string    `json:"technique_id"`
	SubTechniqueID string    `json:"sub_technique_id"`
	Tactic         string    `json:"tactic"`
	Count          int       `json:"count"`
	FirstSeen      time.Time `json:"first_seen"`
	LastSeen       time.Time `json:"last_seen"`
	ConfidenceMax  float64   `json:"confidence_max"`
}

// ScopeFleet is the whole fleet for TechniqueRollup and TagsInScope.
const ScopeFleet = "fleet"

func scopeWhere(scope, id string) (*where, error) {
	w := &where{}
	switch scope {
	case ScopeFleet:
	case ScopeIdentity:
		w.add("(identity_uuid = ? OR attacker_uuid IN (SELECT uuid FROM attackers WHERE identity_id = ?))", id, id)
	case ScopeAttacker:
		w.add("attacker_uuid = ?", id)
	case ScopeSession:
		w.add("session_id = ?", id)
	default:
		return nil, ErrScope
	}
	return w, nil
}

// TechniqueRollup counts a scope's tags per (technique, sub-technique,
// tactic), most recent first. Scope is fleet (id ignored), identity,
// attacker or session; an unknown id gives an empty list.
func (s *Store) TechniqueRollup(ctx context.Context, scope, id string) ([]TechniqueRow, error) {
	w, err := scopeWhere(scope, id)
	if err != nil {
		return nil, err
	}
	rs, err := s.db.QueryContext(ctx, s.q(`SELECT technique_id, COALESCE(sub_technique_id, ''), tactic, COUNT(*),
		MIN(created_at), MAX(created_at), MAX(confidence) FROM ttp_tag`+w.String()+`
		GROUP BY technique_id, COALESCE(sub_technique_id, ''), tactic ORDER BY MAX(created_at) DESC, technique_id`), w.args...)
	if err != nil {
		return nil, fmt.Errorf("store: technique rollup of %s %s: %w", scope, id, err)
	}
	defer rs.Close()
	out := []TechniqueRow{}
	for rs.Next() {
		var r TechniqueRow
		var first, last string
		if err := rs.Scan(&r.TechniqueID, &r.SubTechniqueID, &r.Tactic, &r.Count, &first, &last, &r.ConfidenceMax); err != nil {
			return nil, fmt.Errorf("store: technique rollup: %w", err)
		}
		r.FirstSeen, r.LastSeen = parseTime(first), parseTime(last)
		out = append(out, r)
	}
	return out, rs.Err()
}

// TagsInScope lists a scope's tags, newest first, at most limit (1000 when
// limit ≤ 0), for exports.
func (s *Store) TagsInScope(ctx context.Context, scope, id string, limit int) ([]Tag, error) {
	w, err := scopeWhere(scope, id)
	if err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = 1000
	}
	return s.tagsWhere(ctx, w, limit, scope+" "+id)
}
