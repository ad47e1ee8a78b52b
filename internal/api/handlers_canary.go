package api

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/decnet-go/decnet/internal/canary"
	"github.com/decnet-go/decnet/internal/store"
)

// CanaryStore is what the canary routes read (and the one thing they write
// themselves: who planted a token).
type CanaryStore interface {
	CanaryToken(ctx context.Context, uuid string) (canary.Token, error)
	CanaryTokens(ctx context.Context, f store.CanaryTokenFilter) ([]canary.Token, int, error)
	CanaryTriggers(ctx context.Context, tokenUUID string, limit, offset int) ([]canary.Trigger, int, error)
	SetCanaryTokenCreator(ctx context.Context, uuid, user string) error
}

// CanaryPlanter plants, shows and revokes canary tokens in running deckies
// (a *canary.Planter).
type CanaryPlanter interface {
	Plant(ctx context.Context, req canary.PlantRequest) (canary.Token, canary.Artifact, error)
	Revoke(ctx context.Context, t canary.Token, reason string) error
	Preview(t canary.Token) (canary.Artifact, error)
}

// Canary list bounds (spec/data-api.md §3.10: triggers limit ≤ 500).
const maxCanaryLimit = 500

var (
	errCanaryDisabled      = newError(http.StatusServiceUnavailable, "canary tokens are not enabled")
	errCanaryTokenNotFound = newError(http.StatusNotFound, "Canary token not found")
	errCanaryRevoked       = newError(http.StatusConflict, "Canary token is already revoked")
	errCanaryNoPreview     = newError(http.StatusConflict, "Canary token is revoked; there is nothing to preview")
	errCanaryBlob          = invalidField("blob_uuid: uploaded blobs are not supported; give a generator (GET /api/v1/canary/generators)")
)

func init() { maps.Copy(routeDocs, canaryDocs) }

func (s *server) canaryRoutes() {
	s.handle("GET /api/v1/canary/generators", s.authed(accessViewer, s.canaryGenerators))
	s.handle("GET /api/v1/canary/tokens", s.authed(accessViewer, s.listCanaryTokens))
	s.handle("POST /api/v1/canary/tokens", s.authed(accessAdmin, s.plantCanaryToken))
	s.handle("GET /api/v1/canary/tokens/{uuid}", s.authed(accessViewer, s.getCanaryToken))
	s.handle("DELETE /api/v1/canary/tokens/{uuid}", s.authed(accessAdmin, s.revokeCanaryToken))
	s.handle("GET /api/v1/canary/tokens/{uuid}/preview", s.authed(accessAdmin, s.previewCanaryToken))
	s.handle("GET /api/v1/canary/tokens/{uuid}/triggers", s.authed(accessViewer, s.listCanaryTriggers))
}

// canaryDocs documents the canary routes for the OpenAPI table.
var canaryDocs = map[string]routeDoc{
	"GET /api/v1/canary/generators": {summary: "The bait generators a token can be planted with", tag: "canary", access: "viewer",
		resp: []canaryGeneratorResponse{}},
	"GET /api/v1/canary/tokens": {summary: "Canary tokens, newest first (limit ≤ 500)", tag: "canary", access: "viewer",
		query: withPage("decky_name", "state", "kind"), resp: canaryTokenList{}},
	"POST /api/v1/canary/tokens": {summary: "Plant a canary token in a running decky with a generator (503 when canary tokens are off)",
		tag: "canary", access: "admin", body: canaryTokenRequest{}, resp: canaryTokenResponse{}, status: http.StatusCreated},
	"GET /api/v1/canary/tokens/{uuid}": {summary: "One canary token", tag: "canary", access: "viewer", resp: canaryTokenResponse{}},
	"DELETE /api/v1/canary/tokens/{uuid}": {summary: "Revoke a canary token: its file leaves the decky (409 when already revoked)",
		tag: "canary", access: "admin", resp: messageResponse{}},
	"GET /api/v1/canary/tokens/{uuid}/preview": {summary: "The planted file's bytes, application/octet-stream (409 when revoked)",
		tag: "canary", access: "admin", resp: canaryPreview{}},
	"GET /api/v1/canary/tokens/{uuid}/triggers": {summary: "Uses of a canary token, newest first (limit ≤ 500)", tag: "canary",
		access: "viewer", query: pageQuery, resp: canaryTriggerList{}},
}

// canaryTokenRequest is the body of POST /canary/tokens. BlobUUID is there
// only to refuse it by name: DECNET's uploaded blobs are not ported.
type canaryTokenRequest struct {
	DeckyName     *string `json:"decky_name"`
	Generator     *string `json:"generator"`
	PlacementPath string  `json:"placement_path,omitempty"`
	Kind          string  `json:"kind,omitempty"`
	BlobUUID      *string `json:"blob_uuid,omitempty"`
}

// canaryTokenResponse is a token as the API shows it: never its secret
// seed or fingerprint nonce (either would let a reader forge the bait or
// its beacons). Where it calls home depends on its kind: CallbackURL for
// http, CallbackHost for dns, AccessKeyID for planted cloud keys.
type canaryTokenResponse struct {
	UUID            string     `json:"uuid"`
	Kind            string     `json:"kind"`
	DeckyName       string     `json:"decky_name"`
	Generator       string     `json:"generator"`
	PlacementPath   string     `json:"placement_path"`
	CallbackURL     string     `json:"callback_url,omitempty"`
	CallbackHost    string     `json:"callback_host,omitempty"`
	AccessKeyID     string     `json:"access_key_id,omitempty"`
	State           string     `json:"state"`
	TriggerCount    int        `json:"trigger_count"`
	LastTriggeredAt *time.Time `json:"last_triggered_at"`
	CreatedAt       time.Time  `json:"created_at"`
	CreatedBy       string     `json:"created_by"`
	LastError       string     `json:"last_error"`
}

type canaryTokenList struct {
	Tokens []canaryTokenResponse `json:"tokens"`
	Total  int                   `json:"total"`
}

type canaryMetric struct {
	Name      string `json:"name"`
	Signature string `json:"signature"`
}

// canaryTriggerResponse is one use of a token.
type canaryTriggerResponse struct {
	UUID        string            `json:"uuid"`
	TokenUUID   string            `json:"token_uuid"`
	OccurredAt  time.Time         `json:"occurred_at"`
	Via         string            `json:"via"`
	SrcIP       string            `json:"src_ip"`
	UserAgent   string            `json:"user_agent"`
	RequestPath string            `json:"request_path"`
	DNSQName    string            `json:"dns_qname"`
	RawHeaders  map[string]string `json:"raw_headers"`
	Fingerprint map[string]any    `json:"fingerprint"`
	Metrics     []canaryMetric    `json:"metrics"`
}

type canaryTriggerList struct {
	Triggers []canaryTriggerResponse `json:"triggers"`
	Total    int                     `json:"total"`
}

type canaryGeneratorResponse struct {
	Name        string `json:"name"`
	Kind        string `json:"kind"`
	Description string `json:"description"`
}

// canaryPreview stands for the raw bytes of the preview route.
type canaryPreview struct{}

// canaryView is t as the API shows it.
func (s *server) canaryView(t canary.Token) canaryTokenResponse {
	out := canaryTokenResponse{UUID: t.UUID, Kind: t.Kind, DeckyName: t.DeckyName, Generator: t.Generator,
		PlacementPath: t.PlacementPath, AccessKeyID: t.AccessKeyID, State: t.State, TriggerCount: t.TriggerCount,
		CreatedAt: t.CreatedAt, CreatedBy: t.CreatedBy, LastError: t.LastError}
	if !t.LastTriggeredAt.IsZero() {
		at := t.LastTriggeredAt
		out.LastTriggeredAt = &at
	}
	switch t.Kind {
	case canary.KindHTTP:
		if s.canaryHTTPBase != "" {
			out.CallbackURL = strings.TrimRight(s.canaryHTTPBase, "/") + "/c/" + t.Slug
		}
	case canary.KindDNS:
		if s.canaryDNSZone != "" {
			out.CallbackHost = t.Slug + "." + strings.ToLower(strings.Trim(strings.TrimSpace(s.canaryDNSZone), "."))
		}
	}
	return out
}

// canaryError turns the planter's errors into answers that name the
// field to fix; anything else goes to statusOf as it is (engine errors
// from writing the file included).
func canaryError(err error, req canaryTokenRequest, gen canary.Generator) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, canary.ErrUnknownGenerator):
		return unknownGenerator(deref(req.Generator))
	case errors.Is(err, canary.ErrNoDNSZone):
		return invalidField(fmt.Sprintf("generator %s makes dns tokens, which need a DNS zone: start decnet up with "+
			"--canary-dns-zone (DECNET_CANARY_DNS_ZONE) delegated to the canary DNS listener", gen.Name))
	case errors.Is(err, canary.ErrNoHTTPBase):
		return invalidField(fmt.Sprintf("generator %s makes http tokens, which need the canary HTTP listener: start decnet up "+
			"with --canary-http-listen (and --canary-http-base when attackers reach it by another address)", gen.Name))
	case errors.Is(err, canary.ErrDeckyNotRunning):
		return invalidField(fmt.Sprintf("decky_name %s is not a running decky", quoteShort(deref(req.DeckyName))))
	case errors.Is(err, canary.ErrBadPath):
		return invalidField(fmt.Sprintf("placement_path %s must be an absolute file path without \"..\" "+
			"(or leave it out for the generator's default)", quoteShort(req.PlacementPath)))
	}
	return err
}

func unknownGenerator(name string) error {
	var names []string
	for _, g := range canary.Generators() {
		names = append(names, g.Name)
	}
	return invalidField(fmt.Sprintf("generator %s is unknown; use one of %s", quoteShort(name), strings.Join(names, ", ")))
}

// plantCanaryToken plants a generator's bait in a running decky.
// POST /api/v1/canary/tokens (admin).
func (s *server) plantCanaryToken(w http.ResponseWriter, r *http.Request, id *identity) error {
	if s.canary == nil {
		return errCanaryDisabled
	}
	var req canaryTokenRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if req.BlobUUID != nil {
		return errCanaryBlob
	}
	switch {
	case req.DeckyName == nil || *req.DeckyName == "":
		return missingField("decky_name")
	case req.Generator == nil || *req.Generator == "":
		return missingField("generator")
	}
	gen, ok := canary.LookupGenerator(*req.Generator)
	if !ok {
		return unknownGenerator(*req.Generator)
	}
	if req.Kind != "" && req.Kind != gen.Kind {
		return invalidField(fmt.Sprintf("kind %s does not match generator %s, which makes %s tokens (leave kind out)",
			quoteShort(req.Kind), gen.Name, gen.Kind))
	}
	tok, _, err := s.canary.Plant(r.Context(), canary.PlantRequest{Decky: *req.DeckyName, Generator: gen.Name, Path: req.PlacementPath})
	if tok.UUID != "" { // planted, or stored as failed: record who asked, even if the client left
		if cerr := s.st.SetCanaryTokenCreator(context.WithoutCancel(r.Context()), tok.UUID, id.user.Username); cerr != nil {
			s.log.Warn("api: canary token creator not recorded", "token", tok.UUID, "err", cerr)
		} else {
			tok.CreatedBy = id.user.Username
		}
	}
	if err := canaryError(err, req, gen); err != nil {
		return err
	}
	s.log.Info("api: canary token planted", "by", id.user.Username, "token", tok.UUID, "decky", tok.DeckyName,
		"generator", tok.Generator, "path", tok.PlacementPath)
	return writeJSON(w, http.StatusCreated, s.canaryView(tok))
}

// listCanaryTokens answers the tokens, filtered by decky_name, state and
// kind. GET /api/v1/canary/tokens (viewer).
func (s *server) listCanaryTokens(w http.ResponseWriter, r *http.Request, _ *identity) error {
	q := r.URL.Query()
	p, err := parsePage(r, maxCanaryLimit)
	if err != nil {
		return err
	}
	f := store.CanaryTokenFilter{Limit: p.Limit, Offset: p.Offset}
	if f.Decky, err = filterParam(q, "decky_name"); err != nil {
		return err
	}
	if f.State, err = enumParam(q, "state", canary.StatePlanted, canary.StateRevoked, canary.StateFailed); err != nil {
		return err
	}
	if f.Kind, err = enumParam(q, "kind", canary.KindHTTP, canary.KindDNS, canary.KindAWSPassive); err != nil {
		return err
	}
	toks, total, err := s.st.CanaryTokens(r.Context(), f)
	if err != nil {
		return err
	}
	out := canaryTokenList{Tokens: make([]canaryTokenResponse, 0, len(toks)), Total: total}
	for _, t := range toks {
		out.Tokens = append(out.Tokens, s.canaryView(t))
	}
	return writeJSON(w, http.StatusOK, out)
}

// enumParam reads a filter that must be one of allowed when given.
func enumParam(q url.Values, name string, allowed ...string) (string, error) {
	v, err := filterParam(q, name)
	if err != nil || v == "" || slices.Contains(allowed, v) {
		return v, err
	}
	return "", invalidParam(fmt.Sprintf("%s must be one of %s", name, strings.Join(allowed, ", ")))
}

func (s *server) canaryToken(r *http.Request) (canary.Token, error) {
	t, err := s.st.CanaryToken(r.Context(), r.PathValue("uuid"))
	if errors.Is(err, store.ErrNotFound) {
		return t, errCanaryTokenNotFound
	}
	return t, err
}

// getCanaryToken answers one token. GET /api/v1/canary/tokens/{uuid}
// (viewer).
func (s *server) getCanaryToken(w http.ResponseWriter, r *http.Request, _ *identity) error {
	t, err := s.canaryToken(r)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.canaryView(t))
}

// revokeCanaryToken removes a token's file from its decky and marks it
// revoked; its callbacks are ignored from then on. DELETE
// /api/v1/canary/tokens/{uuid} (admin).
func (s *server) revokeCanaryToken(w http.ResponseWriter, r *http.Request, id *identity) error {
	t, err := s.plantedCanaryToken(r, errCanaryRevoked)
	if err != nil {
		return err
	}
	if err := s.canary.Revoke(r.Context(), t, "revoked by "+id.user.Username); err != nil {
		return canaryError(err, canaryTokenRequest{DeckyName: &t.DeckyName, PlacementPath: t.PlacementPath}, canary.Generator{})
	}
	s.log.Info("api: canary token revoked", "by", id.user.Username, "token", t.UUID, "decky", t.DeckyName)
	return writeJSON(w, http.StatusOK, messageResponse{Message: "Canary token revoked"})
}

// previewCanaryToken answers the bytes the token's file holds (as planted,
// made again from the token's seed). GET /api/v1/canary/tokens/{uuid}/preview
// (admin).
func (s *server) previewCanaryToken(w http.ResponseWriter, r *http.Request, _ *identity) error {
	t, err := s.plantedCanaryToken(r, errCanaryNoPreview)
	if err != nil {
		return err
	}
	a, err := s.canary.Preview(t)
	if err != nil {
		return canaryError(err, canaryTokenRequest{Generator: &t.Generator, DeckyName: &t.DeckyName}, canary.Generator{Name: t.Generator})
	}
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Length", strconv.Itoa(len(a.Content)))
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": path.Base(t.PlacementPath)}))
	w.WriteHeader(http.StatusOK)
	w.Write(a.Content)
	return nil
}

// listCanaryTriggers answers the uses of a token, newest first. GET
// /api/v1/canary/tokens/{uuid}/triggers (viewer).
func (s *server) listCanaryTriggers(w http.ResponseWriter, r *http.Request, _ *identity) error {
	p, err := parsePage(r, maxCanaryLimit)
	if err != nil {
		return err
	}
	t, err := s.canaryToken(r)
	if err != nil {
		return err
	}
	trs, total, err := s.st.CanaryTriggers(r.Context(), t.UUID, p.Limit, p.Offset)
	if err != nil {
		return err
	}
	out := canaryTriggerList{Triggers: make([]canaryTriggerResponse, 0, len(trs)), Total: total}
	for _, tr := range trs {
		v := canaryTriggerResponse{UUID: tr.UUID, TokenUUID: tr.TokenUUID, OccurredAt: tr.OccurredAt, Via: tr.Via, SrcIP: tr.SrcIP,
			UserAgent: tr.UserAgent, RequestPath: tr.RequestPath, DNSQName: tr.DNSQName, RawHeaders: tr.RawHeaders,
			Fingerprint: tr.Fingerprint, Metrics: make([]canaryMetric, 0, len(tr.Metrics))}
		if v.RawHeaders == nil {
			v.RawHeaders = map[string]string{}
		}
		for _, m := range tr.Metrics {
			v.Metrics = append(v.Metrics, canaryMetric(m))
		}
		out.Triggers = append(out.Triggers, v)
	}
	return writeJSON(w, http.StatusOK, out)
}

// canaryGenerators lists what a token can be planted with. GET
// /api/v1/canary/generators (viewer).
func (s *server) canaryGenerators(w http.ResponseWriter, _ *http.Request, _ *identity) error {
	gens := canary.Generators()
	out := make([]canaryGeneratorResponse, 0, len(gens))
	for _, g := range gens {
		out = append(out, canaryGeneratorResponse{Name: g.Name, Kind: g.Kind, Description: g.Description})
	}
	return writeJSON(w, http.StatusOK, out)
}

// plantedCanaryToken is the token a write route names, when the planter
// runs; revoked is the answer for a token already revoked.
func (s *server) plantedCanaryToken(r *http.Request, revoked error) (canary.Token, error) {
	if s.canary == nil {
		return canary.Token{}, errCanaryDisabled
	}
	t, err := s.canaryToken(r)
	if err != nil {
		return t, err
	}
	if t.State == canary.StateRevoked {
		return t, revoked
	}
	return t, nil
}
