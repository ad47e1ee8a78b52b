package intelpipe

import (
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"time"

	"github.com/decnet-go/decnet/internal/intel"
	"github.com/decnet-go/decnet/internal/store"
)

// IntelStore is what the enrichment workers write and read besides
// Store; *store.Store implements it. A Store without it publishes the
// reports without keeping them.
type IntelStore interface {
	UpsertAttackerIntel(ctx context.Context, in store.AttackerIntel) error
	ExpiredIntelAddresses(ctx context.Context, now time.Time, limit int) ([]string, error)
}

// Re-enrichment: every intelRefreshEvery, up to intelRefreshBatch
// addresses whose intel expired are queued again, while the queue is at
// most half full (new addresses come first).
const (
	intelRefreshEvery = time.Minute
	intelRefreshBatch = 50
)

// refreshIntelLoop queues addresses whose stored intel expired until ctx
// ends.
func (p *Pipeline) refreshIntelLoop(ctx context.Context) {
	st, ok := p.cfg.Store.(IntelStore)
	if !ok {
		return
	}
	t := time.NewTicker(intelRefreshEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if len(p.enrichQ) > cap(p.enrichQ)/2 {
			continue
		}
		ips, err := st.ExpiredIntelAddresses(ctx, time.Now(), intelRefreshBatch)
		if err != nil {
			if ctx.Err() == nil {
				p.log.Warn("intel: listing expired intel failed", "err", err)
			}
			continue
		}
		for _, ip := range ips {
			a, err := netip.ParseAddr(ip)
			if err != nil {
				continue
			}
			select {
			case p.enrichQ <- a.Unmap():
			default:
			}
		}
	}
}

// IntelTTL is how long a stored enrichment counts as fresh (expires_at).
const IntelTTL = 24 * time.Hour

// intelAttackerWait bounds how long an enrichment worker waits for the
// ingest worker to create the attacker row of the address it enriched.
const intelAttackerWait = 3 * time.Second

// storeIntel resolves the attacker of a and stores r as its intel row. It
// returns the attacker ("" when there is still no row: the report is then
// only published) and the aggregate verdict.
func (p *Pipeline) storeIntel(ctx context.Context, a netip.Addr, r intel.Report) (attacker, verdict string) {
	verdict = aggregateVerdict(r)
	deadline := time.Now().Add(intelAttackerWait)
	for {
		row, err := p.cfg.Store.AttackerByIP(ctx, a.String())
		if err == nil {
			attacker = row.UUID
			break
		}
		if !errors.Is(err, store.ErrNotFound) || time.Now().After(deadline) || !sleep(ctx, 250*time.Millisecond) {
			return "", verdict
		}
	}
	w, ok := p.cfg.Store.(IntelStore)
	if !ok {
		return attacker, verdict
	}
	if err := w.UpsertAttackerIntel(ctx, intelRecord(attacker, r, time.Now())); err != nil && ctx.Err() == nil {
		p.log.Warn("intel: storing enrichment failed", "src_ip", a, "attacker", attacker, "err", err)
	}
	if r.Location != nil && r.Location.ASN != 0 {
		p.cluster.Wake() // a new ASN can change which fingerprints are common
	}
	return attacker, verdict
}

// aggregateVerdict is the strongest classification of the pass
// (malicious > suspicious > benign > unknown), or "" when no provider had
// a record (absence is not a verdict).
func aggregateVerdict(r intel.Report) string {
	if r.Level == intel.LevelNone {
		return ""
	}
	return r.Level.String()
}

// intelRecord turns one enrichment pass into the attacker's intel row.
// Providers that failed this pass are left nil, so the store keeps what
// they said before.
func intelRecord(attacker string, r intel.Report, now time.Time) store.AttackerIntel {
	in := store.AttackerIntel{AttackerUUID: attacker, AttackerIP: r.IP.String(), AggregateVerdict: aggregateVerdict(r),
		Raw: map[string]json.RawMessage{}, CachedAt: now, ExpiresAt: now.Add(IntelTTL)}
	for _, v := range r.Verdicts {
		at := v.FetchedAt
		if at.IsZero() {
			at = now
		}
		switch v.Provider {
		case "greynoise":
			class := v.Level.String()
			if v.Level == intel.LevelNone {
				class = intel.LevelUnknown.String()
			}
			in.GreyNoise = &store.GreyNoiseIntel{Classification: class, Name: v.Name, Tags: orEmpty(v.Tags), QueriedAt: at}
		case "abuseipdb":
			in.AbuseIPDB = &store.AbuseIPDBIntel{Score: v.Score, Categories: v.Categories, QueriedAt: at}
		case "feodo":
			fam := ""
			if len(v.Families) > 0 {
				fam = v.Families[0]
			}
			in.Feodo = &store.FeodoIntel{Listed: v.Malicious, MalwareFamily: fam, QueriedAt: at}
		case "threatfox":
			in.ThreatFox = &store.ThreatFoxIntel{Listed: v.Malicious, ThreatTypes: orEmpty(v.ThreatTypes),
				IOCTypes: orEmpty(v.IOCTypes), MalwareFamilies: orEmpty(v.Families), QueriedAt: at}
		}
		if b, err := json.Marshal(v); err == nil {
			in.Raw[v.Provider] = b
		}
	}
	if l := r.Location; l != nil {
		in.CountryCode, in.ASN, in.ASName, in.ASNSource = l.CountryCode, int64(l.ASN), l.ASOrg, l.ASNSource
	}
	return in
}

func orEmpty(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}
