package web

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/decnet-go/decnet/internal/decky"
	"github.com/decnet-go/decnet/internal/engine"
	"github.com/decnet-go/decnet/internal/honeypot"
	"github.com/decnet-go/decnet/internal/honeypot/builtin"
	"github.com/decnet-go/decnet/internal/store"
)

// fakeFleet is an engine.Operator over maps, refusing what the engine
// refuses with the engine's errors.
type fakeFleet struct {
	mu      sync.Mutex
	reg     *honeypot.Registry
	svcs    map[string][]string
	cfg     map[string]map[string]string // decky/svc → config
	files   map[string][]byte            // decky:path → content
	modes   map[string]fs.FileMode
	applied []string
	// The api.Deployer side: deckies started whole, and put records
	// them in the store as the node's fleet does.
	started []decky.Decky
	put     func(context.Context, store.DeckyRow) error
}

func newFakeFleet(reg *honeypot.Registry) *fakeFleet {
	return &fakeFleet{reg: reg, svcs: map[string][]string{"decky-01": {"ssh"}, "decky-02": {"http", "telnet"}},
		cfg: map[string]map[string]string{"decky-01/ssh": {"banner": "OpenSSH_8.4p1"}}, files: map[string][]byte{}, modes: map[string]fs.FileMode{}}
}

func (f *fakeFleet) check(decky, svc string, present bool) error {
	list, ok := f.svcs[decky]
	if !ok {
		return fmt.Errorf("%w: %q", engine.ErrUnknownDecky, decky)
	}
	if _, err := f.reg.New(svc); err != nil {
		return fmt.Errorf("%w: %q", engine.ErrUnknownService, svc)
	}
	if has := slices.Contains(list, svc); has && !present {
		return fmt.Errorf("%w: %s", engine.ErrServiceExists, svc)
	} else if !has && present {
		return fmt.Errorf("%w: %s", engine.ErrServiceAbsent, svc)
	}
	return nil
}

func (f *fakeFleet) AddService(_ context.Context, decky, svc string, cfg map[string]string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check(decky, svc, false); err != nil {
		return err
	}
	if err := f.reg.CheckConfig(svc, cfg); err != nil {
		return fmt.Errorf("%w: %v", engine.ErrBadConfig, err)
	}
	f.svcs[decky] = append(f.svcs[decky], svc)
	return nil
}

func (f *fakeFleet) RemoveService(_ context.Context, decky, svc string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check(decky, svc, true); err != nil {
		return err
	}
	f.svcs[decky] = slices.DeleteFunc(f.svcs[decky], func(s string) bool { return s == svc })
	return nil
}

func (f *fakeFleet) ConfigureService(_ context.Context, decky, svc string, cfg map[string]string, apply bool) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check(decky, svc, true); err != nil {
		return false, err
	}
	if err := f.reg.CheckConfig(svc, cfg); err != nil {
		return false, fmt.Errorf("%w: %v", engine.ErrBadConfig, err)
	}
	f.cfg[decky+"/"+svc] = cfg
	if apply {
		f.applied = append(f.applied, decky+"/"+svc)
	}
	return apply, nil
}

func (f *fakeFleet) WriteFile(_ context.Context, decky, path string, content []byte, mode fs.FileMode, _ time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.svcs[decky]; !ok {
		return engine.ErrUnknownDecky
	}
	if err := engine.CheckDropPath(path); err != nil {
		return err
	}
	f.files[decky+":"+path], f.modes[decky+":"+path] = content, mode
	return nil
}

func (f *fakeFleet) RemoveFile(_ context.Context, decky, path string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.files, decky+":"+path)
	return nil
}

func (f *fakeFleet) Services(_ context.Context, decky string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	list, ok := f.svcs[decky]
	if !ok {
		return nil, fmt.Errorf("%w: %q", engine.ErrUnknownDecky, decky)
	}
	return slices.Clone(list), nil
}

func (f *fakeFleet) ServiceConfig(_ context.Context, decky, svc string) (map[string]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check(decky, svc, true); err != nil {
		return nil, err
	}
	return f.cfg[decky+"/"+svc], nil
}

// newAdminEnv is the seeded dashboard with a fake fleet behind its Deckies
// screen, an admin "alice" and a viewer "victor".
func newAdminEnv(t *testing.T) (*testEnv, *fakeFleet, *[]string) {
	e := newEnv(t)
	reg := builtin.Registry()
	f := newFakeFleet(reg)
	var notes []string
	f.put = e.st.PutDecky
	e.d = New(Config{Version: "test", Now: func() time.Time { return testNow }, Fleet: f, Services: reg,
		Notify: func(subject string, _ any) { notes = append(notes, subject) }}, e.st)
	e.seed()
	e.addUser("alice", roleAdmin, false)
	e.addUser("victor", roleViewer, false)
	return e, f, &notes
}

// multipart posts a multipart form, as the file drop form sends it.
func (b *browser) multipart(target string, fields map[string]string, file []byte) *httptest.ResponseRecorder {
	b.e.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	if file != nil {
		fw, _ := mw.CreateFormFile("file", "notes.txt")
		fw.Write(file)
	}
	mw.Close()
	r := httptest.NewRequest("POST", target, &body)
	r.Header.Set("Content-Type", mw.FormDataContentType())
	for k, v := range b.cookies {
		r.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	rec := httptest.NewRecorder()
	b.e.d.ServeHTTP(rec, r)
	return rec
}

// TestAdminScreensGolden: the decky page with its forms (admin), read-only
// (viewer), with an inline config error, and the Users screen.
func TestAdminScreensGolden(t *testing.T) {
	e, _, _ := newAdminEnv(t)
	a := e.browser()
	csrf := a.login("alice", testPassword)
	v := e.browser()
	v.login("victor", testPassword)

	page := a.do("GET", "/ui/deckies/decky-01", nil)
	body := page.Body.String()
	if page.Code != http.StatusOK {
		t.Fatalf("decky page: %d\n%s", page.Code, body)
	}
	for _, w := range []string{`name="cfg.banner" value="OpenSSH_8.4p1"`, `action="/ui/deckies/decky-01/services"`,
		`<option value="ftp">`, `enctype="multipart/form-data"`, `name="cfg.downloads"`, "Apply (restart)"} {
		if !strings.Contains(body, w) {
			t.Errorf("admin decky page lacks %q", w)
		}
	}
	golden(t, "decky_admin", fragment(t, body))

	page = v.do("GET", "/ui/deckies/decky-01", nil)
	body = page.Body.String()
	if page.Code != http.StatusOK || strings.Contains(body, `/ui/deckies/decky-01/services"`) || strings.Contains(body, "/remove") ||
		!strings.Contains(body, "Read-only") || !strings.Contains(body, "<fieldset disabled>") {
		t.Fatalf("viewer decky page is not read-only: %d\n%s", page.Code, body)
	}
	golden(t, "decky_viewer", fragment(t, body))

	rec := a.do("POST", "/ui/deckies/decky-02/services/http/config", url.Values{"csrf": {csrf}, "action": {"save"},
		"cfg.response_code": {"abc"}, "cfg.fake_app": {"wordpress"}})
	body = rec.Body.String()
	if rec.Code != http.StatusUnprocessableEntity || !strings.Contains(body, `id="cfg-http-response_code-error"`) ||
		!strings.Contains(body, "Response code: ") || !strings.Contains(body, `<option value="wordpress" selected>`) {
		t.Fatalf("bad config: %d\n%s", rec.Code, body)
	}
	golden(t, "decky_config_error", fragment(t, body))

	page = a.do("GET", "/ui/users", nil)
	if page.Code != http.StatusOK || !strings.Contains(page.Body.String(), "victor") {
		t.Fatalf("users page: %d", page.Code)
	}
	golden(t, "users_admin", fragment(t, page.Body.String()))
}

// TestDeckyAdminActions: add, configure (save and apply), remove and file
// drop go through the Fleet; refusals come back beside their field.
func TestDeckyAdminActions(t *testing.T) {
	e, f, notes := newAdminEnv(t)
	a := e.browser()
	csrf := a.login("alice", testPassword)
	post := func(path string, form url.Values, want int) string {
		t.Helper()
		form.Set("csrf", csrf)
		rec := a.do("POST", path, form)
		if rec.Code != want {
			t.Fatalf("POST %s: %d, want %d\n%s", path, rec.Code, want, rec.Body)
		}
		if want == http.StatusSeeOther {
			next := a.do("GET", rec.Header().Get("Location"), nil)
			return next.Body.String()
		}
		return rec.Body.String()
	}

	body := post("/ui/deckies/decky-01/services", url.Values{"service": {"ftp"}}, http.StatusSeeOther)
	if !slices.Equal(f.svcs["decky-01"], []string{"ssh", "ftp"}) || !strings.Contains(body, "Service ftp added") || !strings.Contains(body, `id="service-ftp"`) {
		t.Fatalf("after add: %v\n%s", f.svcs["decky-01"], body)
	}
	body = post("/ui/deckies/decky-01/services", url.Values{"service": {"ftp"}}, http.StatusConflict)
	if !strings.Contains(body, `id="add-error"`) || !strings.Contains(body, "Service ftp: ") {
		t.Fatalf("duplicate add:\n%s", body)
	}
	body = post("/ui/deckies/decky-01/services", url.Values{"service": {"gopher"}}, http.StatusUnprocessableEntity)
	if !strings.Contains(body, "Service gopher: unknown service") {
		t.Fatalf("unknown service:\n%s", body)
	}

	post("/ui/deckies/decky-01/services/ftp/config", url.Values{"action": {"save"}, "cfg.flavor": {"proftpd"}, "cfg.banner": {""}}, http.StatusSeeOther)
	if got := f.cfg["decky-01/ftp"]; len(got) != 1 || got["flavor"] != "proftpd" || len(f.applied) != 0 {
		t.Fatalf("save: cfg %v applied %v", got, f.applied)
	}
	body = post("/ui/deckies/decky-01/services/ftp/config", url.Values{"action": {"apply"}, "cfg.flavor": {"proftpd"}, "cfg.anonymous": {"true"}}, http.StatusSeeOther)
	if !slices.Equal(f.applied, []string{"decky-01/ftp"}) || !strings.Contains(body, "Configuration of ftp applied") ||
		!strings.Contains(body, `<option value="true" selected>`) {
		t.Fatalf("apply: %v\n%s", f.applied, body)
	}

	body = post("/ui/deckies/decky-01/services/ftp/remove", url.Values{}, http.StatusSeeOther)
	if !slices.Equal(f.svcs["decky-01"], []string{"ssh"}) || strings.Contains(body, `id="service-ftp"`) {
		t.Fatalf("after remove: %v", f.svcs["decky-01"])
	}
	if want := []string{"decky.decky-01.service.added", "decky.decky-01.service_config_changed", "decky.decky-01.service_config_changed", "decky.decky-01.service.removed"}; !slices.Equal(*notes, want) {
		t.Errorf("bus notices %v, want %v", *notes, want)
	}
	post("/ui/deckies/decky-01/services/ftp/config", url.Values{"action": {"save"}}, http.StatusNotFound)
	post("/ui/deckies/nope/services", url.Values{"service": {"ftp"}}, http.StatusNotFound)

	rec := a.multipart("/ui/deckies/decky-01/files", map[string]string{"csrf": csrf, "path": "/root/passwords.txt", "mode": "0600"}, []byte("root:hunter2\n"))
	if rec.Code != http.StatusSeeOther || string(f.files["decky-01:/root/passwords.txt"]) != "root:hunter2\n" || f.modes["decky-01:/root/passwords.txt"] != 0o600 {
		t.Fatalf("file drop: %d %q\n%s", rec.Code, f.files, rec.Body)
	}
	for _, tc := range []struct{ path, mode, want string }{
		{"notes.txt", "0644", "Path: give an absolute path"},
		{"/tmp/../etc/x", "0644", "Path: bad file path"},
		{"/tmp/x", "999", "Mode: give an octal permission mode"},
	} {
		rec = a.multipart("/ui/deckies/decky-01/files", map[string]string{"csrf": csrf, "path": tc.path, "mode": tc.mode, "content": "x"}, nil)
		if rec.Code != http.StatusUnprocessableEntity || !strings.Contains(rec.Body.String(), tc.want) || !strings.Contains(rec.Body.String(), `aria-invalid="true" aria-describedby="drop-error"`) {
			t.Errorf("drop %q mode %q: %d, want inline %q\n%s", tc.path, tc.mode, rec.Code, tc.want, rec.Body)
		}
	}
}

// adminActions is every POST of the admin screens, with a valid form.
func adminActions(victim string) []struct {
	path string
	form url.Values
} {
	return []struct {
		path string
		form url.Values
	}{
		{"/ui/deckies/decky-01/services", url.Values{"service": {"ftp"}}},
		{"/ui/deckies/decky-01/services/ssh/remove", url.Values{}},
		{"/ui/deckies/decky-01/services/ssh/config", url.Values{"action": {"apply"}, "cfg.banner": {"x"}}},
		{"/ui/deckies/decky-01/files", url.Values{"path": {"/tmp/x"}, "content": {"x"}}},
		{"/ui/users", url.Values{"username": {"mallory"}, "password": {"a long enough password"}, "role": {"admin"}}},
		{"/ui/users/" + victim + "/role", url.Values{"role": {"viewer"}}},
		{"/ui/users/" + victim + "/password", url.Values{"new_password": {"a long enough password"}}},
		{"/ui/users/" + victim + "/delete", url.Values{}},
		{"/ui/deckies/deploy", url.Values{"archetype": {"linux-server"}, "count": {"1"}}},
		{"/ui/ttp/rules/R0001/state", url.Values{"state": {"disabled"}}},
	}
}

// TestAdminActionsRefused: a viewer gets 403 on every action, and an admin
// without the CSRF token (or from another site) is refused too; nothing
// changes either way.
func TestAdminActionsRefused(t *testing.T) {
	e, f, _ := newAdminEnv(t)
	alice, err := e.st.UserByName(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	v := e.browser()
	vcsrf := v.login("victor", testPassword)
	a := e.browser()
	acsrf := a.login("alice", testPassword)
	for _, act := range adminActions(alice.UUID) {
		form := url.Values{}
		for k, vs := range act.form {
			form[k] = vs
		}
		form.Set("csrf", vcsrf)
		if rec := v.do("POST", act.path, form); rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "Admins only") {
			t.Errorf("viewer POST %s: %d, want 403 Admins only", act.path, rec.Code)
		}
		form.Del("csrf")
		if rec := a.do("POST", act.path, form); rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "Request refused") {
			t.Errorf("admin POST %s without CSRF: %d, want 403", act.path, rec.Code)
		}
		form.Set("csrf", wrongToken(acsrf))
		if rec := a.do("POST", act.path, form); rec.Code != http.StatusForbidden {
			t.Errorf("admin POST %s with a wrong CSRF token: %d, want 403", act.path, rec.Code)
		}
		form.Set("csrf", acsrf)
		if rec := a.do("POST", act.path, form, "Sec-Fetch-Site", "cross-site"); rec.Code != http.StatusForbidden {
			t.Errorf("admin POST %s cross-site: %d, want 403", act.path, rec.Code)
		}
	}
	rec := v.multipart("/ui/deckies/decky-01/files", map[string]string{"csrf": vcsrf, "path": "/tmp/y"}, []byte("y"))
	if rec.Code != http.StatusForbidden {
		t.Errorf("viewer multipart drop: %d", rec.Code)
	}
	rec = a.multipart("/ui/deckies/decky-01/files", map[string]string{"path": "/tmp/y"}, []byte("y"))
	if rec.Code != http.StatusForbidden {
		t.Errorf("admin multipart drop without CSRF: %d", rec.Code)
	}
	if !slices.Equal(f.svcs["decky-01"], []string{"ssh"}) || len(f.files) != 0 || len(f.applied) != 0 || len(f.started) != 0 {
		t.Errorf("a refused action changed the fleet: %v %v %v %v", f.svcs, f.files, f.applied, f.started)
	}
	if states, _ := e.st.RuleStates(context.Background()); len(states) != 0 {
		t.Errorf("a refused action changed rule states: %v", states)
	}
	us, _ := e.st.Users(context.Background())
	if len(us) != 2 {
		t.Errorf("a refused action changed the users: %v", us)
	}
	if u, _ := e.st.UserByName(context.Background(), "alice"); u.Role != roleAdmin || u.MustChangePassword {
		t.Errorf("alice changed: %+v", u)
	}
}

// TestDeckyReadOnlyWithoutFleet: with no fleet the page shows what the
// store records and actions answer 503.
func TestDeckyReadOnlyWithoutFleet(t *testing.T) {
	e := newEnv(t)
	e.seed()
	e.addUser("alice", roleAdmin, false)
	a := e.browser()
	csrf := a.login("alice", testPassword)
	page := a.do("GET", "/ui/deckies/decky-02", nil)
	if page.Code != http.StatusOK || !strings.Contains(page.Body.String(), "does not run on this node") || !strings.Contains(page.Body.String(), `id="service-telnet"`) {
		t.Fatalf("decky page without fleet: %d\n%s", page.Code, page.Body)
	}
	if rec := a.do("POST", "/ui/deckies/decky-02/services", url.Values{"csrf": {csrf}, "service": {"ftp"}}); rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("add without fleet: %d", rec.Code)
	}
	if rec := a.do("GET", "/ui/deckies/nope", nil); rec.Code != http.StatusNotFound {
		t.Fatalf("unknown decky: %d", rec.Code)
	}
}

// TestUsersAdminActions: create, role change, password reset and delete,
// with the API's rules and refusals shown beside the account.
func TestUsersAdminActions(t *testing.T) {
	e, _, _ := newAdminEnv(t)
	ctx := context.Background()
	a := e.browser()
	csrf := a.login("alice", testPassword)
	alice, _ := e.st.UserByName(ctx, "alice")
	victor, _ := e.st.UserByName(ctx, "victor")
	vb := e.browser()
	vb.login("victor", testPassword)

	post := func(path string, form url.Values, want int) string {
		t.Helper()
		form.Set("csrf", csrf)
		rec := a.do("POST", path, form)
		if rec.Code != want {
			t.Fatalf("POST %s: %d, want %d\n%s", path, rec.Code, want, rec.Body)
		}
		if want == http.StatusSeeOther {
			return a.do("GET", rec.Header().Get("Location"), nil).Body.String()
		}
		return rec.Body.String()
	}

	body := post("/ui/users", url.Values{"username": {"bob"}, "password": {"short"}, "role": {"viewer"}}, http.StatusUnprocessableEntity)
	if !strings.Contains(body, `id="create-error"`) || !strings.Contains(body, "Password must be 12 to 72") || !strings.Contains(body, `value="bob"`) {
		t.Fatalf("short password:\n%s", body)
	}
	post("/ui/users", url.Values{"username": {" bob"}, "password": {"a long enough password"}, "role": {"viewer"}}, http.StatusUnprocessableEntity)
	post("/ui/users", url.Values{"username": {"bob"}, "password": {"a long enough password"}, "role": {"root"}}, http.StatusUnprocessableEntity)
	body = post("/ui/users", url.Values{"username": {"bob"}, "password": {"a long enough password"}, "role": {"admin"}}, http.StatusSeeOther)
	bob, err := e.st.UserByName(ctx, "bob")
	if err != nil || bob.Role != roleAdmin || !bob.MustChangePassword || !strings.Contains(body, "User bob created") {
		t.Fatalf("create: %+v %v", bob, err)
	}
	body = post("/ui/users", url.Values{"username": {"bob"}, "password": {"a long enough password"}, "role": {"viewer"}}, http.StatusConflict)
	if !strings.Contains(body, "User name bob is taken") {
		t.Fatalf("duplicate:\n%s", body)
	}

	body = post("/ui/users/"+alice.UUID+"/role", url.Values{"role": {"viewer"}}, http.StatusForbidden)
	if !strings.Contains(body, `id="uerr-`+alice.UUID+`"`) || !strings.Contains(body, "cannot change your own role") {
		t.Fatalf("own role:\n%s", body)
	}
	post("/ui/users/"+victor.UUID+"/role", url.Values{"role": {"admin"}}, http.StatusSeeOther)
	if u, _ := e.st.UserByUUID(ctx, victor.UUID); u.Role != roleAdmin {
		t.Fatalf("role not changed: %+v", u)
	}
	if rec := vb.do("GET", "/ui/", nil); rec.Code != http.StatusSeeOther || !strings.HasPrefix(rec.Header().Get("Location"), "/ui/login") {
		t.Fatalf("victor's session survived the role change: %d", rec.Code)
	}

	post("/ui/users/"+victor.UUID+"/password", url.Values{"new_password": {"short"}}, http.StatusUnprocessableEntity)
	post("/ui/users/"+victor.UUID+"/password", url.Values{"new_password": {"another long password"}}, http.StatusSeeOther)
	if u, _ := e.st.UserByUUID(ctx, victor.UUID); !u.MustChangePassword {
		t.Fatalf("reset did not force a change: %+v", u)
	}
	vb.login("victor", "another long password") // lands on the forced change

	body = post("/ui/users/"+alice.UUID+"/delete", url.Values{}, http.StatusForbidden)
	if !strings.Contains(body, "cannot delete your own account") {
		t.Fatalf("self delete:\n%s", body)
	}
	body = post("/ui/users/"+bob.UUID+"/delete", url.Values{}, http.StatusSeeOther)
	if _, err := e.st.UserByUUID(ctx, bob.UUID); err == nil || !strings.Contains(body, "User bob deleted") {
		t.Fatalf("delete: %v", err)
	}
	post("/ui/users/"+bob.UUID+"/delete", url.Values{}, http.StatusNotFound)

	post("/ui/users/"+victor.UUID+"/role", url.Values{"role": {"viewer"}}, http.StatusSeeOther)
	if u, _ := e.st.UserByUUID(ctx, victor.UUID); u.Role != roleViewer {
		t.Fatalf("demote: %+v", u)
	}
}
