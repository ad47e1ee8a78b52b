package web

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/decnet-go/decnet/internal/store"
)

// TestTTPRulesGolden: the rule list filtered to one technique, with the
// switch for admins and without it for viewers; the heatmap links to it.
func TestTTPRulesGolden(t *testing.T) {
	e, _, _ := newAdminEnv(t)
	a := e.browser()
	a.login("alice", testPassword)
	v := e.browser()
	v.login("victor", testPassword)

	all := a.do("GET", "/ui/ttp/rules", nil)
	body := all.Body.String()
	if all.Code != http.StatusOK || strings.Count(body, `<tr id="rule-`) != embeddedRules().Len() || embeddedRules().Len() == 0 {
		t.Fatalf("rule list: %d, %d rows, want %d\n%s", all.Code, strings.Count(body, `<tr id="rule-`), embeddedRules().Len(), body)
	}
	if !strings.Contains(a.do("GET", "/ui/ttp", nil).Body.String(), `href="/ui/ttp/rules"`) {
		t.Error("the TTP screen does not link to the rules")
	}

	page := a.do("GET", "/ui/ttp/rules?q=t1110+brute", nil)
	body = page.Body.String()
	if page.Code != http.StatusOK || !strings.Contains(body, `id="rule-R0001"`) || !strings.Contains(body, `action="/ui/ttp/rules/R0001/state"`) {
		t.Fatalf("filtered admin list: %d\n%s", page.Code, body)
	}
	golden(t, "ttp_rules_admin", fragment(t, body))

	page = v.do("GET", "/ui/ttp/rules?q=t1110+brute", nil)
	body = page.Body.String()
	if page.Code != http.StatusOK || !strings.Contains(body, `id="rule-R0001"`) || strings.Contains(body, "/state\"") || !strings.Contains(body, "Read-only") {
		t.Fatalf("viewer list is not read-only: %d\n%s", page.Code, body)
	}
	golden(t, "ttp_rules_viewer", fragment(t, body))

	if body := a.do("GET", "/ui/ttp/rules?q=no-such-rule-anywhere", nil).Body.String(); !strings.Contains(body, "No rule matches the filter.") {
		t.Errorf("empty filter result:\n%s", body)
	}
}

// TestTTPRuleState: disabling a rule writes its ttp_rule_state row and
// announces it for the tagging worker; enabling it again records enabled;
// the list shows who did it.
func TestTTPRuleState(t *testing.T) {
	e, _, notes := newAdminEnv(t)
	a := e.browser()
	csrf := a.login("alice", testPassword)
	ctx := context.Background()
	set := func(rule, state string, want int) string {
		t.Helper()
		rec := a.do("POST", "/ui/ttp/rules/"+rule+"/state", url.Values{"csrf": {csrf}, "state": {state}, "q": {"R0001"}})
		if rec.Code != want {
			t.Fatalf("POST %s %s: %d, want %d\n%s", rule, state, rec.Code, want, rec.Body)
		}
		if want != http.StatusSeeOther {
			return rec.Body.String()
		}
		loc := rec.Header().Get("Location")
		if !strings.HasPrefix(loc, "/ui/ttp/rules?") || !strings.Contains(loc, "q=R0001") {
			t.Fatalf("redirect to %q, want the filtered list", loc)
		}
		page, _, _ := strings.Cut(loc, "#") // a browser keeps the fragment to itself
		return a.do("GET", page, nil).Body.String()
	}

	body := set("R0001", "disabled", http.StatusSeeOther)
	states, err := e.st.RuleStates(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st := states["R0001"]; st.State != store.RuleDisabled || st.SetBy != "alice" || !st.SetAt.Equal(testNow) {
		t.Fatalf("after disable: %+v", states)
	}
	if !strings.Contains(body, "Rule R0001 disabled") || !strings.Contains(body, `<span class="status rule-disabled">disabled</span>`) ||
		!strings.Contains(body, `aria-label="Enable R0001"`) || !strings.Contains(body, "alice") {
		t.Errorf("list after disable:\n%s", body)
	}

	body = set("R0001", "enabled", http.StatusSeeOther)
	if states, _ = e.st.RuleStates(ctx); states["R0001"].State != store.RuleEnabled || states["R0001"].SetBy != "alice" {
		t.Fatalf("after enable: %+v", states)
	}
	if !strings.Contains(body, `aria-label="Disable R0001"`) || !strings.Contains(body, "Rule R0001 enabled") {
		t.Errorf("list after enable:\n%s", body)
	}
	if want := []string{"ttp.rule.state.R0001", "ttp.rule.state.R0001"}; !slices.Equal(*notes, want) {
		t.Errorf("bus notices %v, want %v", *notes, want)
	}

	set("R9999", "disabled", http.StatusNotFound)
	set("R0001", "clipped", http.StatusUnprocessableEntity)
	if len(*notes) != 2 {
		t.Errorf("a refused change was announced: %v", *notes)
	}

	// A state past its expiry no longer holds.
	past := testNow.Add(-time.Hour)
	if err := e.st.SetRuleState(ctx, store.RuleState{RuleID: "R0002", State: store.RuleDisabled, ExpiresAt: &past, SetBy: "bob", SetAt: past}); err != nil {
		t.Fatal(err)
	}
	body = a.do("GET", "/ui/ttp/rules?q=R0002", nil).Body.String()
	if !strings.Contains(body, `aria-label="Disable R0002"`) || strings.Contains(body, "bob") {
		t.Errorf("an expired state still shows:\n%s", body)
	}
}
