package webhook

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/decnet-go/decnet/internal/bus"
	"github.com/decnet-go/decnet/internal/store"
)

// TestWorkerDeliversAndTrips runs the worker over an embedded bus and a
// SQLite store against two loopback receivers: one that accepts, whose
// subscription gets the matching message signed, and one that always
// fails, whose subscription is disabled after the threshold.
func TestWorkerDeliversAndTrips(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b, err := bus.Open(ctx, bus.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "decnet.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })

	got := make(chan map[string]any, 4)
	good := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any
		json.NewDecoder(r.Body).Decode(&m)
		if r.Header.Get(HeaderTopic) != "attacker.scored" {
			t.Errorf("topic header %q", r.Header.Get(HeaderTopic))
		}
		got <- m
	}))
	t.Cleanup(good.Close)
	var badHits atomic.Int32
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		badHits.Add(1)
		w.WriteHeader(http.StatusBadRequest) // final: no retries, one failure each
	}))
	t.Cleanup(bad.Close)

	okHook, err := st.CreateWebhook(ctx, store.Webhook{Name: "good", URL: good.URL, Secret: "0123456789abcdef", TopicPatterns: []string{"attacker.>"}, Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	badHook, err := st.CreateWebhook(ctx, store.Webhook{Name: "bad", URL: bad.URL, Secret: "0123456789abcdef", TopicPatterns: []string{"decky.*.state"}, Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	w := &Worker{Store: st, Conn: b.Conn(), Sender: NewSender(true, 2*time.Second), Threshold: 3}
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()

	nc := b.Conn()
	waitFor(t, func() bool { // the worker has subscribed
		nc.Publish("attacker.scored", []byte(`{"attacker_ip":"198.51.100.7","event_count":3}`))
		nc.Flush()
		select {
		case m := <-got:
			if m["topic"] != "attacker.scored" || m["type"] != "scored" || m["payload"].(map[string]any)["event_count"] != float64(3) {
				t.Errorf("delivered body %v", m)
			}
			return true
		case <-time.After(50 * time.Millisecond):
			return false
		}
	})
	nc.Publish("decky.web-01.traffic", []byte(`{}`)) // matches no pattern
	for range 3 {
		nc.Publish("decky.web-01.state", []byte(`{"type":"running"}`))
	}
	nc.Flush()
	waitFor(t, func() bool {
		h, err := st.Webhook(ctx, badHook.UUID)
		return err == nil && !h.Enabled && h.AutoDisabledAt != nil && h.ConsecutiveFailures == 3
	})
	if h, _ := st.Webhook(ctx, okHook.UUID); h.LastSuccessAt == nil || !h.Enabled {
		t.Errorf("good hook after a delivery: %+v", h)
	}
	// Disabled: further state messages reach nobody.
	waitFor(t, func() bool { // the worker reloaded without the tripped hook
		before := badHits.Load()
		nc.Publish("decky.web-01.state", []byte(`{}`))
		nc.Flush()
		time.Sleep(50 * time.Millisecond)
		return badHits.Load() == before
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
