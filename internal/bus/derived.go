package bus

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// DerivedStream is the JetStream stream that keeps the pipeline's derived
// notifications: what the workers publish on core NATS after a store write
// (attacker.intel.enriched, identity.formed, credential.reuse.detected, …).
// JetStream stores every core NATS publish on a stream's subjects, so the
// publishers stay fire-and-forget while a consumer that was down (the TTP
// worker) catches up on what it missed.
const DerivedStream = "DERIVED"

// DerivedSubjects are the derived subjects the stream keeps: the ones a
// durable consumer (the TTP worker) reads. The per-session flood —
// attacker.observation.<primitive> and attribution.profile.*, dozens per
// recorded session — is not kept: no stage consumes it durably, storing it
// cost more than the whole BEHAVE stage, and under the size cap it would
// push out the notices that matter. ttp.> is not kept either: the TTP
// worker publishes it and consumes this stream, and a stream over its own
// output would be a loop to guard. canary.> is not kept: a trigger reaches
// the workers as events on the raw stream. None may overlap the raw event stream's
// events.> (JetStream refuses overlapping streams).
var DerivedSubjects = []string{
	"attacker.intel.enriched", "attacker.fingerprinted", "attacker.fingerprint_rotated", "attacker.ipv6_leak",
	"identity.>", "campaign.>", "credential.>", "email.>",
}

// ensureDerived creates or updates the derived stream: file storage,
// bounded by age and size, oldest dropped first.
func (b *Bus) ensureDerived(ctx context.Context, o Options) error {
	if o.DerivedMaxBytes == 0 {
		o.DerivedMaxBytes = 256 << 20
	}
	if o.DerivedMaxAge == 0 {
		o.DerivedMaxAge = 7 * 24 * time.Hour
	}
	_, err := b.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        DerivedStream,
		Description: "DECNET derived notifications (attacker.intel.enriched, identity.>, credential.>, …)",
		Subjects:    DerivedSubjects,
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		MaxBytes:    o.DerivedMaxBytes,
		MaxAge:      o.DerivedMaxAge,
		Discard:     jetstream.DiscardOld,
	})
	if err != nil {
		return fmt.Errorf("bus: create stream %s: %w", DerivedStream, err)
	}
	return nil
}

// Message is one derived notification: its subject and JSON payload, as
// published. Like a Delivery it must be acknowledged once handled.
type Message struct {
	Subject string
	Data    []byte
	msg     jetstream.Msg
}

// Ack confirms the message: the bus will not send it again.
func (m Message) Ack() error { return m.msg.Ack() }

// Nak asks for redelivery after delay.
func (m Message) Nak(delay time.Duration) error { return m.msg.NakWithDelay(delay) }

// Term drops a message that can never be processed.
func (m Message) Term() error { return m.msg.Term() }

// DerivedConsumer is a durable pull consumer of the derived stream.
type DerivedConsumer struct {
	it jetstream.MessagesContext
}

// DerivedConsumer opens (creating if needed) a durable consumer of the
// derived stream over o.Filters (several subjects; o.Filter when Filters
// is empty).
func (b *Bus) DerivedConsumer(ctx context.Context, o ConsumerOptions) (*DerivedConsumer, error) {
	it, err := b.messages(ctx, DerivedStream, o)
	if err != nil {
		return nil, err
	}
	return &DerivedConsumer{it: it}, nil
}

// Next waits until at least one message is available (or ctx ends), then
// returns up to max messages already at hand, waiting at most linger for
// more.
func (c *DerivedConsumer) Next(ctx context.Context, max int, linger time.Duration) ([]Message, error) {
	return fetch(ctx, c.it, max, linger, func(m jetstream.Msg) Message {
		return Message{Subject: m.Subject(), Data: m.Data(), msg: m}
	})
}

// Stop ends the consumer's subscription; unacknowledged messages are
// redelivered to the next consumer of the same durable name.
func (c *DerivedConsumer) Stop() { c.it.Stop() }

// DerivedPending is how many derived messages the durable consumer has not
// yet acknowledged.
func (b *Bus) DerivedPending(ctx context.Context, durable string) (uint64, error) {
	return b.pending(ctx, DerivedStream, durable)
}
