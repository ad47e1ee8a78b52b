package bus

import (
	"cmp"
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/decnet-go/decnet/internal/event"
)

// Consumer is a durable pull consumer of raw events with explicit,
// per-message acknowledgement. (Cumulative AckAll acks were tried and lost
// events when a process was killed under load: see docs/decisions.md.)
type Consumer struct {
	it      jetstream.MessagesContext
	shared  *sharedDecodes
	after   *gate // nil: deliveries go out as they come
	ackWait time.Duration
}

// Delivery is one message handed to a consumer: one or more events of one
// subject. It must be acknowledged once its effect is durable, or it is
// redelivered.
type Delivery struct {
	// Events may be shared with the process's other consumers of the
	// same message (see sharedDecodes): read them, never change them.
	Events []event.Event
	// Err is set when the message could not be decoded; Events is then empty.
	Err error
	msg jetstream.Msg
	seq uint64 // stream sequence; 0 when unknown
}

// Ack confirms the delivery: the bus will not send it again.
func (d Delivery) Ack() error { return d.msg.Ack() }

// Nak asks for redelivery after delay.
func (d Delivery) Nak(delay time.Duration) error { return d.msg.NakWithDelay(delay) }

// InProgress tells JetStream the delivery is still being worked on, which
// restarts its AckWait (a store write that is being retried).
func (d Delivery) InProgress() error { return d.msg.InProgress() }

// Term drops a message that can never be processed (undecodable).
func (d Delivery) Term() error { return d.msg.Term() }

// ConsumerOptions configure a durable consumer.
type ConsumerOptions struct {
	Durable string // the consumer's name; its position survives restarts
	Filter  string // subjects to consume, e.g. event.SubjectAll
	// Filters, when set, are several subjects to consume (instead of Filter).
	Filters []string
	// MaxPending bounds unacknowledged messages.
	MaxPending int
	// AckWait is how long a delivered message may stay unacknowledged
	// before JetStream delivers it again. It is also how long events that
	// were in flight when a process was killed wait after its restart.
	// Default 10 s.
	AckWait time.Duration
	// After, when set, names another durable consumer of the event stream
	// (the ingest worker's): deliveries are handed out only once it has
	// acknowledged them (see gate).
	After string
}

// Consumer opens (creating if needed) a durable consumer.
func (b *Bus) Consumer(ctx context.Context, o ConsumerOptions) (*Consumer, error) {
	it, err := b.messages(ctx, StreamName, o)
	if err != nil {
		return nil, err
	}
	c := &Consumer{it: it, shared: &b.shared, ackWait: cmp.Or(o.AckWait, defaultAckWait)}
	if o.After != "" {
		c.after = b.gate(o.After)
	}
	return c, nil
}

// pullMaxBytes bounds what one consumer asks the server for at once. The
// server closes a connection whose unsent data passes its max_pending (64
// MiB by default), and every consumer of a process shares one connection:
// with a backlog on the bus (a restart after an outage), consumers asking
// for 4,096 batched messages each (up to 100 MiB) got the connection cut,
// lost the replies of JetStream API calls in flight, and waited out AckWait
// for the messages dropped with it. A few MiB is still thousands of events.
const pullMaxBytes = 4 << 20

// messages creates or updates a durable consumer of stream and opens its
// message iterator.
func (b *Bus) messages(ctx context.Context, stream string, o ConsumerOptions) (jetstream.MessagesContext, error) {
	if o.AckWait <= 0 {
		o.AckWait = defaultAckWait
	}
	if o.MaxPending <= 0 {
		o.MaxPending = 20000
	}
	cfg := jetstream.ConsumerConfig{
		Durable:       o.Durable,
		FilterSubject: o.Filter,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       o.AckWait,
		MaxAckPending: o.MaxPending,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	}
	if len(o.Filters) > 0 {
		cfg.FilterSubject, cfg.FilterSubjects = "", o.Filters
	}
	c, err := b.js.CreateOrUpdateConsumer(ctx, stream, cfg)
	if err != nil {
		return nil, fmt.Errorf("bus: consumer %s: %w", o.Durable, err)
	}
	it, err := c.Messages(jetstream.PullMaxBytes(pullMaxBytes))
	if err != nil {
		return nil, fmt.Errorf("bus: consumer %s: %w", o.Durable, err)
	}
	return it, nil
}

const defaultAckWait = 10 * time.Second

// Next waits until at least one message is available (or ctx ends), then
// returns up to max messages that are already at hand, waiting at most
// linger for more to fill the batch. A consumer with After set then holds
// them until that consumer has acknowledged them all.
func (c *Consumer) Next(ctx context.Context, max int, linger time.Duration) ([]Delivery, error) {
	ds, err := fetch(ctx, c.it, max, linger, c.shared.decode)
	if err != nil || c.after == nil {
		return ds, err
	}
	var last uint64
	for _, d := range ds {
		if d.seq > last {
			last = d.seq
		}
	}
	keepAlive := func() {
		for _, d := range ds {
			d.InProgress()
		}
	}
	if err := c.after.wait(ctx, last, keepAlive, c.ackWait/3); err != nil {
		return nil, err // shutting down: the deliveries come back on the next start
	}
	return ds, nil
}

// fetch is the batching of both consumers: the first message waits on
// ctx, the rest come while linger lasts and are converted as they come.
func fetch[T any](ctx context.Context, it jetstream.MessagesContext, max int, linger time.Duration, conv func(jetstream.Msg) T) ([]T, error) {
	first, err := it.Next(jetstream.NextContext(ctx))
	if err != nil {
		return nil, err
	}
	out := []T{conv(first)}
	deadline := time.Now().Add(linger)
	for len(out) < max {
		wait := time.Until(deadline)
		if wait <= 0 {
			wait = time.Millisecond
		}
		m, err := it.Next(jetstream.NextMaxWait(wait))
		if err != nil {
			break // timeout (ship what we have) or the iterator closed
		}
		out = append(out, conv(m))
	}
	return out, nil
}

// Stop ends the consumer's subscription; unacknowledged deliveries are
// redelivered to the next consumer of the same durable name.
func (c *Consumer) Stop() { c.it.Stop() }

func decode(m jetstream.Msg) Delivery {
	d := Delivery{msg: m}
	var err error
	if d.Events, err = decodeEvents(m.Data()); err != nil {
		d.Err = undecodable(m, err)
	}
	return d
}

func undecodable(m jetstream.Msg, err error) error {
	return fmt.Errorf("bus: undecodable message on %s: %w", m.Subject(), err)
}

// EventCount is how many events the deliveries carry: a consumer sizes a
// batch's slices with it once (an event is large; growing a slice of them
// cost each consumer a tenth of its allocation).
func EventCount(ds []Delivery) int {
	n := 0
	for _, d := range ds {
		n += len(d.Events)
	}
	return n
}

// Pending is how many events the durable consumer has not yet acknowledged
// (waiting plus in flight).
func (b *Bus) Pending(ctx context.Context, durable string) (uint64, error) {
	return b.pending(ctx, StreamName, durable)
}

func (b *Bus) pending(ctx context.Context, stream, durable string) (uint64, error) {
	c, err := b.js.Consumer(ctx, stream, durable)
	if err != nil {
		return 0, err
	}
	info, err := c.Info(ctx)
	if err != nil {
		return 0, err
	}
	return info.NumPending + uint64(info.NumAckPending), nil
}
