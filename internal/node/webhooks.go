package node

import (
	"os"
	"strconv"
	"time"

	"github.com/decnet-go/decnet/internal/webhook"
)

// webhookDialTimeout bounds each webhook delivery attempt.
const webhookDialTimeout = 10 * time.Second

// webhookWorker forwards bus messages to the enabled webhook subscriptions
// (docs/api.md, "Webhooks"). DECNET_WEBHOOK_ALLOW_PRIVATE=true lets them
// reach private addresses; DECNET_WEBHOOK_CIRCUIT_THRESHOLD (5) is how many
// consecutive failures disable one.
func (n *Node) webhookWorker(cfg Config) *webhook.Worker {
	threshold := webhook.DefaultCircuitThreshold
	if v, err := strconv.Atoi(os.Getenv("DECNET_WEBHOOK_CIRCUIT_THRESHOLD")); err == nil && v > 0 {
		threshold = v
	}
	return &webhook.Worker{
		Store:     n.Store,
		Conn:      n.Bus.Conn(),
		Sender:    webhook.NewSender(os.Getenv("DECNET_WEBHOOK_ALLOW_PRIVATE") == "true", webhookDialTimeout),
		Log:       cfg.Log.With("worker", "webhook"),
		Threshold: threshold,
	}
}
