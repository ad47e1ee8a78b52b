package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
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
	_, err := s.execWrite(ctx, s.q(`INSERT INTO ttp_rule_state (rule_id, state, confidence_max, expires_at, reason, set_by, set_at)
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
	if _, err := s.execWrite(ctx, s.q("DELETE FROM ttp_rule_state WHERE rule_id = ?"), ruleID); err != nil {
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

// RuleDef is one rule of the loaded set as ttp_rule mirrors it.
type RuleDef struct {
	RuleID           string    `json:"rule_id"`
	RuleVersion      int       `json:"rule_version"`
	Name             string    `json:"name"`
	TechniqueIDs     []string  `json:"technique_ids"` // most specific first-seen order: T1110.001, T1078
	AppliesTo        []string  `json:"applies_to"`
	SourcePath       string    `json:"source_path"` // file:line, "embedded:" for built-in rules
	YAML             string    `json:"yaml_content"`
	DefinitionSHA256 string    `json:"definition_sha256"`
	Loaded           bool      `json:"loaded"` // in the set the worker runs now
	UpdatedAt        time.Time `json:"updated_at"`
	UpdatedBy        string    `json:"updated_by"`
}

// SyncRules makes ttp_rule mirror a loaded rule set: every rule of defs is
// written (a row whose definition hash is unchanged keeps its updated_at
// and updated_by), and rows of rules no longer in defs are marked not
// loaded rather than deleted, since stored tags still name them. It runs
// in one transaction, so readers see one set or the other.
func (s *Store) SyncRules(ctx context.Context, defs []RuleDef, by string) error {
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return fmt.Errorf("store: sync ttp rules: %w", err)
	}
	defer tx.Rollback()
	have := map[string]string{} // rule_id → definition hash
	rs, err := tx.QueryContext(ctx, "SELECT rule_id, definition_sha256, loaded FROM ttp_rule")
	if err != nil {
		return fmt.Errorf("store: sync ttp rules: %w", err)
	}
	loaded := map[string]bool{}
	for rs.Next() {
		var id, sum string
		var l int
		if err := rs.Scan(&id, &sum, &l); err != nil {
			rs.Close()
			return fmt.Errorf("store: sync ttp rules: %w", err)
		}
		have[id], loaded[id] = sum, l != 0
	}
	rs.Close()
	if err := rs.Err(); err != nil {
		return fmt.Errorf("store: sync ttp rules: %w", err)
	}
	now := fmtTime(time.Now())
	in := make(map[string]bool, len(defs))
	for _, d := range defs {
		in[d.RuleID] = true
		if sum, ok := have[d.RuleID]; ok && sum == d.DefinitionSHA256 && loaded[d.RuleID] {
			continue
		}
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO ttp_rule (rule_id, rule_version, source_path, yaml_content, updated_at,
			updated_by, name, technique_ids, applies_to, definition_sha256, loaded) VALUES (?,?,?,?,?,?,?,?,?,?,1)
			ON CONFLICT (rule_id) DO UPDATE SET rule_version = excluded.rule_version, source_path = excluded.source_path,
			yaml_content = excluded.yaml_content, updated_at = excluded.updated_at, updated_by = excluded.updated_by,
			name = excluded.name, technique_ids = excluded.technique_ids, applies_to = excluded.applies_to,
			definition_sha256 = excluded.definition_sha256, loaded = 1`),
			d.RuleID, d.RuleVersion, d.SourcePath, d.YAML, now, by, d.Name, strings.Join(d.TechniqueIDs, ","),
			strings.Join(d.AppliesTo, ","), d.DefinitionSHA256)
		if err != nil {
			return fmt.Errorf("store: sync ttp rule %s: %w", d.RuleID, err)
		}
	}
	for id := range have {
		if !in[id] && loaded[id] {
			if _, err := tx.ExecContext(ctx, s.q("UPDATE ttp_rule SET loaded = 0, updated_at = ?, updated_by = ? WHERE rule_id = ?"), now, by, id); err != nil {
				return fmt.Errorf("store: sync ttp rule %s: %w", id, err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: sync ttp rules: %w", err)
	}
	return nil
}

// RuleDefs reads the ttp_rule mirror, by rule id.
func (s *Store) RuleDefs(ctx context.Context) ([]RuleDef, error) {
	rs, err := s.db.QueryContext(ctx, `SELECT rule_id, rule_version, source_path, yaml_content, updated_at, updated_by, name,
		technique_ids, applies_to, definition_sha256, loaded FROM ttp_rule ORDER BY rule_id`)
	if err != nil {
		return nil, fmt.Errorf("store: ttp rules: %w", err)
	}
	defer rs.Close()
	var out []RuleDef
	for rs.Next() {
		var d RuleDef
		var at, techs, kinds string
		var l int
		if err := rs.Scan(&d.RuleID, &d.RuleVersion, &d.SourcePath, &d.YAML, &at, &d.UpdatedBy, &d.Name, &techs, &kinds,
			&d.DefinitionSHA256, &l); err != nil {
			return nil, fmt.Errorf("store: ttp rules: %w", err)
		}
		d.UpdatedAt, d.Loaded = parseTime(at), l != 0
		d.TechniqueIDs, d.AppliesTo = splitList(techs), splitList(kinds)
		out = append(out, d)
	}
	return out, rs.Err()
}

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}
