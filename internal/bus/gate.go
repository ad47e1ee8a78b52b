package bus

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// gate holds a consumer's deliveries until another durable consumer of the
// event stream — the ingest worker — has acknowledged them. The TTP tagger
// and the intel stages read what the ingest worker writes (the attacker
// row of an event's address, its credentials row). Left to themselves
// they ran ahead of it whenever events queued up (a burst, a restart after
// an outage): in the pipeline benchmark's backlog over a quarter of their
// events found no attacker row yet and came back a second later, to be
// decoded and tagged again, and the tagger gives up on an event after five
// such retries. Held at the ingest worker's acknowledgement floor they
// handle each event once.
//
// The floor comes from JetStream (the consumer's ack floor), so the gate
// works as well when the ingest worker runs in another process. A gate
// whose consumer does not exist lets everything through, as without one.
type gate struct {
	b       *Bus
	durable string

	mu     sync.Mutex
	floor  uint64    // every stream sequence up to it is acknowledged
	absent bool      // the durable did not exist at the last poll
	polled time.Time // last poll
}

// gatePoll is how often a waiting consumer asks JetStream for the floor;
// the ingest worker commits a batch in milliseconds to tens of them.
const gatePoll = 20 * time.Millisecond

// gateRecheck is how often a gate whose durable was missing looks again.
const gateRecheck = 5 * time.Second

// gate returns the process's gate on durable, shared by every consumer
// that waits for it.
func (b *Bus) gate(durable string) *gate {
	b.gatesMu.Lock()
	defer b.gatesMu.Unlock()
	if b.gates == nil {
		b.gates = map[string]*gate{}
	}
	g := b.gates[durable]
	if g == nil {
		g = &gate{b: b, durable: durable}
		b.gates[durable] = g
	}
	return g
}

// wait returns once seq is at or below the floor (or the gate is open),
// calling keepAlive every interval it waits so that held deliveries are not
// redelivered meanwhile. It fails only when ctx ends.
func (g *gate) wait(ctx context.Context, seq uint64, keepAlive func(), interval time.Duration) error {
	since := time.Now()
	for {
		open, err := g.passes(ctx, seq)
		if open || err != nil {
			return err
		}
		if time.Since(since) >= interval {
			keepAlive()
			since = time.Now()
		}
		t := time.NewTimer(gatePoll / 2)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// passes reports whether seq may go, asking JetStream for the floor when
// the known one is short of seq and the last poll is old enough. Concurrent
// callers share one poll.
func (g *gate) passes(ctx context.Context, seq uint64) (bool, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if seq <= g.floor {
		return true, nil
	}
	every := gatePoll
	if g.absent {
		every = gateRecheck
	}
	if time.Since(g.polled) < every {
		return g.absent, nil
	}
	g.polled = time.Now()
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	c, err := g.b.js.Consumer(pctx, StreamName, g.durable)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		g.absent = true
		return true, nil
	}
	if err != nil {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		return false, nil // a slow or failed poll: ask again later
	}
	info := c.CachedInfo()
	g.absent = false
	g.floor = max(g.floor, info.AckFloor.Stream)
	return seq <= g.floor, nil
}
