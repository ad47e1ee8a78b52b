package bus

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestBacklogKeepsConnection: several consumers of one process start on a
// backlog larger than the server lets one connection have unsent (64 MiB),
// as after an outage. Each asks for a bounded amount at a time, so the
// server never cuts the shared connection, and every message arrives once,
// promptly (a cut loses the batch in flight until AckWait, and the replies
// of JetStream calls).
func TestBacklogKeepsConnection(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	b := open(t, Options{DataDir: t.TempDir()})
	// 2,400 messages of 64 events with a 500-byte field: about 96 MiB.
	const messages = 2400
	pad := strings.Repeat("x", 500)
	for i := range messages {
		evs := sample(64)
		for j := range evs {
			evs[j].Fields["pad"] = pad
		}
		if err := b.Publish(ctx, evs...); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	var wg sync.WaitGroup
	for _, name := range []string{"backlog-a", "backlog-b", "backlog-c"} {
		c, err := b.Consumer(ctx, ConsumerOptions{Durable: name, Filter: "events.>", MaxPending: 20000})
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			defer c.Stop()
			got := 0
			for got < messages*64 {
				ds, err := c.Next(ctx, 256, 10*time.Millisecond)
				if err != nil {
					t.Errorf("%s: %v after %d events", name, err, got)
					return
				}
				for _, d := range ds {
					got += len(d.Events)
					d.Ack()
				}
			}
		})
	}
	wg.Wait()
	if n := b.Conn().Stats().Reconnects; n > 0 {
		t.Errorf("the server cut the connection (%d reconnects)", n)
	}
	// Acks are asynchronous: the last ones may still be on their way.
	for _, name := range []string{"backlog-a", "backlog-b", "backlog-c"} {
		if n := waitPending(t, b, name); n != 0 {
			t.Errorf("%s: %d pending", name, n)
		}
	}
}
