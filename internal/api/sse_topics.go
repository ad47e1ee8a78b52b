package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/decnet-go/decnet/internal/store"
)

// Topics is the message bus as the live streams of attackers, identities
// and campaigns see it: the derived topics the pipeline publishes as JSON
// on core NATS (attacker.scored, identity.formed, …). *bus.Bus implements
// it.
type Topics interface {
	// Subscribe calls fn with every message published on subject (NATS
	// wildcards allowed) until unsubscribe is called. fn must not block.
	Subscribe(subject string, fn func(subject string, data []byte)) (unsubscribe func(), err error)
}

// Bus-backed stream limits (spec/data-api.md §3.14).
const (
	topicQueueSize   = 256 // frames waiting for a slow client; more are dropped
	topicSnapshotRow = 50  // rows of the identities and campaigns snapshots
	// identityRecheck is how often an attacker stream may re-read the
	// attacker's identity when attribution news names another one (the
	// attacker may have been linked or merged since the stream began).
	identityRecheck = time.Second
)

// topicFrame is the data of one bus frame: the topic it came on, its type
// (the observation's primitive, the fingerprint's probe, else the topic),
// when the API received it (Unix seconds) and the payload as published.
type topicFrame struct {
	Topic   string          `json:"topic"`
	Type    string          `json:"type"`
	TS      float64         `json:"ts"`
	Payload json.RawMessage `json:"payload"`

	event string    // the SSE event name
	keys  topicKeys // what filters read
}

// topicKeys are the payload fields the streams filter and name frames by.
type topicKeys struct {
	AttackerUUID string `json:"attacker_uuid"`
	IdentityUUID string `json:"identity_uuid"`
	Primitive    string `json:"primitive"`
	ProbeType    string `json:"probe_type"`
}

// attackerSnapshot opens an attacker's stream: its newest observation per
// primitive, as on GET /attackers/{uuid}.
type attackerSnapshot struct {
	AttackerUUID string           `json:"attacker_uuid"`
	Observations []observationRow `json:"observations"`
}

// topicStream is what one bus-backed stream follows.
type topicStream struct {
	subjects []string
	// root is the stream's own topic family ("identity", "campaign"),
	// dropped from the front of event names; "" for the attacker stream.
	root string
	// keep decides in the subscription callback, cheaply, whether a
	// message may concern the stream; nil keeps every message.
	keep func(f *topicFrame) bool
	// accept decides in the stream's goroutine, where it may read the
	// store; nil accepts every frame keep kept.
	accept func(ctx context.Context, f *topicFrame) bool
	// snapshot is read after subscribing, so no message falls between it
	// and the first frame.
	snapshot func(ctx context.Context) (any, error)
}

// eventName is the SSE event name of a bus topic:
//
//   - attacker.observation.{primitive…} → observation
//   - attacker.fingerprint_rotated → fingerprint.rotated
//   - attribution.profile.{x} → attribution.{x}
//   - on the identities and campaigns streams, the topic without its first
//     token when that is the stream's own family: identity.formed → formed,
//     identity.campaign.assigned → campaign.assigned, campaign.merged →
//     merged, campaign.identity.assigned → identity.assigned
//   - otherwise the topic itself (attacker.scored, attacker.fingerprinted,
//     attacker.intel.enriched, identity.campaign.assigned on the campaigns
//     stream).
func eventName(topic, root string) string {
	switch {
	case strings.HasPrefix(topic, "attacker.observation."):
		return "observation"
	case topic == "attacker.fingerprint_rotated":
		return "fingerprint.rotated"
	case strings.HasPrefix(topic, "attribution.profile."):
		return "attribution." + strings.TrimPrefix(topic, "attribution.profile.")
	case root != "" && strings.HasPrefix(topic, root+"."):
		return strings.TrimPrefix(topic, root+".")
	}
	return topic
}

// newTopicFrame turns a bus message into a frame; false when its payload
// is not a JSON value.
func newTopicFrame(topic string, data []byte, root string) (topicFrame, bool) {
	if !json.Valid(data) {
		return topicFrame{}, false
	}
	f := topicFrame{Topic: topic, Type: topic, Payload: append(json.RawMessage(nil), data...),
		TS: float64(time.Now().UnixMicro()) / 1e6, event: eventName(topic, root)}
	json.Unmarshal(data, &f.keys) // a payload of another shape filters as empty
	switch {
	case f.event == "observation" && f.keys.Primitive != "":
		f.Type = f.keys.Primitive
	case topic == "attacker.fingerprinted" && f.keys.ProbeType != "":
		f.Type = f.keys.ProbeType
	}
	return f, true
}

// frameQueue holds a stream's frames between the bus and the client. It
// never blocks the bus: when full, a frame is dropped and counted.
type frameQueue struct {
	ch      chan topicFrame
	dropped atomic.Int64
}

func newFrameQueue(n int) *frameQueue { return &frameQueue{ch: make(chan topicFrame, n)} }

// offer queues f, or drops it when the queue is full. The channel is never
// closed, so a callback still running after unsubscribing is harmless.
func (q *frameQueue) offer(f topicFrame) bool {
	select {
	case q.ch <- f:
		return true
	default:
		q.dropped.Add(1)
		return false
	}
}

// attackerEvents streams what the pipeline learns about one attacker.
// GET /api/v1/attackers/{uuid}/events (stream).
func (s *server) attackerEvents(w http.ResponseWriter, r *http.Request, id *identity) error {
	a, err := s.attackerByUUID(r.Context(), r.PathValue("uuid"))
	if err != nil {
		return err
	}
	ids := &identityWatch{s: s, attacker: a.UUID}
	return s.serveTopics(w, r, id, topicStream{
		subjects: []string{"attacker.observation.>", "attacker.fingerprint_rotated", "attacker.scored",
			"attacker.fingerprinted", "attacker.intel.enriched", "attribution.>"},
		keep: func(f *topicFrame) bool {
			return strings.HasPrefix(f.Topic, "attribution.") || f.keys.AttackerUUID == a.UUID
		},
		accept: func(ctx context.Context, f *topicFrame) bool {
			return !strings.HasPrefix(f.Topic, "attribution.") || ids.matches(ctx, f.keys.IdentityUUID)
		},
		snapshot: func(ctx context.Context) (any, error) {
			ids.refresh(ctx) // after subscribing, like the snapshot
			obs, err := s.attackerObservations(ctx, a.UUID)
			return attackerSnapshot{AttackerUUID: a.UUID, Observations: obs}, err
		},
	})
}

// identityEvents streams identity news (formed, merged, observations
// linked, campaign assigned). GET /api/v1/identities/events (stream).
func (s *server) identityEvents(w http.ResponseWriter, r *http.Request, id *identity) error {
	return s.serveTopics(w, r, id, topicStream{
		subjects: []string{"identity.>"},
		root:     "identity",
		snapshot: func(ctx context.Context) (any, error) {
			rows, total, err := s.st.Identities(ctx, topicSnapshotRow, 0)
			return pageOf(store.Page{Limit: topicSnapshotRow}, total, rows), err
		},
	})
}

// campaignEvents streams campaign news and identities joining campaigns.
// GET /api/v1/campaigns/events (stream).
func (s *server) campaignEvents(w http.ResponseWriter, r *http.Request, id *identity) error {
	return s.serveTopics(w, r, id, topicStream{
		subjects: []string{"campaign.>", "identity.campaign.assigned"},
		root:     "campaign",
		snapshot: func(ctx context.Context) (any, error) {
			rows, total, err := s.st.Campaigns(ctx, topicSnapshotRow, 0)
			return pageOf(store.Page{Limit: topicSnapshotRow}, total, rows), err
		},
	})
}

// serveTopics runs one bus-backed stream: `event: snapshot` first, then a
// frame per bus message the stream keeps, named by eventName, and a
// `: keepalive` comment every 15 s, at which the token is checked again.
// Without Topics (or when subscribing fails, said by an `event: error`
// frame) it sends the snapshot and keepalives only.
func (s *server) serveTopics(w http.ResponseWriter, r *http.Request, id *identity, ts topicStream) error {
	ctx := r.Context()
	if !s.streams.acquire(id.user.UUID) {
		return errTooManyStreams
	}
	defer s.streams.release(id.user.UUID)

	q := newFrameQueue(topicQueueSize)
	subscribed := true
	if s.topics != nil {
		for _, subject := range ts.subjects {
			unsubscribe, err := s.topics.Subscribe(subject, func(topic string, data []byte) {
				if f, ok := newTopicFrame(topic, data, ts.root); ok && (ts.keep == nil || ts.keep(&f)) {
					q.offer(f)
				}
			})
			if err != nil {
				s.log.Warn("api: stream cannot follow the bus", "subject", subject, "err", err)
				subscribed = false
				break
			}
			defer unsubscribe()
		}
	}
	defer func() {
		if n := q.dropped.Load(); n > 0 {
			s.topicDrops.Add(n)
			s.log.Warn("api: slow stream client, bus frames dropped", "user", id.user.Username, "path", r.URL.Path, "dropped", n)
		}
	}()
	snap, err := ts.snapshot(ctx)
	if err != nil {
		return err
	}

	out := startSSE(w)
	if out.event("snapshot", "", snap) != nil {
		return nil
	}
	if !subscribed && out.event("error", "", errorFrame{Type: "error", Message: "live updates unavailable"}) != nil {
		return nil
	}

	keepalive := time.NewTicker(s.keepaliveEvery)
	defer keepalive.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-keepalive.C:
			if !s.keepAlive(ctx, id, out) {
				return nil
			}
		case f := <-q.ch:
			if ts.accept != nil && !ts.accept(ctx, &f) {
				continue
			}
			if out.event(f.event, "", f) != nil {
				return nil
			}
		}
	}
}

// identityWatch knows which identities an attacker belongs to: the one it
// is linked to and, when that was merged, the one that absorbed it.
// Attribution news names identities, not attackers. Used by one stream's
// goroutine only.
type identityWatch struct {
	s        *server
	attacker string
	ids      map[string]bool
	read     time.Time
}

// matches reports whether identity is the attacker's. News about another
// identity makes it re-read the attacker's (at most every identityRecheck),
// since the attacker may have been linked or merged meanwhile.
func (w *identityWatch) matches(ctx context.Context, identity string) bool {
	if identity == "" {
		return false
	}
	if !w.ids[identity] && time.Since(w.read) >= w.s.identityEvery {
		w.refresh(ctx)
	}
	return w.ids[identity]
}

// refresh reads the attacker's identity and follows its merges. A read
// that fails keeps what was known.
func (w *identityWatch) refresh(ctx context.Context) {
	w.read = time.Now()
	linked, err := w.s.st.AttackerIdentity(ctx, w.attacker)
	if err != nil || linked == "" {
		return
	}
	ids := map[string]bool{linked: true}
	if i, err := w.s.st.IdentityByUUID(ctx, linked); err == nil {
		ids[i.UUID] = true
	}
	w.ids = ids
}
