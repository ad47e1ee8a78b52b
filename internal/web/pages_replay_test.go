package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/honeypot/asciicast"
	"github.com/decnet-go/decnet/internal/store"
)

// seedRecording writes a recording of session s1 on decky-01's ssh and
// stores its session_recorded event (and a second one whose stored_as
// tries to climb out of the data directory). It returns the good event's id.
func (e *testEnv) seedRecording(dataDir string) (good, evil int64) {
	e.t.Helper()
	dir := filepath.Join(dataDir, "deckies", "decky-01", "ssh", "transcripts")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		e.t.Fatal(err)
	}
	name := "2026-01-15T11-21-00Z_0190b000-0000-7000-8000-000000000001.cast"
	cast := `{"version":2,"width":80,"height":24,"timestamp":1768476060}` + "\n" +
		`[0.2,"o","\u001b[01;32mroot@web-prod-01\u001b[00m:~# "]` + "\n" +
		`[1.0,"i","uname -ax"]` + "\n" +
		`[1.1,"o","uname -ax\b \b\r\n"]` + "\n" +
		`[1.3,"o","Linux web-prod-01 5.10.0-28-amd64 x86_64 GNU/Linux\r\n<b>&amp;</b>\r\nroot@web-prod-01:~# "]` + "\n"
	if err := os.WriteFile(filepath.Join(dir, name), []byte(cast), 0o644); err != nil {
		e.t.Fatal(err)
	}
	secret := filepath.Join(dataDir, "secret.cast")
	os.WriteFile(secret, []byte(`{"version":2,"width":80,"height":24}`+"\n"+`[0.1,"o","SECRET"]`+"\n"), 0o644)
	mk := func(n int, stored string) event.Event {
		x := event.New("decky-01", "ssh", asciicast.TypeSessionRecorded)
		x.ID = fmt.Sprintf("0190a000-0000-7000-8000-%012d", 900+n)
		x.Time, x.SrcIP, x.SrcPort, x.Session = testNow.Add(-35*time.Minute), "203.0.113.5", 40100+n, "s1"
		x.Fields = map[string]any{"sid": "0190b000-0000-7000-8000-000000000001", "stored_as": stored, "username": "root", "duration_s": 1.3}
		return x
	}
	if _, err := e.st.IngestBatch(context.Background(), []event.Event{mk(1, "transcripts/"+name), mk(2, "../../secret.cast")}); err != nil {
		e.t.Fatal(err)
	}
	rows, _, err := e.st.Events(context.Background(), store.Page{Type: asciicast.TypeSessionRecorded, Limit: 2})
	if err != nil || len(rows) != 2 {
		e.t.Fatalf("recorded events: %v %d", err, len(rows))
	}
	return rows[1].ID, rows[0].ID
}

func TestReplay(t *testing.T) {
	e := newEnv(t)
	e.seed()
	data := t.TempDir()
	e.d.dataDir = data
	good, evil := e.seedRecording(data)
	e.addUser("vera", roleViewer, false)
	b := e.browser()
	b.login("vera", testPassword)

	a, err := e.st.AttackerByIP(context.Background(), "203.0.113.5")
	if err != nil {
		t.Fatal(err)
	}
	page := b.do("GET", "/ui/attackers/"+a.UUID, nil)
	if want := fmt.Sprintf(`<a href="/ui/recordings/%d">Replay</a>`, good); page.Code != http.StatusOK || !strings.Contains(page.Body.String(), want) {
		t.Fatalf("attacker page lacks %s: %d", want, page.Code)
	}

	page = b.do("GET", fmt.Sprintf("/ui/recordings/%d", good), nil)
	body := page.Body.String()
	if page.Code != http.StatusOK {
		t.Fatalf("replay page: %d\n%s", page.Code, body)
	}
	// Without JavaScript the session reads as text: colours gone, the
	// erased character gone, markup escaped.
	if want := "root@web-prod-01:~# uname -a\nLinux web-prod-01 5.10.0-28-amd64 x86_64 GNU/Linux\n&lt;b&gt;&amp;amp;&lt;/b&gt;\nroot@web-prod-01:~#</pre>"; !strings.Contains(body, want) {
		t.Errorf("replay page lacks the transcript %q", want)
	}
	golden(t, "recording", fragment(t, body))

	rec := b.do("GET", fmt.Sprintf("/ui/recordings/%d/events", good), nil)
	var p struct {
		Header asciicast.Header `json:"header"`
		Events [][3]any         `json:"events"`
	}
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &p) != nil || len(p.Events) != 4 || p.Header.Width != 80 {
		t.Fatalf("events: %d %s", rec.Code, rec.Body)
	}

	for _, tc := range []struct{ name, path string }{
		{"stored_as climbing out", fmt.Sprintf("/ui/recordings/%d", evil)},
		{"its events", fmt.Sprintf("/ui/recordings/%d/events", evil)},
		{"not a recording", "/ui/recordings/1"},
		{"unknown id", "/ui/recordings/99999"},
		{"not a number", "/ui/recordings/..%2f..%2fsecret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := b.do("GET", tc.path, nil)
			if rec.Code != http.StatusNotFound || strings.Contains(rec.Body.String(), "SECRET") {
				t.Errorf("GET %s: %d, want 404", tc.path, rec.Code)
			}
		})
	}

	anon := e.browser()
	if rec := anon.do("GET", fmt.Sprintf("/ui/recordings/%d/events", good), nil); rec.Code == http.StatusOK {
		t.Errorf("events without a session: %d", rec.Code)
	}
}

func TestSettings(t *testing.T) {
	e := newEnv(t)
	e.d.settings = Settings{Listen: "127.0.0.1:8080", DataDir: "/var/lib/decnet", Database: "sqlite:/var/lib/decnet/decnet.db",
		Bus: "embedded NATS", Driver: "local", ProbeAllow: []string{"198.51.100.0/24"}, IntelEnabled: true,
		IntelProviders: []string{"greynoise", "abuseipdb"}, DeploymentLimit: 7,
		Checks: map[string]func(context.Context) error{
			"database": func(context.Context) error { return nil },
			"bus":      func(context.Context) error { return errors.New("nats: no servers available") },
		}}
	e.addUser("alice", roleAdmin, false)
	e.addUser("vera", roleViewer, false)
	a, v := e.browser(), e.browser()
	csrf := a.login("alice", testPassword)
	vcsrf := v.login("vera", testPassword)

	page := v.do("GET", "/ui/settings", nil)
	body := page.Body.String()
	if page.Code != http.StatusOK || strings.Contains(body, `action="/ui/settings/deployment-limit"`) ||
		!strings.Contains(body, `<strong id="limit-value">7</strong>`) {
		t.Fatalf("viewer settings: %d\n%s", page.Code, body)
	}
	golden(t, "settings_viewer", fragment(t, body))
	if rec := v.do("POST", "/ui/settings/deployment-limit", url.Values{"csrf": {vcsrf}, "deployment_limit": {"3"}}); rec.Code != http.StatusForbidden {
		t.Errorf("viewer POST: %d, want 403", rec.Code)
	}

	page = a.do("GET", "/ui/settings", nil)
	body = page.Body.String()
	for _, w := range []string{`action="/ui/settings/deployment-limit"`, "greynoise", "198.51.100.0/24", "nats: no servers available", "127.0.0.1:8080"} {
		if !strings.Contains(body, w) {
			t.Errorf("admin settings lack %q", w)
		}
	}
	golden(t, "settings_admin", fragment(t, body))

	for _, tc := range []struct {
		name   string
		form   url.Values
		status int
	}{
		{"no CSRF token", url.Values{"deployment_limit": {"3"}}, http.StatusForbidden},
		{"zero", url.Values{"csrf": {csrf}, "deployment_limit": {"0"}}, http.StatusUnprocessableEntity},
		{"too many", url.Values{"csrf": {csrf}, "deployment_limit": {"501"}}, http.StatusUnprocessableEntity},
		{"not a number", url.Values{"csrf": {csrf}, "deployment_limit": {"ten"}}, http.StatusUnprocessableEntity},
		{"set", url.Values{"csrf": {csrf}, "deployment_limit": {"25"}}, http.StatusSeeOther},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if rec := a.do("POST", "/ui/settings/deployment-limit", tc.form); rec.Code != tc.status {
				t.Errorf("POST: %d, want %d\n%s", rec.Code, tc.status, rec.Body)
			}
		})
	}
	// The same state row the API's PUT /config/deployment-limit writes.
	if s, err := e.st.State(context.Background(), configLimitsKey); err != nil || s != `{"deployment_limit":25}` {
		t.Errorf("stored limit = %q, %v", s, err)
	}
	page = v.do("GET", "/ui/settings", nil)
	if !strings.Contains(page.Body.String(), `<strong id="limit-value">25</strong>`) {
		t.Errorf("the viewer does not see the new limit")
	}
}
