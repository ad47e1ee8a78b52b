package bus

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/decnet-go/decnet/internal/event"
)

// Publish sends one event to the stream and waits for JetStream to store it.
// The event id is the message id, so a retried publish is stored once.
func (b *Bus) Publish(ctx context.Context, e event.Event) error {
	data, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("bus: encode event %s: %w", e.ID, err)
	}
	if _, err := b.js.Publish(ctx, e.Subject(), data, jetstream.WithMsgID(e.ID)); err != nil {
		return fmt.Errorf("bus: publish %s: %w", e.Subject(), err)
	}
	return nil
}

// PublishAsync sends one event without waiting; the future resolves when
// JetStream has stored it (or failed to).
func (b *Bus) PublishAsync(e event.Event) (jetstream.PubAckFuture, error) {
	data, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("bus: encode event %s: %w", e.ID, err)
	}
	return b.js.PublishAsync(e.Subject(), data, jetstream.WithMsgID(e.ID))
}

// PublishAsyncComplete is closed when every async publish so far has been
// acknowledged.
func (b *Bus) PublishAsyncComplete() <-chan struct{} { return b.js.PublishAsyncComplete() }
