package bus

import (
	"fmt"

	"github.com/nats-io/nats.go"
)

// Subscribe delivers the core NATS messages published on subject (NATS
// wildcards allowed: "identity.>", "decky.*.state") to fn, with the subject
// each came on, until the returned function is called. These are the
// derived topics the pipeline publishes as JSON (attacker.scored,
// identity.formed, …), not the JetStream event stream.
//
// fn runs on the subscription's own goroutine, one message at a time, and
// must not block: a slow fn makes NATS drop messages for it.
func (b *Bus) Subscribe(subject string, fn func(subject string, data []byte)) (unsubscribe func(), err error) {
	sub, err := b.nc.Subscribe(subject, func(m *nats.Msg) { fn(m.Subject, m.Data) })
	if err != nil {
		return nil, fmt.Errorf("bus: subscribe %s: %w", subject, err)
	}
	return func() { sub.Unsubscribe() }, nil
}
