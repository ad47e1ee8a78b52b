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

// GET /stream takes the filters of /logs: only matching rows are sent.
func TestStreamFilters(t *testing.T) {
	tests := []struct {
		name  string
		query string
		want  []string // attackers of the first logs frame
	}{
		{"search by address", "search=ip:198.51.100.9", []string{"198.51.100.9"}},
		{"search for a part", "search=100.9", []string{"198.51.100.9"}},
		{"search with a time bound", "search=ip:198.51.100.9&start_time=2000-01-01T00:00:00Z", []string{"198.51.100.9"}},
		{"time bounds only", "start_time=2000-01-01 00:00:00&end_time=2999-01-01", []string{"192.0.2.1", "198.51.100.9"}},
		{"absent filter values", "search=undefined&start_time=null&end_time=", []string{"192.0.2.1", "198.51.100.9"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStreamEnv(t)
			resp, frames := s.open(t, "?"+strings.ReplaceAll(tc.query, " ", "%20"), http.Header{"Authorization": {"Bearer " + s.viewerToken()}})
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
			<-frames // the opening keepalive: the stream has its cursor
			s.ingestAll(t, "192.0.2.1", "198.51.100.9")
			f := next(t, frames, 2*time.Second)
			var msg struct {
				Data []store.EventRow `json:"data"`
			}
			if err := json.Unmarshal([]byte(f.data), &msg); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range msg.Data {
				got = append(got, r.AttackerIP)
			}
			if strings.Join(got, " ") != strings.Join(tc.want, " ") || f.id != "2" {
				t.Fatalf("frame id %s rows from %v, want id 2 and rows from %v", f.id, got, tc.want)
			}
		})
	}
}

func TestStreamFilterErrors(t *testing.T) {
	s := newStreamEnv(t)
	bearer := http.Header{"Authorization": {"Bearer " + s.viewerToken()}}
	tests := []struct{ query, field string }{
		{"start_time=yesterday", "start_time"},
		{"end_time=2026-13-45", "end_time"},
		{"search=" + strings.Repeat("s", maxFilterLen+1), "search"},
	}
	for _, tc := range tests {
		t.Run(tc.field, func(t *testing.T) {
			resp, _ := s.open(t, "?"+tc.query, bearer)
			var body errorBody
			json.NewDecoder(resp.Body).Decode(&body)
			if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body.Detail, tc.field) {
				t.Fatalf("%d %q, want 422 naming %s", resp.StatusCode, body.Detail, tc.field)
			}
		})
	}
}

// ingestAll stores one connect from each address, in order, in one batch.
func (s *streamEnv) ingestAll(t *testing.T, ips ...string) {
	t.Helper()
	var evs []event.Event
	for _, ip := range ips {
		ev := event.New("decky-01", "ssh", event.TypeConnect)
		ev.SrcIP = ip
		evs = append(evs, ev)
	}
	if _, err := s.st.IngestBatch(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
}

// A filtered stream moves its cursor past rows its filter skipped, and
// drains a backlog in whole batches.
func TestNextEventsCursor(t *testing.T) {
	s := newStreamEnv(t)
	ctx := context.Background()
	ips := make([]string, 0, streamBatch+51)
	for range streamBatch + 50 {
		ips = append(ips, "192.0.2.1")
	}
	s.ingestAll(t, append(ips, "198.51.100.9")...) // ids 1..150, then 151
	filter := func(query string) store.EventQuery {
		vals, _ := url.ParseQuery(query)
		q, err := eventFilters(vals)
		if err != nil {
			t.Fatal(err)
		}
		return q
	}
	tests := []struct {
		name   string
		query  string
		after  int64
		rows   int
		cursor int64
		full   bool
	}{
		{"nothing matches", "search=ip:203.0.113.1", 0, 0, 151, false},
		{"one match after many misses", "search=ip:198.51.100.9", 0, 1, 151, false},
		{"a full batch", "search=ip:192.0.2.1", 0, streamBatch, streamBatch, true},
		{"the rest of the backlog", "search=ip:192.0.2.1", streamBatch, 50, 151, false},
		{"all before end_time", "end_time=2000-01-01", 0, 0, 151, false},
		{"caught up", "search=ip:192.0.2.1", 151, 0, 151, false},
		{"unfiltered", "", 140, 11, 151, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rows, cursor, full, err := s.srv.nextEvents(ctx, filter(tc.query), tc.after)
			if err != nil || len(rows) != tc.rows || cursor != tc.cursor || full != tc.full {
				t.Fatalf("%d rows, cursor %d, full %v, err %v; want %d rows, cursor %d, full %v", len(rows), cursor, full, err, tc.rows, tc.cursor, tc.full)
			}
		})
	}
}
