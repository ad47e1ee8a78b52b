// Package pipeline holds the workers that turn raw events from the bus into
// what the store keeps. Each worker is a durable JetStream consumer that
// acknowledges a message only once its effect is committed, and every write
// is idempotent on the event id, so a crash or redelivery never loses or
// doubles anything.
package pipeline

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/decnet-go/decnet/internal/bus"
	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/metrics"
	"github.com/decnet-go/decnet/internal/store"
)

// BatchWriter stores a prepared batch of events in one transaction.
type BatchWriter interface {
	Write(ctx context.Context, b *store.Batch) (store.IngestResult, error)
}

// Source hands out batches of deliveries.
type Source interface {
	Next(ctx context.Context, max int, linger time.Duration) ([]bus.Delivery, error)
}

// Ingest is the worker that writes raw events to the store.
type Ingest struct {
	Source Source
	Store  BatchWriter
	Log    *slog.Logger
	// Batch is the most bus messages (each one or more events) written in
	// one transaction, 256 by default: live deckies often publish one event
	// a message, and each commit has a fixed cost a bigger batch shares.
	// Linger is how long a partial batch waits for more.
	Batch  int
	Linger time.Duration
	// OnCommit, if set, is called after each committed batch.
	OnCommit func(store.IngestResult)
	// Metrics, if set, counts committed events (by service and type) and
	// connections, and times each batch commit.
	Metrics *metrics.Metrics

	mu        sync.Mutex
	lastErr   error
	lastOK    time.Time
	ingested  atomic.Int64
	discarded atomic.Int64
}

// Run consumes until ctx ends. A failing store is retried with backoff; the
// batch stays unacknowledged meanwhile, so nothing is lost.
func (w *Ingest) Run(ctx context.Context) error {
	if w.Batch <= 0 {
		w.Batch = 256
	}
	if w.Linger <= 0 {
		w.Linger = 20 * time.Millisecond
	}
	if w.Log == nil {
		w.Log = slog.Default()
	}
	// Fetching, decoding and encoding the next batch overlaps with writing
	// this one: the store has a single writer, so it should only write.
	batches := make(chan prepared, 1)
	fetchDone := make(chan struct{})
	go func() {
		defer close(fetchDone)
		defer close(batches)
		for {
			ds, err := w.Source.Next(ctx, w.Batch, w.Linger)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				w.setErr(err)
				w.Log.Warn("ingest: fetch failed", "err", err)
				if !sleep(ctx, time.Second) {
					return
				}
				continue
			}
			if p, ok := w.prepare(ds); ok {
				batches <- p
			}
		}
	}()
	for p := range batches {
		w.write(ctx, p)
	}
	<-fetchDone
	return nil
}

// prepared is a batch ready for the writer, with the deliveries to ack.
type prepared struct {
	deliveries []bus.Delivery
	batch      *store.Batch
	events     int
	counts     map[[2]string]int // events by (service, type), when metrics are on
}

// prepare drops what can never be stored (saying so) and encodes the rest.
func (w *Ingest) prepare(ds []bus.Delivery) (prepared, bool) {
	events := make([]event.Event, 0, bus.EventCount(ds))
	keep := ds[:0:0]
	for _, d := range ds {
		if d.Err != nil {
			// Poison: it can never be stored; drop it rather than block
			// the stream.
			w.discarded.Add(1)
			w.Log.Error("ingest: discarding undecodable message", "err", d.Err)
			d.Term()
			continue
		}
		for _, e := range d.Events {
			if err := e.Validate(); err != nil {
				w.discarded.Add(1)
				w.Log.Error("ingest: discarding invalid event", "err", err, "event", e.ID)
				continue
			}
			events = append(events, e)
		}
		keep = append(keep, d)
	}
	if len(keep) == 0 {
		return prepared{}, false
	}
	b, err := store.PrepareBatch(events)
	if err != nil { // Validate passed, so this is a bug: keep the events for redelivery
		w.setErr(err)
		w.Log.Error("ingest: cannot encode batch", "err", err)
		for _, d := range keep {
			d.Nak(time.Second)
		}
		return prepared{}, false
	}
	p := prepared{deliveries: keep, batch: b, events: len(events)}
	if w.Metrics != nil {
		p.counts = map[[2]string]int{}
		for i := range events {
			p.counts[[2]string{events[i].Service, events[i].Type}]++
		}
	}
	return p, true
}

// observe records a committed batch in the metrics.
func (w *Ingest) observe(p prepared, took time.Duration) {
	w.Metrics.StoreBatch(took)
	for k, n := range p.counts {
		w.Metrics.EventsIngested(k[0], k[1], n)
		if k[1] == event.TypeConnect {
			w.Metrics.Connection(k[0], n)
		}
	}
}

// write commits a batch, retrying while the store fails, then acks it.
func (w *Ingest) write(ctx context.Context, p prepared) {
	backoff := 100 * time.Millisecond
	for {
		// The batch must be committed even while shutting down, or its
		// events wait for the next start; give it a bounded grace period.
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		start := time.Now()
		res, err := w.Store.Write(wctx, p.batch)
		cancel()
		if err == nil {
			w.observe(p, time.Since(start))
			for _, d := range p.deliveries {
				d.Ack()
			}
			w.ingested.Add(int64(res.Inserted))
			w.setErr(nil)
			if w.OnCommit != nil {
				w.OnCommit(res)
			}
			return
		}
		w.setErr(err)
		w.Log.Error("ingest: store write failed, retrying", "err", err, "batch", p.events)
		// Keep the batch ours while retrying, rather than have JetStream
		// deliver it again behind our back.
		for _, d := range p.deliveries {
			d.InProgress()
		}
		if !sleep(ctx, backoff) {
			// Shutting down: the batch stays unacknowledged and comes back
			// after AckWait on the next start.
			return
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}

func (w *Ingest) setErr(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.lastErr = err
	if err == nil {
		w.lastOK = time.Now()
	}
}

// Ingested counts events written since start; Discarded counts invalid
// events dropped.
func (w *Ingest) Ingested() int64 { return w.ingested.Load() }

// Discarded counts invalid events and undecodable messages dropped since start.
func (w *Ingest) Discarded() int64 { return w.discarded.Load() }

// Health reports the last store error, if the latest attempt failed.
func (w *Ingest) Health(context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.lastErr != nil {
		return errors.Join(errors.New("ingest failing"), w.lastErr)
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
