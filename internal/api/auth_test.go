package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/decnet-go/decnet/internal/store"
)

func TestLogin(t *testing.T) {
	e := newEnv(t)
	e.addUser("alice", RoleViewer, false)
	long := strings.Repeat("x", 73)
	tests := []struct {
		name        string
		contentType string
		body        string
		status      int
		detail      string // substring of the error detail
	}{
		{"ok", "application/json", `{"username":"alice","password":"` + testPassword + `"}`, 200, ""},
		{"charset in content type", "application/json; charset=utf-8", `{"username":"alice","password":"` + testPassword + `"}`, 200, ""},
		{"wrong password", "application/json", `{"username":"alice","password":"nope nope nope"}`, 401, "Incorrect username or password"},
		{"unknown user", "application/json", `{"username":"mallory","password":"` + testPassword + `"}`, 401, "Incorrect username or password"},
		{"password over 72 bytes", "application/json", `{"username":"alice","password":"` + long + `"}`, 422, "password"},
		{"missing password", "application/json", `{"username":"alice"}`, 400, `"password"`},
		{"unknown field", "application/json", `{"username":"alice","password":"x","otp":"1"}`, 400, `"otp"`},
		{"wrong type", "application/json", `{"username":1,"password":"x"}`, 400, `"username"`},
		{"malformed json", "application/json", `{"username":`, 400, "Malformed JSON"},
		{"two objects", "application/json", `{"username":"a","password":"b"}{}`, 400, "single JSON object"},
		{"not json", "text/plain", `username=alice`, 415, "application/json"},
		{"no content type", "", `{"username":"alice"}`, 415, "application/json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptestRequest("POST", "/api/v1/auth/login", tc.body)
			if tc.contentType != "" {
				r.Header.Set("Content-Type", tc.contentType)
			}
			rec := serve(e, r)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			if got := rec.Header().Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", got)
			}
			if tc.status != 200 {
				if d := detail(t, rec); !strings.Contains(d, tc.detail) {
					t.Errorf("detail %q, want it to contain %q", d, tc.detail)
				}
				return
			}
			var resp loginResponse
			decode(t, rec, &resp)
			if resp.TokenType != "bearer" || resp.AccessToken == "" || resp.MustChangePassword {
				t.Errorf("login response %+v", resp)
			}
		})
	}
}

func TestLoginTokenClaims(t *testing.T) {
	e := newEnv(t)
	u := e.addUser("alice", RoleViewer, false)
	tok := e.login("alice", testPassword)
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q is not a JWS", tok)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatal(err)
	}
	if c["uuid"] != u.UUID || c["iss"] != "decnet" || c["typ"] != "access" || len(c["jti"].(string)) != 32 {
		t.Errorf("claims %v", c)
	}
	if _, ok := c["sub"]; ok {
		t.Errorf("claims carry sub: %v", c)
	}
	exp, iat := int64(c["exp"].(float64)), int64(c["iat"].(float64))
	if d := time.Duration(exp-iat) * time.Second; d != DefaultTokenTTL {
		t.Errorf("token lives %v, want %v", d, DefaultTokenTTL)
	}
}

func TestLoginRateLimit(t *testing.T) {
	e := newEnv(t)
	for i := range loginLimit {
		rec := e.do("POST", "/api/v1/auth/login", "", fmt.Sprintf(`{"username":"u%d","password":"x"}`, i))
		if rec.Code != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i+1, rec.Code)
		}
	}
	rec := e.do("POST", "/api/v1/auth/login", "", `{"username":"fresh","password":"x"}`)
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("attempt %d from one address: %d (Retry-After %q), want 429", loginLimit+1, rec.Code, rec.Header().Get("Retry-After"))
	}

	// The per-user limit holds across addresses.
	e = newEnv(t)
	for i := range loginLimit + 1 {
		r := httptestRequest("POST", "/api/v1/auth/login", `{"username":"alice","password":"x"}`)
		r.Header.Set("Content-Type", "application/json")
		r.RemoteAddr = fmt.Sprintf("192.0.2.%d:1234", i+1)
		rec := serve(e, r)
		want := http.StatusUnauthorized
		if i == loginLimit {
			want = http.StatusTooManyRequests
		}
		if rec.Code != want {
			t.Fatalf("attempt %d on one user name: %d, want %d", i+1, rec.Code, want)
		}
	}
}

// readRoutes are every route a viewer reads; all must refuse a user who
// has to change the password first.
var readRoutes = []struct{ method, path string }{
	{"GET", "/api/v1/logs"},
	{"GET", "/api/v1/stats"},
	{"GET", "/api/v1/attackers"},
	{"GET", "/api/v1/attackers/ATTACKER"},
	{"GET", "/api/v1/attackers/ATTACKER/commands"},
	{"GET", "/api/v1/credentials"},
	{"GET", "/api/v1/sessions"},
	{"GET", "/api/v1/deckies"},
	{"GET", "/api/v1/health"},
	{"GET", "/api/v1/stream"},
	{"POST", "/api/v1/auth/sse-ticket"},
}

func TestMustChangePasswordFlow(t *testing.T) {
	e := newEnv(t)
	e.seed()
	attacker := e.attackerUUID("198.51.100.7")
	created, _, err := EnsureAdmin(context.Background(), e.st, testPassword)
	if err != nil || !created {
		t.Fatalf("EnsureAdmin: %v %v", created, err)
	}
	rec := e.do("POST", "/api/v1/auth/login", "", `{"username":"admin","password":"`+testPassword+`"}`)
	var lr loginResponse
	decode(t, rec, &lr)
	if !lr.MustChangePassword {
		t.Fatal("first login of the admin does not demand a password change")
	}
	old := lr.AccessToken

	for _, rt := range readRoutes {
		path := strings.Replace(rt.path, "ATTACKER", attacker, 1)
		t.Run("blocked "+rt.method+" "+path, func(t *testing.T) {
			rec := e.do(rt.method, path, old, "")
			if rec.Code != http.StatusForbidden || detail(t, rec) != "Password change required before accessing this resource" {
				t.Fatalf("%d %s, want 403 password change required", rec.Code, rec.Body)
			}
		})
	}

	changes := []struct {
		name, body string
		status     int
		detail     string
	}{
		{"wrong old password", `{"old_password":"not the password","new_password":"a brand new secret"}`, 401, "Incorrect old password"},
		{"new too short", `{"old_password":"` + testPassword + `","new_password":"short"}`, 422, "new_password"},
		{"new too long", `{"old_password":"` + testPassword + `","new_password":"` + strings.Repeat("é", 37) + `"}`, 422, "new_password"},
		{"new equals old", `{"old_password":"` + testPassword + `","new_password":"` + testPassword + `"}`, 422, "new_password"},
		{"missing new", `{"old_password":"` + testPassword + `"}`, 400, "new_password"},
		{"ok", `{"old_password":"` + testPassword + `","new_password":"a brand new secret"}`, 200, ""},
	}
	for i, tc := range changes {
		t.Run("change-password "+tc.name, func(t *testing.T) {
			r := httptestRequest("POST", "/api/v1/auth/change-password", tc.body)
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set("Authorization", "Bearer "+old)
			r.RemoteAddr = fmt.Sprintf("192.0.2.%d:1234", i+1) // stay under the 5/min per-address limit
			rec := serve(e, r)
			if rec.Code != tc.status {
				t.Fatalf("%d %s, want %d", rec.Code, rec.Body, tc.status)
			}
			if tc.detail != "" && !strings.Contains(detail(t, rec), tc.detail) {
				t.Errorf("detail %q, want %q in it", detail(t, rec), tc.detail)
			}
		})
	}

	if rec := e.do("GET", "/api/v1/logs", old, ""); rec.Code != http.StatusUnauthorized {
		t.Fatalf("token from before the change: %d, want 401", rec.Code)
	}
	if rec := e.do("POST", "/api/v1/auth/login", "", `{"username":"admin","password":"`+testPassword+`"}`); rec.Code != http.StatusUnauthorized {
		t.Fatalf("old password still logs in: %d", rec.Code)
	}
	fresh := e.login("admin", "a brand new secret")
	for _, rt := range readRoutes {
		if rt.path == "/api/v1/stream" {
			continue // streams until the client leaves; see TestStream
		}
		path := strings.Replace(rt.path, "ATTACKER", attacker, 1)
		if rec := e.do(rt.method, path, fresh, ""); rec.Code != http.StatusOK {
			t.Errorf("%s %s after the change: %d %s", rt.method, path, rec.Code, rec.Body)
		}
	}
}

func TestLogoutRevokesToken(t *testing.T) {
	e := newEnv(t)
	tok := e.viewerToken()
	other := e.login("viewer", testPassword)
	if rec := e.do("POST", "/api/v1/auth/logout", tok, ""); rec.Code != http.StatusOK {
		t.Fatalf("logout: %d %s", rec.Code, rec.Body)
	}
	if rec := e.do("GET", "/api/v1/logs", tok, ""); rec.Code != http.StatusUnauthorized {
		t.Errorf("revoked token reads logs: %d", rec.Code)
	}
	if rec := e.do("POST", "/api/v1/auth/logout", tok, ""); rec.Code != http.StatusUnauthorized {
		t.Errorf("second logout: %d, want 401", rec.Code)
	}
	if rec := e.do("GET", "/api/v1/logs", other, ""); rec.Code != http.StatusOK {
		t.Errorf("another token of the same user died with it: %d", rec.Code)
	}
}

func TestTokenValidation(t *testing.T) {
	e := newEnv(t)
	u := e.addUser("alice", RoleViewer, false)
	with := func(change func(map[string]any)) string {
		c := validClaims(u)
		change(c)
		return signToken(t, testSecret, c)
	}
	ghost := store.User{UUID: "00000000-0000-0000-0000-000000000000"}
	tests := []struct {
		name   string
		header string
	}{
		{"no header", ""},
		{"basic scheme", "Basic YWxpY2U6cHc="},
		{"bearer without token", "Bearer "},
		{"garbage", "Bearer not.a.jwt"},
		{"expired", "Bearer " + with(func(c map[string]any) { c["exp"] = time.Now().Add(-time.Minute).Unix() })},
		{"forged signature", "Bearer " + signToken(t, []byte("some-other-secret-of-32-bytes-or-more"), validClaims(u))},
		{"wrong audience", "Bearer " + with(func(c map[string]any) { c["aud"] = "someone-else" })},
		{"wrong issuer", "Bearer " + with(func(c map[string]any) { c["iss"] = "evil" })},
		{"refresh type", "Bearer " + with(func(c map[string]any) { c["typ"] = "refresh" })},
		{"no jti", "Bearer " + with(func(c map[string]any) { delete(c, "jti") })},
		{"no iat", "Bearer " + with(func(c map[string]any) { delete(c, "iat") })},
		{"no exp", "Bearer " + with(func(c map[string]any) { delete(c, "exp") })},
		{"no uuid", "Bearer " + with(func(c map[string]any) { delete(c, "uuid") })},
		{"iat in the future", "Bearer " + with(func(c map[string]any) { c["iat"] = time.Now().Add(time.Hour).Unix() })},
		{"unknown user", "Bearer " + signToken(t, testSecret, validClaims(ghost))},
		{"alg none", "Bearer " + unsignedToken(validClaims(u))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptestRequest("GET", "/api/v1/logs", "")
			if tc.header != "" {
				r.Header.Set("Authorization", tc.header)
			}
			rec := serve(e, r)
			if rec.Code != http.StatusUnauthorized {
				t.Fatalf("%d %s, want 401", rec.Code, rec.Body)
			}
			if d := detail(t, rec); d != "Could not validate credentials" {
				t.Errorf("detail %q", d)
			}
			if h := rec.Header().Get("WWW-Authenticate"); h != "Bearer" {
				t.Errorf("WWW-Authenticate %q", h)
			}
		})
	}
	// The control: the same construction with nothing changed is accepted.
	if rec := e.do("GET", "/api/v1/logs", with(func(map[string]any) {}), ""); rec.Code != http.StatusOK {
		t.Fatalf("valid hand-made token refused: %d %s", rec.Code, rec.Body)
	}
}

func TestTokenCutoff(t *testing.T) {
	e := newEnv(t)
	u := e.addUser("alice", RoleViewer, false)
	tok := e.login("alice", testPassword)
	// An admin reset (or a change elsewhere) moves the cut-off past this token.
	if err := e.st.SetPassword(context.Background(), u.UUID, u.PasswordHash, false, tokenCutoff(time.Now())); err != nil {
		t.Fatal(err)
	}
	if rec := e.do("GET", "/api/v1/logs", tok, ""); rec.Code != http.StatusUnauthorized {
		t.Fatalf("token minted before the cut-off: %d, want 401", rec.Code)
	}
	// A login in the same second as the cut-off works at once.
	if rec := e.do("GET", "/api/v1/logs", e.login("alice", testPassword), ""); rec.Code != http.StatusOK {
		t.Fatalf("token minted after the cut-off: %d, want 200", rec.Code)
	}
}

func TestRoles(t *testing.T) {
	e := newEnv(t)
	for _, role := range []string{RoleViewer, RoleAdmin, "guest"} {
		e.addUser(role+"-user", role, false)
	}
	tests := []struct {
		role   string
		status int
	}{
		{RoleViewer, 200},
		{RoleAdmin, 200},
		{"guest", 403},
	}
	for _, tc := range tests {
		t.Run(tc.role, func(t *testing.T) {
			tok := e.login(tc.role+"-user", testPassword)
			rec := e.do("GET", "/api/v1/logs", tok, "")
			if rec.Code != tc.status {
				t.Fatalf("%d %s, want %d", rec.Code, rec.Body, tc.status)
			}
			if tc.status == 403 && detail(t, rec) != "Insufficient permissions" {
				t.Errorf("detail %q", detail(t, rec))
			}
		})
	}
	if roleAllows(RoleViewer, RoleAdmin) || !roleAllows(RoleAdmin, RoleAdmin) || roleAllows(RoleAdmin, "root") {
		t.Error("roleAllows: admin must include viewer and nothing else")
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"good", Config{JWTSecret: testSecret}, true},
		{"no secret", Config{}, false},
		{"short secret", Config{JWTSecret: []byte("short")}, false},
		{"negative ttl", Config{JWTSecret: testSecret, TokenTTL: -time.Second}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if (err == nil) != tc.ok {
				t.Fatalf("Validate() = %v", err)
			}
			if err != nil && tc.name != "negative ttl" && !strings.Contains(err.Error(), "DECNET_JWT_SECRET") {
				t.Errorf("error does not name the setting: %v", err)
			}
		})
	}
}
