package web

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestAggregateCache(t *testing.T) {
	var c aggregateCache
	calls := 0
	compute := func(context.Context) (*aggregates, error) { calls++; return &aggregates{}, nil }
	fail := func(context.Context) (*aggregates, error) { calls++; return nil, errors.New("db down") }
	ctx := context.Background()
	t0 := testNow

	if _, err := c.get(ctx, t0, fail); err == nil {
		t.Fatal("first computation failed, yet no error")
	}
	for _, step := range []struct {
		name      string
		at        time.Time
		f         func(context.Context) (*aggregates, error)
		wantCalls int
	}{
		{"cold", t0, compute, 2},
		{"fresh", t0.Add(aggregateTTL - time.Second), compute, 2},
		{"stale", t0.Add(aggregateTTL), compute, 3},
		{"stale, store failing: old copy", t0.Add(3 * aggregateTTL), fail, 4},
	} {
		a, err := c.get(ctx, step.at, step.f)
		if err != nil || a == nil || calls != step.wantCalls {
			t.Fatalf("%s: %v %v, %d computations, want %d", step.name, a, err, calls, step.wantCalls)
		}
	}
}
