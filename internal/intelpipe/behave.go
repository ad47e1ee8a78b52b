package intelpipe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/decnet-go/decnet/internal/attribution"
	"github.com/decnet-go/decnet/internal/behave"
	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/honeypot/asciicast"
	"github.com/decnet-go/decnet/internal/store"
)

const typeSessionRecorded = asciicast.TypeSessionRecorded

// maxRecording bounds what the BEHAVE worker reads of one recording; the
// recorder caps its files well below this.
const maxRecording = 64 << 20

// recording identifies the recording a session_recorded event names.
type recording struct {
	rel, sid, ref string // rel: path under <data-dir>/deckies
	noTTY         bool
}

// recordingOf reads a session_recorded event of ssh or telnet; ok is
// false for anything else or a malformed event (which is logged).
func (p *Pipeline) recordingOf(e event.Event) (recording, bool) {
	if e.Type != typeSessionRecorded || (e.Service != "ssh" && e.Service != "telnet") {
		return recording{}, false
	}
	storedAs, _ := e.Fields["stored_as"].(string)
	sid, _ := e.Fields["sid"].(string)
	rel := path.Join(e.Decky, e.Service, filepath.ToSlash(storedAs))
	// The decky and service names are validated tokens; stored_as must
	// stay inside the service's state directory.
	if storedAs == "" || sid == "" || !filepath.IsLocal(storedAs) || strings.ContainsAny(e.Decky+e.Service, `/\.`) ||
		!strings.HasPrefix(rel, e.Decky+"/"+e.Service+"/") {
		p.log.Warn("behave: session_recorded without a usable recording; skipped", "event", e.ID,
			"decky", e.Decky, "service", e.Service, "stored_as", storedAs)
		return recording{}, false
	}
	tty, ok := e.Fields["tty"].(bool)
	return recording{rel: rel, sid: sid, ref: behave.EvidenceRef(e.Decky, e.Service, storedAs, sid), noTTY: ok && !tty}, true
}

// sessionObservations analyses the recording a session_recorded event
// names into observation rows of its attacker; none for another event, an
// unreadable recording (logged) or a session with nothing to observe.
func (p *Pipeline) sessionObservations(ctx context.Context, e event.Event) ([]store.Observation, error) {
	r, ok := p.recordingOf(e)
	if !ok {
		return nil, nil
	}
	attacker, err := p.attackerUUID(ctx, e)
	if err != nil || attacker == "" {
		return nil, err
	}
	obs, err := p.analyze(r)
	if err != nil {
		p.log.Warn("behave: cannot read recording; skipped", "event", e.ID, "decky", e.Decky,
			"service", e.Service, "src_ip", e.SrcIP, "recording", r.rel, "err", err)
		return nil, nil
	}
	rows := make([]store.Observation, len(obs))
	for i, o := range obs {
		rows[i] = store.Observation{ID: o.ID, V: o.V, TS: o.TS, Primitive: o.Primitive, Value: o.Value,
			Confidence: o.Confidence, Window: store.ObservationWindow(o.Window), Source: o.Source,
			EvidenceRef: o.EvidenceRef, IdentityRef: o.IdentityRef, AttackerUUID: attacker}
	}
	return rows, nil
}

// publishObservations sends attacker.observation.<primitive> for the rows
// that are new.
func (p *Pipeline) publishObservations(e event.Event, rows []store.Observation, fresh []bool) {
	for i, o := range rows {
		if fresh[i] {
			p.cfg.Publish(TopicObservationPrefix+o.Primitive, observationPayload(o, e))
		}
	}
}

// behaveBatch is the BEHAVE stage (S3b) with attribution (S4) over a batch
// of session_recorded events: every session's observations are stored in
// one transaction, attacker.observation.<primitive> published for the new
// ones, then each identity the batch touched is attributed once over the
// primitives its sessions observed. A redelivered batch stores the same
// rows, publishes nothing and attributes to the same states.
func (p *Pipeline) behaveBatch(ctx context.Context, events []event.Event) []error {
	errs := make([]error, len(events))
	// Recordings are read and analysed side by side (CPU work); the
	// writes below are one transaction.
	rows := make([][]store.Observation, len(events))
	var wg sync.WaitGroup
	next := make(chan int)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := range next {
				errs[i] = guard(events[i], func() (err error) {
					rows[i], err = p.sessionObservations(ctx, events[i])
					return err
				})
			}
		})
	}
	for i := range events {
		next <- i
	}
	close(next)
	wg.Wait()
	var idx []int // events with observations, and their rows
	var sets [][]store.Observation
	for i, r := range rows {
		if errs[i] == nil && len(r) > 0 {
			idx, sets = append(idx, i), append(sets, r)
		}
	}
	if len(sets) == 0 {
		return errs
	}
	fresh, err := p.cfg.Store.UpsertObservationSets(ctx, sets)
	if err != nil {
		for _, i := range idx {
			errs[i] = err
		}
		return errs
	}
	// Attribution per identity, in the order the batch met them: the
	// stub identities in one transaction, the states that moved in one.
	attackers := make([]string, len(idx))
	for k := range idx {
		attackers[k] = sets[k][0].AttackerUUID
	}
	identityOf, err := p.cfg.Store.EnsureStubIdentities(ctx, attackers)
	if err != nil {
		for _, i := range idx {
			errs[i] = err
		}
		return errs
	}
	type work struct {
		events     []int
		primitives []string
	}
	identities := map[string]*work{}
	var order []string
	for k, i := range idx {
		p.publishObservations(events[i], sets[k], fresh[k])
		identity := identityOf[attackers[k]]
		if identity == "" {
			continue // the attacker was deleted meanwhile
		}
		w := identities[identity]
		if w == nil {
			w = &work{}
			identities[identity] = w
			order = append(order, identity)
		}
		w.events = append(w.events, i)
		for _, o := range sets[k] {
			if !slices.Contains(w.primitives, o.Primitive) {
				w.primitives = append(w.primitives, o.Primitive)
			}
		}
	}
	var writes []store.AttributionState
	var transitions []map[string]any
	var done []int // events whose attribution is computed
	for _, identity := range order {
		w := identities[identity]
		ws, ts, err := p.attribution(ctx, identity, w.primitives)
		if err != nil {
			for _, i := range w.events {
				errs[i] = err
			}
			continue
		}
		writes, transitions, done = append(writes, ws...), append(transitions, ts...), append(done, w.events...)
	}
	if err := p.cfg.Store.UpsertAttributionStates(ctx, writes); err != nil {
		for _, i := range done {
			errs[i] = err
		}
		return errs
	}
	for _, t := range transitions {
		p.cfg.Publish(attribution.SubjectStateChanged, t)
	}
	return errs
}

// analyze reads and analyses one recording, refusing any path that would
// leave <data-dir>/deckies (os.Root also refuses symlinks pointing out).
func (p *Pipeline) analyze(r recording) ([]behave.Observation, error) {
	root, err := os.OpenRoot(filepath.Join(p.cfg.DataDir, "deckies"))
	if err != nil {
		return nil, err
	}
	defer root.Close()
	f, err := root.Open(r.rel)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("recording not found (recorded on another host?): %w", err)
		}
		return nil, err
	}
	defer f.Close()
	h, events, err := asciicast.Parse(io.LimitReader(f, maxRecording))
	if err != nil {
		return nil, err
	}
	return behave.Analyze(h, events, behave.SessionMeta{EvidenceRef: r.ref, NoTTY: r.noTTY}), nil
}

// observationPayload is the attacker.observation.<primitive> message: the
// envelope, the attacker it was made from, and where.
func observationPayload(o store.Observation, e event.Event) map[string]any {
	return map[string]any{
		"id": o.ID, "v": o.V, "ts": o.TS, "primitive": o.Primitive, "value": o.Value,
		"confidence": o.Confidence, "window": o.Window, "source": o.Source, "evidence_ref": o.EvidenceRef,
		"identity_ref": nullable(o.IdentityRef), "attacker_uuid": o.AttackerUUID, "attacker_ip": e.SrcIP,
		"decky": e.Decky, "service": e.Service, "session_id": e.Fields["sid"],
	}
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}
