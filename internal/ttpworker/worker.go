// Package ttpworker is the pipeline stage that tags raw events with ATT&CK
// techniques: it consumes the event stream durably, runs the TTP engine
// (single-event rules and windowed lifters), anchors each tag on the
// attacker of the event's source address, stores it insert-or-ignore and,
// for rows that are new, publishes ttp.tagged and ttp.rule.fired.<T>.
//
// Redelivered events give the same tag ids, so they insert nothing and
// publish nothing: the store is the loop guard.
package ttpworker

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/decnet-go/decnet/internal/bus"
	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/store"
	"github.com/decnet-go/decnet/internal/ttp"
)

// Durable names the worker's JetStream consumer.
const Durable = "ttp"

// Topics published for new tags (spec intel §5).
const (
	TopicTagged      = "ttp.tagged"
	TopicFiredPrefix = "ttp.rule.fired."
)

// Source is where deliveries come from (a *bus.Consumer).
type Source interface {
	Next(ctx context.Context, max int, linger time.Duration) ([]bus.Delivery, error)
}

// Store is what the worker needs of the store.
type Store interface {
	AttackerByIP(ctx context.Context, ip string) (store.Attacker, error)
	InsertTag(ctx context.Context, t store.Tag) (bool, error)
}

// Publisher sends a message on a core NATS subject (a *nats.Conn).
type Publisher interface {
	Publish(subject string, data []byte) error
}

// Worker tags events. Set the fields, then Run.
type Worker struct {
	Source  Source
	Store   Store
	Engine  *ttp.Engine
	Publish Publisher // nil: tags are stored, nothing is published
	Log     *slog.Logger
	// Retries is how often a delivery whose attacker row does not exist yet
	// (the ingest worker has not caught up) is redelivered before its
	// events are dropped; default 5, one second apart.
	Retries int

	tracker   *ttp.Tracker
	once      sync.Once
	mu        sync.Mutex
	attempts  map[string]int       // first event id of a delivery → redeliveries
	held      map[string][]ttp.Tag // event id → tags waiting for their attacker row
	inserted  atomic.Int64
	published atomic.Int64
	lastErr   atomic.Pointer[string]
}

// Stats are counters for tests and health.
type Stats struct {
	Inserted  int64 // new ttp_tag rows
	Published int64 // ttp.tagged messages
}

// Stats reports the counters.
func (w *Worker) Stats() Stats {
	return Stats{Inserted: w.inserted.Load(), Published: w.published.Load()}
}

// Health is nil unless the last store write failed.
func (w *Worker) Health(context.Context) error {
	if p := w.lastErr.Load(); p != nil {
		return errors.New(*p)
	}
	return nil
}

func (w *Worker) init() {
	w.once.Do(func() {
		if w.Log == nil {
			w.Log = slog.Default()
		}
		if w.Retries <= 0 {
			w.Retries = 5
		}
		w.tracker = w.Engine.NewTracker(0)
		w.attempts = map[string]int{}
		w.held = map[string][]ttp.Tag{}
	})
}

// Run consumes until ctx ends.
func (w *Worker) Run(ctx context.Context) {
	w.init()
	for ctx.Err() == nil {
		ds, err := w.Source.Next(ctx, 256, 20*time.Millisecond)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			w.Log.Warn("ttp: next", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		for _, d := range ds {
			w.Handle(ctx, d)
		}
	}
}

// errNoAttacker: the event's source address has no attacker row yet.
var errNoAttacker = errors.New("no attacker row for the source address")

// Handle tags one delivery and acknowledges it (or asks for it again when
// a store write failed or its attacker is not stored yet).
func (w *Worker) Handle(ctx context.Context, d bus.Delivery) {
	w.init()
	if d.Err != nil {
		w.Log.Warn("ttp: dropping undecodable message", "err", d.Err)
		_ = d.Term()
		return
	}
	key := ""
	if len(d.Events) > 0 {
		key = d.Events[0].ID
	}
	err := w.process(ctx, d.Events)
	switch {
	case err == nil:
	case errors.Is(err, errNoAttacker):
		w.mu.Lock()
		w.attempts[key]++
		n := w.attempts[key]
		if n > w.Retries || len(w.attempts) > 10_000 {
			delete(w.attempts, key)
			for _, ev := range d.Events {
				delete(w.held, ev.ID)
			}
			w.mu.Unlock()
			w.Log.Info("ttp: dropping tags of events whose attacker is unknown (profiler hasn't caught up)", "event", key)
			break
		}
		w.mu.Unlock()
		_ = d.Nak(time.Second)
		return
	default:
		msg := err.Error()
		w.lastErr.Store(&msg)
		w.Log.Warn("ttp: store write failed; redelivering", "err", err)
		_ = d.Nak(2 * time.Second)
		return
	}
	w.mu.Lock()
	delete(w.attempts, key)
	w.mu.Unlock()
	w.lastErr.Store(nil)
	_ = d.Ack()
}

// process tags events. Tags whose attacker is missing make it return
// errNoAttacker after the others are stored; redelivery then inserts only
// what is missing.
func (w *Worker) process(ctx context.Context, evs []event.Event) error {
	var missing bool
	attackers := map[string]string{} // ip → attacker uuid
	for _, ev := range evs {
		tags := w.tag(ev)
		if len(tags) == 0 {
			continue
		}
		id, ok := attackers[ev.SrcIP]
		if !ok && ev.SrcIP != "" {
			a, err := w.Store.AttackerByIP(ctx, ev.SrcIP)
			switch {
			case err == nil:
				id = a.UUID
			case errors.Is(err, store.ErrNotFound):
			default:
				return err
			}
			attackers[ev.SrcIP] = id
		}
		if id == "" {
			missing = true
			w.hold(ev.ID, tags)
			continue
		}
		var fresh []ttp.Tag
		for _, t := range tags {
			isNew, err := w.Store.InsertTag(ctx, row(t, id))
			if err != nil {
				return err
			}
			if isNew {
				fresh = append(fresh, t)
			}
		}
		w.inserted.Add(int64(len(fresh)))
		w.release(ev.ID)
		w.announce(id, ev, fresh)
	}
	if missing {
		return errNoAttacker
	}
	return nil
}

// maxHeld bounds the events whose tags wait for an attacker row.
const maxHeld = 10_000

// tag runs the engine and the lifters. An event redelivered because its
// attacker row was missing gets the tags computed the first time, so the
// windowed lifters never count it twice. (Any other redelivery passes the
// lifters again; their episode-named source ids keep that from storing
// anything new.)
func (w *Worker) tag(ev event.Event) []ttp.Tag {
	w.mu.Lock()
	tags, ok := w.held[ev.ID]
	w.mu.Unlock()
	if ok {
		return tags
	}
	return w.tracker.Observe(ev)
}

func (w *Worker) hold(eventID string, tags []ttp.Tag) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.held) >= maxHeld {
		for k := range w.held { // drop any one: the bound matters, not which
			delete(w.held, k)
			break
		}
	}
	w.held[eventID] = tags
}

func (w *Worker) release(eventID string) {
	w.mu.Lock()
	delete(w.held, eventID)
	w.mu.Unlock()
}

func row(t ttp.Tag, attackerUUID string) store.Tag {
	ev, err := json.Marshal(t.Evidence)
	if err != nil || len(t.Evidence) == 0 {
		ev = []byte("{}")
	}
	created := t.ObservedAt
	if created.IsZero() {
		created = time.Now()
	}
	return store.Tag{
		UUID: t.ID, SourceKind: t.SourceKind, SourceID: t.SourceID, AttackerUUID: attackerUUID,
		SessionID: t.Session, DeckyID: t.Decky, Tactic: t.Tactic, TechniqueID: t.TechniqueID,
		SubTechniqueID: t.SubTechniqueID, Confidence: t.Confidence, RuleID: t.RuleID, RuleVersion: t.RuleVersion,
		Evidence: ev, AttackRelease: t.AttackRelease, MitreURL: t.MitreURL, CreatedAt: created,
	}
}

// Tagged is the ttp.tagged payload.
type Tagged struct {
	AttackerUUID    string   `json:"attacker_uuid"`
	IdentityUUID    string   `json:"identity_uuid,omitempty"`
	SessionID       string   `json:"session_id,omitempty"`
	TagUUIDs        []string `json:"tag_uuids"`
	TechniquesAdded []string `json:"techniques_added"`
}

// Fired is the ttp.rule.fired.<T> payload (parent technique only).
type Fired struct {
	TechniqueID  string   `json:"technique_id"`
	TagUUIDs     []string `json:"tag_uuids"`
	AttackerUUID string   `json:"attacker_uuid"`
	IdentityUUID string   `json:"identity_uuid,omitempty"`
	SessionID    string   `json:"session_id,omitempty"`
}

func (w *Worker) announce(attackerUUID string, ev event.Event, fresh []ttp.Tag) {
	if len(fresh) == 0 || w.Publish == nil {
		return
	}
	msg := Tagged{AttackerUUID: attackerUUID, SessionID: ev.Session}
	byTech := map[string][]string{}
	var order []string
	for _, t := range fresh {
		msg.TagUUIDs = append(msg.TagUUIDs, t.ID)
		tech := t.TechniqueID
		if t.SubTechniqueID != "" {
			tech = t.SubTechniqueID
		}
		if !containsStr(msg.TechniquesAdded, tech) {
			msg.TechniquesAdded = append(msg.TechniquesAdded, tech)
		}
		if _, ok := byTech[t.TechniqueID]; !ok {
			order = append(order, t.TechniqueID)
		}
		byTech[t.TechniqueID] = append(byTech[t.TechniqueID], t.ID)
	}
	w.send(TopicTagged, msg)
	w.published.Add(1)
	for _, tech := range order {
		w.send(TopicFiredPrefix+tech, Fired{TechniqueID: tech, TagUUIDs: byTech[tech], AttackerUUID: attackerUUID, SessionID: ev.Session})
	}
}

func (w *Worker) send(subject string, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		return
	}
	if err := w.Publish.Publish(subject, data); err != nil {
		w.Log.Warn("ttp: publish", "subject", subject, "err", err)
	}
}

func containsStr(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
