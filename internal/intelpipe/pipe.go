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
	DurableBehave      = "intel-behave"
	DurableAttribution = "intel-attribution"
	DurableHashes      = "intel-hashes"
	DurableProber      = "intel-prober"
)

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
	UpsertObservations(ctx context.Context, os []store.Observation) ([]bool, error)
	ObservationsForEvidence(ctx context.Context, evidenceRef string) ([]store.Observation, error)
	ObservationsForIdentityPrimitive(ctx context.Context, identityUUID, primitive string) ([]store.ObservationPoint, error)
	EnsureStubIdentityForAttacker(ctx context.Context, attackerUUID string) (string, error)
	AttributionState(ctx context.Context, identityUUID, primitive string) (store.AttributionState, error)
	UpsertAttributionState(ctx context.Context, a store.AttributionState) error
	MultiActorIdentities(ctx context.Context) ([]store.MultiActor, error)
	UpsertObservedAttachment(ctx context.Context, a store.AttachmentSighting) (string, error)
	RecordFingerprint(ctx context.Context, attackerUUID string, port int, probeType, hash string, at time.Time) (store.FingerprintChange, error)
	SetAttackerProfile(ctx context.Context, attackerUUID string, p store.AttackerProfile) error
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
	// Publish sends a derived notification; nil publishes JSON on the
	// bus's core NATS connection.
	Publish func(subject string, payload any)
	Log     *slog.Logger
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
		h               handler
	}
	stages := []stage{
		{DurableBehave, event.SubjectPrefix + "*.*." + typeSessionRecorded, p.behave},
		{DurableAttribution, event.SubjectPrefix + "*.*." + typeSessionRecorded, p.attribute},
		{DurableHashes, event.SubjectAll, p.hashes},
		{DurableProfile, event.SubjectAll, p.profile},
	}
	if cfg.Probe != nil && len(cfg.Probe.Allow) > 0 {
		s, err := prober.NewScheduler(*cfg.Probe, cfg.Prober, func(r prober.Result) { p.probed(rctx, r) })
		if err != nil {
			cancel()
			return nil, err
		}
		p.sched = s
		stages = append(stages, stage{DurableProber, event.SubjectAll, p.probeTargets})
		p.wg.Go(func() { s.Run(rctx) })
	}
	if cfg.Enricher != nil && len(cfg.Enricher.Providers()) > 0 {
		p.enrichQ = make(chan netip.Addr, 1024)
		for range 4 {
			p.wg.Go(func() { p.enrichLoop(rctx) })
		}
	}
	for _, s := range stages {
		c, err := cfg.Bus.Consumer(ctx, bus.ConsumerOptions{Durable: s.durable, Filter: s.filter,
			MaxPending: 1024, AckWait: time.Minute})
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

// maxDefer is how old an event may grow while a stage waits for what it
// depends on; past it the stage gives up on the event, saying so.
const maxDefer = 10 * time.Minute

func (p *Pipeline) consume(ctx context.Context, name string, c *bus.Consumer, h handler) {
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
		for _, d := range ds {
			if d.Err != nil {
				log.Error("discarding undecodable message", "err", d.Err)
				d.Term()
				continue
			}
			var again time.Duration
			for _, e := range d.Events {
				err := safely(ctx, h, e)
				if err == nil {
					continue
				}
				if ctx.Err() != nil {
					return // shutting down: the delivery comes back on the next start
				}
				var r *retryError
				if errors.As(err, &r) {
					again = max(again, r.after)
					continue
				}
				log.Warn("event failed, will retry", "event", e.ID, "type", e.Type, "err", err)
				again = max(again, 5*time.Second)
			}
			if again > 0 {
				d.Nak(again)
			} else {
				d.Ack()
			}
		}
	}
}

// safely runs h, turning a panic into a logged, dropped event: one bad
// event never stops a stage.
func safely(ctx context.Context, h handler, e event.Event) (err error) {
	defer func() {
		if r := recover(); r != nil {
			slog.Error("intelpipe: handler panic; event dropped", "event", e.ID, "type", e.Type,
				"decky", e.Decky, "service", e.Service, "panic", r, "stack", string(debug.Stack()))
			err = nil
		}
	}()
	return h(ctx, e)
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
	a, err := p.cfg.Store.AttackerByIP(ctx, e.SrcIP)
	switch {
	case err == nil:
		return a.UUID, nil
	case errors.Is(err, store.ErrNotFound) && time.Since(e.Time) < maxDefer:
		return "", retryLater(2*time.Second, "no attacker row yet for "+e.SrcIP)
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
