package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"golang.org/x/crypto/bcrypt"

	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/store"
)

var testSecret = []byte("test-secret-0123456789-abcdefghijklmnop")

const testPassword = "correct horse battery"

func TestMain(m *testing.M) {
	bcryptCost = bcrypt.MinCost // cost 12 would make the suite take minutes
	os.Exit(m.Run())
}

// testEnv is an API over a fresh SQLite store.
type testEnv struct {
	t   testing.TB
	st  *store.Store
	srv *server
}

func newEnv(t testing.TB, cfgs ...func(*Config)) *testEnv {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "decnet.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg := Config{JWTSecret: testSecret, Version: "test"}
	for _, f := range cfgs {
		f(&cfg)
	}
	return &testEnv{t: t, st: st, srv: newServer(cfg, st)}
}

// addUser creates an account with testPassword.
func (e *testEnv) addUser(name, role string, mustChange bool) store.User {
	e.t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte(testPassword), bcryptCost)
	if err != nil {
		e.t.Fatal(err)
	}
	u := store.User{UUID: uuid.NewString(), Username: name, PasswordHash: string(hash), Role: role, MustChangePassword: mustChange}
	if err := e.st.CreateUser(context.Background(), u); err != nil {
		e.t.Fatal(err)
	}
	return u
}

// login returns a token for name, failing the test otherwise.
func (e *testEnv) login(name, password string) string {
	e.t.Helper()
	rec := e.do("POST", "/api/v1/auth/login", "", fmt.Sprintf(`{"username":%q,"password":%q}`, name, password))
	if rec.Code != http.StatusOK {
		e.t.Fatalf("login %s: %d %s", name, rec.Code, rec.Body)
	}
	var resp loginResponse
	decode(e.t, rec, &resp)
	return resp.AccessToken
}

// viewerToken creates a viewer and logs it in.
func (e *testEnv) viewerToken() string {
	e.t.Helper()
	e.addUser("viewer", RoleViewer, false)
	return e.login("viewer", testPassword)
}

// do sends a request through the handler; a non-empty body is JSON.
func (e *testEnv) do(method, path, token, body string) *httptest.ResponseRecorder {
	e.t.Helper()
	var r *http.Request
	if body != "" {
		r = httptest.NewRequest(method, path, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
	} else {
		r = httptest.NewRequest(method, path, nil)
	}
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	e.srv.ServeHTTP(rec, r)
	return rec
}

// seed stores one attacker's visit: a connect, a successful login, two
// commands and a disconnect, on decky-01's ssh; and a second attacker's
// failed login on decky-02's ftp.
func (e *testEnv) seed() {
	e.t.Helper()
	mk := func(decky, svc, typ, ip, session string) event.Event {
		ev := event.New(decky, svc, typ)
		ev.SrcIP, ev.Session, ev.SrcPort, ev.DstPort = ip, session, 40000, 22
		return ev
	}
	login := mk("decky-01", "ssh", event.TypeLoginAttempt, "198.51.100.7", "s1")
	login.Credential = event.NewCredential("root", event.SecretPlaintext, []byte("hunter2"), event.OutcomeSuccess)
	cmd1 := mk("decky-01", "ssh", event.TypeCommand, "198.51.100.7", "s1")
	cmd1.Fields = map[string]any{"command": "uname -a", "username": "root"}
	cmd2 := mk("decky-01", "ssh", event.TypeCommand, "198.51.100.7", "s1")
	cmd2.Fields = map[string]any{"command": "cat /etc/passwd", "username": "root"}
	ftp := mk("decky-02", "ftp", event.TypeLoginAttempt, "203.0.113.9", "s2")
	ftp.Credential = event.NewCredential("anonymous", event.SecretPlaintext, []byte("guest@"), event.OutcomeFailure)
	evs := []event.Event{
		mk("decky-01", "ssh", event.TypeConnect, "198.51.100.7", "s1"), login, cmd1, cmd2,
		mk("decky-01", "ssh", event.TypeDisconnect, "198.51.100.7", "s1"), ftp,
	}
	if _, err := e.st.IngestBatch(context.Background(), evs); err != nil {
		e.t.Fatal(err)
	}
	for _, d := range []store.DeckyRow{
		{Name: "decky-01", IP: "10.0.0.11", Hostname: "web01", Status: "running",
			Services: []store.ServiceBinding{{Name: "ssh", Proto: "tcp", Port: 2222, RequestedPort: 22, Address: "10.0.0.11:2222", Status: "listening"}}},
		{Name: "decky-02", IP: "10.0.0.12", Hostname: "files", Status: "stopped"},
	} {
		if err := e.st.PutDecky(context.Background(), d); err != nil {
			e.t.Fatal(err)
		}
	}
}

// attackerUUID is the id of the attacker at ip.
func (e *testEnv) attackerUUID(ip string) string {
	e.t.Helper()
	a, err := e.st.AttackerByIP(context.Background(), ip)
	if err != nil {
		e.t.Fatal(err)
	}
	return a.UUID
}

// signToken signs arbitrary claims, for tokens the API never minted.
func signToken(t testing.TB, secret []byte, c map[string]any) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims(c)).SignedString(secret)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// validClaims are claims the API would accept for u.
func validClaims(u store.User) map[string]any {
	now := time.Now()
	return map[string]any{
		"uuid": u.UUID, "jti": strings.ReplaceAll(uuid.NewString(), "-", ""), "typ": "access",
		"iss": "decnet", "aud": "decnet-dashboard", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
}

func decode(t testing.TB, rec *httptest.ResponseRecorder, v any) {
	t.Helper()
	if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
		t.Fatalf("decode %q: %v", rec.Body.String(), err)
	}
}

// detail is the "detail" of an error body.
func detail(t testing.TB, rec *httptest.ResponseRecorder) string {
	t.Helper()
	var b errorBody
	decode(t, rec, &b)
	return b.Detail
}

func httptestRequest(method, path, body string) *http.Request {
	if body == "" {
		return httptest.NewRequest(method, path, nil)
	}
	return httptest.NewRequest(method, path, strings.NewReader(body))
}

func serve(e *testEnv, r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	e.srv.ServeHTTP(rec, r)
	return rec
}

// unsignedToken builds an "alg":"none" token, which must never pass.
func unsignedToken(c map[string]any) string {
	h, _ := json.Marshal(map[string]string{"alg": "none", "typ": "JWT"})
	p, _ := json.Marshal(c)
	enc := base64.RawURLEncoding.EncodeToString
	return enc(h) + "." + enc(p) + "."
}
