// Package ttpworker is the pipeline stage that tags events with ATT&CK
// techniques. It consumes two JetStream streams durably: the raw events
// (events.>) and the derived notifications other workers publish after
// their store writes (attacker.intel.enriched, identity.formed,
// credential.reuse.detected, email.received, … kept by the DERIVED stream;
// see DerivedTopics). It runs the TTP engine (single-event rules and
// windowed lifters), anchors each tag on an attacker (the payload's, or
// that of the source address) or an identity, stores a batch of
// deliveries' tags in one transaction, insert-or-ignore, and, for rows that
// are new, publishes ttp.tagged and ttp.rule.fired.<T>.
//
// Redelivered events give the same tag ids, so they insert nothing and
// publish nothing: the store is the loop guard. The worker's own ttp.>
// subjects are on no stream it consumes.
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

// Durable names the worker's JetStream consumer of raw events.
const Durable = "ttp"

// Topics published for new tags (spec intel §5).
const (
	TopicTagged      = "ttp.tagged"
	TopicFiredPrefix = "ttp.rule.fired."
)

// Source is where raw-event deliveries come from (a *bus.Consumer).
type Source interface {
	Next(ctx context.Context, max int, linger time.Duration) ([]bus.Delivery, error)
}

// DerivedSource is where derived notifications come from (a
// *bus.DerivedConsumer over DerivedTopics).
type DerivedSource interface {
	Next(ctx context.Context, max int, linger time.Duration) ([]bus.Message, error)
}

// Store is what the worker needs of the store.
type Store interface {
	AttackerUUIDByIP(ctx context.Context, ip string) (string, error)
	InsertTag(ctx context.Context, t store.Tag) (bool, error)
	InsertTags(ctx context.Context, tags []store.Tag) ([]string, error)
}

// Publisher sends a message on a core NATS subject (a *nats.Conn).
type Publisher interface {
	Publish(subject string, data []byte) error
}

// Worker tags events. Set the fields, then Run.
type Worker struct {
	Source  Source
	Derived DerivedSource // nil: derived notifications are not tagged
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
	commitMu  sync.Mutex           // one tag batch at a time: the store's new-row check relies on it
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

// batchSize bounds the deliveries handled (and the tags stored) together.
const batchSize = 256

// Run consumes until ctx ends: raw events from Source and, when set,
// derived notifications from Derived, each in batches of up to 256
// deliveries stored in one transaction.
func (w *Worker) Run(ctx context.Context) {
	w.init()
	var wg sync.WaitGroup
	if w.Derived != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				ms, err := w.Derived.Next(ctx, batchSize, 20*time.Millisecond)
				if err != nil {
					w.pause(ctx, err)
					continue
				}
				w.HandleDerived(ctx, ms)
			}
		}()
	}
	for ctx.Err() == nil {
		ds, err := w.Source.Next(ctx, batchSize, 20*time.Millisecond)
		if err != nil {
			w.pause(ctx, err)
			continue
		}
		w.HandleBatch(ctx, ds)
	}
	wg.Wait()
}

func (w *Worker) pause(ctx context.Context, err error) {
	if ctx.Err() != nil {
		return
	}
	w.Log.Warn("ttp: next", "err", err)
	select {
	case <-ctx.Done():
	case <-time.After(100 * time.Millisecond):
	}
}

// errNoAttacker: the event's source address has no attacker row yet.
var errNoAttacker = errors.New("no attacker row for the source address")

// Handle tags one delivery and acknowledges it (or asks for it again when
// a store write failed or its attacker is not stored yet).
func (w *Worker) Handle(ctx context.Context, d bus.Delivery) { w.HandleBatch(ctx, []bus.Delivery{d}) }

// HandleBatch tags deliveries together: their tags are stored in one
// transaction, then the new ones are announced and the deliveries
// acknowledged. A failed store write asks for all of them again; a
// delivery whose attacker is not stored yet is asked for again alone.
func (w *Worker) HandleBatch(ctx context.Context, ds []bus.Delivery) {
	w.init()
	items := make([]item, 0, bus.EventCount(ds))
	live := make([]bool, len(ds))
	for i, d := range ds {
		if d.Err != nil {
			w.Log.Warn("ttp: dropping undecodable message", "err", d.Err)
			_ = d.Term()
			continue
		}
		live[i] = true
		for _, ev := range d.Events {
			items = append(items, item{ev: ev, ip: ev.SrcIP, owner: i})
		}
	}
	missing, err := w.commit(ctx, items, len(ds))
	if err != nil {
		msg := err.Error()
		w.lastErr.Store(&msg)
		w.Log.Warn("ttp: store write failed; redelivering", "err", err)
		for i, d := range ds {
			if live[i] {
				_ = d.Nak(2 * time.Second)
			}
		}
		return
	}
	w.lastErr.Store(nil)
	for i, d := range ds {
		if !live[i] {
			continue
		}
		key := ""
		if len(d.Events) > 0 {
			key = d.Events[0].ID
		}
		if missing[i] && w.retry(key, d.Events) {
			_ = d.Nak(time.Second)
			continue
		}
		w.mu.Lock()
		delete(w.attempts, key)
		w.mu.Unlock()
		_ = d.Ack()
	}
}

// retry counts a redelivery of a delivery whose attacker is unknown and
// reports whether to ask for it again; past Retries its held tags are
// dropped.
func (w *Worker) retry(key string, evs []event.Event) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.attempts[key]++
	if w.attempts[key] <= w.Retries && len(w.attempts) <= 10_000 {
		return true
	}
	delete(w.attempts, key)
	for _, ev := range evs {
		delete(w.held, ev.ID)
	}
	w.Log.Info("ttp: dropping tags of events whose attacker is unknown (profiler hasn't caught up)", "event", key)
	return false
}

// process tags events as one delivery. Tags whose attacker is missing make
// it return errNoAttacker after the others are stored; redelivery then
// inserts only what is missing.
func (w *Worker) process(ctx context.Context, evs []event.Event) error {
	w.init()
	items := make([]item, len(evs))
	for i, ev := range evs {
		items[i] = item{ev: ev, ip: ev.SrcIP}
	}
	missing, err := w.commit(ctx, items, 1)
	if err != nil {
		return err
	}
	if missing[0] {
		return errNoAttacker
	}
	return nil
}

// item is one event to tag, with the anchors its notification named.
type item struct {
	ev       event.Event
	attacker string // anchors given by a derived payload
	identity string
	ip       string // else the attacker of this address
	derived  bool   // a derived notification: dropped, not retried, without an anchor
	owner    int    // index of its delivery in the batch
}

// group is the tags of one item, anchored.
type group struct {
	attacker, identity string
	ev                 event.Event
	tags               []ttp.Tag
}

// commit tags items, stores every anchored tag in one transaction and
// announces the rows that are new. missing[owner] is set for deliveries
// with raw events whose attacker row does not exist yet (their tags are
// held for the redelivery).
func (w *Worker) commit(ctx context.Context, items []item, owners int) (missing []bool, err error) {
	missing = make([]bool, owners)
	attackers := map[string]string{} // ip → attacker uuid ("" = none)
	groups := make([]group, 0, len(items))
	rows := make([]store.Tag, 0, len(items))
	for _, it := range items {
		var tags []ttp.Tag
		if it.derived {
			tags = w.Engine.Tag(it.ev)
		} else {
			tags = w.tag(it.ev)
		}
		if len(tags) == 0 {
			continue
		}
		g := group{attacker: it.attacker, identity: it.identity, ev: it.ev, tags: tags}
		if g.attacker == "" && g.identity == "" && it.ip != "" {
			id, ok := attackers[it.ip]
			if !ok {
				uuid, err := w.Store.AttackerUUIDByIP(ctx, it.ip)
				switch {
				case err == nil:
					id = uuid
				case errors.Is(err, store.ErrNotFound):
				default:
					return missing, err
				}
				attackers[it.ip] = id
			}
			g.attacker = id
		}
		if g.attacker == "" && g.identity == "" {
			if it.derived {
				w.Log.Info("ttp: dropping a notification with no attacker or identity (profiler hasn't caught up)",
					"source_kind", tags[0].SourceKind, "source_id", tags[0].SourceID, "src_ip", it.ip)
				continue
			}
			missing[it.owner] = true
			w.hold(it.ev.ID, tags)
			continue
		}
		for _, t := range tags {
			rows = append(rows, row(t, g.attacker, g.identity))
		}
		groups = append(groups, g)
	}
	if len(groups) == 0 {
		return missing, nil
	}
	w.commitMu.Lock()
	fresh, err := w.insert(ctx, rows)
	w.commitMu.Unlock()
	if err != nil {
		return missing, err
	}
	w.inserted.Add(int64(len(fresh)))
	isNew := make(map[string]bool, len(fresh))
	for _, id := range fresh {
		isNew[id] = true
	}
	for _, g := range groups {
		w.release(g.ev.ID)
		var added []ttp.Tag
		for _, t := range g.tags {
			if isNew[t.ID] {
				added = append(added, t)
				delete(isNew, t.ID) // announced once, by the first event that made it
			}
		}
		w.announce(g.attacker, g.identity, g.ev.Session, added)
	}
	return missing, nil
}

// insert stores rows in one transaction and returns the ids of the new
// ones. A row whose anchor has gone (the attacker was deleted) fails the
// batch; the rows are then stored one by one and that row is dropped.
func (w *Worker) insert(ctx context.Context, rows []store.Tag) ([]string, error) {
	fresh, err := w.Store.InsertTags(ctx, rows)
	if !errors.Is(err, store.ErrNotFound) {
		return fresh, err
	}
	fresh = fresh[:0]
	for _, r := range rows {
		isNew, err := w.Store.InsertTag(ctx, r)
		switch {
		case errors.Is(err, store.ErrNotFound):
			w.Log.Info("ttp: dropping a tag whose attacker or identity no longer exists", "tag", r.UUID, "rule", r.RuleID)
		case err != nil:
			return nil, err
		case isNew:
			fresh = append(fresh, r.UUID)
		}
	}
	return fresh, nil
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

func row(t ttp.Tag, attackerUUID, identityUUID string) store.Tag {
	ev, err := json.Marshal(t.Evidence)
	if err != nil || len(t.Evidence) == 0 {
		ev = []byte("{}")
	}
	created := t.ObservedAt
	if created.IsZero() {
		created = time.Now()
	}
	return store.Tag{
		UUID: t.ID, SourceKind: t.SourceKind, SourceID: t.SourceID, AttackerUUID: attackerUUID, IdentityUUID: identityUUID,
		SessionID: t.Session, DeckyID: t.Decky, Tactic: t.Tactic, TechniqueID: t.TechniqueID,
		SubTechniqueID: t.SubTechniqueID, Confidence: t.Confidence, RuleID: t.RuleID, RuleVersion: t.RuleVersion,
		Evidence: ev, AttackRelease: t.AttackRelease, MitreURL: t.MitreURL, CreatedAt: created,
	}
}

// Tagged is the ttp.tagged payload.
type Tagged struct {
	AttackerUUID    string   `json:"attacker_uuid,omitempty"`
	IdentityUUID    string   `json:"identity_uuid,omitempty"`
	SessionID       string   `json:"session_id,omitempty"`
	TagUUIDs        []string `json:"tag_uuids"`
	TechniquesAdded []string `json:"techniques_added"`
}

// Fired is the ttp.rule.fired.<T> payload (parent technique only).
type Fired struct {
	TechniqueID  string   `json:"technique_id"`
	TagUUIDs     []string `json:"tag_uuids"`
	AttackerUUID string   `json:"attacker_uuid,omitempty"`
	IdentityUUID string   `json:"identity_uuid,omitempty"`
	SessionID    string   `json:"session_id,omitempty"`
}

func (w *Worker) announce(attackerUUID, identityUUID, session string, fresh []ttp.Tag) {
	if len(fresh) == 0 || w.Publish == nil {
		return
	}
	msg := Tagged{AttackerUUID: attackerUUID, IdentityUUID: identityUUID, SessionID: session}
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
		w.send(TopicFiredPrefix+tech, Fired{TechniqueID: tech, TagUUIDs: byTech[tech], AttackerUUID: attackerUUID, IdentityUUID: identityUUID, SessionID: session})
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
