package api

import (
	"fmt"
	"testing"
	"time"
)

func TestLimiterSlidingWindow(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	l := newLimiter(3, time.Minute, 100)
	l.now = func() time.Time { return now }
	steps := []struct {
		after time.Duration
		ok    bool
	}{
		{0, true}, {10 * time.Second, true}, {10 * time.Second, true},
		{10 * time.Second, false}, // 4th within a minute
		{29 * time.Second, false}, // first hit is 59 s old
		{time.Second, true},       // first hit left the window
		{time.Second, false},
	}
	for i, s := range steps {
		now = now.Add(s.after)
		ok, wait := l.allow("k")
		if ok != s.ok {
			t.Fatalf("step %d: allowed=%v, want %v", i, ok, s.ok)
		}
		if !ok && (wait <= 0 || wait > time.Minute) {
			t.Errorf("step %d: retry after %v", i, wait)
		}
	}
	if ok, _ := l.allow("other"); !ok {
		t.Error("keys share a budget")
	}
}

func TestLimiterBounded(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	l := newLimiter(1, time.Minute, 10)
	l.now = func() time.Time { return now }
	for i := range 1000 {
		now = now.Add(time.Millisecond)
		l.allow(fmt.Sprint("key-", i))
		if len(l.hits) > 10 {
			t.Fatalf("%d keys tracked, bound is 10", len(l.hits))
		}
	}
	// The most recent keys are still limited.
	if ok, _ := l.allow("key-999"); ok {
		t.Error("the newest key was forgotten")
	}
}
