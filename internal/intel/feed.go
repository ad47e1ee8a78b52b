package intel

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// feed holds a bulk download (a hash set, an IP index) and refreshes it
// lazily: the first caller after the interval refreshes while the others keep
// using the old copy. A failed refresh keeps the old copy and is retried only
// after retry, so a dead feed is not hammered on every lookup.
type feed[T any] struct {
	name     string
	interval time.Duration
	retry    time.Duration
	now      func() time.Time
	log      *slog.Logger
	load     func(ctx context.Context) (T, int, error) // data, record count

	refreshMu sync.Mutex // one refresh at a time

	mu        sync.RWMutex
	data      T
	loaded    bool
	loadedAt  time.Time
	attemptAt time.Time
	lastErr   error
}

type snapshot[T any] struct {
	data     T
	loaded   bool
	loadedAt time.Time
	stale    bool
	err      error // last refresh error, if the last attempt failed
}

func (f *feed[T]) due(now time.Time) bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	switch {
	case f.attemptAt.IsZero():
		return true
	case f.lastErr != nil:
		return now.Sub(f.attemptAt) >= f.retry
	default:
		return now.Sub(f.loadedAt) >= f.interval
	}
}

// current returns the data, refreshing first when due. Only a caller that
// finds no data at all waits for a refresh in progress.
func (f *feed[T]) current(ctx context.Context) snapshot[T] {
	if f.due(f.now()) {
		f.mu.RLock()
		have := f.loaded
		f.mu.RUnlock()
		locked := false
		if have {
			locked = f.refreshMu.TryLock()
		} else {
			f.refreshMu.Lock()
			locked = true
		}
		if locked {
			if f.due(f.now()) {
				_ = f.refresh(ctx)
			}
			f.refreshMu.Unlock()
		}
	}
	f.mu.RLock()
	defer f.mu.RUnlock()
	s := snapshot[T]{data: f.data, loaded: f.loaded, loadedAt: f.loadedAt, err: f.lastErr}
	s.stale = f.loaded && (f.lastErr != nil || f.now().Sub(f.loadedAt) >= f.interval)
	return s
}

// refresh downloads now, whatever the schedule, and swaps the data in on
// success. On failure the old data stay in service.
func (f *feed[T]) refresh(ctx context.Context) error {
	start := f.now()
	data, n, err := f.load(ctx)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.attemptAt = start
	if err == nil && n == 0 {
		err = fmt.Errorf("%s: %w", f.name, errNoData)
	}
	if err != nil {
		f.lastErr = err
		f.log.Warn("intel feed refresh failed; keeping the previous copy",
			"feed", f.name, "err", err, "have_previous", f.loaded, "retry_in", f.retry)
		return err
	}
	f.data, f.loaded, f.loadedAt, f.lastErr = data, true, start, nil
	f.log.Info("intel feed refreshed", "feed", f.name, "records", n)
	return nil
}
