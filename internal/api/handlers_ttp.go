package api

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/decnet-go/decnet/internal/attack"
	"github.com/decnet-go/decnet/internal/export"
	"github.com/decnet-go/decnet/internal/store"
	"github.com/decnet-go/decnet/internal/ttp"
	"github.com/decnet-go/decnet/internal/ttpexport"
)

// TTPStore is what the TTP routes read and write.
type TTPStore interface {
	TechniqueRollup(ctx context.Context, scope, id string) ([]store.TechniqueRow, error)
	TagsByScopeAndTechnique(ctx context.Context, scope, id, techniqueID, subTechniqueID string, limit int) ([]store.Tag, error)
	TagsInScope(ctx context.Context, scope, id string, limit int) ([]store.Tag, error)
	RuleStates(ctx context.Context) (map[string]store.RuleState, error)
	SetRuleState(ctx context.Context, st store.RuleState) error
	ClearRuleState(ctx context.Context, ruleID string) error
}

// TTPRules is the running rule engine (a *ttp.Engine): the rules the
// catalogue routes list and the ATT&CK release names come from.
type TTPRules interface {
	Rules() *ttp.RuleSet
	Catalogue() *attack.Catalogue
}

// embeddedRules stands in when no engine is configured.
type embeddedRules struct{ set *ttp.RuleSet }

func (e embeddedRules) Rules() *ttp.RuleSet          { return e.set }
func (e embeddedRules) Catalogue() *attack.Catalogue { return attack.Default() }

func (s *server) rules() TTPRules {
	if s.ttp != nil {
		return s.ttp
	}
	set, err := ttp.Embedded(attack.Default())
	if err != nil {
		set = &ttp.RuleSet{}
	}
	return embeddedRules{set: set}
}

var (
	errRuleNotFound      = newError(http.StatusNotFound, "Rule not found")
	errTechniqueNotFound = newError(http.StatusNotFound, "Technique not found")
	errSessionNotFound   = newError(http.StatusNotFound, "Session not found")
)

const maxTagLimit = 1000

func (s *server) ttpRoutes() {
	s.handle("GET /api/v1/ttp/techniques", s.authed(accessViewer, s.ttpRollup(store.ScopeFleet)))
	s.handle("GET /api/v1/ttp/by-attacker/{uuid}", s.authed(accessViewer, s.ttpRollup(store.ScopeAttacker)))
	s.handle("GET /api/v1/ttp/by-identity/{uuid}", s.authed(accessViewer, s.ttpRollup(store.ScopeIdentity)))
	s.handle("GET /api/v1/ttp/by-session/{uuid}", s.authed(accessViewer, s.ttpRollup(store.ScopeSession)))
	s.handle("GET /api/v1/ttp/tags/{scope}/{uuid}/{technique_id}", s.authed(accessViewer, s.ttpTags))
	s.handle("GET /api/v1/ttp/techniques/{technique_id}/groups", s.authed(accessViewer, s.ttpGroups))
	s.handle("GET /api/v1/ttp/rules", s.authed(accessViewer, s.ttpRules))
	s.handle("GET /api/v1/ttp/rules/{rule_id}", s.authed(accessViewer, s.ttpRule))
	s.handle("POST /api/v1/ttp/rules/{rule_id}/state", s.authed(accessAdmin, s.setTTPRuleState))
	s.handle("DELETE /api/v1/ttp/rules/{rule_id}/state", s.authed(accessAdmin, s.clearTTPRuleState))
	s.handle("GET /api/v1/ttp/export/navigator", s.authed(accessViewer, s.navigatorLayer))
	s.handle("GET /api/v1/ttp/export/navigator/{scope}/{uuid}", s.authed(accessViewer, s.navigatorLayer))
	s.handle("GET /api/v1/ttp/export/stix", s.authed(accessViewer, s.stixFleet))
	s.handle("GET /api/v1/ttp/export/stix/attacker/{uuid}", s.authed(accessViewer, s.stixAttacker))
	s.handle("GET /api/v1/ttp/export/misp/attacker/{uuid}", s.authed(accessViewer, s.mispAttacker))
}

// TechniqueRollupRow is one technique of a scope, with its ATT&CK names.
type TechniqueRollupRow struct {
	store.TechniqueRow
	TechniqueName    string `json:"technique_name"`
	SubTechniqueName string `json:"sub_technique_name"`
	MitreURL         string `json:"mitre_url"`
}

// ttpRollup answers a scope's techniques: GET /api/v1/ttp/techniques (the
// fleet) and /api/v1/ttp/by-{attacker,identity,session}/{uuid}. An unknown
// id has no tags: [].
func (s *server) ttpRollup(scope string) authedFunc {
	return func(w http.ResponseWriter, r *http.Request, _ *identity) error {
		rows, err := s.st.TechniqueRollup(r.Context(), scope, r.PathValue("uuid"))
		if err != nil {
			return err
		}
		cat := s.rules().Catalogue()
		out := make([]TechniqueRollupRow, 0, len(rows))
		for _, row := range rows {
			x := TechniqueRollupRow{TechniqueRow: row}
			x.TechniqueName, x.SubTechniqueName, x.MitreURL = names(cat, row.TechniqueID, row.SubTechniqueID)
			out = append(out, x)
		}
		return writeJSON(w, http.StatusOK, out)
	}
}

func names(cat *attack.Catalogue, tech, sub string) (techName, subName, url string) {
	t, _ := cat.Technique(tech)
	techName, url = t.Name, t.URL
	if sub != "" {
		st, _ := cat.Technique(sub)
		subName = st.Name
		if st.URL != "" {
			url = st.URL
		}
	}
	return techName, subName, url
}

// TTPTagDetailRow is a full tag with its ATT&CK names.
type TTPTagDetailRow struct {
	store.Tag
	TechniqueName    string `json:"technique_name"`
	SubTechniqueName string `json:"sub_technique_name"`
	TacticName       string `json:"tactic_name"`
}

// ttpTags answers the tags of one technique in a scope, newest first:
// GET /api/v1/ttp/tags/by-{identity,attacker,session}/{uuid}/{technique_id}
// ?sub_technique_id=&limit= (1..1000, default 200). Unknown scope 422,
// unknown uuid 404.
func (s *server) ttpTags(w http.ResponseWriter, r *http.Request, _ *identity) error {
	ctx := r.Context()
	scope, ok := strings.CutPrefix(r.PathValue("scope"), "by-")
	if !ok || !slices.Contains([]string{store.ScopeIdentity, store.ScopeAttacker, store.ScopeSession}, scope) {
		return invalidField("scope must be by-identity, by-attacker or by-session")
	}
	q := r.URL.Query()
	limit := 200
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxTagLimit {
			return badRequest("limit must be an integer from 1 to 1000")
		}
		limit = n
	}
	id, tech := r.PathValue("uuid"), r.PathValue("technique_id")
	switch scope {
	case store.ScopeAttacker:
		if _, err := s.attackerByUUID(ctx, id); err != nil {
			return err
		}
	case store.ScopeIdentity:
		if _, err := s.identityByID(ctx, id); err != nil {
			return err
		}
	}
	rows, err := s.st.TagsByScopeAndTechnique(ctx, scope, id, tech, q.Get("sub_technique_id"), limit)
	if err != nil {
		return err
	}
	if scope == store.ScopeSession && len(rows) == 0 {
		if all, err := s.st.TechniqueRollup(ctx, scope, id); err != nil {
			return err
		} else if len(all) == 0 {
			return errSessionNotFound
		}
	}
	cat := s.rules().Catalogue()
	out := make([]TTPTagDetailRow, 0, len(rows))
	for _, t := range rows {
		x := TTPTagDetailRow{Tag: t}
		x.TechniqueName, x.SubTechniqueName, _ = names(cat, t.TechniqueID, t.SubTechniqueID)
		if tac, ok := cat.Tactic(t.Tactic); ok {
			x.TacticName = tac.Name
		}
		out = append(out, x)
	}
	return writeJSON(w, http.StatusOK, out)
}

// ttpGroups answers the intrusion sets MITRE reports using a technique:
// GET /api/v1/ttp/techniques/{technique_id}/groups; 404 for an unknown one.
func (s *server) ttpGroups(w http.ResponseWriter, r *http.Request, _ *identity) error {
	groups, ok := s.rules().Catalogue().Groups(r.PathValue("technique_id"))
	if !ok {
		return errTechniqueNotFound
	}
	return writeJSON(w, http.StatusOK, groups)
}

// RuleCatalogueRow is one rule with its operator state.
type RuleCatalogueRow struct {
	RuleID        string     `json:"rule_id"`
	RuleVersion   int        `json:"rule_version"`
	Name          string     `json:"name"`
	Description   string     `json:"description"`
	AppliesTo     []string   `json:"applies_to"`
	Techniques    []string   `json:"techniques"`
	Lifter        bool       `json:"lifter"`
	State         string     `json:"state"`
	ConfidenceMax *float64   `json:"confidence_max"`
	ExpiresAt     *time.Time `json:"expires_at"`
	Reason        string     `json:"reason"`
	SetBy         string     `json:"set_by"`
	SetAt         *time.Time `json:"set_at"`
}

// RuleDetail is a rule with its full definition.
type RuleDetail struct {
	RuleCatalogueRow
	Source         string     `json:"source"`
	Emits          []ttp.Emit `json:"emits"`
	EvidenceFields []string   `json:"evidence_fields"`
	Services       []string   `json:"services"`
	EventTypes     []string   `json:"event_types"`
}

func catalogueRow(r *ttp.Rule, st store.RuleState, has bool) RuleCatalogueRow {
	row := RuleCatalogueRow{RuleID: r.ID, RuleVersion: r.Version, Name: r.Name, Description: r.Description,
		AppliesTo: r.AppliesTo, Lifter: r.IsLifter(), State: store.RuleEnabled, Techniques: []string{}}
	for _, e := range r.Emits {
		if !slices.Contains(row.Techniques, e.Technique()) {
			row.Techniques = append(row.Techniques, e.Technique())
		}
	}
	if has && (st.ExpiresAt == nil || st.ExpiresAt.After(time.Now())) {
		row.State, row.ConfidenceMax, row.ExpiresAt, row.Reason, row.SetBy = st.State, st.ConfidenceMax, st.ExpiresAt, st.Reason, st.SetBy
		row.SetAt = &st.SetAt
	}
	return row
}

// ttpRules lists the active rules with their states: GET /api/v1/ttp/rules.
func (s *server) ttpRules(w http.ResponseWriter, r *http.Request, _ *identity) error {
	states, err := s.st.RuleStates(r.Context())
	if err != nil {
		return err
	}
	rules := s.rules().Rules().Rules()
	out := make([]RuleCatalogueRow, 0, len(rules))
	for _, rule := range rules {
		st, has := states[rule.ID]
		out = append(out, catalogueRow(rule, st, has))
	}
	return writeJSON(w, http.StatusOK, out)
}

// ttpRule answers one rule: GET /api/v1/ttp/rules/{rule_id}.
func (s *server) ttpRule(w http.ResponseWriter, r *http.Request, _ *identity) error {
	rule, ok := s.rules().Rules().Rule(r.PathValue("rule_id"))
	if !ok {
		return errRuleNotFound
	}
	states, err := s.st.RuleStates(r.Context())
	if err != nil {
		return err
	}
	st, has := states[rule.ID]
	return writeJSON(w, http.StatusOK, RuleDetail{RuleCatalogueRow: catalogueRow(rule, st, has), Source: rule.Source,
		Emits: rule.Emits, EvidenceFields: orEmpty(rule.EvidenceFields), Services: orEmpty(rule.Services), EventTypes: orEmpty(rule.EventTypes)})
}

// RuleStateRequest is the body of POST /api/v1/ttp/rules/{rule_id}/state.
type RuleStateRequest struct {
	State         string     `json:"state"`
	ConfidenceMax *float64   `json:"confidence_max,omitempty"`
	ExpiresAt     *time.Time `json:"expires_at,omitempty"`
	Reason        string     `json:"reason,omitempty"`
}

// RuleStateResponse echoes a rule's state after a change.
type RuleStateResponse struct {
	RuleID        string     `json:"rule_id"`
	State         string     `json:"state"`
	ConfidenceMax *float64   `json:"confidence_max"`
	ExpiresAt     *time.Time `json:"expires_at"`
	Reason        string     `json:"reason"`
	SetBy         string     `json:"set_by"`
	SetAt         time.Time  `json:"set_at"`
}

// setTTPRuleState persists an operator's override of a rule and announces
// it on ttp.rule.state.<rule_id> (the tagging worker re-reads states):
// POST /api/v1/ttp/rules/{rule_id}/state (admin). A malformed or invalid
// body is 400; an unknown rule 404.
func (s *server) setTTPRuleState(w http.ResponseWriter, r *http.Request, id *identity) error {
	rule, ok := s.rules().Rules().Rule(r.PathValue("rule_id"))
	if !ok {
		return errRuleNotFound
	}
	var req RuleStateRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	switch req.State {
	case store.RuleEnabled, store.RuleDisabled:
	case store.RuleClipped:
		if req.ConfidenceMax == nil {
			return badRequest(`field "confidence_max" is required with state clipped`)
		}
	case "":
		return missingField("state")
	default:
		return badRequest(`field "state" must be enabled, disabled or clipped`)
	}
	if c := req.ConfidenceMax; c != nil && (*c <= 0 || *c > 1) {
		return badRequest(`field "confidence_max" must be in (0, 1]`)
	}
	if len(req.Reason) > 512 {
		return badRequest(`field "reason" is longer than 512 characters`)
	}
	st := store.RuleState{RuleID: rule.ID, State: req.State, ConfidenceMax: req.ConfidenceMax, ExpiresAt: req.ExpiresAt,
		Reason: req.Reason, SetBy: id.user.Username, SetAt: time.Now().UTC().Truncate(time.Millisecond)}
	if err := s.st.SetRuleState(r.Context(), st); err != nil {
		return err
	}
	s.notify("ttp.rule.state."+rule.ID, map[string]string{"rule_id": rule.ID, "state": st.State, "set_by": st.SetBy})
	return writeJSON(w, http.StatusOK, RuleStateResponse(st))
}

// clearTTPRuleState reverts a rule to enabled:
// DELETE /api/v1/ttp/rules/{rule_id}/state (admin).
func (s *server) clearTTPRuleState(w http.ResponseWriter, r *http.Request, id *identity) error {
	rule, ok := s.rules().Rules().Rule(r.PathValue("rule_id"))
	if !ok {
		return errRuleNotFound
	}
	if err := s.st.ClearRuleState(r.Context(), rule.ID); err != nil {
		return err
	}
	s.notify("ttp.rule.state."+rule.ID, map[string]string{"rule_id": rule.ID, "state": store.RuleEnabled, "set_by": id.user.Username})
	return writeJSON(w, http.StatusOK, RuleStateResponse{RuleID: rule.ID, State: store.RuleEnabled, SetBy: id.user.Username,
		SetAt: time.Now().UTC().Truncate(time.Millisecond)})
}

// navigatorLayer answers an ATT&CK Navigator layer (format 4.5) of the
// fleet (GET /api/v1/ttp/export/navigator) or of one identity, attacker or
// session (…/navigator/{scope}/{uuid}).
func (s *server) navigatorLayer(w http.ResponseWriter, r *http.Request, _ *identity) error {
	scope, id := r.PathValue("scope"), r.PathValue("uuid")
	title := "DECNET fleet"
	if scope == "" {
		scope = store.ScopeFleet
	} else {
		switch scope {
		case store.ScopeAttacker:
			a, err := s.attackerByUUID(r.Context(), id)
			if err != nil {
				return err
			}
			title = "DECNET attacker " + a.IP
		case store.ScopeIdentity:
			if _, err := s.identityByID(r.Context(), id); err != nil {
				return err
			}
			title = "DECNET identity " + id
		case store.ScopeSession:
			title = "DECNET session " + id
		default:
			return invalidField("scope must be identity, attacker or session")
		}
	}
	rows, err := s.st.TagsInScope(r.Context(), scope, id, 10*maxTagLimit)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, export.Navigator(title, ttpexport.Tags(rows), s.rules().Catalogue()))
}

// exportStore narrows the API store to what ttpexport reads.
func (s *server) exportStore() ttpexport.Store { return s.st }

// stixAttacker answers a STIX 2.1 bundle of one attacker:
// GET /api/v1/ttp/export/stix/attacker/{uuid}.
func (s *server) stixAttacker(w http.ResponseWriter, r *http.Request, _ *identity) error {
	a, err := ttpexport.Attacker(r.Context(), s.exportStore(), r.PathValue("uuid"))
	if errors.Is(err, store.ErrNotFound) {
		return errAttackerNotFound
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, export.STIX([]export.Attacker{a}, export.STIXOptions{Catalogue: s.rules().Catalogue()}))
}

// stixFleet answers a STIX 2.1 bundle of the attackers most recently seen:
// GET /api/v1/ttp/export/stix.
func (s *server) stixFleet(w http.ResponseWriter, r *http.Request, _ *identity) error {
	as, err := ttpexport.Fleet(r.Context(), s.exportStore())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, export.STIX(as, export.STIXOptions{Catalogue: s.rules().Catalogue()}))
}

// mispAttacker answers a MISP event of one attacker:
// GET /api/v1/ttp/export/misp/attacker/{uuid}.
func (s *server) mispAttacker(w http.ResponseWriter, r *http.Request, _ *identity) error {
	a, err := ttpexport.Attacker(r.Context(), s.exportStore(), r.PathValue("uuid"))
	if errors.Is(err, store.ErrNotFound) {
		return errAttackerNotFound
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, export.MISP(a, s.rules().Catalogue()))
}

func init() { maps.Copy(routeDocs, ttpDocs) }

// ttpDocs documents the TTP routes for the OpenAPI table.
var ttpDocs = map[string]routeDoc{
	"GET /api/v1/ttp/techniques": {summary: "Techniques tagged across the fleet, most recent first", tag: "ttp",
		access: "viewer", resp: []TechniqueRollupRow{}},
	"GET /api/v1/ttp/by-attacker/{uuid}": {summary: "Techniques of one attacker (unknown: [])", tag: "ttp",
		access: "viewer", resp: []TechniqueRollupRow{}},
	"GET /api/v1/ttp/by-identity/{uuid}": {summary: "Techniques of one identity and its attackers (unknown: [])", tag: "ttp",
		access: "viewer", resp: []TechniqueRollupRow{}},
	"GET /api/v1/ttp/by-session/{uuid}": {summary: "Techniques of one session (unknown: [])", tag: "ttp",
		access: "viewer", resp: []TechniqueRollupRow{}},
	"GET /api/v1/ttp/tags/{scope}/{uuid}/{technique_id}": {summary: "Tags of one technique in a scope (by-identity, by-attacker, by-session), newest first, with evidence",
		tag: "ttp", access: "viewer", query: []string{"sub_technique_id", "limit:int"}, resp: []TTPTagDetailRow{}},
	"GET /api/v1/ttp/techniques/{technique_id}/groups": {summary: "Intrusion sets MITRE reports using a technique", tag: "ttp",
		access: "viewer", resp: []attack.Group{}},
	"GET /api/v1/ttp/rules": {summary: "The active TTP rules with their operator states", tag: "ttp", access: "viewer",
		resp: []RuleCatalogueRow{}},
	"GET /api/v1/ttp/rules/{rule_id}": {summary: "One TTP rule", tag: "ttp", access: "viewer", resp: RuleDetail{}},
	"POST /api/v1/ttp/rules/{rule_id}/state": {summary: "Enable, disable or clip a rule (persisted; the tagger follows within seconds)",
		tag: "ttp", access: "admin", body: RuleStateRequest{}, resp: RuleStateResponse{}},
	"DELETE /api/v1/ttp/rules/{rule_id}/state": {summary: "Revert a rule to enabled", tag: "ttp", access: "admin",
		resp: RuleStateResponse{}},
	"GET /api/v1/ttp/export/navigator": {summary: "ATT&CK Navigator layer (4.5) of the fleet", tag: "ttp", access: "viewer",
		resp: export.Layer{}},
	"GET /api/v1/ttp/export/navigator/{scope}/{uuid}": {summary: "ATT&CK Navigator layer of one identity, attacker or session",
		tag: "ttp", access: "viewer", resp: export.Layer{}},
	"GET /api/v1/ttp/export/stix": {summary: "STIX 2.1 bundle of the most recently seen attackers", tag: "ttp", access: "viewer",
		resp: export.Bundle{}},
	"GET /api/v1/ttp/export/stix/attacker/{uuid}": {summary: "STIX 2.1 bundle of one attacker", tag: "ttp", access: "viewer",
		resp: export.Bundle{}},
	"GET /api/v1/ttp/export/misp/attacker/{uuid}": {summary: "MISP event of one attacker", tag: "ttp", access: "viewer",
		resp: export.MISPEvent{}},
}
