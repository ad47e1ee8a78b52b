package api

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/decnet-go/decnet/internal/event"
)

// BenchmarkListLogs is one page of the newest 50 events out of 10 000.
func BenchmarkListLogs(b *testing.B) {
	e := newEnv(b)
	for batch := range 10 {
		evs := make([]event.Event, 0, 1000)
		for i := range 1000 {
			ev := event.New("decky-01", "ssh", event.TypeCommand)
			ev.SrcIP = fmt.Sprintf("198.51.%d.%d", batch, i%250)
			ev.Session = fmt.Sprintf("s-%d-%d", batch, i%50)
			ev.Fields = map[string]any{"command": fmt.Sprintf("echo %d", i)}
			evs = append(evs, ev)
		}
		if _, err := e.st.IngestBatch(context.Background(), evs); err != nil {
			b.Fatal(err)
		}
	}
	tok := e.viewerToken()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r := httptest.NewRequest("GET", "/api/v1/logs?limit=50", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		e.srv.ServeHTTP(rec, r)
		if rec.Code != http.StatusOK {
			b.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
}

// BenchmarkAuthCheck is the per-request cost of a bearer token: signature,
// claims, user row and revocation lookups.
func BenchmarkAuthCheck(b *testing.B) {
	e := newEnv(b)
	tok := e.viewerToken()
	r := httptest.NewRequest("GET", "/api/v1/logs", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := e.srv.authorize(r, accessViewer); err != nil {
			b.Fatal(err)
		}
	}
}
