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
// until each one is stored. Events that are already queued together are
// grouped by subject into one message, so a burst costs a few messages, not
// one per event, while a lone event still goes out at once. Only an overflowing buffer (the bus unreachable
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
	events []event.Event
	ack    jetstream.PubAckFuture
}

// maxGroup bounds the events of one message (and so its size).
const maxGroup = 256

// maxDrain bounds the events taken from the queue in one go, grouped and
// sent before the next.
const maxDrain = 4096

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
	groups := map[string][]event.Event{}
	var order []string
	for ev := range e.in {
		// Take what else is already queued, without waiting for more.
		n := 1
		add := func(ev event.Event) {
			s := ev.Subject()
			if _, ok := groups[s]; !ok {
				order = append(order, s)
			}
			groups[s] = append(groups[s], ev)
		}
		add(ev)
	drain:
		for n < maxDrain {
			select {
			case more, ok := <-e.in:
				if !ok {
					break drain
				}
				add(more)
				n++
			default:
				break drain
			}
		}
		for _, s := range order {
			g := groups[s]
			for len(g) > 0 {
				k := min(len(g), maxGroup)
				e.send(append([]event.Event(nil), g[:k]...))
				g = g[k:]
			}
			delete(groups, s)
		}
		order = order[:0]
	}
}

// send publishes a group, retrying with backoff while the bus refuses it.
func (e *Emitter) send(events []event.Event) {
	backoff := 10 * time.Millisecond
	for {
		f, err := e.b.PublishAsync(events...)
		if err == nil {
			e.pending <- inflight{events, f}
			return
		}
		e.log.Warn("publish failed, retrying", "event", events[0].ID, "err", err)
		time.Sleep(backoff)
		backoff = min(2*backoff, 2*time.Second)
	}
}

func (e *Emitter) confirm() {
	defer e.wg.Done()
	for p := range e.pending {
		select {
		case <-p.ack.Ok():
			e.acked.Add(int64(len(p.events)))
		case err := <-p.ack.Err():
			// The message id makes the retry idempotent if the first copy
			// was in fact stored.
			e.log.Warn("publish not acknowledged, retrying", "event", p.events[0].ID, "err", err)
			e.wg.Add(1)
			go func(events []event.Event) { defer e.wg.Done(); e.resend(events) }(p.events)
		}
	}
}

// resend publishes synchronously until stored; used for the rare failures.
func (e *Emitter) resend(events []event.Event) {
	backoff := 50 * time.Millisecond
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := e.b.Publish(ctx, events...)
		cancel()
		if err == nil {
			e.acked.Add(int64(len(events)))
			return
		}
		if e.b.nc.IsClosed() {
			e.dropped.Add(int64(len(events)))
			e.log.Error("bus closed: events lost", "count", len(events))
			return
		}
		time.Sleep(backoff)
		backoff = min(2*backoff, 5*time.Second)
	}
}
