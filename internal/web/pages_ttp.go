package web

import (
	"cmp"
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/decnet-go/decnet/internal/attack"
	"github.com/decnet-go/decnet/internal/store"
)

// insightStore is what the TTP, credentials and identities screens read.
// *store.Store implements it; a Store without it gets 404 on those screens.
type insightStore interface {
	TechniqueRollup(ctx context.Context, scope, id string) ([]store.TechniqueRow, error)
	TagsByScopeAndTechnique(ctx context.Context, scope, id, techniqueID, subTechniqueID string, limit int) ([]store.Tag, error)
	FleetTagsByTechnique(ctx context.Context, techniqueID, subTechniqueID string, limit int) ([]store.Tag, error)
	CredentialReuseSummaries(ctx context.Context, limit, ipCap int) ([]store.ReuseSummary, int, error)
	Identities(ctx context.Context, limit, offset int) ([]store.Identity, int, error)
	IdentityByUUID(ctx context.Context, id string) (store.Identity, error)
	AttackersOfIdentity(ctx context.Context, identity string, limit, offset int) ([]store.Attacker, int, error)
}

// List sizes of these screens.
const (
	tagRows        = 200 // tags in an inspector or a drill-down
	credentialPage = 50
	reuseRows      = 25
	identitiesPage = 25
	heatLevels     = 5
	reuseIPs       = 8 // addresses listed per reused secret
)

// ttpRoutes registers the TTP, credentials and identities screens.
func (d *Dashboard) ttpRoutes() {
	d.handle("GET /ui/ttp", viewer, d.ttpMatrix)
	d.handle("GET /ui/ttp/rules", viewer, d.ttpRules)
	d.handleBody("POST /ui/ttp/rules/{rule_id}/state", adminFormBytes, d.setRuleState)
	d.handle("GET /ui/ttp/{technique}", viewer, d.ttpTechnique)
	d.handle("GET /ui/attackers/{uuid}/ttp/{technique}", viewer, d.ttpInspector)
	d.handle("GET /ui/credentials", viewer, d.credentials)
	d.handle("GET /ui/identities", viewer, d.identities)
	d.handle("GET /ui/identities/{uuid}", viewer, d.identityDetail)
}

func (d *Dashboard) insights() (insightStore, error) {
	is, ok := d.st.(insightStore)
	if !ok {
		return nil, errNotFound
	}
	return is, nil
}

// ttpRow is one line of a TTP rollup with its ATT&CK names.
type ttpRow struct {
	store.TechniqueRow
	Key        string // the id links use: the sub-technique's, else the technique's
	Name       string // "Command and Scripting Interpreter: Unix Shell"
	TacticName string
	URL        string
}

// namedRollup reads a scope's rollup and names its techniques.
func namedRollup(ctx context.Context, is insightStore, scope, id string) ([]ttpRow, error) {
	rows, err := is.TechniqueRollup(ctx, scope, id)
	if err != nil {
		return nil, err
	}
	cat := attack.Default()
	out := make([]ttpRow, 0, len(rows))
	for _, r := range rows {
		x := ttpRow{TechniqueRow: r, Key: cmp.Or(r.SubTechniqueID, r.TechniqueID)}
		x.Name, x.URL = techniqueName(cat, r.TechniqueID, r.SubTechniqueID)
		x.TacticName = tacticName(cat, r.Tactic)
		out = append(out, x)
	}
	return out, nil
}

func techniqueName(cat *attack.Catalogue, tech, sub string) (name, url string) {
	t, ok := cat.Technique(tech)
	name, url = t.Name, t.URL
	if !ok {
		name = tech
	}
	if sub != "" {
		if st, ok := cat.Technique(sub); ok {
			name += ": " + st.Name
			url = cmp.Or(st.URL, url)
		}
	}
	return name, url
}

func tacticName(cat *attack.Catalogue, id string) string {
	if t, ok := cat.Tactic(id); ok {
		return t.Name
	}
	return id
}

// splitTechnique turns a path's T1059 or T1059.004 into the technique and
// sub-technique ids tags are stored under.
func splitTechnique(key string) (tech, sub string, ok bool) {
	if !strings.HasPrefix(key, "T") || len(key) > 16 {
		return "", "", false
	}
	tech, _, found := strings.Cut(key, ".")
	if found {
		sub = key
	}
	return tech, sub, true
}

// matrixCell is one technique of the fleet heatmap.
type matrixCell struct {
	ID, Name string
	Count    int
	Heat     int // 1..heatLevels
	Subs     []string
}

// matrixColumn is one tactic of the heatmap.
type matrixColumn struct {
	ID, Name string
	Total    int
	Cells    []matrixCell
}

// ttpMatrix is the fleet's ATT&CK heatmap. GET /ui/ttp.
func (d *Dashboard) ttpMatrix(w http.ResponseWriter, r *http.Request, s *session) error {
	is, err := d.insights()
	if err != nil {
		return err
	}
	rows, err := namedRollup(r.Context(), is, store.ScopeFleet, "")
	if err != nil {
		return err
	}
	cat := attack.Default()
	cols := []matrixColumn{}
	colOf := map[string]int{}
	for _, t := range cat.Tactics() {
		colOf[t.ID] = len(cols)
		cols = append(cols, matrixColumn{ID: t.ID, Name: t.Name})
	}
	maxCount, total := 0, 0
	for _, row := range rows {
		i, ok := colOf[row.Tactic]
		if !ok {
			i = len(cols)
			colOf[row.Tactic] = i
			cols = append(cols, matrixColumn{ID: row.Tactic, Name: row.TacticName})
		}
		c := &cols[i]
		j := slices.IndexFunc(c.Cells, func(x matrixCell) bool { return x.ID == row.TechniqueID })
		if j < 0 {
			name, _ := techniqueName(cat, row.TechniqueID, "")
			c.Cells = append(c.Cells, matrixCell{ID: row.TechniqueID, Name: name})
			j = len(c.Cells) - 1
		}
		cell := &c.Cells[j]
		cell.Count += row.Count
		if row.SubTechniqueID != "" && !slices.Contains(cell.Subs, row.SubTechniqueID) {
			cell.Subs = append(cell.Subs, row.SubTechniqueID)
		}
		c.Total += row.Count
		total += row.Count
		maxCount = max(maxCount, cell.Count)
	}
	for i := range cols {
		c := &cols[i]
		slices.SortFunc(c.Cells, func(a, b matrixCell) int { return cmp.Or(b.Count-a.Count, strings.Compare(a.ID, b.ID)) })
		for j := range c.Cells {
			c.Cells[j].Heat = 1 + (c.Cells[j].Count*heatLevels-1)/max(maxCount, 1)
			slices.Sort(c.Cells[j].Subs)
		}
	}
	return d.renderPage(w, r, s, http.StatusOK, "ttp", "TTP", struct {
		Now        time.Time
		Columns    []matrixColumn
		Rows       []ttpRow
		Total      int
		Techniques int
		Release    string
	}{d.now(), cols, rows, total, len(rows), cat.Release})
}

// tagView is a tag as the inspector shows it.
type tagView struct {
	store.Tag
	Name, TacticName string
}

func namedTags(tags []store.Tag) []tagView {
	cat := attack.Default()
	out := make([]tagView, 0, len(tags))
	for _, t := range tags {
		v := tagView{Tag: t, TacticName: tacticName(cat, t.Tactic)}
		v.Name, _ = techniqueName(cat, t.TechniqueID, t.SubTechniqueID)
		out = append(out, v)
	}
	return out
}

// techniqueHead is what the drill-down and the inspector say about the
// technique itself.
type techniqueHead struct {
	Key, Name, URL string
	Groups         []attack.Group
}

func headOf(key, tech, sub string) techniqueHead {
	cat := attack.Default()
	h := techniqueHead{Key: key}
	h.Name, h.URL = techniqueName(cat, tech, sub)
	h.Groups, _ = cat.Groups(key)
	return h
}

// ttpTechnique is the fleet's tags of one technique: the heatmap's
// drill-down. GET /ui/ttp/{technique}.
func (d *Dashboard) ttpTechnique(w http.ResponseWriter, r *http.Request, s *session) error {
	is, err := d.insights()
	if err != nil {
		return err
	}
	key := r.PathValue("technique")
	tech, sub, ok := splitTechnique(key)
	if !ok {
		return errNotFound
	}
	tags, err := is.FleetTagsByTechnique(r.Context(), tech, sub, tagRows)
	if err != nil {
		return err
	}
	h := headOf(key, tech, sub)
	if len(tags) == 0 && h.URL == "" {
		return errNotFound
	}
	return d.renderPage(w, r, s, http.StatusOK, "ttp_technique", key+" "+h.Name, struct {
		Now       time.Time
		Technique techniqueHead
		Tags      []tagView
		Limit     int
	}{d.now(), h, namedTags(tags), tagRows})
}

// inspectorData is the TTP inspector of one attacker and technique.
type inspectorData struct {
	Now       time.Time
	A         store.Attacker
	Technique techniqueHead
	Tags      []tagView
	Limit     int
}

// ttpInspector lists every tag of one technique on one attacker with its
// evidence, rule and confidence. htmx loads it into the attacker page's
// drawer (HX-Target: drawer); without JavaScript it is a page of its own.
// GET /ui/attackers/{uuid}/ttp/{technique}.
func (d *Dashboard) ttpInspector(w http.ResponseWriter, r *http.Request, s *session) error {
	is, err := d.insights()
	if err != nil {
		return err
	}
	ctx := r.Context()
	a, err := d.st.AttackerByUUID(ctx, r.PathValue("uuid"))
	if err != nil {
		return err
	}
	key := r.PathValue("technique")
	tech, sub, ok := splitTechnique(key)
	if !ok {
		return errNotFound
	}
	tags, err := is.TagsByScopeAndTechnique(ctx, store.ScopeAttacker, a.UUID, tech, sub, tagRows)
	if err != nil {
		return err
	}
	if len(tags) == 0 {
		return errNotFound
	}
	v := inspectorData{Now: d.now(), A: a, Technique: headOf(key, tech, sub), Tags: namedTags(tags), Limit: tagRows}
	if r.Header.Get("HX-Request") == "true" && r.Header.Get("HX-Target") == "drawer" {
		w.Header().Set("Vary", "HX-Request")
		return d.execute(w, http.StatusOK, "ttp_inspector", "drawer", view{Page: "ttp_inspector", Data: v})
	}
	return d.renderPage(w, r, s, http.StatusOK, "ttp_inspector", key+" on "+a.IP, v)
}

// attackerTTP is the rollup section of an attacker's profile; a store
// without TTP reads leaves it empty.
func (d *Dashboard) attackerTTP(ctx context.Context, attackerUUID string) ([]ttpRow, error) {
	is, err := d.insights()
	if err != nil {
		return nil, nil
	}
	return namedRollup(ctx, is, store.ScopeAttacker, attackerUUID)
}

// reuseView is a reuse row with its address list cut to reuseIPs (a
// sprayed default password can have thousands).
type reuseView struct {
	store.CredentialReuse
	IPs     []string
	MoreIPs int
}

// credentials is every captured credential with the secrets reused across
// deckies and services. GET /ui/credentials?page=.
func (d *Dashboard) credentials(w http.ResponseWriter, r *http.Request, s *session) error {
	is, err := d.insights()
	if err != nil {
		return err
	}
	ctx := r.Context()
	q := r.URL.Query()
	pg := newPager(q, credentialPage)
	rows, total, err := d.st.Credentials(ctx, store.Page{Limit: pg.Size, Offset: pg.Offset()})
	if err != nil {
		return err
	}
	pg.setTotal(total)
	rs, reuseN, err := is.CredentialReuseSummaries(ctx, reuseRows, reuseIPs)
	if err != nil {
		return err
	}
	reuse := make([]reuseView, 0, len(rs))
	for _, x := range rs {
		reuse = append(reuse, reuseView{CredentialReuse: x.CredentialReuse, IPs: x.AttackerIPs, MoreIPs: x.AttackerCount - len(x.AttackerIPs)})
	}
	return d.renderPage(w, r, s, http.StatusOK, "credentials", "Credentials", struct {
		Now    time.Time
		Reuse  []reuseView
		ReuseN int
		Rows   []store.Credential
		Total  int
		Page   pager
		Query  url.Values
	}{d.now(), reuse, reuseN, rows, total, pg, q})
}

// identities lists the actors attribution has inferred. GET /ui/identities?page=.
func (d *Dashboard) identities(w http.ResponseWriter, r *http.Request, s *session) error {
	is, err := d.insights()
	if err != nil {
		return err
	}
	q := r.URL.Query()
	pg := newPager(q, identitiesPage)
	rows, total, err := is.Identities(r.Context(), pg.Size, pg.Offset())
	if err != nil {
		return err
	}
	pg.setTotal(total)
	return d.renderPage(w, r, s, http.StatusOK, "identities", "Identities", struct {
		Now   time.Time
		Rows  []store.Identity
		Total int
		Page  pager
		Query url.Values
	}{d.now(), rows, total, pg, q})
}

// identityDetail is one identity: its fingerprints, its attacker profiles
// and its TTP rollup. GET /ui/identities/{uuid}.
func (d *Dashboard) identityDetail(w http.ResponseWriter, r *http.Request, s *session) error {
	is, err := d.insights()
	if err != nil {
		return err
	}
	ctx := r.Context()
	id, err := is.IdentityByUUID(ctx, r.PathValue("uuid"))
	if err != nil {
		return err
	}
	attackers, n, err := is.AttackersOfIdentity(ctx, id.UUID, detailRows, 0)
	if err != nil {
		return err
	}
	ttp, err := namedRollup(ctx, is, store.ScopeIdentity, id.UUID)
	if err != nil {
		return err
	}
	return d.renderPage(w, r, s, http.StatusOK, "identity", "Identity", struct {
		Now        time.Time
		I          store.Identity
		Attackers  []store.Attacker
		AttackersN int
		TTP        []ttpRow
	}{d.now(), id, attackers, n, ttp})
}
