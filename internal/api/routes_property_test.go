package api

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/decnet-go/decnet/internal/store"
)

// The property every route must hold, whatever a client sends: no 5xx (a
// panic would be one: the server turns it into a 500), errors always
// {"detail": …} in JSON, and the auth gates hold — no token, a forged,
// expired, revoked or orphaned token, or one minted before the user's
// cut-off is 401 on every route that needs one; a viewer is 403 on every
// admin route; an admin is never refused.

// tokenKind is what a probe sends as its bearer token.
type tokenKind uint8

const (
	tokNone tokenKind = iota
	tokGarbage
	tokForged
	tokExpired
	tokRevoked
	tokDeletedUser
	tokBeforeCutoff
	tokViewer
	tokAdmin
	tokMustChange
	tokenKinds
)

func (k tokenKind) String() string {
	return [...]string{"none", "garbage", "forged", "expired", "revoked", "deleted-user", "before-cutoff",
		"viewer", "admin", "must-change"}[k]
}

// refused reports whether the token must be a 401 wherever one is needed.
func (k tokenKind) refused() bool { return k < tokViewer }

// propEnv is an API with data, a fake fleet and an account of every kind.
type propEnv struct {
	*testEnv
	admin, viewer, mustChange store.User
	fixed                     map[tokenKind]string // tokens that do not change per probe
	params                    []string             // path parameter values worth trying
	access                    map[string]string    // route pattern → access in routeDocs
}

func newPropEnv(t testing.TB) *propEnv {
	f := newFakeDeployer()
	pl := &fakePlanter{running: map[string]bool{"decky-01": true}} // canary writes answer 503 without one
	e := newEnv(t, func(c *Config) { c.Fleet, c.Canary = f, pl })
	pl.st = e.st
	t.Cleanup(func() { Drain(e.srv) })
	e.seed()
	p := &propEnv{testEnv: e, fixed: map[tokenKind]string{}, access: map[string]string{}}
	p.admin = e.addUser("admin", RoleAdmin, false)
	p.viewer = e.addUser("viewer", RoleViewer, false)
	p.mustChange = e.addUser("newcomer", RoleAdmin, true)
	victim := e.addUser("victim", RoleViewer, false) // the one user probes may change or delete
	p.fixed[tokNone] = ""
	p.fixed[tokGarbage] = "not-a-token"
	p.fixed[tokForged] = signToken(t, []byte("another-secret-that-is-long-enough!!"), validClaims(p.admin))
	expired := validClaims(p.admin)
	expired["iat"], expired["exp"] = time.Now().Add(-2*time.Hour).Unix(), time.Now().Add(-time.Hour).Unix()
	p.fixed[tokExpired] = signToken(t, testSecret, expired)
	revoked := e.login("admin", testPassword)
	if rec := e.do("POST", "/api/v1/auth/logout", revoked, ""); rec.Code != http.StatusOK {
		t.Fatalf("logout: %d", rec.Code)
	}
	p.fixed[tokRevoked] = revoked
	ghost := e.addUser("ghost", RoleAdmin, false)
	p.fixed[tokDeletedUser] = signToken(t, testSecret, validClaims(ghost))
	if err := e.st.DeleteUser(context.Background(), ghost.UUID); err != nil {
		t.Fatal(err)
	}
	stale := validClaims(p.admin)
	stale["iat"] = time.Now().Add(-time.Minute).Unix()
	p.fixed[tokBeforeCutoff] = signToken(t, testSecret, stale)
	// The cut-off of the user "cutoff" lies after that token's iat.
	cut := e.addUser("cutoff", RoleAdmin, false)
	stale["uuid"] = cut.UUID
	p.fixed[tokBeforeCutoff] = signToken(t, testSecret, stale)
	if err := e.st.SetPassword(context.Background(), cut.UUID, cut.PasswordHash, false, time.Now().Unix()); err != nil {
		t.Fatal(err)
	}

	p.params = []string{"", "x", uuid.NewString(), victim.UUID, e.attackerUUID("198.51.100.7"), "decky-01", "decky-02",
		"ssh", "http", "sniffer", "..", "%2e%2e", "a b", strings.Repeat("z", 600), "'; DROP TABLE users;--", "\x00", "é", "1e309"}
	for pattern, d := range routeDocs {
		p.access[pattern] = d.access
	}
	return p
}

// token is the bearer token of kind k for one probe. Valid tokens are
// minted afresh for each, so a probe that logs out or changes a password
// cannot change what the next probe sends.
func (p *propEnv) token(t testing.TB, k tokenKind) string {
	switch k {
	case tokViewer:
		return signToken(t, testSecret, validClaims(p.viewer))
	case tokAdmin:
		return signToken(t, testSecret, validClaims(p.admin))
	case tokMustChange:
		return signToken(t, testSecret, validClaims(p.mustChange))
	}
	return p.fixed[k]
}

// probe is one request to one route.
type probe struct {
	pattern     string
	method      string // "" for the route's own
	tok         tokenKind
	param       string
	query       string
	body        string
	contentType string
}

// send makes the request of pr and checks the property; it returns the
// status for callers that want more.
func (p *propEnv) send(t testing.TB, pr probe) int {
	t.Helper()
	method, path, _ := strings.Cut(pr.pattern, " ")
	if pr.method != "" {
		method = pr.method
	}
	path = pathParam.ReplaceAllLiteralString(path, pr.param)
	r := httptest.NewRequest(method, "/", strings.NewReader(pr.body))
	if pr.body == "" {
		r = httptest.NewRequest(method, "/", nil)
	}
	r.URL.Path, r.URL.RawPath, r.URL.RawQuery = path, "", pr.query
	r.RequestURI = r.URL.RequestURI()
	if pr.contentType != "" {
		r.Header.Set("Content-Type", pr.contentType)
	}
	if tok := p.token(t, pr.tok); tok != "" {
		r.Header.Set("Authorization", "Bearer "+tok)
	}
	// A stream that opens ends at its first flush; a deadline would race
	// with the auth lookups (and turn them into 503s), so only a generous
	// one guards against a hang.
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	r = r.WithContext(ctx)
	rec := httptest.NewRecorder()
	p.srv.ServeHTTP(cancelOnFlush{rec, cancel}, r) // a panic escaping here fails the test too
	code := rec.Code
	what := fmt.Sprintf("%s %q token=%s query=%q body=%.200q ct=%q → %d %.300s", method, path, pr.tok, pr.query, pr.body, pr.contentType, code, rec.Body)

	if code >= 500 {
		t.Fatalf("5xx: %s", what)
	}
	if code >= 400 {
		var b struct {
			Detail *string `json:"detail"`
		}
		if rec.Header().Get("Content-Type") != "application/json" || json.Unmarshal(rec.Body.Bytes(), &b) != nil || b.Detail == nil || *b.Detail == "" {
			t.Fatalf("error without a JSON detail: %s", what)
		}
	}
	// The auth gates hold only where the route itself was reached.
	if pr.method != "" && pr.method != strings.SplitN(pr.pattern, " ", 2)[0] {
		return code
	}
	if _, matched := p.srv.mux.Handler(r); matched != pr.pattern {
		return code // the parameter changed which route it is (e.g. "a/b")
	}
	if code >= 300 && code < 400 {
		return code // the mux redirected to the clean path; no handler ran
	}
	access := p.access[pr.pattern]
	switch {
	case access == "none":
	case pr.tok.refused():
		if code != http.StatusUnauthorized && code != http.StatusUnsupportedMediaType {
			t.Fatalf("refused token not 401: %s", what)
		}
	case pr.tok == tokMustChange && access != "token":
		if code != http.StatusForbidden && code != http.StatusUnsupportedMediaType {
			t.Fatalf("must-change token not 403: %s", what)
		}
	case pr.tok == tokViewer && access == "admin":
		if code != http.StatusForbidden && code != http.StatusUnsupportedMediaType {
			t.Fatalf("viewer reached an admin route: %s", what)
		}
	case pr.tok == tokViewer || pr.tok == tokAdmin:
		if code == http.StatusUnauthorized && !strings.HasSuffix(pr.pattern, "/change-password") {
			t.Fatalf("valid token refused: %s", what)
		}
		if code == http.StatusForbidden && pr.tok == tokAdmin {
			t.Fatalf("admin refused: %s", what)
		}
	}
	return code
}

// cancelOnFlush ends a request when its handler first flushes: a stream
// that got that far has passed every check worth probing.
type cancelOnFlush struct {
	*httptest.ResponseRecorder
	cancel context.CancelFunc
}

func (c cancelOnFlush) Flush() {
	c.ResponseRecorder.Flush()
	c.cancel()
}

// Vocabularies the random probes draw from.
var (
	propKeys = []string{"username", "password", "role", "old_password", "new_password", "deployment_limit",
		"ini_content", "yaml_content", "replace_fleet", "name", "config", "decky_name", "topology_id", "path",
		"content_b64", "mode", "mtime_offset", "unknown"}
	propValues = []string{`""`, `"x"`, `"admin"`, `"viewer"`, `"root"`, `"a perfectly long password"`,
		`"` + strings.Repeat("p", 73) + `"`, `"` + strings.Repeat("é", 40) + `"`, `0`, `-1`, `1`, `10`, `501`,
		`1e400`, `9223372036854775808`, `true`, `null`, `[]`, `{}`, `{"server_header":"nginx"}`, `{"k":{"n":[1]}}`,
		`"[d1]\nservices=ssh\n"`, `"[d2]\nip=127.42.0.99\nservices=ssh\n"`, `"/root/a.txt"`, `"../../etc/passwd"`,
		`"aGVsbG8="`, `"!!notbase64"`, `"\u0000"`, `511`, `4096`}
	propBodies = []string{"", "{", "}", "[]", "null", "0", `"s"`, "{}{}", `{"a":1}x`, "\xff\xfe", `{"username":}`,
		strings.Repeat("[", 10000), `{"deployment_limit":"12"}`}
	propQueryKeys = []string{"limit", "offset", "search", "service", "attacker_ip", "sort_by", "start_time",
		"end_time", "interval_minutes", "ids", "lastEventId", "ticket", "token"}
	propQueryValues = []string{"", "0", "1", "-1", "50", "200", "201", "1000", "1001", "2147483648", "x", "null",
		"undefined", "NULL", "recent", "active", "traversals", "sideways", "2026-05-01T10:00:00Z", "2026-05-01 10:00:00",
		"2026-13-45", strings.Repeat("s", 513), "%zz", "service:ssh wget", "43200", "43201", "1e3"}
	propContentTypes = []string{"", "application/json", "application/json; charset=utf-8", "text/plain",
		"multipart/form-data", "application/jsonx", ";;"}
	propMethods = []string{"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"}
)

func (p *propEnv) randomProbe(rnd *rand.Rand) probe {
	pick := func(s []string) string { return s[rnd.IntN(len(s))] }
	pr := probe{
		pattern: p.srv.routeList[rnd.IntN(len(p.srv.routeList))],
		tok:     tokenKind(rnd.IntN(int(tokenKinds))),
		param:   pick(p.params),
	}
	if rnd.IntN(2) == 0 { // half the probes carry a token that is good
		pr.tok = []tokenKind{tokViewer, tokAdmin, tokAdmin, tokMustChange}[rnd.IntN(4)]
	}
	if rnd.IntN(10) == 0 {
		pr.method = pick(propMethods)
	}
	pr.contentType = "application/json"
	if rnd.IntN(5) == 0 {
		pr.contentType = pick(propContentTypes)
	}
	var q []string
	for range rnd.IntN(4) {
		q = append(q, url.QueryEscape(pick(propQueryKeys))+"="+url.QueryEscape(pick(propQueryValues)))
	}
	if rnd.IntN(8) == 0 {
		q = append(q, pick(propQueryValues)) // raw, possibly malformed
	}
	pr.query = strings.Join(q, "&")
	switch rnd.IntN(3) {
	case 0:
		pr.body = pick(propBodies)
	default:
		var kv []string
		for range rnd.IntN(5) {
			kv = append(kv, fmt.Sprintf("%q:%s", pick(propKeys), pick(propValues)))
		}
		pr.body = "{" + strings.Join(kv, ",") + "}"
	}
	return pr
}

// TestRoutesProperty sends thousands of random and malformed requests to
// every route with every kind of token.
func TestRoutesProperty(t *testing.T) {
	p := newPropEnv(t)
	rnd := rand.New(rand.NewPCG(5, 2026))
	n := 6000
	if testing.Short() {
		n = 600
	}
	byStatus := map[int]int{}
	for range n {
		byStatus[p.send(t, p.randomProbe(rnd))]++
	}
	t.Logf("%d probes by status: %v", n, byStatus)
	if byStatus[http.StatusOK] == 0 || byStatus[http.StatusUnprocessableEntity] == 0 || byStatus[http.StatusBadRequest] == 0 {
		t.Errorf("the random probes miss whole classes of answers: %v", byStatus)
	}
}

// TestRoutesAuthGates is the deterministic half: every route, every kind of
// token, a harmless request — so each gate is exercised on each route
// whatever the random draw.
func TestRoutesAuthGates(t *testing.T) {
	p := newPropEnv(t)
	for _, pattern := range p.srv.routeList {
		for k := range tokenKinds {
			for _, body := range []string{"", "{}"} {
				ct := ""
				if body != "" {
					ct = "application/json"
				}
				p.send(t, probe{pattern: pattern, tok: k, param: "decky-01", body: body, contentType: ct})
			}
		}
	}
}

// FuzzRoutes lets `go test -fuzz=FuzzRoutes ./internal/api/` search for a
// request that breaks the property.
func FuzzRoutes(f *testing.F) {
	f.Add(uint16(0), uint8(tokAdmin), "decky-01", "limit=5", `{"username":"a","password":"b"}`, uint8(1))
	f.Add(uint16(3), uint8(tokViewer), "x", "search=%zz", "{", uint8(1))
	f.Add(uint16(7), uint8(tokNone), "", "", "", uint8(0))
	f.Add(uint16(20), uint8(tokAdmin), "ssh", "sort_by=active&limit=1001", `{"role":"admin"}`, uint8(3))
	f.Add(uint16(25), uint8(tokMustChange), "..", "start_time=2026-01-01", `[]`, uint8(2))
	p := newPropEnv(f)
	f.Fuzz(func(t *testing.T, route uint16, tok uint8, param, query, body string, ct uint8) {
		p.send(t, probe{
			pattern:     p.srv.routeList[int(route)%len(p.srv.routeList)],
			tok:         tokenKind(tok % uint8(tokenKinds)),
			param:       param,
			query:       query,
			body:        body,
			contentType: propContentTypes[int(ct)%len(propContentTypes)],
		})
	})
}
