package node

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/decnet-go/decnet/internal/api"
	"github.com/decnet-go/decnet/internal/attack"
	"github.com/decnet-go/decnet/internal/bus"
	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/intel"
	"github.com/decnet-go/decnet/internal/ttp"
	"github.com/decnet-go/decnet/internal/ttpworker"
)

// ttpStage is the ATT&CK tagging worker and what keeps its rules current.
type ttpStage struct {
	engine   *ttp.Engine
	prints   *ttp.Catalogue // R0030's fingerprints; intel adds its feeds
	states   *ttpworker.States
	worker   *ttpworker.Worker
	consumer *bus.Consumer
	derived  *bus.DerivedConsumer
	sub      *nats.Subscription
	hup      chan os.Signal
	printHup chan os.Signal
	cancel   context.CancelFunc
	wg       sync.WaitGroup
}

// startTTP starts the tagging worker on its own durable consumers of the
// raw events and of the derived notifications (bus.DerivedStream). Rules
// are the embedded ones with cfg.RulesDir laid over them, reloaded when the
// directory changes or on SIGHUP, and mirrored into ttp_rule at start and
// on each reload; rule states come from ttp_rule_state, re-read when the
// API announces a change (ttp.rule.state.<id>) and every few seconds.
func (n *Node) startTTP(ctx context.Context, cfg Config) error {
	set, err := ttp.Load(cfg.RulesDir, attack.Default())
	if err != nil {
		return err
	}
	prints, err := ttp.NewCatalogue(cfg.FingerprintsFile)
	if err != nil {
		return err
	}
	if cfg.FingerprintsFile != "" {
		cfg.Log.Info("ttp: fingerprint catalogue loaded", "file", cfg.FingerprintsFile, "fingerprints", prints.Len())
	}
	t := &ttpStage{states: &ttpworker.States{Store: n.Store, Log: cfg.Log}, prints: prints}
	n.ttp = t
	t.engine = ttp.New(set, ttp.Options{States: t.states, Fingerprints: prints, Hashes: &n.hashIntel,
		Logger: cfg.Log.With("worker", "ttp")})
	if t.consumer, err = n.Bus.Consumer(ctx, bus.ConsumerOptions{Durable: ttpworker.Durable, Filter: event.SubjectAll,
		After: ingestDurable}); err != nil {
		return err
	}
	if t.derived, err = n.Bus.DerivedConsumer(ctx, bus.ConsumerOptions{Durable: ttpworker.DurableDerived, Filters: ttpworker.DerivedTopics}); err != nil {
		return err
	}
	t.worker = &ttpworker.Worker{Source: t.consumer, Derived: t.derived, Store: n.Store, Engine: t.engine, Publish: n.Bus.Conn(),
		Log: cfg.Log.With("worker", "ttp")}
	mirrorBy := "embedded"
	if cfg.RulesDir != "" {
		mirrorBy = "filesystem"
	}
	mirror := func(set *ttp.RuleSet) {
		mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := ttpworker.MirrorRules(mctx, n.Store, set, mirrorBy); err != nil {
			cfg.Log.Warn("ttp: rules not mirrored into ttp_rule", "err", err)
		}
	}
	mirror(set)
	if t.sub, err = n.Bus.Conn().Subscribe("ttp.rule.state.>", func(*nats.Msg) { t.states.Invalidate() }); err != nil {
		return err
	}
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	t.cancel = cancel
	t.wg.Add(1)
	go func() { defer t.wg.Done(); t.worker.Run(wctx) }()
	if cfg.RulesDir != "" {
		t.hup = make(chan os.Signal, 1)
		signal.Notify(t.hup, syscall.SIGHUP)
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			ttpworker.WatchDir(wctx, t.engine, cfg.RulesDir, 5*time.Second, t.hup, cfg.Log.With("worker", "ttp"), mirror)
		}()
	}
	if cfg.FingerprintsFile != "" {
		t.printHup = make(chan os.Signal, 1)
		signal.Notify(t.printHup, syscall.SIGHUP)
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			watchFingerprints(wctx, prints, 5*time.Second, t.printHup, cfg.Log.With("worker", "ttp"))
		}()
	}
	return nil
}

// watchFingerprints re-reads the operator's fingerprint catalogue when the
// file changes (polled, like the rules directory) and on SIGHUP, until ctx
// ends. A bad edit is logged and the previous catalogue stays.
func watchFingerprints(ctx context.Context, c *ttp.Catalogue, interval time.Duration, hup <-chan os.Signal, log *slog.Logger) {
	ttpworker.Poll(ctx, interval, hup, func(force bool) {
		switch changed, err := c.Reload(force); {
		case err != nil:
			log.Error("ttp: fingerprint catalogue not reloaded; the current one stays", "file", c.Path(), "err", err)
		case changed:
			log.Info("ttp: fingerprint catalogue reloaded", "file", c.Path(), "fingerprints", c.Len())
		}
	})
}

// ttpRules is the engine for the API's rule routes (nil before startTTP:
// the API then serves the embedded rules).
func (n *Node) ttpRules() api.TTPRules {
	if n.ttp == nil {
		return nil
	}
	return n.ttp.engine
}

// TTPStats are the tagging worker's counters (for tests).
func (n *Node) TTPStats() ttpworker.Stats {
	if n.ttp == nil || n.ttp.worker == nil {
		return ttpworker.Stats{}
	}
	return n.ttp.worker.Stats()
}

// stopTTP lets the worker catch up with what is pending (bounded), then
// stops it.
func (n *Node) stopTTP(ctx context.Context) {
	t := n.ttp
	if t == nil {
		return
	}
	if t.worker != nil && n.Bus != nil {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		for {
			p, err := n.Bus.Pending(ctx, ttpworker.Durable)
			if d, derr := n.Bus.DerivedPending(ctx, ttpworker.DurableDerived); derr == nil {
				p += d
			}
			if err != nil || p == 0 || ctx.Err() != nil {
				break
			}
			select {
			case <-ctx.Done():
			case <-time.After(20 * time.Millisecond):
			}
		}
		cancel()
	}
	if t.hup != nil {
		signal.Stop(t.hup)
	}
	if t.printHup != nil {
		signal.Stop(t.printHup)
	}
	if t.sub != nil {
		_ = t.sub.Unsubscribe()
	}
	if t.cancel != nil {
		t.cancel()
	}
	t.wg.Wait()
	if t.consumer != nil {
		t.consumer.Stop()
	}
	if t.derived != nil {
		t.derived.Stop()
	}
}

// hashIntel answers the TTP engine's "is this file known malware?" (rule
// R0058 on captured and downloaded files) from the intel stage's hash
// providers once they run; before that, and without a hash provider, it
// knows nothing.
type hashIntel struct {
	enricher atomic.Pointer[intel.Enricher]
}

// KnownBadHash implements ttp.HashIntel. The bulk feeds answer from
// memory; the bound keeps a slow provider from stalling the tagger.
func (h *hashIntel) KnownBadHash(sha256 string) (family string, ok bool) {
	e := h.enricher.Load()
	if e == nil {
		return "", false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	r := e.CheckHash(ctx, sha256)
	if !r.Malicious {
		return "", false
	}
	for _, v := range r.Verdicts {
		if v.Malicious && len(v.Families) > 0 {
			return v.Families[0], true
		}
	}
	return "malware", true
}
