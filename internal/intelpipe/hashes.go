package intelpipe

import (
	"context"
	"encoding/json"
	"net/netip"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/store"
)

// maxSeen bounds the addresses remembered as already enriched; past it the
// memory starts afresh (an address may then be enriched twice, which the
// providers' caches absorb).
const maxSeen = 100000

// hashes is the intel stage (S8 and the attachment bookkeeping of S2a):
// every file an attacker left (file_captured) and every mail attachment
// (message_stored) is recorded in observed_attachments, with the
// MalwareBazaar verdict when a hash provider is configured (the store keeps
// a malicious verdict for good); the first event of each public source
// address queues it for per-address enrichment when providers are on.
func (p *Pipeline) hashes(ctx context.Context, e event.Event) error {
	if p.enrichQ != nil {
		p.queueEnrich(e.SrcIP)
	}
	switch e.Type {
	case event.TypeFileCaptured:
		sha, _ := e.Fields["sha256"].(string)
		orig, _ := e.Fields["orig_path"].(string)
		_, err := p.sighting(ctx, e, sha, path.Ext(orig), "")
		return err
	case "message_stored":
		subject, _ := e.Fields["subject"].(string)
		atts := attachmentsOf(e.Fields["attachments_json"])
		var match *bool // nil: no attachment, or no hash provider answered
		for _, a := range atts {
			m, err := p.sighting(ctx, e, a.SHA256, path.Ext(a.Filename), subject)
			if err != nil {
				return err
			}
			if m != nil && (match == nil || *m) {
				match = m
			}
		}
		p.emailReceived(ctx, e, atts, match)
	}
	return nil
}

// TopicEmailReceived announces a message kept by smtp or smtp_relay.
const TopicEmailReceived = "email.received"

// emailReceived publishes email.received for a message_stored event: a
// projection without recipient addresses or body (the PII rule of the TTP
// evidence), with mal_hash_match only when the message had attachments and
// a hash provider answered for them. The msg_id is the source_id, so tags
// from this notice and from the raw event are one tag.
func (p *Pipeline) emailReceived(ctx context.Context, e event.Event, atts []attachment, match *bool) {
	attacker := ""
	if e.SrcIP != "" {
		if id, err := p.cfg.Store.AttackerUUIDByIP(ctx, e.SrcIP); err == nil {
			attacker = id
		}
	}
	msgID, _ := e.Fields["msg_id"].(string)
	shas, exts := make([]string, len(atts)), make([]string, len(atts))
	for i, a := range atts {
		shas[i], exts[i] = strings.ToLower(a.SHA256), strings.ToLower(path.Ext(a.Filename))
	}
	payload := map[string]any{"attacker_uuid": nullable(attacker), "attacker_ip": e.SrcIP, "decky": e.Decky,
		"service": e.Service, "session_id": nullable(e.Session), "msg_id": msgID, "source_id": msgID,
		"subject": e.Fields["subject"], "mail_from_domain": e.Fields["mail_from_domain"],
		"rcpt_count": e.Fields["rcpt_count"], "attachment_count": len(atts), "attachment_sha256s": shas,
		"attachment_extensions": exts, "ts": epoch(e.Time)}
	if len(atts) > 0 && match != nil {
		payload["mal_hash_match"] = *match
	}
	p.cfg.Publish(TopicEmailReceived, payload)
}

// sighting records one file hash, checked against the hash providers,
// and returns the providers' answer (nil when none answered).
func (p *Pipeline) sighting(ctx context.Context, e event.Event, sha, ext, subject string) (*bool, error) {
	sha = strings.ToLower(sha)
	if len(sha) != 64 {
		return nil, nil
	}
	attacker := ""
	if e.SrcIP != "" {
		var err error
		if attacker, err = p.attackerUUID(ctx, e); err != nil {
			return nil, err // the ingest worker has not made the attacker row yet
		}
	}
	s := store.AttachmentSighting{SHA256: sha, DeckyUUID: e.Decky, AttackerUUID: attacker,
		Extension: ext, Subject: subject, Time: e.Time}
	if p.cfg.Enricher != nil {
		if r := p.cfg.Enricher.CheckHash(ctx, sha); r.Answered {
			bad := r.Malicious
			s.MalHashMatch = &bad
			for _, v := range r.Verdicts {
				if v.Malicious || s.Provider == "" {
					s.Provider = v.Provider
				}
			}
		}
	}
	_, err := p.cfg.Store.UpsertObservedAttachment(ctx, s)
	return s.MalHashMatch, err
}

type attachment struct {
	Filename string `json:"filename"`
	SHA256   string `json:"sha256"`
}

// attachmentsOf reads message_stored's attachments_json (a JSON text, or
// an array already decoded).
func attachmentsOf(raw any) []attachment {
	var b []byte
	switch raw := raw.(type) {
	case string:
		b = []byte(raw)
	case []any:
		b, _ = json.Marshal(raw)
	default:
		return nil
	}
	var out []attachment
	if json.Unmarshal(b, &out) != nil {
		return nil
	}
	return out
}

// addrSet is a bounded set of addresses: past maxSeen it starts afresh.
type addrSet struct {
	mu sync.Mutex
	m  map[netip.Addr]bool
}

// add reports whether ip parses and was not in the set, and adds it.
func (s *addrSet) add(ip string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return a, false
	}
	a = a.Unmap()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m[a] {
		return a, false
	}
	if s.m == nil || len(s.m) >= maxSeen {
		s.m = map[netip.Addr]bool{}
	}
	s.m[a] = true
	return a, true
}

// public reports whether providers could know anything about a: no
// loopback, private, link-local or unspecified address ever leaves the
// host.
func public(a netip.Addr) bool {
	return a.IsGlobalUnicast() && !a.IsPrivate()
}

// queueEnrich hands a newly seen public address to the enrichment
// workers, dropping it (with a log line) when they are too far behind.
func (p *Pipeline) queueEnrich(ip string) {
	a, first := p.enriched.add(ip)
	if !first || !public(a) {
		return
	}
	select {
	case p.enrichQ <- a:
	default:
		p.log.Warn("intel: enrichment queue full; address not enriched", "src_ip", a)
	}
}

// enrichLoop asks the per-address providers (and the GeoIP/ASN databases)
// about queued addresses, stores the answers as the attacker's
// attacker_intel row and publishes attacker.intel.enriched.
func (p *Pipeline) enrichLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case a := <-p.enrichQ:
			r := p.cfg.Enricher.Enrich(ctx, a)
			if ctx.Err() != nil {
				return
			}
			attacker, verdict := p.storeIntel(ctx, a, r)
			p.cfg.Publish(TopicIntelEnriched, map[string]any{
				"attacker_uuid": nullable(attacker), "attacker_ip": a.String(), "aggregate_verdict": nullable(verdict), "level": r.Level,
				"malicious": r.Malicious, "verdicts": r.Verdicts, "location": r.Location,
				"providers": p.cfg.Enricher.Providers(), "ts": epoch(time.Now()),
			})
		}
	}
}
