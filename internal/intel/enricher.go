package intel

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"
)

// EnricherConfig lists what an Enricher asks. Nil or empty parts are skipped.
type EnricherConfig struct {
	Providers []IntelProvider
	Hashes    []MalHashProvider
	Geo       *Geo
	// Timeout bounds each provider's answer within one call (default 15 s).
	Timeout time.Duration
}

// Enricher fans an address out to every per-IP provider at once, a file hash
// to every hash provider, and merges the answers.
type Enricher struct {
	providers []IntelProvider
	hashes    []MalHashProvider
	geo       *Geo
	timeout   time.Duration
}

// NewEnricher builds an Enricher.
func NewEnricher(c EnricherConfig) *Enricher {
	e := &Enricher{providers: slices.Clone(c.Providers), hashes: slices.Clone(c.Hashes), geo: c.Geo, timeout: c.Timeout}
	if e.timeout <= 0 {
		e.timeout = 15 * time.Second
	}
	return e
}

// Providers returns the names of the per-IP providers, in order.
func (e *Enricher) Providers() []string {
	names := make([]string, len(e.providers))
	for i, p := range e.providers {
		names[i] = p.Name()
	}
	return names
}

// Geo returns the GeoIP/ASN resolver, or nil.
func (e *Enricher) Geo() *Geo { return e.geo }

// Report is everything known about one address after one pass.
type Report struct {
	IP netip.Addr `json:"ip"`
	// Level is the strongest level among the answers; LevelNone when no
	// provider answered or none had a record.
	Level     Level `json:"level"`
	Malicious bool  `json:"malicious"`
	// Verdicts are the answers (stale ones included), sorted by provider.
	Verdicts []Verdict `json:"verdicts"`
	// Errors are the providers that gave no answer, by name.
	Errors map[string]error `json:"-"`
	// Location is the GeoIP/ASN answer; nil without databases or a match.
	Location *Location `json:"location,omitempty"`
}

// Verdict returns the named provider's answer.
func (r Report) Verdict(provider string) (Verdict, bool) {
	i := slices.IndexFunc(r.Verdicts, func(v Verdict) bool { return v.Provider == provider })
	if i < 0 {
		return Verdict{}, false
	}
	return r.Verdicts[i], true
}

// Enrich asks every provider about ip concurrently and merges the answers.
// It never fails: unanswered providers are listed in Report.Errors.
func (e *Enricher) Enrich(ctx context.Context, ip netip.Addr) Report {
	ip = ip.Unmap()
	r := Report{IP: ip, Errors: map[string]error{}}
	type answer struct {
		name string
		v    Verdict
		err  error
	}
	answers := make([]answer, len(e.providers))
	var wg sync.WaitGroup
	for i, p := range e.providers {
		wg.Go(func() {
			pctx, cancel := context.WithTimeout(ctx, e.timeout)
			defer cancel()
			v, err := safeLookup(pctx, p, ip)
			answers[i] = answer{p.Name(), v, err}
		})
	}
	if e.geo != nil {
		if loc, ok, err := e.geo.Lookup(ip); err != nil {
			r.Errors["geo"] = err
		} else if ok {
			r.Location = &loc
		}
	}
	wg.Wait()
	for _, a := range answers {
		if a.err != nil {
			r.Errors[a.name] = a.err
			continue
		}
		a.v.Provider = a.name
		r.Verdicts = append(r.Verdicts, a.v)
		r.Level = max(r.Level, a.v.Level)
	}
	slices.SortFunc(r.Verdicts, func(a, b Verdict) int { return strings.Compare(a.Provider, b.Provider) })
	r.Malicious = r.Level == LevelMalicious
	return r
}

// HashReport is every hash provider's answer about one file.
type HashReport struct {
	SHA256    string           `json:"sha256"`
	Malicious bool             `json:"malicious"`
	Answered  bool             `json:"answered"` // at least one provider answered
	Verdicts  []Verdict        `json:"verdicts"`
	Errors    map[string]error `json:"-"`
}

// CheckHash asks every hash provider about sha256 (64 hex digits, any case).
// Answered is false when none could answer, e.g. MalwareBazaar without a key:
// callers then leave mal_hash_match unset.
func (e *Enricher) CheckHash(ctx context.Context, sha256 string) HashReport {
	r := HashReport{SHA256: strings.ToLower(sha256), Errors: map[string]error{}}
	for _, h := range e.hashes {
		hctx, cancel := context.WithTimeout(ctx, e.timeout)
		bad, v, err := safeIsMalicious(hctx, h, sha256)
		cancel()
		if err != nil {
			r.Errors[h.Name()] = err
			continue
		}
		r.Answered = true
		r.Malicious = r.Malicious || bad
		r.Verdicts = append(r.Verdicts, v)
	}
	return r
}

var errPanicked = errors.New("intel: provider panicked")

// safeLookup turns a provider panic into an error: one broken provider must
// not take the pipeline down.
func safeLookup(ctx context.Context, p IntelProvider, ip netip.Addr) (v Verdict, err error) {
	defer func() {
		if rec := recover(); rec != nil {
			v, err = Verdict{Provider: p.Name()}, errPanicked
		}
	}()
	return p.Lookup(ctx, ip)
}

func safeIsMalicious(ctx context.Context, h MalHashProvider, sha string) (bad bool, v Verdict, err error) {
	defer func() {
		if rec := recover(); rec != nil {
			bad, v, err = false, Verdict{Provider: h.Name()}, errPanicked
		}
	}()
	return h.IsMalicious(ctx, sha)
}
