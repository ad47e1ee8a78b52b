package bus

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/decnet-go/decnet/internal/event"
)

// Emitter is the sensor side of the bus: services hand it events and return
// at once; it publishes them to JetStream in the background and retries
// until each one is stored. Only an overflowing buffer (the bus unreachable
// for long under load) drops events, and those are counted and logged.
type Emitter struct {
	b       *Bus
	log     *slog.Logger
	in      chan event.Event
	pending chan inflight
	wg      sync.WaitGroup

	acked, dropped atomic.Int64
}

type inflight struct {
	ev  event.Event
	ack jetstream.PubAckFuture
}

// NewEmitter starts an emitter with room for buffer events in flight.
func (b *Bus) NewEmitter(buffer int) *Emitter {
	e := &Emitter{b: b, log: b.log, in: make(chan event.Event, buffer), pending: make(chan inflight, 4096)}
	e.wg.Add(2)
	go e.publish()
	go e.confirm()
	return e
}

// Emit queues ev for publication. It blocks for at most a second when the
// buffer is full, then drops the event.
func (e *Emitter) Emit(ev event.Event) {
	select {
	case e.in <- ev:
		return
	default:
	}
	t := time.NewTimer(time.Second)
	defer t.Stop()
	select {
	case e.in <- ev:
	case <-t.C:
		if e.dropped.Add(1)%1000 == 1 {
			e.log.Error("event buffer full: dropping events", "dropped_total", e.dropped.Load())
		}
	}
}

// Acked is how many events JetStream has confirmed storing.
func (e *Emitter) Acked() int64 { return e.acked.Load() }

// Dropped is how many events were lost to a full buffer.
func (e *Emitter) Dropped() int64 { return e.dropped.Load() }

// Close stops accepting events and waits (until ctx ends) for the queued
// ones to be stored.
func (e *Emitter) Close(ctx context.Context) {
	close(e.in)
	done := make(chan struct{})
	go func() { e.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		e.log.Warn("emitter closed with events still in flight", "queued", len(e.in)+len(e.pending))
	}
}

func (e *Emitter) publish() {
	defer e.wg.Done()
	defer close(e.pending)
	for ev := range e.in {
		e.send(ev)
	}
}

// send publishes ev, retrying with backoff while the bus refuses it.
func (e *Emitter) send(ev event.Event) {
	backoff := 10 * time.Millisecond
	for {
		f, err := e.b.PublishAsync(ev)
		if err == nil {
			e.pending <- inflight{ev, f}
			return
		}
		e.log.Warn("publish failed, retrying", "event", ev.ID, "err", err)
		time.Sleep(backoff)
		backoff = min(2*backoff, 2*time.Second)
	}
}

func (e *Emitter) confirm() {
	defer e.wg.Done()
	for p := range e.pending {
		select {
		case <-p.ack.Ok():
			e.acked.Add(1)
		case err := <-p.ack.Err():
			// The message id makes the retry idempotent if the first copy
			// was in fact stored.
			e.log.Warn("publish not acknowledged, retrying", "event", p.ev.ID, "err", err)
			e.wg.Add(1)
			go func(ev event.Event) { defer e.wg.Done(); e.resend(ev) }(p.ev)
		}
	}
}

// resend publishes synchronously until stored; used for the rare failures.
func (e *Emitter) resend(ev event.Event) {
	backoff := 50 * time.Millisecond
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := e.b.Publish(ctx, ev)
		cancel()
		if err == nil {
			e.acked.Add(1)
			return
		}
		if e.b.nc.IsClosed() {
			e.dropped.Add(1)
			e.log.Error("bus closed: event lost", "event", ev.ID)
			return
		}
		time.Sleep(backoff)
		backoff = min(2*backoff, 5*time.Second)
	}
}
