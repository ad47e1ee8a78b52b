package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// receiver is a loopback endpoint that answers each delivery with the next
// status of its script (the last one repeats) and keeps what it received.
type receiver struct {
	mu      sync.Mutex
	script  []int
	bodies  [][]byte
	headers []http.Header
}

func newReceiver(t *testing.T, script ...int) (*receiver, string) {
	t.Helper()
	rc := &receiver{script: script}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		n := len(rc.bodies)
		rc.bodies, rc.headers = append(rc.bodies, b), append(rc.headers, r.Header.Clone())
		rc.mu.Unlock()
		w.WriteHeader(rc.script[min(n, len(rc.script)-1)])
	}))
	t.Cleanup(srv.Close)
	return rc, srv.URL
}

var ping = Message{ID: "e1", TS: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Topic: "test.ping", Type: "test.ping",
	Payload: map[string]any{"hello": "world"}}

func TestDeliverSignsAndRetries(t *testing.T) {
	tests := []struct {
		name      string
		script    []int
		delivered bool
		attempts  int
		status    int
	}{
		{"first try", []int{204}, true, 1, 204},
		{"5xx then ok", []int{503, 500, 200}, true, 3, 200},
		{"429 retried", []int{429, 202}, true, 2, 202},
		{"4xx is final", []int{404}, false, 1, 404},
		{"gives up after the backoff", []int{500}, false, 4, 500},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rc, url := newReceiver(t, tc.script...)
			s := NewSender(true, 2*time.Second)
			s.SetBackoff(time.Millisecond, time.Millisecond, time.Millisecond)
			res := s.Deliver(context.Background(), url, "0123456789abcdef", ping)
			if res.Delivered != tc.delivered || res.Attempts != tc.attempts || res.StatusCode != tc.status {
				t.Fatalf("result %+v; want delivered=%v attempts=%d status=%d", res, tc.delivered, tc.attempts, tc.status)
			}
			if len(rc.bodies) != tc.attempts {
				t.Fatalf("receiver saw %d posts, want %d", len(rc.bodies), tc.attempts)
			}
			body, h := rc.bodies[0], rc.headers[0]
			if got, want := h.Get(HeaderSignature), Sign("0123456789abcdef", body); got != want {
				t.Errorf("signature %q, want %q", got, want)
			}
			if h.Get(HeaderEventID) != "e1" || h.Get(HeaderTopic) != "test.ping" || h.Get("User-Agent") != UserAgent ||
				h.Get(HeaderTimestamp) != "1767323045" {
				t.Errorf("headers %v", h)
			}
			var got map[string]any
			if err := json.Unmarshal(body, &got); err != nil || got["v"] != float64(1) || got["topic"] != "test.ping" ||
				got["payload"].(map[string]any)["hello"] != "world" {
				t.Errorf("body %s (%v)", body, err)
			}
		})
	}
}

func TestSignKnownVector(t *testing.T) {
	// RFC 4231 test case 2.
	got := Sign("Jefe", []byte("what do ya want for nothing?"))
	if want := "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"; got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
}

func TestPrivateTargetsRefused(t *testing.T) {
	rc, url := newReceiver(t, 200)
	res := NewSender(false, time.Second).Deliver(context.Background(), url, "s", ping)
	if res.Delivered || res.Attempts != 1 || len(rc.bodies) != 0 {
		t.Fatalf("loopback delivery with private targets refused: %+v, %d posts", res, len(rc.bodies))
	}
}

func TestCheckURL(t *testing.T) {
	tests := []struct {
		url     string
		private bool
		ok      bool
	}{
		{"https://siem.example.org/hook", false, true},
		{"http://203.0.114.9:8080/x", false, true},
		{"ftp://siem.example.org/", false, false},
		{"siem.example.org/hook", false, false},
		{"https://user:pw@siem.example.org/", false, false},
		{"http://127.0.0.1/", false, false},
		{"http://127.0.0.1/", true, true},
		{"http://localhost:9000/", false, false},
		{"http://169.254.169.254/latest/meta-data", false, false},
		{"http://10.1.2.3/", false, false},
		{"http://[::1]/", false, false},
		{"http://[fe80::1]/", false, false},
		{"http://100.64.0.1/", false, false},
		{"http://[::ffff:192.168.1.1]/", false, false},
	}
	for _, tc := range tests {
		t.Run(tc.url, func(t *testing.T) {
			err := CheckURL(tc.url, tc.private)
			if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrForbiddenURL)) {
				t.Fatalf("CheckURL(%q, %v) = %v; want ok=%v", tc.url, tc.private, err, tc.ok)
			}
		})
	}
	if Public(netip.MustParseAddr("192.168.0.1")) || !Public(netip.MustParseAddr("8.8.8.8")) {
		t.Error("Public misclassifies")
	}
}
