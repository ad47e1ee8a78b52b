package bus

import (
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/decnet-go/decnet/internal/event"
)

// sharedDecodes lets the consumers of one process decode each event
// message once. The ingest worker, the TTP tagger and the intel stages each
// receive every message of the event stream; decoding it three times was a
// twentieth of the pipeline's CPU, and three copies of every event a good
// part of its garbage. A message is known by its stream sequence (a message
// never changes); the first consumer to meet it decodes it and the others,
// usually a few milliseconds behind, take the same events. With events
// arriving at 8,000 a second, two lookups in three hit (every message
// decoded once); on a backlog drained as fast as the store allows, the
// consumers drift further apart than the budget and about 13 % hit.
//
// The cache keeps the most recent messages up to sharedBudget bytes of
// message data. A consumer further behind than that (a stage catching up
// after a restart) decodes on its own and does not push the others' messages
// out: a sequence at or below the newest one evicted is never cached again.
type sharedDecodes struct {
	mu      sync.Mutex
	m       map[uint64]*sharedDecode
	order   []uint64 // sequences in m, oldest first
	bytes   int      // message data the entries of m decoded
	evicted uint64   // highest sequence dropped from m
}

// sharedDecode is one message's decoding; once guards it, so a consumer
// that meets a message another is decoding waits instead of decoding too.
type sharedDecode struct {
	once   sync.Once
	events []event.Event
	err    error
	size   int // bytes of message data
}

// sharedBudget bounds the message data whose events the cache holds: a
// little more than what two consumers ask the server for at once
// (pullMaxBytes), so consumers close behind one another share every message.
var sharedBudget = 3 * pullMaxBytes

// decode returns the events of m. Several consumers get the same slice and
// the same maps: consumers only read events.
func (c *sharedDecodes) decode(m jetstream.Msg) Delivery {
	meta, err := m.Metadata()
	if err != nil {
		return decode(m) // not a JetStream delivery (tests): decode alone
	}
	seq := meta.Sequence.Stream
	c.mu.Lock()
	d := c.m[seq]
	if d == nil {
		d = &sharedDecode{size: len(m.Data())}
		if seq > c.evicted {
			c.add(seq, d)
		}
	}
	c.mu.Unlock()
	d.once.Do(func() { d.events, d.err = decodeEvents(m.Data()) })
	out := Delivery{Events: d.events, msg: m, seq: seq}
	if d.err != nil {
		out.Events = nil
		out.Err = undecodable(m, d.err)
	}
	return out
}

// add caches d as seq's decoding and drops the oldest entries past the
// budget. c.mu is held.
func (c *sharedDecodes) add(seq uint64, d *sharedDecode) {
	if c.m == nil {
		c.m = map[uint64]*sharedDecode{}
	}
	c.m[seq] = d
	c.order = append(c.order, seq)
	c.bytes += d.size
	for c.bytes > sharedBudget && len(c.order) > 1 {
		old := c.order[0]
		c.order = c.order[1:]
		c.bytes -= c.m[old].size
		delete(c.m, old)
		c.evicted = max(c.evicted, old)
	}
}
