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
	"github.com/decnet-go/decnet/internal/store"
)

// BatchWriter stores a batch of events in one transaction.
type BatchWriter interface {
	IngestBatch(ctx context.Context, events []event.Event) (store.IngestResult, error)
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
	// Batch is the most events written in one transaction; Linger is how
	// long a partial batch waits for more.
	Batch  int
	Linger time.Duration
	// OnCommit, if set, is called after each committed batch.
	OnCommit func(store.IngestResult)

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
		w.Batch = 1000
	}
	if w.Linger <= 0 {
		w.Linger = 20 * time.Millisecond
	}
	if w.Log == nil {
		w.Log = slog.Default()
	}
	// Fetching and decoding the next batch overlaps with writing this one.
	batches := make(chan []bus.Delivery, 1)
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
			batches <- ds
		}
	}()
	for ds := range batches {
		w.handle(ctx, ds)
	}
	<-fetchDone
	return nil
}

func (w *Ingest) handle(ctx context.Context, ds []bus.Delivery) {
	events := make([]event.Event, 0, len(ds))
	keep := ds[:0:0]
	for _, d := range ds {
		if d.Err == nil {
			d.Err = d.Event.Validate()
		}
		if d.Err != nil {
			// Poison: it can never be stored; say so and drop it rather
			// than block the stream.
			w.discarded.Add(1)
			w.Log.Error("ingest: discarding invalid event", "err", d.Err, "event", d.Event.ID)
			d.Term()
			continue
		}
		events = append(events, d.Event)
		keep = append(keep, d)
	}
	if len(events) == 0 {
		return
	}
	backoff := 100 * time.Millisecond
	for {
		// The batch must be committed even while shutting down, or its
		// events wait for the next start; give it a bounded grace period.
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		res, err := w.Store.IngestBatch(wctx, events)
		cancel()
		if err == nil {
			for _, d := range keep {
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
		w.Log.Error("ingest: store write failed, retrying", "err", err, "batch", len(events))
		if !sleep(ctx, backoff) {
			// Shutting down: leave the batch unacknowledged for redelivery.
			for _, d := range keep {
				d.Nak(0)
			}
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

// Discarded counts invalid events dropped since start.
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
