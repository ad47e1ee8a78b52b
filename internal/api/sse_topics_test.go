package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/decnet-go/decnet/internal/bus"
)

// fakeTopics is an in-memory bus with NATS subject matching.
type fakeTopics struct {
	mu   sync.Mutex
	subs map[int]fakeSub
	next int
	fail string // a subject Subscribe refuses
}

type fakeSub struct {
	subject string
	fn      func(string, []byte)
}

func newFakeTopics() *fakeTopics { return &fakeTopics{subs: map[int]fakeSub{}} }

func (f *fakeTopics) Subscribe(subject string, fn func(string, []byte)) (func(), error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if subject == f.fail {
		return nil, fmt.Errorf("no bus for %s", subject)
	}
	id := f.next
	f.next++
	f.subs[id] = fakeSub{subject, fn}
	return func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		delete(f.subs, id)
	}, nil
}

// publish delivers payload (JSON-encoded unless it is a string) to every
// matching subscription, synchronously.
func (f *fakeTopics) publish(topic string, payload any) {
	data, ok := payload.(string)
	if !ok {
		b, _ := json.Marshal(payload)
		data = string(b)
	}
	f.mu.Lock()
	var fns []func(string, []byte)
	for _, s := range f.subs {
		if subjectMatches(s.subject, topic) {
			fns = append(fns, s.fn)
		}
	}
	f.mu.Unlock()
	for _, fn := range fns {
		fn(topic, []byte(data))
	}
}

func (f *fakeTopics) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.subs)
}

// subjectMatches is NATS matching: * one token, > the rest (at least one).
func subjectMatches(pattern, topic string) bool {
	p, t := strings.Split(pattern, "."), strings.Split(topic, ".")
	for i, tok := range p {
		switch {
		case tok == ">":
			return len(t) > i
		case i >= len(t):
			return false
		case tok != "*" && tok != t[i]:
			return false
		}
	}
	return len(p) == len(t)
}

// newTopicEnv is a stream environment whose API follows topics (nil: no
// bus), with the attacker seed and fast identity re-reads.
func newTopicEnv(t *testing.T, topics Topics) *streamEnv {
	t.Helper()
	s := newStreamEnv(t, func(srv *server) {
		srv.topics = topics
		srv.identityEvery = 0
	})
	s.seed()
	return s
}

// frameData decodes a bus frame's data.
func frameData(t *testing.T, f sseFrame) topicFrame {
	t.Helper()
	var tf topicFrame
	if err := json.Unmarshal([]byte(f.data), &tf); err != nil {
		t.Fatalf("frame %+v: %v", f, err)
	}
	return tf
}

// nextEvent waits for the next frame that is not a comment.
func nextEvent(t *testing.T, frames <-chan sseFrame) sseFrame {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case f, ok := <-frames:
			if !ok {
				t.Fatal("stream ended")
			}
			if f.comment == "" {
				return f
			}
		case <-deadline:
			t.Fatal("no frame within 10 s")
		}
	}
}

func TestAttackerEventsStream(t *testing.T) {
	bus := newFakeTopics()
	s := newTopicEnv(t, bus)
	ctx := context.Background()
	me, other := s.attackerUUID("198.51.100.7"), s.attackerUUID("203.0.113.9")
	myIdentity, err := s.st.EnsureStubIdentityForAttacker(ctx, me)
	if err != nil {
		t.Fatal(err)
	}
	otherIdentity, err := s.st.EnsureStubIdentityForAttacker(ctx, other)
	if err != nil {
		t.Fatal(err)
	}

	resp, frames := s.openPath(t, "/api/v1/attackers/"+me+"/events", http.Header{"Authorization": {"Bearer " + s.viewerToken()}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	for k, want := range map[string]string{"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("%s %q, want %q", k, got, want)
		}
	}
	f := nextEvent(t, frames)
	var snap attackerSnapshot
	if err := json.Unmarshal([]byte(f.data), &snap); err != nil || f.event != "snapshot" || snap.AttackerUUID != me || snap.Observations == nil {
		t.Fatalf("first frame %+v (%v), want the snapshot of %s with observations []", f, err, me)
	}

	// Each case publishes what the stream must skip, then what it must
	// send: the next frame must be the second.
	tests := []struct {
		name      string
		skip      [][2]any // topic, payload
		topic     string
		payload   any
		event     string
		frameType string
	}{
		{"score", [][2]any{{"attacker.scored", map[string]any{"attacker_uuid": other}}},
			"attacker.scored", map[string]any{"attacker_uuid": me, "threat_score": 42}, "attacker.scored", "attacker.scored"},
		{"observation", [][2]any{{"attacker.observation.motor.typing_cadence", map[string]any{"attacker_uuid": other, "primitive": "motor.typing_cadence"}}},
			"attacker.observation.motor.typing_cadence", map[string]any{"attacker_uuid": me, "primitive": "motor.typing_cadence"},
			"observation", "motor.typing_cadence"},
		{"rotation", nil, "attacker.fingerprint_rotated", map[string]any{"attacker_uuid": me, "probe_type": "jarm"},
			"fingerprint.rotated", "attacker.fingerprint_rotated"},
		{"fingerprint", [][2]any{{"attacker.fingerprinted", `not json`}}, "attacker.fingerprinted",
			map[string]any{"attacker_uuid": me, "probe_type": "hassh"}, "attacker.fingerprinted", "hassh"},
		{"intel", [][2]any{{"attacker.intel.enriched", map[string]any{"attacker_uuid": nil}}},
			"attacker.intel.enriched", map[string]any{"attacker_uuid": me, "level": "high"}, "attacker.intel.enriched", "attacker.intel.enriched"},
		{"attribution state", [][2]any{{"attribution.profile.state_changed", map[string]any{"identity_uuid": otherIdentity}}},
			"attribution.profile.state_changed", map[string]any{"identity_uuid": myIdentity, "new_state": "stable"},
			"attribution.state_changed", "attribution.profile.state_changed"},
		{"multi actor", [][2]any{{"attribution.profile.multi_actor_suspected", map[string]any{"identity_uuid": 7}}},
			"attribution.profile.multi_actor_suspected", map[string]any{"identity_uuid": myIdentity},
			"attribution.multi_actor_suspected", "attribution.profile.multi_actor_suspected"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, sk := range tc.skip {
				bus.publish(sk[0].(string), sk[1])
			}
			bus.publish(tc.topic, tc.payload)
			f := nextEvent(t, frames)
			got := frameData(t, f)
			want, _ := json.Marshal(tc.payload)
			if f.event != tc.event || got.Topic != tc.topic || got.Type != tc.frameType || string(got.Payload) != string(want) || got.TS <= 0 {
				t.Fatalf("frame %s %s, want event %s topic %s type %s payload %s", f.event, f.data, tc.event, tc.topic, tc.frameType, want)
			}
		})
	}

	t.Run("identity changes while streaming", func(t *testing.T) {
		// The attacker's identity is merged into another; attribution
		// news of the winner now concerns it.
		winner, err := s.st.EnsureStubIdentityForAttacker(ctx, s.attackerUUIDFor(t, "192.0.2.77"))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.st.MergeIdentity(ctx, myIdentity, winner); err != nil {
			t.Fatal(err)
		}
		bus.publish("attribution.profile.state_changed", map[string]any{"identity_uuid": winner, "new_state": "drifting"})
		if f := nextEvent(t, frames); f.event != "attribution.state_changed" || !strings.Contains(f.data, winner) {
			t.Fatalf("frame %+v, want the winner's state change", f)
		}
	})
}

// attackerUUIDFor ingests one event from ip and returns its attacker.
func (s *streamEnv) attackerUUIDFor(t *testing.T, ip string) string {
	t.Helper()
	s.ingest(t, ip)
	return s.attackerUUID(ip)
}

func TestIdentityAndCampaignEvents(t *testing.T) {
	bus := newFakeTopics()
	s := newTopicEnv(t, bus)
	ctx := context.Background()
	identity, err := s.st.EnsureStubIdentityForAttacker(ctx, s.attackerUUID("198.51.100.7"))
	if err != nil {
		t.Fatal(err)
	}
	campaign, err := s.st.CreateCampaign(ctx, "test")
	if err != nil {
		t.Fatal(err)
	}
	bearer := http.Header{"Authorization": {"Bearer " + s.viewerToken()}}

	tests := []struct {
		name     string
		path     string
		snapshot string // uuid the snapshot must list
		publish  [][2]string
		events   []string // the frames expected, in order
	}{
		{"identities", "/api/v1/identities/events", identity,
			[][2]string{{"campaign.formed", "c"}, {"identity.formed", "i"}, {"identity.observation.linked", "l"},
				{"identity.merged", "m"}, {"identity.campaign.assigned", "a"}},
			[]string{"formed", "observation.linked", "merged", "campaign.assigned"}},
		{"campaigns", "/api/v1/campaigns/events", campaign,
			[][2]string{{"identity.formed", "i"}, {"campaign.formed", "c"}, {"campaign.identity.assigned", "a"},
				{"identity.campaign.assigned", "b"}, {"campaign.merged", "m"}},
			[]string{"formed", "identity.assigned", "identity.campaign.assigned", "merged"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, frames := s.openPath(t, tc.path, bearer)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
			f := nextEvent(t, frames)
			var snap struct {
				Total int `json:"total"`
				Limit int `json:"limit"`
				Data  []struct {
					UUID string `json:"uuid"`
				} `json:"data"`
			}
			if err := json.Unmarshal([]byte(f.data), &snap); err != nil || f.event != "snapshot" || snap.Total != 1 ||
				snap.Limit != 50 || len(snap.Data) != 1 || snap.Data[0].UUID != tc.snapshot {
				t.Fatalf("snapshot %+v, want the one row %s", f, tc.snapshot)
			}
			for _, p := range tc.publish {
				bus.publish(p[0], map[string]string{"uuid": p[1]})
			}
			for _, want := range tc.events {
				if f := nextEvent(t, frames); f.event != want {
					t.Fatalf("frame %s %s, want event %s", f.event, f.data, want)
				}
			}
		})
	}
}

func TestTopicStreamRefusals(t *testing.T) {
	bus := newFakeTopics()
	s := newTopicEnv(t, bus)
	tok := s.viewerToken()
	bearer := http.Header{"Authorization": {"Bearer " + tok}}
	me := s.attackerUUID("198.51.100.7")

	t.Run("unknown attacker", func(t *testing.T) {
		resp, _ := s.openPath(t, "/api/v1/attackers/no-such-attacker/events", bearer)
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("%d, want 404", resp.StatusCode)
		}
	})
	t.Run("auth before existence", func(t *testing.T) {
		resp, _ := s.openPath(t, "/api/v1/attackers/no-such-attacker/events", nil)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("%d, want 401", resp.StatusCode)
		}
	})
	t.Run("ticket", func(t *testing.T) {
		tk := s.ticket(t, tok)
		resp, frames := s.openPath(t, "/api/v1/identities/events?ticket="+tk, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%d, want 200", resp.StatusCode)
		}
		if f := nextEvent(t, frames); f.event != "snapshot" {
			t.Fatalf("first frame %+v", f)
		}
		if resp, _ := s.openPath(t, "/api/v1/campaigns/events?ticket="+tk, nil); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("reused ticket: %d, want 401", resp.StatusCode)
		}
		if resp, _ := s.openPath(t, "/api/v1/campaigns/events?token="+tok, nil); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("raw token: %d, want 401", resp.StatusCode)
		}
	})
	t.Run("per-user cap shared with /stream", func(t *testing.T) {
		// The ticket stream above may still be closing; wait for its slot.
		viewer := s.userUUID(t, "viewer")
		waitFor(t, func() bool { return s.srv.streams.count(viewer) == 0 })
		paths := []string{"/api/v1/stream", "/api/v1/attackers/" + me + "/events", "/api/v1/identities/events",
			"/api/v1/campaigns/events", "/api/v1/identities/events"}
		for _, p := range paths {
			if resp, _ := s.openPath(t, p, bearer); resp.StatusCode != http.StatusOK {
				t.Fatalf("%s: %d", p, resp.StatusCode)
			}
		}
		for _, p := range []string{"/api/v1/attackers/" + me + "/events", "/api/v1/campaigns/events", "/api/v1/stream"} {
			resp, _ := s.openPath(t, p, bearer)
			if resp.StatusCode != http.StatusTooManyRequests {
				t.Fatalf("%s as stream %d: %d, want 429", p, maxStreamsPerUser+1, resp.StatusCode)
			}
		}
	})
}

// userUUID is the id of the account name.
func (s *streamEnv) userUUID(t *testing.T, name string) string {
	t.Helper()
	u, err := s.st.UserByName(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return u.UUID
}

// count is how many streams user has open.
func (c *streamCounter) count(user string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[user]
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatal("condition not met within 10 s")
}

// Streams unsubscribe when the client leaves, and without a bus (or when
// subscribing fails) they still send the snapshot and keepalives.
func TestTopicStreamLifecycle(t *testing.T) {
	t.Run("unsubscribes when the client leaves", func(t *testing.T) {
		bus := newFakeTopics()
		s := newTopicEnv(t, bus)
		resp, frames := s.openPath(t, "/api/v1/attackers/"+s.attackerUUID("198.51.100.7")+"/events",
			http.Header{"Authorization": {"Bearer " + s.viewerToken()}})
		nextEvent(t, frames)
		if n := bus.count(); n != 6 {
			t.Fatalf("%d subscriptions, want 6", n)
		}
		resp.Body.Close()
		waitFor(t, func() bool { return bus.count() == 0 })
	})
	t.Run("no bus", func(t *testing.T) {
		s := newTopicEnv(t, nil)
		s.srv.keepaliveEvery = 20 * time.Millisecond
		_, frames := s.openPath(t, "/api/v1/campaigns/events", http.Header{"Authorization": {"Bearer " + s.viewerToken()}})
		if f := nextEvent(t, frames); f.event != "snapshot" {
			t.Fatalf("first frame %+v", f)
		}
		for range 2 {
			if f := <-frames; f.comment != "keepalive" {
				t.Fatalf("frame %+v, want a keepalive", f)
			}
		}
	})
	t.Run("subscribe fails", func(t *testing.T) {
		bus := newFakeTopics()
		bus.fail = "identity.>"
		s := newTopicEnv(t, bus)
		_, frames := s.openPath(t, "/api/v1/identities/events", http.Header{"Authorization": {"Bearer " + s.viewerToken()}})
		if f := nextEvent(t, frames); f.event != "snapshot" {
			t.Fatalf("first frame %+v", f)
		}
		if f := nextEvent(t, frames); f.event != "error" || !strings.Contains(f.data, "live updates unavailable") {
			t.Fatalf("frame %+v, want an error frame", f)
		}
	})
}

func TestFrameQueueDropsOnOverflow(t *testing.T) {
	q := newFrameQueue(topicQueueSize)
	for i := range topicQueueSize + 10 {
		ok := q.offer(topicFrame{Topic: fmt.Sprint(i)})
		if want := i < topicQueueSize; ok != want {
			t.Fatalf("offer %d = %v, want %v", i, ok, want)
		}
	}
	if n := q.dropped.Load(); n != 10 {
		t.Fatalf("%d dropped, want 10", n)
	}
	if f := <-q.ch; f.Topic != "0" {
		t.Fatalf("first queued %q: the queue keeps the oldest", f.Topic)
	}
}

// A stream whose client reads nothing fills its queue; the bus callback
// never blocks, and the drops are counted when the stream ends.
func TestTopicStreamSlowClientDrops(t *testing.T) {
	bus := newFakeTopics()
	s := newTopicEnv(t, bus)
	me := s.attackerUUID("198.51.100.7")
	resp, frames := s.openPath(t, "/api/v1/attackers/"+me+"/events", http.Header{"Authorization": {"Bearer " + s.viewerToken()}})
	nextEvent(t, frames)
	b, _ := json.Marshal(map[string]any{"attacker_uuid": me, "pad": strings.Repeat("x", 32<<10)})
	big := string(b) // published as is
	done := make(chan struct{})
	go func() { // the reader stops: frames pile up in the socket, then the queue
		defer close(done)
		for range 2000 {
			bus.publish("attacker.scored", big)
		}
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second): // generous: -race is slow
		t.Fatal("publishing blocked on a slow stream")
	}
	resp.Body.Close()
	waitFor(t, func() bool { return s.srv.topicDrops.Load() > 0 })
}

func TestEventName(t *testing.T) {
	tests := []struct{ topic, root, want string }{
		{"attacker.observation.motor.shell_mastery.tab_completion", "", "observation"},
		{"attacker.fingerprint_rotated", "", "fingerprint.rotated"},
		{"attacker.scored", "", "attacker.scored"},
		{"attacker.fingerprinted", "", "attacker.fingerprinted"},
		{"attribution.profile.state_changed", "", "attribution.state_changed"},
		{"attribution.profile.multi_actor_suspected", "", "attribution.multi_actor_suspected"},
		{"identity.formed", "identity", "formed"},
		{"identity.observation.linked", "identity", "observation.linked"},
		{"identity.campaign.assigned", "identity", "campaign.assigned"},
		{"identity.campaign.assigned", "campaign", "identity.campaign.assigned"},
		{"campaign.identity.assigned", "campaign", "identity.assigned"},
		{"campaign.unmerged", "campaign", "unmerged"},
	}
	for _, tc := range tests {
		if got := eventName(tc.topic, tc.root); got != tc.want {
			t.Errorf("eventName(%q, %q) = %q, want %q", tc.topic, tc.root, got, tc.want)
		}
	}
}

// TestAttackerEventsRealBus: a core NATS publish on attacker.scored, as the
// profile stage makes, reaches the attacker's stream through *bus.Bus.
func TestAttackerEventsRealBus(t *testing.T) {
	b, err := bus.Open(context.Background(), bus.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	s := newTopicEnv(t, b)
	me := s.attackerUUID("198.51.100.7")
	_, frames := s.openPath(t, "/api/v1/attackers/"+me+"/events", http.Header{"Authorization": {"Bearer " + s.viewerToken()}})
	if f := nextEvent(t, frames); f.event != "snapshot" {
		t.Fatalf("first frame %+v", f)
	}
	for _, p := range []map[string]any{
		{"attacker_uuid": s.attackerUUID("203.0.113.9"), "threat_score": 1}, // another attacker's
		{"attacker_uuid": me, "attacker_ip": "198.51.100.7", "threat_score": 73},
	} {
		data, _ := json.Marshal(p)
		if err := b.Conn().Publish("attacker.scored", data); err != nil {
			t.Fatal(err)
		}
	}
	f := nextEvent(t, frames)
	got := frameData(t, f)
	var payload struct {
		AttackerUUID string `json:"attacker_uuid"`
		ThreatScore  int    `json:"threat_score"`
	}
	json.Unmarshal(got.Payload, &payload)
	if f.event != "attacker.scored" || got.Topic != "attacker.scored" || payload.AttackerUUID != me || payload.ThreatScore != 73 {
		t.Fatalf("frame %s %s, want this attacker's score", f.event, f.data)
	}
}
