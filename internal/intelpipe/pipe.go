// Package intelpipe runs the intelligence stages of the pipeline (spec
// intel.md §2, S3b–S8) on live data: BEHAVE observations from session
// recordings, the attribution state machine over them, file-hash and
// per-address intel, and the optional active prober.
//
// Each stage is a durable JetStream consumer of raw events with a name of
// its own, so it resumes where it stopped after a restart, and acknowledges
// an event only after the store writes it caused have committed. Every
// write is idempotent (observations on (evidence_ref, primitive),
// attribution recomputed from the stored series, fingerprints on the last
// hash), so a redelivered event changes nothing and publishes nothing new.
// Derived notifications (attacker.observation.<primitive>,
// attribution.profile.*, attacker.fingerprint_rotated, …) go out on core
// NATS after the write, best effort, as the original's topics.
//
// The libraries doing the work are pure (behave, attribution, intel,
// prober); this package is the glue between them, the bus and the store.
package intelpipe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"runtime/debug"
	"sync"
	"time"

	"github.com/decnet-go/decnet/internal/bus"
	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/intel"
	"github.com/decnet-go/decnet/internal/prober"
	"github.com/decnet-go/decnet/internal/store"
)

// Durable consumer names of the stages.
const (
	// DurableIntel feeds the hashes and intel, profile and loot stages from
	// one consumer of every event: one decode and one delivery per event
	// for the three, not three.
	DurableIntel = "intel"
	// DurableBehave feeds BEHAVE and attribution: session_recorded only.
	DurableBehave = "intel-behave"
	DurableProber = "intel-prober"
)

// maxInFlight bounds the deliveries a stage holds unacknowledged. Those
// waiting for a retry (an attacker row, a session's observations) count
// too, so it is large: a burst that makes many of them wait must not stop
// the stage taking the events behind them.
const maxInFlight = 4096

// retiredDurables are consumers of earlier versions (one per stage), which
// Start deletes so they do not linger with a growing backlog.
var retiredDurables = []string{"intel-attribution", "intel-hashes", "intel-profile", "intel-loot"}

// Topics published on core NATS, besides attacker.observation.<primitive>
// and the attribution subjects of package attribution.
const (
	TopicObservationPrefix = "attacker.observation."
	TopicIntelEnriched     = "attacker.intel.enriched"
	TopicFingerprinted     = "attacker.fingerprinted"
)

// Store is what the stages read and write; *store.Store implements it.
type Store interface {
	AttackerByIP(ctx context.Context, ip string) (store.Attacker, error)
	AttackerUUIDByIP(ctx context.Context, ip string) (string, error)
	UpsertObservationSets(ctx context.Context, sets [][]store.Observation) ([][]bool, error)
	ObservationsForEvidence(ctx context.Context, evidenceRef string) ([]store.Observation, error)
	ObservationsForIdentity(ctx context.Context, identityUUID string, primitives ...string) (map[string][]store.ObservationPoint, error)
	EnsureStubIdentities(ctx context.Context, attackerUUIDs []string) (map[string]string, error)
	AttributionStates(ctx context.Context, identityUUID string) ([]store.AttributionState, error)
	UpsertAttributionStates(ctx context.Context, states []store.AttributionState) error
	MultiActorIdentities(ctx context.Context) ([]store.MultiActor, error)
	UpsertObservedAttachment(ctx context.Context, a store.AttachmentSighting) (string, error)
	RecordFingerprint(ctx context.Context, attackerUUID string, port int, probeType, hash string, at time.Time) (store.FingerprintChange, error)
	SetAttackerProfiles(ctx context.Context, profiles map[string]store.AttackerProfile) error
	AddFingerprints(ctx context.Context, fps []store.FingerprintSighting) ([]bool, error)
	AddBounty(ctx context.Context, b store.Bounty) (bool, error)
	RefreshCredentialReuseOf(ctx context.Context, e event.Event) (store.ReuseUpdate, error)
}

// Config is what the stages need.
type Config struct {
	Bus   *bus.Bus
	Store Store
	// DataDir is the node's data directory: recordings are read from
	// <DataDir>/deckies/<decky>/<service>/<stored_as>, and nowhere else.
	DataDir string
	// Enricher answers file-hash and per-address questions; nil turns the
	// hash checks and the enrichment off (hashes are still recorded).
	Enricher *intel.Enricher
	// Probe, when it allows at least one network, runs the active prober
	// against attackers inside it. Nil (the default) probes nothing.
	Probe  *prober.Config
	Prober *prober.Prober // nil: a zero Prober
	// MultiActorEvery is the period of the multi-actor check (default
	// attribution.MultiActorTickSecs).
	MultiActorEvery time.Duration
	// Cluster tunes the identity clusterer (docs/identities.md), which runs
	// when Store implements ClusterStore.
	Cluster ClusterConfig
	// Publish sends a derived notification; nil publishes JSON on the
	// bus's core NATS connection.
	Publish func(subject string, payload any)
	// After names the ingest worker's durable consumer: the stages take
	// an event only once it has stored it (bus.ConsumerOptions.After).
	// Empty: they take events as they come and retry those whose attacker
	// row is not there yet.
	After string
	Log   *slog.Logger
}

// Pipeline is the running set of stages.
type Pipeline struct {
	cfg    Config
	log    *slog.Logger
	cancel context.CancelFunc
	wg     sync.WaitGroup
	sched  *prober.Scheduler

	enrichQ  chan netip.Addr // addresses waiting for per-IP enrichment
	enriched addrSet         // addresses queued for enrichment
	targeted addrSet         // addresses handed to the prober
	timing   timingCache     // the profile stage's unsaved timing samples
	cluster  *Clusterer      // nil when the store cannot cluster
	lootMem  lootMemory      // the loot stage's caches
}

// Start opens the durable consumers and runs the stages until Stop.
func Start(ctx context.Context, cfg Config) (*Pipeline, error) {
	if cfg.Bus == nil || cfg.Store == nil {
		return nil, errors.New("intelpipe: bus and store are required")
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.MultiActorEvery <= 0 {
		cfg.MultiActorEvery = time.Minute
	}
	p := &Pipeline{cfg: cfg, log: cfg.Log}
	if p.cfg.Publish == nil {
		p.cfg.Publish = p.publishNATS
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	p.cancel = cancel
	type stage struct {
		durable, filter string
		h               batchHandler
	}
	stages := []stage{
		{DurableBehave, event.SubjectPrefix + "*.*." + typeSessionRecorded, p.behaveBatch},
		{DurableIntel, event.SubjectAll, all(p.log, perEvent(p.hashes), p.profile, p.lootBatch)},
	}
	if cfg.Probe != nil && len(cfg.Probe.Allow) > 0 {
		s, err := prober.NewScheduler(*cfg.Probe, cfg.Prober, func(r prober.Result) { p.probed(rctx, r) })
		if err != nil {
			cancel()
			return nil, err
		}
		p.sched = s
		stages = append(stages, stage{DurableProber, event.SubjectAll, perEvent(p.probeTargets)})
		p.wg.Go(func() { s.Run(rctx) })
	}
	if cs, ok := cfg.Store.(ClusterStore); ok {
		p.cluster = NewClusterer(cs, p.cfg.Publish, cfg.Cluster, p.log.With("worker", "intel-cluster"))
		p.wg.Go(func() { p.cluster.Run(rctx) })
	}
	if cfg.Enricher != nil && (len(cfg.Enricher.Providers()) > 0 || cfg.Enricher.Geo() != nil) {
		p.enrichQ = make(chan netip.Addr, 1024)
		for range 4 {
			p.wg.Go(func() { p.enrichLoop(rctx) })
		}
		p.wg.Go(func() { p.refreshIntelLoop(rctx) })
	}
	for _, d := range retiredDurables {
		if err := cfg.Bus.DropConsumer(ctx, d); err != nil {
			p.log.Warn("intelpipe: cannot drop a retired consumer", "consumer", d, "err", err)
		}
	}
	for _, s := range stages {
		c, err := cfg.Bus.Consumer(ctx, bus.ConsumerOptions{Durable: s.durable, Filter: s.filter,
			MaxPending: maxInFlight, AckWait: time.Minute, After: cfg.After})
		if err != nil {
			p.Stop()
			return nil, err
		}
		p.wg.Go(func() { p.consume(rctx, s.durable, c, s.h) })
	}
	p.wg.Go(func() { p.multiActorLoop(rctx) })
	return p, nil
}

// Stop ends every stage and waits for them. Deliveries in flight stay
// unacknowledged and come back on the next start.
func (p *Pipeline) Stop() {
	if p == nil || p.cancel == nil {
		return
	}
	p.cancel()
	p.wg.Wait()
}

// handler processes one event. It returns nil when the event is done
// with (including events it ignores or can never process, which it logs),
// a *retryError to have the delivery redelivered later, or another error
// (a failing store) to retry after a pause.
type handler func(ctx context.Context, e event.Event) error

// retryError asks for redelivery after a delay: the event depends on
// something not there yet (the attacker row, the observations).
type retryError struct {
	after  time.Duration
	reason string
}

func (r *retryError) Error() string { return "retry in " + r.after.String() + ": " + r.reason }

func retryLater(after time.Duration, reason string) error { return &retryError{after, reason} }

// ingestLag is how long a stage waits before asking again for what the
// ingest worker writes (an attacker row, a credentials row): it commits a
// batch within milliseconds, so a short wait costs a burst little.
const ingestLag = 500 * time.Millisecond

// maxDefer is how old an event may grow while a stage waits for what it
// depends on; past it the stage gives up on the event, saying so.
const maxDefer = 10 * time.Minute

func (p *Pipeline) consume(ctx context.Context, name string, c *bus.Consumer, h batchHandler) {
	defer c.Stop()
	log := p.log.With("worker", name)
	for {
		ds, err := c.Next(ctx, 64, 5*time.Millisecond)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			log.Warn("fetch failed", "err", err)
			if !sleep(ctx, time.Second) {
				return
			}
			continue
		}
		events := make([]event.Event, 0, bus.EventCount(ds))
		for _, d := range ds {
			if d.Err != nil {
				log.Error("discarding undecodable message", "err", d.Err)
				d.Term()
				continue
			}
			events = append(events, d.Events...)
		}
		errs := safely(ctx, log, h, events)
		if ctx.Err() != nil {
			return // shutting down: the deliveries come back on the next start
		}
		at, naked := 0, 0
		for _, d := range ds {
			if d.Err != nil {
				continue
			}
			var again time.Duration
			for i, e := range d.Events {
				err := errs[at+i]
				var r *retryError
				switch {
				case err == nil:
				case errors.As(err, &r):
					again = max(again, r.after)
				default:
					log.Warn("event failed, will retry", "event", e.ID, "type", e.Type, "err", err)
					again = max(again, 5*time.Second)
				}
			}
			at += len(d.Events)
			if again > 0 {
				d.Nak(again)
				naked++
			} else {
				d.Ack()
			}
		}
		// Deliveries waiting for the ingest worker (or BEHAVE) say the
		// stage runs ahead of it: taking more now would only send them
		// back too, so give it a moment.
		if naked > 0 && !sleep(ctx, retryPause) {
			return
		}
	}
}

// retryPause is how long a stage waits after a batch sent deliveries back.
const retryPause = 50 * time.Millisecond

// batchHandler processes the events of the deliveries one fetch returned,
// in order; errs[i] is the outcome of events[i] as a handler's. A stage
// that gains from seeing many events at once (one read and one write per
// attacker, not per event) is one; the others are perEvent.
type batchHandler func(ctx context.Context, events []event.Event) (errs []error)

// all runs several stages over the same batch, side by side (they share
// nothing but the store); an event's outcome is the one that asks the most
// of the bus: an error over a retry, the longest retry over a shorter one,
// so a redelivery reaches every stage (each is idempotent, so the ones
// that were done change nothing). A stage's panic drops the batch for it
// alone.
func all(log *slog.Logger, hs ...batchHandler) batchHandler {
	return func(ctx context.Context, events []event.Event) []error {
		results := make([][]error, len(hs))
		var wg sync.WaitGroup
		for k, h := range hs {
			wg.Go(func() { results[k] = safely(ctx, log, h, events) })
		}
		wg.Wait()
		errs := make([]error, len(events))
		for _, r := range results {
			for i, err := range r {
				errs[i] = worse(errs[i], err)
			}
		}
		return errs
	}
}

// worse is the outcome of two that asks the most of the bus.
func worse(a, b error) error {
	var ra, rb *retryError
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	case !errors.As(a, &ra):
		return a
	case !errors.As(b, &rb):
		return b
	case rb.after > ra.after:
		return b
	}
	return a
}

// perEvent runs h on each event in turn.
func perEvent(h handler) batchHandler {
	return func(ctx context.Context, events []event.Event) []error {
		errs := make([]error, len(events))
		for i, e := range events {
			if ctx.Err() != nil {
				errs[i] = ctx.Err()
				continue
			}
			errs[i] = guard(e, func() error { return h(ctx, e) })
		}
		return errs
	}
}

// safely runs h over events; a panic drops the batch, logged, so one bad
// event never stops a stage (perEvent guards each event on its own).
func safely(ctx context.Context, log *slog.Logger, h batchHandler, events []event.Event) (errs []error) {
	defer func() {
		if r := recover(); r != nil {
			log.Error("intelpipe: handler panic; batch dropped", "events", len(events), "panic", r, "stack", string(debug.Stack()))
			errs = make([]error, len(events))
		}
	}()
	if len(events) == 0 {
		return nil
	}
	return h(ctx, events)
}

// guard runs f, turning a panic into a logged, dropped event.
func guard(e event.Event, f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			slog.Error("intelpipe: handler panic; event dropped", "event", e.ID, "type", e.Type,
				"decky", e.Decky, "service", e.Service, "panic", r, "stack", string(debug.Stack()))
			err = nil
		}
	}()
	return f()
}

// publishNATS publishes payload as JSON on core NATS, best effort.
func (p *Pipeline) publishNATS(subject string, payload any) {
	data, err := json.Marshal(payload)
	if err != nil {
		p.log.Error("intelpipe: cannot encode notification", "subject", subject, "err", err)
		return
	}
	if err := p.cfg.Bus.Conn().Publish(subject, data); err != nil {
		p.log.Warn("intelpipe: publish failed", "subject", subject, "err", err)
	}
}

// attackerUUID resolves the attacker row of an address. The ingest worker
// creates it from the same events, so a missing row is a deferral, not an
// error, until the event is maxDefer old.
func (p *Pipeline) attackerUUID(ctx context.Context, e event.Event) (string, error) {
	id, err := p.cfg.Store.AttackerUUIDByIP(ctx, e.SrcIP)
	switch {
	case err == nil:
		return id, nil
	case errors.Is(err, store.ErrNotFound) && time.Since(e.Time) < maxDefer:
		return "", retryLater(ingestLag, "no attacker row yet for "+e.SrcIP)
	case errors.Is(err, store.ErrNotFound):
		return "", nil
	}
	return "", fmt.Errorf("attacker of %s: %w", e.SrcIP, err)
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func epoch(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }
