package api

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/store"
)

// sseFrame is one server-sent event (or comment) as a client reads it.
type sseFrame struct {
	id, event, data, comment string
}

// streamEnv serves the API over a real listener, so streaming works.
type streamEnv struct {
	*testEnv
	url    string
	cancel context.CancelFunc // ends the server's base context
}

func newStreamEnv(t *testing.T, tune ...func(*server)) *streamEnv {
	t.Helper()
	e := newEnv(t)
	e.srv.pollEvery = 50 * time.Millisecond
	for _, f := range tune {
		f(e.srv)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ts := httptest.NewUnstartedServer(e.srv)
	ts.Config.BaseContext = func(net.Listener) context.Context { return ctx }
	ts.Start()
	t.Cleanup(func() { cancel(); ts.Close() })
	return &streamEnv{testEnv: e, url: ts.URL, cancel: cancel}
}

// open starts a stream request; frames arrive on the returned channel,
// which closes when the stream ends.
func (s *streamEnv) open(t *testing.T, query string, header http.Header) (*http.Response, <-chan sseFrame) {
	t.Helper()
	return s.openPath(t, "/api/v1/stream"+query, header)
}

// openPath is open for any stream route; path includes the query.
func (s *streamEnv) openPath(t *testing.T, path string, header http.Header) (*http.Response, <-chan sseFrame) {
	t.Helper()
	req, err := http.NewRequest("GET", s.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	frames := make(chan sseFrame, 16)
	go func() {
		defer close(frames)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var f sseFrame
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				frames <- f
				f = sseFrame{}
			case strings.HasPrefix(line, ":"):
				f.comment = strings.TrimSpace(line[1:])
			default:
				k, v, _ := strings.Cut(line, ": ")
				switch k {
				case "id":
					f.id = v
				case "event":
					f.event = v
				case "data":
					f.data = v
				}
			}
		}
	}()
	return resp, frames
}

// isSummary tells the stats and histogram frames apart from log frames.
func isSummary(f sseFrame) bool {
	return strings.HasPrefix(f.data, `{"type":"stats"`) || strings.HasPrefix(f.data, `{"type":"histogram"`)
}

// next waits for the next frame that is neither a keepalive nor a summary.
func next(t *testing.T, frames <-chan sseFrame, within time.Duration) sseFrame {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case f, ok := <-frames:
			if !ok {
				t.Fatal("stream ended")
			}
			if f.comment == "keepalive" || isSummary(f) {
				continue
			}
			return f
		case <-deadline:
			t.Fatalf("no frame within %v", within)
		}
	}
}

func (s *streamEnv) ticket(t *testing.T, tok string) string {
	t.Helper()
	rec := s.do("POST", "/api/v1/auth/sse-ticket", tok, "")
	var tr ticketResponse
	decode(t, rec, &tr)
	if tr.Ticket == "" || tr.ExpiresIn != 60 {
		t.Fatalf("ticket response %s", rec.Body)
	}
	return tr.Ticket
}

func (s *streamEnv) ingest(t *testing.T, ip string) {
	t.Helper()
	ev := event.New("decky-01", "ssh", event.TypeConnect)
	ev.SrcIP = ip
	if _, err := s.st.IngestBatch(context.Background(), []event.Event{ev}); err != nil {
		t.Fatal(err)
	}
}

func TestStreamWithTicket(t *testing.T) {
	s := newStreamEnv(t)
	s.ingest(t, "192.0.2.1") // history: a new stream starts after it
	tok := s.viewerToken()
	tk := s.ticket(t, tok)

	resp, frames := s.open(t, "?ticket="+tk, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	for k, want := range map[string]string{"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("%s %q, want %q", k, got, want)
		}
	}
	s.ingest(t, "198.51.100.7")
	f := next(t, frames, 2*time.Second)
	var msg struct {
		Type string           `json:"type"`
		Data []store.EventRow `json:"data"`
	}
	if err := json.Unmarshal([]byte(f.data), &msg); err != nil {
		t.Fatalf("frame data %q: %v", f.data, err)
	}
	if f.event != "message" || msg.Type != "logs" || len(msg.Data) != 1 || msg.Data[0].AttackerIP != "198.51.100.7" {
		t.Fatalf("frame %+v", f)
	}
	if f.id != "2" {
		t.Errorf("frame id %q, want the row id 2", f.id)
	}

	t.Run("ticket is single use", func(t *testing.T) {
		resp, _ := s.open(t, "?ticket="+tk, nil)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("reused ticket: %d, want 401", resp.StatusCode)
		}
	})
	t.Run("unknown ticket", func(t *testing.T) {
		if resp, _ := s.open(t, "?ticket=made-up", nil); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("%d, want 401", resp.StatusCode)
		}
	})
	t.Run("raw token in query is refused", func(t *testing.T) {
		if resp, _ := s.open(t, "?token="+tok, nil); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("%d, want 401", resp.StatusCode)
		}
	})
}

func TestStreamResume(t *testing.T) {
	s := newStreamEnv(t)
	for _, ip := range []string{"192.0.2.1", "192.0.2.2", "192.0.2.3"} {
		s.ingest(t, ip)
	}
	bearer := http.Header{"Authorization": {"Bearer " + s.viewerToken()}}
	tests := []struct {
		name   string
		query  string
		header string // Last-Event-ID
		first  string // attacker of the first event delivered
		status int
	}{
		{"query cursor", "?lastEventId=1", "", "192.0.2.2", 200},
		{"header wins over query", "?lastEventId=1", "2", "192.0.2.3", 200},
		{"bad cursor", "?lastEventId=abc", "", "", 422},
		{"negative cursor", "?lastEventId=-4", "", "", 422},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := bearer.Clone()
			if tc.header != "" {
				h.Set("Last-Event-ID", tc.header)
			}
			resp, frames := s.open(t, tc.query, h)
			if resp.StatusCode != tc.status {
				t.Fatalf("%d, want %d", resp.StatusCode, tc.status)
			}
			if tc.status != 200 {
				return
			}
			f := next(t, frames, 2*time.Second)
			if !strings.Contains(f.data, `"attacker_ip":"`+tc.first+`"`) || f.id != "3" {
				t.Fatalf("first frame %+v, want events from %s up to id 3", f, tc.first)
			}
		})
	}
}

func TestStreamLimitsAndShutdown(t *testing.T) {
	s := newStreamEnv(t)
	bearer := http.Header{"Authorization": {"Bearer " + s.viewerToken()}}
	var streams []<-chan sseFrame
	for i := range maxStreamsPerUser {
		resp, frames := s.open(t, "", bearer)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("stream %d: %d", i+1, resp.StatusCode)
		}
		streams = append(streams, frames)
	}
	resp, _ := s.open(t, "", bearer)
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("stream %d: %d, want 429", maxStreamsPerUser+1, resp.StatusCode)
	}

	s.cancel() // the server is shutting down
	for i, frames := range streams {
		deadline := time.After(2 * time.Second)
	drain:
		for {
			select {
			case _, ok := <-frames:
				if !ok {
					break drain
				}
			case <-deadline:
				t.Fatalf("stream %d still open after the base context ended", i+1)
			}
		}
	}
}

func TestStreamKeepalive(t *testing.T) {
	s := newStreamEnv(t, func(s *server) { s.keepaliveEvery = 20 * time.Millisecond })
	_, frames := s.open(t, "", http.Header{"Authorization": {"Bearer " + s.viewerToken()}})
	n := 0
	timeout := time.After(2 * time.Second)
	for n < 3 {
		select {
		case f := <-frames:
			if isSummary(f) {
				continue
			}
			if f.comment != "keepalive" {
				t.Fatalf("unexpected frame %+v", f)
			}
			n++
		case <-timeout:
			t.Fatalf("%d keepalives in 2 s", n)
		}
	}
}

func TestTicketExpiry(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	tk := newTickets(time.Minute, 2)
	tk.now = func() time.Time { return now }
	as := func(user string) *identity { return &identity{user: store.User{UUID: user}, jti: user + "-jti"} }
	a, _ := tk.issue(as("alice"))
	b, _ := tk.issue(as("bob"))
	if _, err := tk.issue(as("carol")); err == nil {
		t.Fatal("issued past the bound")
	}
	now = now.Add(61 * time.Second)
	if _, ok := tk.redeem(a); ok {
		t.Error("expired ticket redeemed")
	}
	if c, err := tk.issue(as("carol")); err != nil {
		t.Fatalf("expired tickets not swept: %v", err)
	} else if id, ok := tk.redeem(c); !ok || id.user.UUID != "carol" || id.jti != "carol-jti" {
		t.Errorf("redeem = %+v %v", id, ok)
	}
	_ = b
}

func TestStreamEndsWhenTokenDies(t *testing.T) {
	tests := []struct {
		name string
		kill func(s *streamEnv, tok string)
	}{
		{"logout", func(s *streamEnv, tok string) { s.do("POST", "/api/v1/auth/logout", tok, "") }},
		{"password change", func(s *streamEnv, tok string) {
			s.do("POST", "/api/v1/auth/change-password", tok, `{"old_password":"`+testPassword+`","new_password":"another fine secret"}`)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStreamEnv(t, func(s *server) { s.keepaliveEvery = 20 * time.Millisecond })
			tok := s.viewerToken()
			resp, frames := s.open(t, "?ticket="+s.ticket(t, tok), nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%d", resp.StatusCode)
			}
			<-frames // the opening keepalive
			tc.kill(s, tok)
			deadline := time.After(2 * time.Second)
			for {
				select {
				case _, ok := <-frames:
					if !ok {
						return
					}
				case <-deadline:
					t.Fatal("stream outlived its token")
				}
			}
		})
	}
}

// The stream opens with the dashboard's numbers: a stats frame, then the
// histogram of the last day, as DECNET's stream does.
func TestStreamSendsSummary(t *testing.T) {
	s := newStreamEnv(t)
	s.ingest(t, "192.0.2.9")
	_, frames := s.open(t, "", http.Header{"Authorization": {"Bearer " + s.viewerToken()}})
	var got []string
	deadline := time.After(2 * time.Second)
	for len(got) < 2 {
		select {
		case f := <-frames:
			if f.comment == "" {
				got = append(got, f.event+" "+f.data)
			}
		case <-deadline:
			t.Fatalf("frames so far: %q", got)
		}
	}
	if !strings.HasPrefix(got[0], `message {"type":"stats","data":{"total_logs":1`) || !strings.HasPrefix(got[1], `message {"type":"histogram","data":[`) {
		t.Fatalf("first frames %q; want stats then histogram", got)
	}
}
