package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/store"
)

func TestPagination(t *testing.T) {
	e := newEnv(t)
	e.seed()
	tok := e.viewerToken()
	long := strings.Repeat("a", maxFilterLen+1)
	tests := []struct {
		name   string
		path   string
		status int
		limit  int // wanted in the envelope when 200
		offset int
		total  int
		rows   int
	}{
		{"defaults", "/api/v1/logs", 200, 50, 0, 6, 6},
		{"limit and offset", "/api/v1/logs?limit=2&offset=1", 200, 2, 1, 6, 2},
		{"offset past the end", "/api/v1/logs?offset=100", 200, 50, 100, 6, 0},
		{"max limit", "/api/v1/logs?limit=1000", 200, 1000, 0, 6, 6},
		{"limit over max", "/api/v1/logs?limit=1001", 422, 0, 0, 0, 0},
		{"limit zero", "/api/v1/logs?limit=0", 422, 0, 0, 0, 0},
		{"negative offset", "/api/v1/logs?offset=-1", 422, 0, 0, 0, 0},
		{"offset over int32", "/api/v1/logs?offset=2147483648", 422, 0, 0, 0, 0},
		{"limit not a number", "/api/v1/logs?limit=abc", 422, 0, 0, 0, 0},
		{"search too long", "/api/v1/logs?search=" + long, 422, 0, 0, 0, 0},
		{"search", "/api/v1/logs?search=ftp", 200, 50, 0, 1, 1},
		{"search null is absent", "/api/v1/logs?search=null", 200, 50, 0, 6, 6},
		{"search undefined is absent", "/api/v1/logs?search=undefined", 200, 50, 0, 6, 6},
		{"search empty is absent", "/api/v1/logs?search=", 200, 50, 0, 6, 6},
		{"attackers", "/api/v1/attackers", 200, 50, 0, 2, 2},
		{"attackers by service", "/api/v1/attackers?service=ftp", 200, 50, 0, 1, 1},
		{"attackers service NULL", "/api/v1/attackers?service=NULL", 200, 50, 0, 2, 2},
		{"attackers search ip", "/api/v1/attackers?search=198.51", 200, 50, 0, 1, 1},
		{"attackers limit over max", "/api/v1/attackers?limit=1001", 422, 0, 0, 0, 0},
		{"credentials", "/api/v1/credentials", 200, 50, 0, 2, 2},
		{"credentials by attacker", "/api/v1/credentials?attacker_ip=203.0.113.9", 200, 50, 0, 1, 1},
		{"credentials by service", "/api/v1/credentials?service=ssh", 200, 50, 0, 1, 1},
		{"credentials search", "/api/v1/credentials?search=anonym", 200, 50, 0, 1, 1},
		{"credentials none match", "/api/v1/credentials?attacker_ip=192.0.2.200", 200, 50, 0, 0, 0},
		{"credentials bad offset", "/api/v1/credentials?offset=x", 422, 0, 0, 0, 0},
		{"sessions", "/api/v1/sessions", 200, 50, 0, 2, 2},
		{"sessions by attacker", "/api/v1/sessions?attacker_ip=198.51.100.7", 200, 50, 0, 1, 1},
		{"sessions limit over max", "/api/v1/sessions?limit=5000", 422, 0, 0, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := e.do("GET", tc.path, tok, "")
			if rec.Code != tc.status {
				t.Fatalf("%d %s, want %d", rec.Code, rec.Body, tc.status)
			}
			if tc.status != 200 {
				if d := detail(t, rec); !strings.HasPrefix(d, "Invalid request parameters: ") {
					t.Errorf("detail %q", d)
				}
				return
			}
			if strings.Contains(rec.Body.String(), `"data":null`) {
				t.Fatalf("data is null: %s", rec.Body)
			}
			var env envelope[map[string]any]
			decode(t, rec, &env)
			if env.Limit != tc.limit || env.Offset != tc.offset || env.Total != tc.total || len(env.Data) != tc.rows {
				t.Errorf("envelope limit=%d offset=%d total=%d rows=%d, want %d %d %d %d",
					env.Limit, env.Offset, env.Total, len(env.Data), tc.limit, tc.offset, tc.total, tc.rows)
			}
		})
	}
}

func TestLogsNewestFirst(t *testing.T) {
	e := newEnv(t)
	e.seed()
	var env envelope[store.EventRow]
	decode(t, e.do("GET", "/api/v1/logs?limit=2", e.viewerToken(), ""), &env)
	if len(env.Data) != 2 || env.Data[0].ID <= env.Data[1].ID {
		t.Fatalf("logs not newest first: %+v", env.Data)
	}
	if env.Data[0].Service != "ftp" || env.Data[0].AttackerIP != "203.0.113.9" {
		t.Errorf("newest log is %+v, want the ftp login", env.Data[0])
	}
}

func TestAttackerDetail(t *testing.T) {
	e := newEnv(t)
	e.seed()
	tok := e.viewerToken()
	id := e.attackerUUID("198.51.100.7")

	rec := e.do("GET", "/api/v1/attackers/"+id, tok, "")
	if rec.Code != http.StatusOK {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	var d attackerDetail
	decode(t, rec, &d)
	if d.UUID != id || d.IP != "198.51.100.7" {
		t.Errorf("attacker %s %s", d.UUID, d.IP)
	}
	if len(d.Sessions) != 1 || d.Sessions[0].ID != "s1" || d.SessionsTotal != 1 {
		t.Errorf("sessions %+v (total %d)", d.Sessions, d.SessionsTotal)
	}
	if len(d.Credentials) != 1 || d.Credentials[0].Principal != "root" || d.Credentials[0].SecretPrintable != "hunter2" {
		t.Errorf("credentials %+v", d.Credentials)
	}
	if len(d.Commands) != 2 || d.Commands[0].Command != "uname -a" || d.Commands[1].Command != "cat /etc/passwd" || d.CommandsTotal != 2 {
		t.Errorf("commands %+v (total %d)", d.Commands, d.CommandsTotal)
	}

	if d.Intel != nil || !strings.Contains(rec.Body.String(), `"intel":null`) {
		t.Errorf("intel before any enrichment: %+v", d.Intel)
	}

	// The other attacker has no commands: [] not null.
	rec = e.do("GET", "/api/v1/attackers/"+e.attackerUUID("203.0.113.9"), tok, "")
	if !strings.Contains(rec.Body.String(), `"commands":[]`) {
		t.Errorf("empty commands not []: %s", rec.Body)
	}

	// Once enriched, the detail carries the stored intel.
	now := time.Now().UTC()
	if err := e.st.UpsertAttackerIntel(context.Background(), store.AttackerIntel{AttackerUUID: id, AttackerIP: "198.51.100.7",
		Feodo: &store.FeodoIntel{Listed: true, MalwareFamily: "QakBot", QueriedAt: now}, AggregateVerdict: "malicious",
		CachedAt: now, ExpiresAt: now.Add(24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	d = attackerDetail{}
	decode(t, e.do("GET", "/api/v1/attackers/"+id, tok, ""), &d)
	if d.Intel == nil || d.Intel.AggregateVerdict != "malicious" || d.Intel.Feodo == nil || d.Intel.Feodo.MalwareFamily != "QakBot" {
		t.Errorf("intel after enrichment: %+v", d.Intel)
	}

	for _, path := range []string{"/api/v1/attackers/no-such-uuid", "/api/v1/attackers/no-such-uuid/commands"} {
		rec := e.do("GET", path, tok, "")
		if rec.Code != http.StatusNotFound || detail(t, rec) != "Attacker not found" {
			t.Errorf("GET %s: %d %s, want 404 Attacker not found", path, rec.Code, rec.Body)
		}
	}
	// Authentication comes before existence.
	if rec := e.do("GET", "/api/v1/attackers/no-such-uuid", "", ""); rec.Code != http.StatusUnauthorized {
		t.Errorf("unknown attacker without a token: %d, want 401", rec.Code)
	}
}

func TestAttackerDetailKeepsNewestCommands(t *testing.T) {
	e := newEnv(t)
	var evs []event.Event
	for i := range detailListCap + 5 {
		ev := event.New("decky-01", "ssh", event.TypeCommand)
		ev.SrcIP, ev.Session = "198.51.100.7", "s1"
		ev.Fields = map[string]any{"command": fmt.Sprintf("echo %d", i)}
		evs = append(evs, ev)
	}
	if _, err := e.st.IngestBatch(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	var d attackerDetail
	decode(t, e.do("GET", "/api/v1/attackers/"+e.attackerUUID("198.51.100.7"), e.viewerToken(), ""), &d)
	if len(d.Commands) != detailListCap || d.CommandsTotal != detailListCap+5 {
		t.Fatalf("%d commands (total %d), want %d of %d", len(d.Commands), d.CommandsTotal, detailListCap, detailListCap+5)
	}
	if first, last := d.Commands[0].Command, d.Commands[len(d.Commands)-1].Command; first != "echo 5" || last != fmt.Sprintf("echo %d", detailListCap+4) {
		t.Errorf("commands run from %q to %q, want the newest %d", first, last, detailListCap)
	}
}

func TestAttackerCommands(t *testing.T) {
	e := newEnv(t)
	e.seed()
	tok := e.viewerToken()
	base := "/api/v1/attackers/" + e.attackerUUID("198.51.100.7") + "/commands"
	tests := []struct {
		name   string
		query  string
		status int
		first  string
		rows   int
	}{
		{"all", "", 200, "uname -a", 2},
		{"second page", "?limit=1&offset=1", 200, "cat /etc/passwd", 1},
		{"max limit", "?limit=200", 200, "uname -a", 2},
		{"over max limit", "?limit=201", 422, "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := e.do("GET", base+tc.query, tok, "")
			if rec.Code != tc.status {
				t.Fatalf("%d %s, want %d", rec.Code, rec.Body, tc.status)
			}
			if tc.status != 200 {
				return
			}
			var env envelope[store.Command]
			decode(t, rec, &env)
			if env.Total != 2 || len(env.Data) != tc.rows || env.Data[0].Command != tc.first {
				t.Errorf("envelope %+v", env)
			}
		})
	}
}

func TestDeckiesAndStats(t *testing.T) {
	e := newEnv(t)
	tok := e.viewerToken()
	if rec := e.do("GET", "/api/v1/deckies", tok, ""); strings.TrimSpace(rec.Body.String()) != "[]" {
		t.Errorf("no deckies: %s, want []", rec.Body)
	}
	e.seed()
	var ds []store.DeckyRow
	decode(t, e.do("GET", "/api/v1/deckies", tok, ""), &ds)
	if len(ds) != 2 || ds[0].Name != "decky-01" || ds[0].IP != "10.0.0.11" || ds[0].Hostname != "web01" {
		t.Fatalf("deckies %+v", ds)
	}
	svc := ds[0].Services
	if len(svc) != 1 || svc[0].Name != "ssh" || svc[0].Port != 2222 || svc[0].Address != "10.0.0.11:2222" || svc[0].Status != "listening" {
		t.Errorf("services %+v", svc)
	}
	if rec := e.do("GET", "/api/v1/deckies", tok, ""); !strings.Contains(rec.Body.String(), `"services":[]`) {
		t.Errorf("decky without services: %s", rec.Body)
	}

	var st statsResponse
	decode(t, e.do("GET", "/api/v1/stats", tok, ""), &st)
	want := statsResponse{Stats: store.Stats{Events: 6, Attackers: 2, Credentials: 2, Sessions: 2, Deckies: 2}, ActiveDeckies: 1}
	if st != want {
		t.Errorf("stats %+v, want %+v", st, want)
	}
}

// panicStore is a Store whose EventsIn panics.
type panicStore struct{ Store }

func (panicStore) EventsIn(context.Context, store.EventQuery) ([]store.EventRow, int, error) {
	panic("secret internal detail")
}

func TestErrorResponses(t *testing.T) {
	e := newEnv(t)
	tok := e.viewerToken()
	tests := []struct {
		name, method, path, contentType, body string
		status                                int
		detail                                string
	}{
		{"unknown api route", "GET", "/api/v1/nope", "", "", 404, "Not Found"},
		{"unknown root route", "GET", "/", "", "", 404, "Not Found"},
		{"wrong method", "DELETE", "/api/v1/logs", "", "", 405, "Method Not Allowed"},
		{"form body", "POST", "/api/v1/auth/change-password", "application/x-www-form-urlencoded", "a=b", 415, "application/json"},
		{"malformed json", "POST", "/api/v1/auth/change-password", "application/json", "{", 400, "Malformed JSON body"},
		{"array body", "POST", "/api/v1/auth/change-password", "application/json", "[1]", 400, "JSON object"},
		{"empty json body", "POST", "/api/v1/auth/login", "application/json", " ", 400, "empty"},
		{"body too large", "POST", "/api/v1/auth/login", "application/json", `{"username":"` + strings.Repeat("a", maxBodyBytes) + `"}`, 413, "too large"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptestRequest(tc.method, tc.path, tc.body)
			if tc.contentType != "" {
				r.Header.Set("Content-Type", tc.contentType)
			}
			r.Header.Set("Authorization", "Bearer "+tok)
			rec := serve(e, r)
			if rec.Code != tc.status {
				t.Fatalf("%d %s, want %d", rec.Code, rec.Body, tc.status)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			if d := detail(t, rec); !strings.Contains(d, tc.detail) {
				t.Errorf("detail %q, want %q in it", d, tc.detail)
			}
			if tc.status == 405 && !strings.Contains(rec.Header().Get("Allow"), "GET") {
				t.Errorf("Allow %q", rec.Header().Get("Allow"))
			}
		})
	}

	t.Run("panic", func(t *testing.T) {
		p := &testEnv{t: t, st: e.st, srv: newServer(Config{JWTSecret: testSecret}, panicStore{e.st})}
		rec := p.do("GET", "/api/v1/logs", tok, "")
		if rec.Code != http.StatusInternalServerError {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
		var b errorBody
		decode(t, rec, &b)
		if b.Detail != "Internal Server Error" || len(b.ErrorID) != 16 {
			t.Errorf("body %+v", b)
		}
		if strings.Contains(rec.Body.String(), "secret") || strings.Contains(rec.Body.String(), "goroutine") {
			t.Errorf("panic leaked to the client: %s", rec.Body)
		}
	})
}
