package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/decnet-go/decnet/internal/canary"
	"github.com/decnet-go/decnet/internal/store"
)

// fakePlanter plants into the test store the way canary.Planter does
// (a token row; the file is remembered instead of written), and fails the
// way it does: unknown generator, decky not running, bad path, dns without
// a zone.
type fakePlanter struct {
	st      *store.Store
	zone    string
	running map[string]bool

	mu      sync.Mutex
	n       int
	files   map[string][]byte // uuid → content
	revoked []string
}

func (p *fakePlanter) Plant(ctx context.Context, req canary.PlantRequest) (canary.Token, canary.Artifact, error) {
	gen, ok := canary.LookupGenerator(req.Generator)
	switch {
	case !ok:
		return canary.Token{}, canary.Artifact{}, fmt.Errorf("plant: %w: %q", canary.ErrUnknownGenerator, req.Generator)
	case gen.Kind == canary.KindDNS && p.zone == "":
		return canary.Token{}, canary.Artifact{}, fmt.Errorf("plant: %w", canary.ErrNoDNSZone)
	case !p.running[req.Decky]:
		return canary.Token{}, canary.Artifact{}, fmt.Errorf("plant: %w: %q", canary.ErrDeckyNotRunning, req.Decky)
	case req.Path != "" && (!strings.HasPrefix(req.Path, "/") || strings.Contains(req.Path, "..")):
		return canary.Token{}, canary.Artifact{}, fmt.Errorf("plant: %w: %q", canary.ErrBadPath, req.Path)
	}
	p.mu.Lock()
	p.n++
	n := p.n
	p.mu.Unlock()
	path := req.Path
	if path == "" {
		path = "/root/." + gen.Name
	}
	t := canary.Token{UUID: fmt.Sprintf("00000000-0000-4000-8000-%012d", n), Kind: gen.Kind, DeckyName: req.Decky,
		Generator: gen.Name, PlacementPath: path, Slug: fmt.Sprintf("slug%04d", n), SecretSeed: "seed-secret-value",
		FingerprintNonce: "nonce-secret-value", State: canary.StatePlanted, CreatedAt: time.Now()}
	if gen.Kind == canary.KindAWSPassive {
		t.AccessKeyID = fmt.Sprintf("AKIATEST%012d", n)
	}
	if err := p.st.CreateToken(ctx, t); err != nil {
		return t, canary.Artifact{}, err
	}
	a := canary.Artifact{Path: path, Content: []byte("[core]\n\turl = bait-" + t.Slug + "\n")}
	p.mu.Lock()
	if p.files == nil {
		p.files = map[string][]byte{}
	}
	p.files[t.UUID] = a.Content
	p.mu.Unlock()
	return t, a, nil
}

func (p *fakePlanter) Revoke(ctx context.Context, t canary.Token, _ string) error {
	p.mu.Lock()
	p.revoked = append(p.revoked, t.UUID)
	delete(p.files, t.UUID)
	p.mu.Unlock()
	return p.st.SetTokenState(ctx, t.UUID, canary.StateRevoked)
}

func (p *fakePlanter) Preview(t canary.Token) (canary.Artifact, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return canary.Artifact{Path: t.PlacementPath, Content: p.files[t.UUID]}, nil
}

func canaryEnv(t *testing.T, zone string) (*testEnv, *fakePlanter) {
	t.Helper()
	p := &fakePlanter{zone: zone, running: map[string]bool{"decky-01": true}}
	e := newEnv(t, func(c *Config) {
		c.Canary, c.CanaryHTTPBase, c.CanaryDNSZone = p, "http://canary.example:8088/", zone
	})
	p.st = e.st
	return e, p
}

// TestCanaryTokenRoutes: an admin plants, reads, previews and revokes
// tokens; viewers only read; every refusal names the field to fix.
func TestCanaryTokenRoutes(t *testing.T) {
	e, p := canaryEnv(t, "")
	e.addUser("admin", RoleAdmin, false)
	admin := e.login("admin", testPassword)
	viewer := e.viewerToken()

	rec := e.do("POST", "/api/v1/canary/tokens", admin, `{"decky_name":"decky-01","generator":"git_config","kind":"http"}`)
	if rec.Code != http.StatusCreated {
		t.Fatalf("plant http token: %d %s", rec.Code, rec.Body)
	}
	body := rec.Body.String()
	for _, secret := range []string{"secret_seed", "fingerprint_nonce", "seed-secret-value", "nonce-secret-value", "slug\":"} {
		if strings.Contains(body, secret) {
			t.Errorf("token JSON shows %q: %s", secret, body)
		}
	}
	var tok canaryTokenResponse
	decode(t, rec, &tok)
	if tok.UUID == "" || tok.Kind != canary.KindHTTP || tok.DeckyName != "decky-01" || tok.Generator != "git_config" ||
		tok.PlacementPath != "/root/.git_config" || tok.CallbackURL != "http://canary.example:8088/c/slug0001" ||
		tok.CallbackHost != "" || tok.AccessKeyID != "" || tok.State != canary.StatePlanted || tok.CreatedBy != "admin" ||
		tok.CreatedAt.IsZero() || tok.LastTriggeredAt != nil {
		t.Errorf("planted token = %+v", tok)
	}
	rec = e.do("POST", "/api/v1/canary/tokens", admin, `{"decky_name":"decky-01","generator":"aws_creds","placement_path":"/root/.aws/credentials"}`)
	var aws canaryTokenResponse
	decode(t, rec, &aws)
	if rec.Code != http.StatusCreated || aws.AccessKeyID != "AKIATEST000000000002" || aws.CallbackURL != "" || aws.PlacementPath != "/root/.aws/credentials" {
		t.Errorf("aws token: %d %+v", rec.Code, aws)
	}

	tests := []struct {
		name   string
		method string
		path   string
		token  string
		body   string
		status int
		detail string // a substring of the error's detail
	}{
		{"no token", "GET", "/api/v1/canary/tokens", "", "", http.StatusUnauthorized, ""},
		{"viewer cannot plant", "POST", "/api/v1/canary/tokens", viewer, `{"decky_name":"decky-01","generator":"git_config"}`, http.StatusForbidden, ""},
		{"viewer cannot revoke", "DELETE", "/api/v1/canary/tokens/" + tok.UUID, viewer, "", http.StatusForbidden, ""},
		{"viewer cannot preview", "GET", "/api/v1/canary/tokens/" + tok.UUID + "/preview", viewer, "", http.StatusForbidden, ""},
		{"malformed JSON", "POST", "/api/v1/canary/tokens", admin, `{"decky_name":`, http.StatusBadRequest, ""},
		{"unknown field", "POST", "/api/v1/canary/tokens", admin, `{"decky_name":"decky-01","generator":"git_config","x":1}`, http.StatusBadRequest, "x"},
		{"no decky", "POST", "/api/v1/canary/tokens", admin, `{"generator":"git_config"}`, http.StatusBadRequest, "decky_name"},
		{"no generator", "POST", "/api/v1/canary/tokens", admin, `{"decky_name":"decky-01"}`, http.StatusBadRequest, "generator"},
		{"blob", "POST", "/api/v1/canary/tokens", admin, `{"decky_name":"decky-01","blob_uuid":"b-1"}`, http.StatusUnprocessableEntity, "blob_uuid"},
		{"unknown generator", "POST", "/api/v1/canary/tokens", admin, `{"decky_name":"decky-01","generator":"nope"}`, http.StatusUnprocessableEntity, "generator \"nope\" is unknown"},
		{"wrong kind", "POST", "/api/v1/canary/tokens", admin, `{"decky_name":"decky-01","generator":"git_config","kind":"dns"}`, http.StatusUnprocessableEntity, "kind \"dns\""},
		{"decky not running", "POST", "/api/v1/canary/tokens", admin, `{"decky_name":"decky-09","generator":"git_config"}`, http.StatusUnprocessableEntity, "decky_name \"decky-09\""},
		{"bad path", "POST", "/api/v1/canary/tokens", admin, `{"decky_name":"decky-01","generator":"git_config","placement_path":"/root/../etc/x"}`, http.StatusUnprocessableEntity, "placement_path"},
		{"dns without a zone", "POST", "/api/v1/canary/tokens", admin, `{"decky_name":"decky-01","generator":"ssh_key"}`, http.StatusUnprocessableEntity, "--canary-dns-zone"},
		{"get unknown", "GET", "/api/v1/canary/tokens/nope", viewer, "", http.StatusNotFound, "Canary token not found"},
		{"triggers of unknown", "GET", "/api/v1/canary/tokens/nope/triggers", viewer, "", http.StatusNotFound, ""},
		{"revoke unknown", "DELETE", "/api/v1/canary/tokens/nope", admin, "", http.StatusNotFound, ""},
		{"preview unknown", "GET", "/api/v1/canary/tokens/nope/preview", admin, "", http.StatusNotFound, ""},
		{"bad state filter", "GET", "/api/v1/canary/tokens?state=lost", viewer, "", http.StatusUnprocessableEntity, "state"},
		{"bad kind filter", "GET", "/api/v1/canary/tokens?kind=smtp", viewer, "", http.StatusUnprocessableEntity, "kind"},
		{"limit too high", "GET", "/api/v1/canary/tokens?limit=501", viewer, "", http.StatusUnprocessableEntity, "limit"},
		{"trigger limit too high", "GET", "/api/v1/canary/tokens/" + tok.UUID + "/triggers?limit=501", viewer, "", http.StatusUnprocessableEntity, "limit"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := e.do(tc.method, tc.path, tc.token, tc.body)
			if rec.Code != tc.status {
				t.Fatalf("%s %s: %d %s; want %d", tc.method, tc.path, rec.Code, rec.Body, tc.status)
			}
			if tc.detail != "" && !strings.Contains(detail(t, rec), tc.detail) {
				t.Errorf("detail %q does not name %q", detail(t, rec), tc.detail)
			}
		})
	}

	// Reads, with filters.
	lists := []struct {
		query string
		want  []string
	}{
		{"", []string{aws.UUID, tok.UUID}},
		{"?kind=http", []string{tok.UUID}},
		{"?decky_name=decky-01&state=planted&kind=aws_passive", []string{aws.UUID}},
		{"?decky_name=decky-02", nil},
		{"?limit=1&offset=1", []string{tok.UUID}},
	}
	for _, tc := range lists {
		var got canaryTokenList
		if rec := e.do("GET", "/api/v1/canary/tokens"+tc.query, viewer, ""); rec.Code != http.StatusOK {
			t.Fatalf("list %s: %d %s", tc.query, rec.Code, rec.Body)
		} else {
			decode(t, rec, &got)
		}
		var ids []string
		for _, x := range got.Tokens {
			ids = append(ids, x.UUID)
		}
		if fmt.Sprint(ids) != fmt.Sprint(tc.want) || got.Tokens == nil {
			t.Errorf("list %q = %v (total %d), want %v", tc.query, ids, got.Total, tc.want)
		}
	}
	var one canaryTokenResponse
	if rec := e.do("GET", "/api/v1/canary/tokens/"+tok.UUID, viewer, ""); rec.Code != http.StatusOK {
		t.Fatalf("get: %d", rec.Code)
	} else if decode(t, rec, &one); one.CallbackURL != tok.CallbackURL || one.CreatedBy != "admin" {
		t.Errorf("get = %+v", one)
	}

	// A trigger shows on the token and in its list.
	ctx := context.Background()
	if err := e.st.RecordTrigger(ctx, canary.Trigger{UUID: "tr-1", TokenUUID: tok.UUID, SrcIP: "198.51.100.7", Via: "http",
		UserAgent: "curl/8.5.0", RequestPath: "/c/slug0001", RawHeaders: map[string]string{"User-Agent": "curl/8.5.0"},
		Metrics: []canary.Metric{{Name: "tz_mismatch", Signature: "UTC vs Europe/Berlin"}}}); err != nil {
		t.Fatal(err)
	}
	var trs canaryTriggerList
	if rec := e.do("GET", "/api/v1/canary/tokens/"+tok.UUID+"/triggers", viewer, ""); rec.Code != http.StatusOK {
		t.Fatalf("triggers: %d %s", rec.Code, rec.Body)
	} else {
		decode(t, rec, &trs)
	}
	if trs.Total != 1 || len(trs.Triggers) != 1 || trs.Triggers[0].SrcIP != "198.51.100.7" || trs.Triggers[0].Via != "http" ||
		trs.Triggers[0].Metrics[0].Name != "tz_mismatch" || trs.Triggers[0].RawHeaders["User-Agent"] != "curl/8.5.0" {
		t.Errorf("triggers = %+v", trs)
	}
	decode(t, e.do("GET", "/api/v1/canary/tokens/"+tok.UUID, viewer, ""), &one)
	if one.TriggerCount != 1 || one.LastTriggeredAt == nil {
		t.Errorf("token after a trigger = %+v", one)
	}

	// Preview: the raw bytes, for admins.
	rec = e.do("GET", "/api/v1/canary/tokens/"+tok.UUID+"/preview", admin, "")
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/octet-stream" ||
		rec.Body.String() != "[core]\n\turl = bait-slug0001\n" || !strings.Contains(rec.Header().Get("Content-Disposition"), ".git_config") {
		t.Errorf("preview: %d %q %q %q", rec.Code, rec.Header().Get("Content-Type"), rec.Header().Get("Content-Disposition"), rec.Body)
	}

	// Revoke once; then it is a conflict, and there is nothing to preview.
	if rec := e.do("DELETE", "/api/v1/canary/tokens/"+tok.UUID, admin, ""); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "revoked") {
		t.Fatalf("revoke: %d %s", rec.Code, rec.Body)
	}
	if len(p.revoked) != 1 || p.revoked[0] != tok.UUID {
		t.Errorf("planter revoked %v", p.revoked)
	}
	for _, tc := range []struct{ method, path string }{
		{"DELETE", "/api/v1/canary/tokens/" + tok.UUID},
		{"GET", "/api/v1/canary/tokens/" + tok.UUID + "/preview"},
	} {
		if rec := e.do(tc.method, tc.path, admin, ""); rec.Code != http.StatusConflict {
			t.Errorf("%s %s on a revoked token: %d %s, want 409", tc.method, tc.path, rec.Code, rec.Body)
		}
	}
	if rec := e.do("GET", "/api/v1/canary/tokens?state=revoked", viewer, ""); !strings.Contains(rec.Body.String(), tok.UUID) {
		t.Errorf("revoked list lacks the token: %s", rec.Body)
	}
}

// TestCanaryDNSToken: with a zone, a dns generator plants a token that
// shows its host name.
func TestCanaryDNSToken(t *testing.T) {
	e, _ := canaryEnv(t, "canary.example.org.")
	e.addUser("admin", RoleAdmin, false)
	admin := e.login("admin", testPassword)
	rec := e.do("POST", "/api/v1/canary/tokens", admin, `{"decky_name":"decky-01","generator":"ssh_key","kind":"dns"}`)
	var tok canaryTokenResponse
	decode(t, rec, &tok)
	if rec.Code != http.StatusCreated || tok.CallbackHost != "slug0001.canary.example.org" || tok.CallbackURL != "" {
		t.Errorf("dns token: %d %+v", rec.Code, tok)
	}
}

// TestCanaryDisabled: without a planter the writes answer 503 and say
// why; the reads still answer.
func TestCanaryDisabled(t *testing.T) {
	e := newEnv(t)
	e.addUser("admin", RoleAdmin, false)
	admin := e.login("admin", testPassword)
	if err := e.st.CreateToken(context.Background(), canary.Token{UUID: "t-1", Kind: canary.KindHTTP, DeckyName: "decky-01",
		Generator: "git_config", Slug: "slug0001"}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ method, path, body string }{
		{"POST", "/api/v1/canary/tokens", `{"decky_name":"decky-01","generator":"git_config"}`},
		{"DELETE", "/api/v1/canary/tokens/t-1", ""},
		{"GET", "/api/v1/canary/tokens/t-1/preview", ""},
	} {
		rec := e.do(tc.method, tc.path, admin, tc.body)
		if rec.Code != http.StatusServiceUnavailable || detail(t, rec) != "canary tokens are not enabled" {
			t.Errorf("%s %s: %d %s, want 503", tc.method, tc.path, rec.Code, rec.Body)
		}
	}
	var list canaryTokenList
	if rec := e.do("GET", "/api/v1/canary/tokens", admin, ""); rec.Code != http.StatusOK {
		t.Errorf("list: %d", rec.Code)
	} else if decode(t, rec, &list); list.Total != 1 || list.Tokens[0].CallbackURL != "" {
		t.Errorf("list = %+v (no base configured: no callback_url)", list)
	}
}

// TestCanaryGenerators: viewers see every generator with its kind.
func TestCanaryGenerators(t *testing.T) {
	e := newEnv(t)
	var gens []canaryGeneratorResponse
	rec := e.do("GET", "/api/v1/canary/generators", e.viewerToken(), "")
	if rec.Code != http.StatusOK {
		t.Fatalf("generators: %d %s", rec.Code, rec.Body)
	}
	decode(t, rec, &gens)
	kinds := map[string]string{}
	for _, g := range gens {
		kinds[g.Name] = g.Kind
	}
	if len(gens) != len(canary.Generators()) || kinds["git_config"] != canary.KindHTTP || kinds["aws_creds"] != canary.KindAWSPassive {
		t.Errorf("generators = %+v", gens)
	}
}
