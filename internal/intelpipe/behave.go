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
	"strings"

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

// behave is the BEHAVE worker (S3b): a session recording in, its
// observations stored, and attacker.observation.<primitive> published for
// the ones that are new.
func (p *Pipeline) behave(ctx context.Context, e event.Event) error {
	r, ok := p.recordingOf(e)
	if !ok {
		return nil
	}
	attacker, err := p.attackerUUID(ctx, e)
	if err != nil || attacker == "" {
		return err
	}
	obs, err := p.analyze(r)
	if err != nil {
		p.log.Warn("behave: cannot read recording; skipped", "event", e.ID, "decky", e.Decky,
			"service", e.Service, "src_ip", e.SrcIP, "recording", r.rel, "err", err)
		return nil
	}
	if len(obs) == 0 {
		return nil
	}
	rows := make([]store.Observation, len(obs))
	for i, o := range obs {
		rows[i] = store.Observation{ID: o.ID, V: o.V, TS: o.TS, Primitive: o.Primitive, Value: o.Value,
			Confidence: o.Confidence, Window: store.ObservationWindow(o.Window), Source: o.Source,
			EvidenceRef: o.EvidenceRef, IdentityRef: o.IdentityRef, AttackerUUID: attacker}
	}
	fresh, err := p.cfg.Store.UpsertObservations(ctx, rows)
	if err != nil {
		return err
	}
	for i, o := range rows {
		if fresh[i] {
			p.cfg.Publish(TopicObservationPrefix+o.Primitive, observationPayload(o, e))
		}
	}
	return nil
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
