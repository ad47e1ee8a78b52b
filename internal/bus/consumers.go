package bus

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// DropConsumer deletes a durable consumer of the event stream that no
// stage uses any more, so it does not linger with a growing backlog in
// monitoring. A consumer that does not exist is not an error.
func (b *Bus) DropConsumer(ctx context.Context, durable string) error {
	err := b.js.DeleteConsumer(ctx, StreamName, durable)
	if err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return fmt.Errorf("bus: drop consumer %s: %w", durable, err)
	}
	return nil
}
