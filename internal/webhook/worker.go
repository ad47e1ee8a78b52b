package webhook

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

	"github.com/decnet-go/decnet/internal/store"
)

// Worker defaults (spec/intel.md §9).
const (
	DefaultCircuitThreshold = 5  // consecutive failures that disable a subscription
	DefaultConcurrency      = 10 // deliveries in flight, over every subscription
	reloadEvery             = time.Minute
	// ChangedTopic is what the API publishes after every subscription change.
	ChangedTopic = "system.webhook.subscriptions_changed"
)

// Store is what the worker reads and records about subscriptions.
// *store.Store implements it.
type Store interface {
	Webhooks(ctx context.Context, enabledOnly bool) ([]store.Webhook, error)
	RecordWebhookSuccess(ctx context.Context, id string, at time.Time) error
	RecordWebhookFailure(ctx context.Context, id, errText string, at time.Time) (int, error)
	TripWebhookCircuit(ctx context.Context, id string, at time.Time) error
}

// Worker forwards bus messages to the enabled subscriptions whose topic
// patterns match them. It reloads the subscriptions when the API says they
// changed and every minute, records each outcome, and disables a
// subscription after Threshold consecutive failed deliveries.
type Worker struct {
	Store     Store
	Conn      *nats.Conn
	Sender    *Sender
	Log       *slog.Logger
	Threshold int // 0: DefaultCircuitThreshold
	Workers   int // 0: DefaultConcurrency
}

// Run delivers until ctx ends, then waits for the deliveries in flight.
func (w *Worker) Run(ctx context.Context) error {
	log := w.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	workers := w.Workers
	if workers <= 0 {
		workers = DefaultConcurrency
	}
	sem := make(chan struct{}, workers)
	threshold := w.Threshold
	if threshold == 0 {
		threshold = DefaultCircuitThreshold
	}
	reload := make(chan struct{}, 1)
	poke := func() {
		select {
		case reload <- struct{}{}:
		default:
		}
	}
	ctl, err := w.Conn.Subscribe(ChangedTopic, func(*nats.Msg) { poke() })
	if err != nil {
		return err
	}
	defer ctl.Unsubscribe()

	var inflight sync.WaitGroup
	defer inflight.Wait()
	var subs []*nats.Subscription
	defer func() {
		for _, s := range subs {
			s.Unsubscribe()
		}
	}()
	deliver := func(h store.Webhook, m *nats.Msg) {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		inflight.Add(1)
		go func() {
			defer inflight.Done()
			defer func() { <-sem }()
			res := w.Sender.Deliver(ctx, h.URL, h.Secret, messageOf(m))
			now := time.Now()
			if res.Delivered {
				if err := w.Store.RecordWebhookSuccess(ctx, h.UUID, now); err != nil {
					log.Warn("webhook: record success", "webhook", h.Name, "err", err)
				}
				return
			}
			if ctx.Err() != nil {
				return
			}
			n, err := w.Store.RecordWebhookFailure(ctx, h.UUID, res.Error, now)
			log.Info("webhook: delivery failed", "webhook", h.Name, "topic", m.Subject, "status", res.StatusCode, "err", res.Error, "failures", n)
			if err == nil && n >= threshold {
				if err := w.Store.TripWebhookCircuit(ctx, h.UUID, now); err == nil {
					log.Warn("webhook: disabled after consecutive failures", "webhook", h.Name, "failures", n)
					poke()
				}
			}
		}()
	}
	load := func() {
		for _, s := range subs {
			s.Unsubscribe()
		}
		subs = subs[:0]
		hooks, err := w.Store.Webhooks(ctx, true)
		if err != nil {
			log.Warn("webhook: load subscriptions", "err", err)
			return
		}
		for _, h := range hooks {
			for _, p := range h.TopicPatterns {
				s, err := w.Conn.Subscribe(p, func(m *nats.Msg) { deliver(h, m) })
				if err != nil {
					log.Warn("webhook: subscribe", "webhook", h.Name, "pattern", p, "err", err)
					continue
				}
				subs = append(subs, s)
			}
		}
		w.Conn.Flush()
	}
	load()
	tick := time.NewTicker(reloadEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-reload:
			load()
		case <-tick.C:
			load()
		}
	}
}

// messageOf turns a bus message into a delivery: its JSON payload as is
// (a string when it is not JSON), its type the payload's "type" field or
// else the subject's last token.
func messageOf(m *nats.Msg) Message {
	var payload any = string(m.Data)
	typ := m.Subject[strings.LastIndexByte(m.Subject, '.')+1:]
	if json.Valid(m.Data) {
		payload = json.RawMessage(m.Data)
		var probe struct {
			Type string `json:"type"`
		}
		if json.Unmarshal(m.Data, &probe) == nil && probe.Type != "" {
			typ = probe.Type
		}
	}
	return Message{ID: uuid.NewString(), TS: time.Now(), Topic: m.Subject, Type: typ, Payload: payload}
}
