package node

import (
	"context"
	"fmt"
	"os"
	"sync"

	"github.com/decnet-go/decnet/internal/intel"
	"github.com/decnet-go/decnet/internal/intelpipe"
	"github.com/decnet-go/decnet/internal/prober"
)

// intelRuntime is the running intelligence pipeline and what it owns.
type intelRuntime struct {
	pipe      *intelpipe.Pipeline
	enricher  *intel.Enricher
	stopFeeds context.CancelFunc // the fingerprint feeds' refresh loop
	feeds     sync.WaitGroup
}

// startIntel starts the intelligence stages (BEHAVE, attribution, hashes
// and intel, and the prober when cfg.ProbeAllow lists networks) as durable
// consumers of the bus. Intel providers come from cfg.Intel, or the
// DECNET_* environment (docs/intel.md) when it is nil.
func (n *Node) startIntel(ctx context.Context, cfg Config) error {
	ic := cfg.Intel
	if ic == nil {
		c, err := intel.ConfigFromEnv(os.Getenv)
		if err != nil {
			return err
		}
		ic = &c
	}
	if ic.Logger == nil {
		ic.Logger = cfg.Log.With("component", "intel")
	}
	enricher, err := intel.New(*ic)
	if err != nil {
		return err
	}
	pc := intelpipe.Config{Bus: n.Bus, Store: n.Store, DataDir: cfg.DataDir, Enricher: enricher,
		After: ingestDurable, Log: cfg.Log.With("component", "intelpipe")}
	if cfg.ProbeAllow != "" {
		allow, err := prober.ParseAllowList(cfg.ProbeAllow)
		if err != nil {
			enricher.Close()
			return fmt.Errorf("--probe-allow: %w", err)
		}
		pc.Probe = &prober.Config{Allow: allow}
	}
	p, err := intelpipe.Start(ctx, pc)
	if err != nil {
		enricher.Close()
		return err
	}
	n.intel = &intelRuntime{pipe: p, enricher: enricher}
	n.hashIntel.enricher.Store(enricher)
	// The SSLBL JA3 feed answers R0030 through the TTP stage's catalogue;
	// it refreshes in the background so tagging never waits on it.
	if ja3 := ic.SSLBLFeed(); ja3 != nil && n.ttp != nil {
		fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		n.intel.stopFeeds = cancel
		n.intel.feeds.Go(func() { ja3.Run(fctx) })
		n.ttp.prints.SetFeeds(ja3)
	}
	return nil
}

// stopIntel stops the intelligence stages; their unacknowledged events are
// redelivered on the next start.
func (n *Node) stopIntel() {
	if n.intel == nil {
		return
	}
	n.intel.pipe.Stop()
	if n.intel.stopFeeds != nil {
		n.ttp.prints.SetFeeds()
		n.intel.stopFeeds()
		n.intel.feeds.Wait()
	}
	n.hashIntel.enricher.Store(nil)
	n.intel.enricher.Close()
	n.intel = nil
}
