package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/decnet-go/decnet/internal/store"
	"github.com/decnet-go/decnet/internal/ttp"
)

// seedTag stores a T1082 tag on the attacker at 198.51.100.7.
func (e *testEnv) seedTag() string {
	e.t.Helper()
	a := e.attackerUUID("198.51.100.7")
	_, err := e.st.InsertTag(context.Background(), store.Tag{
		UUID: ttp.TagID("command", "c1", "R0018", 1, "T1082", ""), SourceKind: "command", SourceID: "c1", AttackerUUID: a,
		SessionID: "s1", Tactic: "TA0007", TechniqueID: "T1082", Confidence: 0.6, RuleID: "R0018", RuleVersion: 1,
		Evidence: json.RawMessage(`{"command":"uname -a"}`), AttackRelease: "18.1", CreatedAt: time.Now()})
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

func TestTTPRoutes(t *testing.T) {
	e := newEnv(t)
	e.seed()
	a := e.seedTag()
	viewer := e.viewerToken()
	e.addUser("boss", RoleAdmin, false)
	admin := e.login("boss", testPassword)

	cases := []struct {
		name, method, path, token, body string
		status                          int
		want                            string // in the body
	}{
		{"fleet rollup", "GET", "/api/v1/ttp/techniques", viewer, "", 200, `"technique_name":"System Information Discovery"`},
		{"attacker rollup", "GET", "/api/v1/ttp/by-attacker/" + a, viewer, "", 200, `"count":1`},
		{"session rollup", "GET", "/api/v1/ttp/by-session/s1", viewer, "", 200, `"T1082"`},
		{"unknown attacker rollup", "GET", "/api/v1/ttp/by-attacker/nobody", viewer, "", 200, `[]`},
		{"tags", "GET", "/api/v1/ttp/tags/by-attacker/" + a + "/T1082", viewer, "", 200, `"evidence":{"command":"uname -a"}`},
		{"tags bad scope", "GET", "/api/v1/ttp/tags/by-campaign/" + a + "/T1082", viewer, "", 422, ""},
		{"tags bad limit", "GET", "/api/v1/ttp/tags/by-attacker/" + a + "/T1082?limit=1001", viewer, "", 400, ""},
		{"tags unknown attacker", "GET", "/api/v1/ttp/tags/by-attacker/00000000-0000-0000-0000-000000000000/T1082", viewer, "", 404, ""},
		{"groups", "GET", "/api/v1/ttp/techniques/T1082/groups", viewer, "", 200, `"id":"G`},
		{"groups unknown", "GET", "/api/v1/ttp/techniques/T9999/groups", viewer, "", 404, ""},
		{"rules", "GET", "/api/v1/ttp/rules", viewer, "", 200, `"rule_id":"R0018"`},
		{"rule", "GET", "/api/v1/ttp/rules/R0018", viewer, "", 200, `"emits"`},
		{"rule unknown", "GET", "/api/v1/ttp/rules/R9999", viewer, "", 404, ""},
		{"state viewer", "POST", "/api/v1/ttp/rules/R0018/state", viewer, `{"state":"disabled"}`, 403, ""},
		{"state malformed", "POST", "/api/v1/ttp/rules/R0018/state", admin, `{"state":`, 400, ""},
		{"state invalid", "POST", "/api/v1/ttp/rules/R0018/state", admin, `{"state":"off"}`, 400, ""},
		{"state clipped without max", "POST", "/api/v1/ttp/rules/R0018/state", admin, `{"state":"clipped"}`, 400, ""},
		{"state unknown field", "POST", "/api/v1/ttp/rules/R0018/state", admin, `{"state":"disabled","x":1}`, 400, ""},
		{"state set", "POST", "/api/v1/ttp/rules/R0018/state", admin, `{"state":"clipped","confidence_max":0.4,"reason":"noisy"}`, 200, `"set_by":"boss"`},
		{"state listed", "GET", "/api/v1/ttp/rules/R0018", viewer, "", 200, `"state":"clipped"`},
		{"state cleared", "DELETE", "/api/v1/ttp/rules/R0018/state", admin, "", 200, `"state":"enabled"`},
		{"state gone", "GET", "/api/v1/ttp/rules/R0018", viewer, "", 200, `"state":"enabled"`},
		{"layer fleet", "GET", "/api/v1/ttp/export/navigator", viewer, "", 200, `"techniqueID":"T1082"`},
		{"layer attacker", "GET", "/api/v1/ttp/export/navigator/attacker/" + a, viewer, "", 200, `"techniqueID":"T1082"`},
		{"layer bad scope", "GET", "/api/v1/ttp/export/navigator/campaign/" + a, viewer, "", 422, ""},
		{"stix attacker", "GET", "/api/v1/ttp/export/stix/attacker/" + a, viewer, "", 200, `"external_id":"T1082"`},
		{"stix fleet", "GET", "/api/v1/ttp/export/stix", viewer, "", 200, `"attack-pattern"`},
		{"stix unknown", "GET", "/api/v1/ttp/export/stix/attacker/nobody", viewer, "", 404, ""},
		{"misp attacker", "GET", "/api/v1/ttp/export/misp/attacker/" + a, viewer, "", 200, `T1082`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := e.do(tc.method, tc.path, tc.token, tc.body)
			if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.want) {
				t.Errorf("%s %s = %d %.600s; want %d with %s", tc.method, tc.path, rec.Code, rec.Body, tc.status, tc.want)
			}
		})
	}
	if rec := e.do("GET", "/api/v1/ttp/rules", "", ""); rec.Code != http.StatusUnauthorized {
		t.Errorf("no token: %d", rec.Code)
	}
}
