package node_test

import (
	"context"
	"testing"

	"github.com/decnet-go/decnet/internal/bus"
	"github.com/decnet-go/decnet/internal/event/eventtest"
	"github.com/decnet-go/decnet/internal/intelpipe"
	"github.com/decnet-go/decnet/internal/testkit"
	"github.com/decnet-go/decnet/internal/ttpworker"
)

// TestBacklogDrainsOnce: a node restarting on a backlog (events queued on
// the bus while it was down) has the TTP tagger and the intel stages wait
// for the ingest worker instead of running ahead of it, so none of their
// deliveries comes back for want of an attacker row: each consumer's
// delivery count equals the messages it read. Every session is tagged.
func TestBacklogDrainsOnce(t *testing.T) {
	ctx := context.Background()
	const sessions = 3000
	cfg, js := queuedWhileDown(t, eventtest.AttackWave(sessions*9))
	s := testkit.StartConfig(t, cfg)
	waitAllConsumed(t, js)
	for _, name := range []string{ttpworker.Durable, intelpipe.DurableIntel} {
		c, err := js.Consumer(ctx, bus.StreamName, name)
		if err != nil {
			t.Fatal(err)
		}
		d := c.CachedInfo().Delivered
		if d.Consumer != d.Stream {
			t.Errorf("%s: %d deliveries for %d messages: some came back", name, d.Consumer, d.Stream)
		}
	}
	// One chmod +x per session: T1222.
	tags, err := s.Node.Store.FleetTagsByTechnique(ctx, "T1222", "", 2*sessions)
	if err != nil {
		t.Fatal(err)
	}
	if len(tags) != sessions {
		t.Errorf("%d T1222 tags stored, want %d", len(tags), sessions)
	}
}
