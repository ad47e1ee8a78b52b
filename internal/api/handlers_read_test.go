package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/store"
)

// seedTimes stores events of 198.51.100.7 at fixed times: three in the
// 10:00 quarter hour, one at 10:20, one the next day.
func seedTimes(t *testing.T, e *testEnv) {
	t.Helper()
	base := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	var evs []event.Event
	for _, off := range []time.Duration{time.Minute, 5 * time.Minute, 14*time.Minute + 59*time.Second, 20 * time.Minute, 24 * time.Hour} {
		ev := event.New("decky-01", "ssh", event.TypeCommand)
		ev.Time, ev.SrcIP, ev.Session = base.Add(off), "198.51.100.7", "s1"
		ev.Fields = map[string]any{"command": "id"}
		evs = append(evs, ev)
	}
	if _, err := e.st.IngestBatch(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
}

func TestLogsTimeBoundsAndHistogram(t *testing.T) {
	e := newEnv(t)
	seedTimes(t, e)
	tok := e.viewerToken()
	tests := []struct {
		name, query string
		status      int
		total       int
	}{
		{"all", "", 200, 5},
		{"since", "start_time=2026-05-01T10:10:00Z", 200, 3},
		{"until, DECNET's form", "end_time=" + url.QueryEscape("2026-05-01 10:15:00"), 200, 3},
		{"between", "start_time=2026-05-01T10:02:00Z&end_time=2026-05-01T10:30:00Z", 200, 3},
		{"null means absent", "start_time=null", 200, 5},
		{"bad time", "start_time=yesterday", 422, 0},
	}
	for _, tc := range tests {
		t.Run("logs "+tc.name, func(t *testing.T) {
			rec := e.do("GET", "/api/v1/logs?"+tc.query, tok, "")
			if rec.Code != tc.status {
				t.Fatalf("%d %s, want %d", rec.Code, rec.Body, tc.status)
			}
			if tc.status != 200 {
				if !strings.Contains(detail(t, rec), "start_time") {
					t.Errorf("detail %q does not name start_time", detail(t, rec))
				}
				return
			}
			var env envelope[store.EventRow]
			decode(t, rec, &env)
			if env.Total != tc.total || len(env.Data) != tc.total {
				t.Errorf("total %d rows %d, want %d", env.Total, len(env.Data), tc.total)
			}
		})
	}

	hist := []struct {
		name, query string
		status      int
		want        []store.HistogramBucket
	}{
		{"default 15 min", "", 200, []store.HistogramBucket{
			{Time: "2026-05-01 10:00:00", Count: 3}, {Time: "2026-05-01 10:15:00", Count: 1}, {Time: "2026-05-02 10:00:00", Count: 1}}},
		{"hourly", "interval_minutes=60", 200, []store.HistogramBucket{
			{Time: "2026-05-01 10:00:00", Count: 4}, {Time: "2026-05-02 10:00:00", Count: 1}}},
		{"bounded", "interval_minutes=60&end_time=2026-05-01T23:00:00Z", 200, []store.HistogramBucket{
			{Time: "2026-05-01 10:00:00", Count: 4}}},
		{"searched", "search=decky:decky-02", 200, []store.HistogramBucket{}},
		{"interval zero", "interval_minutes=0", 422, nil},
		{"interval not a number", "interval_minutes=x", 422, nil},
		{"limit is not a histogram parameter", "limit=5000", 200, nil},
	}
	for _, tc := range hist {
		t.Run("histogram "+tc.name, func(t *testing.T) {
			rec := e.do("GET", "/api/v1/logs/histogram?"+tc.query, tok, "")
			if rec.Code != tc.status {
				t.Fatalf("%d %s, want %d", rec.Code, rec.Body, tc.status)
			}
			if tc.want == nil {
				return
			}
			var got []store.HistogramBucket
			decode(t, rec, &got)
			if g, w := mustJSON(t, got), mustJSON(t, tc.want); g != w {
				t.Errorf("buckets %s, want %s", g, w)
			}
		})
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestAttackersSortAndActivity(t *testing.T) {
	e := newEnv(t)
	e.seed() // 198.51.100.7: 5 events on decky-01 ssh; 203.0.113.9: 1 on decky-02 ftp (newer)
	// 192.0.2.50 touches two deckies, once each, and only connects to ftp.
	var evs []event.Event
	for _, d := range []struct{ decky, svc, typ string }{{"decky-01", "ssh", event.TypeCommand}, {"decky-02", "ftp", event.TypeConnect}} {
		ev := event.New(d.decky, d.svc, d.typ)
		ev.SrcIP, ev.Session = "192.0.2.50", "s9-"+d.decky
		evs = append(evs, ev)
	}
	if _, err := e.st.IngestBatch(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	tok := e.viewerToken()
	tests := []struct {
		query  string
		status int
		ips    []string
	}{
		{"sort_by=active", 200, []string{"198.51.100.7", "192.0.2.50", "203.0.113.9"}},
		{"sort_by=traversals", 200, []string{"192.0.2.50"}},
		{"sort_by=recent&limit=1", 200, []string{"192.0.2.50"}},
		{"sort_by=active&service=ftp", 200, []string{"192.0.2.50", "203.0.113.9"}},
		{"sort_by=null", 200, nil},
		{"sort_by=loudest", 422, nil},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			rec := e.do("GET", "/api/v1/attackers?"+tc.query, tok, "")
			if rec.Code != tc.status {
				t.Fatalf("%d %s, want %d", rec.Code, rec.Body, tc.status)
			}
			if tc.status == 422 && !strings.Contains(detail(t, rec), "sort_by") {
				t.Errorf("detail %q does not name sort_by", detail(t, rec))
			}
			if tc.ips == nil {
				return
			}
			var env envelope[store.Attacker]
			decode(t, rec, &env)
			var got []string
			for _, a := range env.Data {
				got = append(got, a.IP)
			}
			if strings.Join(got, ",") != strings.Join(tc.ips, ",") {
				t.Errorf("order %v, want %v", got, tc.ips)
			}
		})
	}

	rec := e.do("GET", "/api/v1/attackers/"+e.attackerUUID("192.0.2.50"), tok, "")
	var d struct {
		ServiceActivity store.ServiceActivity `json:"service_activity"`
		ThreatScore     *int                  `json:"threat_score"`
		Profile         map[string]any        `json:"profile"`
	}
	body := rec.Body.String()
	decode(t, rec, &d)
	if strings.Join(d.ServiceActivity.Interacted, ",") != "ssh" || strings.Join(d.ServiceActivity.Scanned, ",") != "ftp" {
		t.Fatalf("service activity %+v", d.ServiceActivity)
	}
	// Not profiled yet (no profile stage here): a zero score and a null profile.
	if d.ThreatScore == nil || *d.ThreatScore != 0 || d.Profile != nil || !strings.Contains(body, `"profile":null`) {
		t.Errorf("threat_score %v, profile %v", d.ThreatScore, d.Profile)
	}
}

func TestCORS(t *testing.T) {
	preflight := func(e *testEnv, origin string) *http.Request {
		r := httptestRequest("OPTIONS", "/api/v1/logs", "")
		r.Header.Set("Origin", origin)
		r.Header.Set("Access-Control-Request-Method", "GET")
		r.Header.Set("Access-Control-Request-Headers", "authorization")
		return r
	}
	t.Run("closed by default", func(t *testing.T) {
		e := newEnv(t)
		tok := e.viewerToken()
		rec := serve(e, preflight(e, "https://evil.example"))
		if rec.Code == http.StatusNoContent || rec.Header().Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("preflight answered: %d %v", rec.Code, rec.Header())
		}
		r := httptestRequest("GET", "/api/v1/logs", "")
		r.Header.Set("Origin", "http://localhost:8080")
		r.Header.Set("Authorization", "Bearer "+tok)
		if rec := serve(e, r); rec.Code != 200 || rec.Header().Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("cross-origin GET carries CORS headers: %d %v", rec.Code, rec.Header())
		}
	})
	t.Run("configured origin", func(t *testing.T) {
		e := newEnv(t, func(c *Config) { c.CORSOrigins = []string{"https://soc.example.org"} })
		rec := serve(e, preflight(e, "https://soc.example.org"))
		if rec.Code != http.StatusNoContent || rec.Header().Get("Access-Control-Allow-Origin") != "https://soc.example.org" ||
			!strings.Contains(rec.Header().Get("Access-Control-Allow-Headers"), "Authorization") {
			t.Fatalf("allowed preflight: %d %v", rec.Code, rec.Header())
		}
		if rec := serve(e, preflight(e, "https://evil.example")); rec.Header().Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("other origin allowed: %v", rec.Header())
		}
	})
	t.Run("wildcard refused", func(t *testing.T) {
		for _, o := range []string{"*", "soc.example.org", "https://soc.example.org/path"} {
			if err := (Config{JWTSecret: testSecret, CORSOrigins: []string{o}}).Validate(); err == nil {
				t.Errorf("origin %q accepted", o)
			}
		}
	})
}

func TestMetricsRoute(t *testing.T) {
	e := newEnv(t)
	tok := e.viewerToken()
	e.do("GET", "/api/v1/logs", tok, "")
	e.do("GET", "/api/v1/attackers/", tok, "") // a redirect: its path must not become a label
	e.do("GET", "/api/v1/no/such/route/"+strings.Repeat("x", 40), tok, "")
	if rec := e.do("GET", "/metrics", "", ""); rec.Code != http.StatusUnauthorized {
		t.Fatalf("metrics without a token: %d", rec.Code)
	}
	rec := e.do("GET", "/metrics", tok, "")
	body := rec.Body.String()
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain") {
		t.Fatalf("metrics: %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	for _, want := range []string{
		`decnet_api_request_seconds_count{code="200",method="GET",route="GET /api/v1/logs"} 1`,
		`route="unmatched"`,
		"decnet_store_batch_seconds_count 0",
		"go_goroutines",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(body, "xxxxxxxx") || strings.Contains(body, `route="/api/v1/attackers"`) {
		t.Errorf("a raw path became a label:\n%s", body)
	}
}
