package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/decnet-go/decnet/internal/store"
)

func TestUsersAdmin(t *testing.T) {
	e := newEnv(t)
	admin := e.addUser("admin", RoleAdmin, false)
	adminTok := e.login("admin", testPassword)

	// Create: validation first, then the account, then a duplicate.
	creates := []struct {
		name, body string
		status     int
		detail     string
	}{
		{"missing password", `{"username":"bob","role":"viewer"}`, 400, `"password" is required`},
		{"unknown field", `{"username":"bob","password":"long enough pass","role":"viewer","admin":true}`, 400, "unknown field"},
		{"malformed", `{"username":`, 400, "Malformed JSON"},
		{"short password", `{"username":"bob","password":"short","role":"viewer"}`, 422, "password"},
		{"password over 72 bytes", `{"username":"bob","password":"` + strings.Repeat("é", 37) + `","role":"viewer"}`, 422, "password"},
		{"bad role", `{"username":"bob","password":"long enough pass","role":"root"}`, 422, "role"},
		{"empty username", `{"username":"","password":"long enough pass","role":"viewer"}`, 422, "username"},
		{"long username", `{"username":"` + strings.Repeat("u", 65) + `","password":"long enough pass","role":"viewer"}`, 422, "username"},
		{"ok", `{"username":"bob","password":"long enough pass","role":"viewer"}`, 200, ""},
		{"duplicate", `{"username":"bob","password":"another long pass","role":"admin"}`, 409, "exists"},
	}
	for _, tc := range creates {
		t.Run("create "+tc.name, func(t *testing.T) {
			rec := e.do("POST", "/api/v1/config/users", adminTok, tc.body)
			if rec.Code != tc.status {
				t.Fatalf("%d %s, want %d", rec.Code, rec.Body, tc.status)
			}
			if tc.detail != "" && !strings.Contains(detail(t, rec), tc.detail) {
				t.Errorf("detail %q, want %q in it", detail(t, rec), tc.detail)
			}
			if tc.status == 200 {
				var u userResponse
				decode(t, rec, &u)
				if u.Username != "bob" || u.Role != RoleViewer || !u.MustChangePassword || u.UUID == "" {
					t.Errorf("created %+v", u)
				}
				if strings.Contains(rec.Body.String(), "hash") {
					t.Errorf("hash in the answer: %s", rec.Body)
				}
			}
		})
	}
	bob, err := e.st.UserByName(context.Background(), "bob")
	if err != nil {
		t.Fatal(err)
	}

	rec := e.do("GET", "/api/v1/config/users", adminTok, "")
	var users []userResponse
	decode(t, rec, &users)
	if rec.Code != 200 || len(users) != 2 || users[0].Username != "admin" || users[1].Username != "bob" {
		t.Fatalf("list: %d %s", rec.Code, rec.Body)
	}

	// bob changes his password, and may read but not administer.
	bobTok := e.login("bob", "long enough pass")
	if rec := e.do("POST", "/api/v1/auth/change-password", bobTok, `{"old_password":"long enough pass","new_password":"bob's own passphrase"}`); rec.Code != 200 {
		t.Fatalf("bob change-password: %d %s", rec.Code, rec.Body)
	}
	bobTok = e.login("bob", "bob's own passphrase")
	if rec := e.do("GET", "/api/v1/config/users", bobTok, ""); rec.Code != http.StatusForbidden {
		t.Fatalf("viewer lists users: %d", rec.Code)
	}

	// Promotion voids bob's tokens at once; a new login is an admin.
	if rec := e.do("PUT", "/api/v1/config/users/"+bob.UUID+"/role", adminTok, `{"role":"admin"}`); rec.Code != 200 {
		t.Fatalf("promote: %d %s", rec.Code, rec.Body)
	}
	if rec := e.do("GET", "/api/v1/logs", bobTok, ""); rec.Code != http.StatusUnauthorized {
		t.Fatalf("token from before the role change: %d, want 401", rec.Code)
	}
	bobTok = e.login("bob", "bob's own passphrase")
	if rec := e.do("GET", "/api/v1/config/users", bobTok, ""); rec.Code != 200 {
		t.Fatalf("promoted bob lists users: %d %s", rec.Code, rec.Body)
	}
	// …and a demotion takes it away again, immediately, in this process.
	if rec := e.do("PUT", "/api/v1/config/users/"+bob.UUID+"/role", adminTok, `{"role":"viewer"}`); rec.Code != 200 {
		t.Fatalf("demote: %d %s", rec.Code, rec.Body)
	}
	if rec := e.do("GET", "/api/v1/config/users", e.login("bob", "bob's own passphrase"), ""); rec.Code != http.StatusForbidden {
		t.Fatalf("demoted bob lists users: %d", rec.Code)
	}

	// Reset: bob's tokens die, the new password works and must be changed.
	bobTok = e.login("bob", "bob's own passphrase")
	if rec := e.do("PUT", "/api/v1/config/users/"+bob.UUID+"/reset-password", adminTok, `{"new_password":"x"}`); rec.Code != 422 || !strings.Contains(detail(t, rec), "new_password") {
		t.Fatalf("short reset: %d %s", rec.Code, rec.Body)
	}
	if rec := e.do("PUT", "/api/v1/config/users/"+bob.UUID+"/reset-password", adminTok, `{"new_password":"temporary passphrase"}`); rec.Code != 200 {
		t.Fatalf("reset: %d %s", rec.Code, rec.Body)
	}
	if rec := e.do("GET", "/api/v1/logs", bobTok, ""); rec.Code != http.StatusUnauthorized {
		t.Fatalf("token from before the reset: %d, want 401", rec.Code)
	}
	rec = e.do("POST", "/api/v1/auth/login", "", `{"username":"bob","password":"temporary passphrase"}`)
	var lr loginResponse
	decode(t, rec, &lr)
	if rec.Code != 200 || !lr.MustChangePassword {
		t.Fatalf("login after reset: %d %s", rec.Code, rec.Body)
	}

	// Gates on oneself and unknown ids.
	gates := []struct {
		name, method, path, body string
		status                   int
	}{
		{"delete self", "DELETE", "/api/v1/config/users/" + admin.UUID, "", 403},
		{"own role", "PUT", "/api/v1/config/users/" + admin.UUID + "/role", `{"role":"viewer"}`, 403},
		{"role bad value", "PUT", "/api/v1/config/users/" + bob.UUID + "/role", `{"role":"superuser"}`, 422},
		{"role missing", "PUT", "/api/v1/config/users/" + bob.UUID + "/role", `{}`, 400},
		{"role unknown user", "PUT", "/api/v1/config/users/nobody/role", `{"role":"viewer"}`, 404},
		{"reset unknown user", "PUT", "/api/v1/config/users/nobody/reset-password", `{"new_password":"temporary passphrase"}`, 404},
		{"delete unknown user", "DELETE", "/api/v1/config/users/nobody", "", 404},
		{"delete bob", "DELETE", "/api/v1/config/users/" + bob.UUID, "", 200},
		{"delete bob again", "DELETE", "/api/v1/config/users/" + bob.UUID, "", 404},
	}
	for _, tc := range gates {
		t.Run(tc.name, func(t *testing.T) {
			if rec := e.do(tc.method, tc.path, adminTok, tc.body); rec.Code != tc.status {
				t.Fatalf("%d %s, want %d", rec.Code, rec.Body, tc.status)
			}
		})
	}
	if rec := e.do("POST", "/api/v1/auth/login", "", `{"username":"bob","password":"temporary passphrase"}`); rec.Code != http.StatusUnauthorized {
		t.Fatalf("deleted bob logs in: %d", rec.Code)
	}
}

// TestDeletedUserTokenDiesAtOnce: the account cache must not keep a
// deleted user's token alive in this process.
func TestDeletedUserTokenDiesAtOnce(t *testing.T) {
	e := newEnv(t)
	e.addUser("admin", RoleAdmin, false)
	adminTok := e.login("admin", testPassword)
	carol := e.addUser("carol", RoleViewer, false)
	carolTok := e.login("carol", testPassword)
	if rec := e.do("GET", "/api/v1/logs", carolTok, ""); rec.Code != 200 { // now cached
		t.Fatalf("carol reads: %d", rec.Code)
	}
	if rec := e.do("DELETE", "/api/v1/config/users/"+carol.UUID, adminTok, ""); rec.Code != 200 {
		t.Fatalf("delete: %d %s", rec.Code, rec.Body)
	}
	if rec := e.do("GET", "/api/v1/logs", carolTok, ""); rec.Code != http.StatusUnauthorized {
		t.Fatalf("deleted user's token: %d, want 401", rec.Code)
	}
}

// TestLastAdmin: the store refuses to remove or demote the only admin, even
// when the API's own-account checks are bypassed (two admins racing).
func TestLastAdmin(t *testing.T) {
	e := newEnv(t)
	a := e.addUser("a", RoleAdmin, false)
	b := e.addUser("b", RoleAdmin, false)
	ctx := context.Background()
	if err := e.st.DeleteUser(ctx, b.UUID); err != nil {
		t.Fatal(err)
	}
	if err := e.st.DeleteUser(ctx, a.UUID); !errors.Is(err, store.ErrLastAdmin) {
		t.Fatalf("delete last admin: %v", err)
	}
	if err := e.st.SetRole(ctx, a.UUID, RoleViewer, 0); !errors.Is(err, store.ErrLastAdmin) {
		t.Fatalf("demote last admin: %v", err)
	}
	if err := e.st.SetRole(ctx, a.UUID, RoleAdmin, 0); err != nil {
		t.Fatalf("re-grant admin to the last admin: %v", err)
	}
	if got := userError(store.ErrLastAdmin); got != errLastAdmin {
		t.Fatalf("ErrLastAdmin maps to %v", got)
	}
	if s, _ := statusOf(errLastAdmin); s != http.StatusConflict {
		t.Fatalf("last admin status %d", s)
	}
}

func TestConfigRoutes(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.DeploymentLimit = 7 })
	e.addUser("admin", RoleAdmin, false)
	adminTok := e.login("admin", testPassword)
	viewerTok := e.viewerToken()

	var cfg map[string]any
	rec := e.do("GET", "/api/v1/config", viewerTok, "")
	decode(t, rec, &cfg)
	if rec.Code != 200 || cfg["role"] != RoleViewer || cfg["deployment_limit"] != float64(7) {
		t.Fatalf("viewer config: %d %s", rec.Code, rec.Body)
	}
	if _, ok := cfg["users"]; ok {
		t.Fatalf("a viewer sees the accounts: %s", rec.Body)
	}
	tests := []struct {
		name, body string
		status     int
	}{
		{"zero", `{"deployment_limit":0}`, 422},
		{"over 500", `{"deployment_limit":501}`, 422},
		{"string", `{"deployment_limit":"12"}`, 400},
		{"missing", `{}`, 400},
		{"ok", `{"deployment_limit":42}`, 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := e.do("PUT", "/api/v1/config/deployment-limit", adminTok, tc.body)
			if rec.Code != tc.status {
				t.Fatalf("%d %s, want %d", rec.Code, rec.Body, tc.status)
			}
			if tc.status == 422 && !strings.Contains(detail(t, rec), "deployment_limit") {
				t.Errorf("detail %q does not name the field", detail(t, rec))
			}
		})
	}
	if rec := e.do("PUT", "/api/v1/config/deployment-limit", viewerTok, `{"deployment_limit":3}`); rec.Code != 403 {
		t.Fatalf("viewer sets the limit: %d", rec.Code)
	}
	rec = e.do("GET", "/api/v1/config", adminTok, "")
	cfg = nil
	decode(t, rec, &cfg)
	if cfg["deployment_limit"] != float64(42) || cfg["role"] != RoleAdmin {
		t.Fatalf("admin config after PUT: %s", rec.Body)
	}
	if users, ok := cfg["users"].([]any); !ok || len(users) != 2 {
		t.Fatalf("admin config lists %v", cfg["users"])
	}
	if n, err := e.srv.deploymentLimit(context.Background()); err != nil || n != 42 {
		t.Fatalf("deploys would use limit %d (%v), want 42", n, err)
	}
}

// TestDeployUsesStoredLimit: a limit set through the API bounds deploys.
func TestDeployUsesStoredLimit(t *testing.T) {
	e, admin, _, _ := liveEnv(t, newFakeDeployer())
	t.Cleanup(func() { Drain(e.srv) })
	if rec := e.do("PUT", "/api/v1/config/deployment-limit", admin, `{"deployment_limit":1}`); rec.Code != 200 {
		t.Fatalf("set limit: %d %s", rec.Code, rec.Body)
	}
	ini := "[decky-05]\nservices=ssh\n[decky-06]\nservices=ssh\n"
	rec := e.do("POST", "/api/v1/deckies/deploy", admin, fmt.Sprintf(`{"ini_content":%q}`, ini))
	if rec.Code != http.StatusConflict || !strings.Contains(detail(t, rec), "at most 1") {
		t.Fatalf("deploy of 2 under a limit of 1: %d %s", rec.Code, rec.Body)
	}
}
