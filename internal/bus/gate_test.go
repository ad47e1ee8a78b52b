package bus

import (
	"context"
	"testing"
	"time"
)

// TestConsumerWaitsForAnother: a consumer started After the ingest durable
// gets a message only once the ingest consumer has acknowledged it; one
// After a durable that does not exist is not held.
func TestConsumerWaitsForAnother(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b := open(t, Options{DataDir: t.TempDir()})
	ingest, err := b.Consumer(ctx, ConsumerOptions{Durable: "gate-ingest", Filter: "events.>"})
	if err != nil {
		t.Fatal(err)
	}
	defer ingest.Stop()
	dep, err := b.Consumer(ctx, ConsumerOptions{Durable: "gate-dep", Filter: "events.>", After: "gate-ingest"})
	if err != nil {
		t.Fatal(err)
	}
	defer dep.Stop()
	free, err := b.Consumer(ctx, ConsumerOptions{Durable: "gate-free", Filter: "events.>", After: "no-such-durable"})
	if err != nil {
		t.Fatal(err)
	}
	defer free.Stop()
	for range 3 {
		if err := b.Publish(ctx, sample(2)...); err != nil {
			t.Fatal(err)
		}
	}
	next := func(c *Consumer, want int, within time.Duration) ([]Delivery, error) {
		wctx, cancel := context.WithTimeout(ctx, within)
		defer cancel()
		var got []Delivery
		for len(got) < want {
			ds, err := c.Next(wctx, want-len(got), 10*time.Millisecond)
			if err != nil {
				return got, err
			}
			got = append(got, ds...)
		}
		return got, nil
	}
	if _, err := next(free, 3, 10*time.Second); err != nil {
		t.Fatalf("a gate on a missing durable held messages: %v", err)
	}
	held, err := next(ingest, 3, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		ds  []Delivery
		err error
	}
	first := make(chan result, 1)
	go func() {
		ds, err := next(dep, 3, 20*time.Second)
		first <- result{ds, err}
	}()
	select {
	case r := <-first:
		t.Fatalf("dependent got %d messages before ingest acknowledged any (err %v)", len(r.ds), r.err)
	case <-time.After(500 * time.Millisecond):
	}
	for _, d := range held {
		d.Ack()
	}
	r := <-first
	if r.err != nil || len(r.ds) != 3 {
		t.Fatalf("after ingest acknowledged: %d messages, %v", len(r.ds), r.err)
	}
}
