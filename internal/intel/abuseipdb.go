package intel

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// DefaultAbuseIPDBURL is the AbuseIPDB v2 API root.
const DefaultAbuseIPDBURL = "https://api.abuseipdb.com/api/v2"

// AbuseIPDBConfig configures the AbuseIPDB provider.
type AbuseIPDBConfig struct {
	ProviderConfig
	// MaxAgeDays is the report window asked for (default 30, at most 365).
	MaxAgeDays int
}

// AbuseIPDB is an IntelProvider asking AbuseIPDB's check endpoint. It sends
// the attacker's address; it is disabled (and sends nothing) without a key.
// abuseConfidenceScore ≥ 75 is malicious, ≥ 25 suspicious, else benign.
type AbuseIPDB struct {
	ep     *endpoint
	maxAge int
}

// NewAbuseIPDB builds the provider. The default rate (0.69 a minute, the
// free plan's 1000 a day) applies unless RatePerMinute is set.
func NewAbuseIPDB(c AbuseIPDBConfig) *AbuseIPDB {
	a := &AbuseIPDB{ep: newEndpoint("abuseipdb", DefaultAbuseIPDBURL, 2<<20, 1000.0/(24*60), c.ProviderConfig), maxAge: c.MaxAgeDays}
	if a.maxAge <= 0 {
		a.maxAge = 30
	}
	a.maxAge = min(a.maxAge, 365)
	return a
}

// Name returns "abuseipdb".
func (a *AbuseIPDB) Name() string { return "abuseipdb" }

// Enabled reports whether an API key was configured.
func (a *AbuseIPDB) Enabled() bool { return a.ep.key != "" }

// Lookup asks AbuseIPDB about ip.
func (a *AbuseIPDB) Lookup(ctx context.Context, ip netip.Addr) (Verdict, error) {
	v := Verdict{Provider: a.Name()}
	if !a.Enabled() {
		return v, fmt.Errorf("abuseipdb: %w", ErrDisabled)
	}
	if !ip.IsValid() {
		return v, fmt.Errorf("abuseipdb: %w", ErrInvalidAddr)
	}
	q := url.Values{"ipAddress": {ip.Unmap().String()}, "maxAgeInDays": {strconv.Itoa(a.maxAge)}, "verbose": {""}}
	req, err := http.NewRequest(http.MethodGet, strings.TrimRight(a.ep.base, "/")+"/check?"+q.Encode(), nil)
	if err != nil {
		return v, fmt.Errorf("abuseipdb: %w", err)
	}
	req.Header.Set("Key", a.ep.key)
	req.Header.Set("Accept", "application/json")
	status, body, err := a.ep.do(ctx, req)
	if err != nil {
		return v, err
	}
	if status != http.StatusOK {
		return v, a.ep.statusErr(status)
	}
	v, err = parseAbuseIPDB(body, a.ep.now())
	if err != nil {
		return Verdict{Provider: a.Name()}, fmt.Errorf("abuseipdb: %w", err)
	}
	v.Reference = "https://www.abuseipdb.com/check/" + ip.Unmap().String()
	return v, nil
}

type abuseIPDBResponse struct {
	Data *struct {
		Score          flexString `json:"abuseConfidenceScore"`
		IsWhitelisted  flexString `json:"isWhitelisted"`
		IsTor          flexString `json:"isTor"`
		ISP            flexString `json:"isp"`
		LastReportedAt flexString `json:"lastReportedAt"`
		Reports        []struct {
			Categories []flexString `json:"categories"`
			ReportedAt flexString   `json:"reportedAt"`
		} `json:"reports"`
	} `json:"data"`
	Errors []struct {
		Detail flexString `json:"detail"`
	} `json:"errors"`
}

// parseAbuseIPDB maps a check response to a verdict.
func parseAbuseIPDB(body []byte, now time.Time) (Verdict, error) {
	v := classify("abuseipdb", LevelNone, now)
	var r abuseIPDBResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return v, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if r.Data == nil {
		if len(r.Errors) > 0 {
			return v, fmt.Errorf("%w: error %q", ErrMalformed, clip(string(r.Errors[0].Detail), 200))
		}
		return v, fmt.Errorf("%w: no data object", ErrMalformed)
	}
	d := r.Data
	score, err := strconv.ParseFloat(strings.TrimSpace(string(d.Score)), 64)
	if err != nil || math.IsNaN(score) {
		return v, fmt.Errorf("%w: abuseConfidenceScore %q", ErrMalformed, clip(string(d.Score), 40))
	}
	v.Score = int(math.Max(0, math.Min(100, score)))
	switch {
	case v.Score >= 75:
		v.Level = LevelMalicious
	case v.Score >= 25:
		v.Level = LevelSuspicious
	default:
		v.Level = LevelBenign
	}
	v.Malicious = v.Level == LevelMalicious
	v.Name = clip(string(d.ISP), 128)
	if d.IsTor == "true" {
		v.Tags = append(v.Tags, "tor")
	}
	if d.IsWhitelisted == "true" {
		v.Tags = append(v.Tags, "whitelisted")
	}
	for _, rep := range d.Reports {
		for _, c := range rep.Categories {
			n, err := strconv.Atoi(strings.TrimSpace(string(c)))
			if err == nil && n > 0 && n < 1000 && !slices.Contains(v.Categories, n) {
				v.Categories = append(v.Categories, n)
			}
		}
		if t := parseTimeLoose(string(rep.ReportedAt)); !t.IsZero() && (v.FirstSeen.IsZero() || t.Before(v.FirstSeen)) {
			v.FirstSeen = t
		}
	}
	slices.Sort(v.Categories)
	v.LastSeen = parseTimeLoose(string(d.LastReportedAt))
	v.Raw = rawCapped(body)
	return v, nil
}

const maxRaw = 64 << 10

// rawCapped returns body as a raw JSON value when it is valid JSON and no
// larger than maxRaw, else nil.
func rawCapped(body []byte) json.RawMessage {
	if len(body) > maxRaw || !json.Valid(body) {
		return nil
	}
	return slices.Clone(body)
}

// addSorted inserts s into the sorted set, ignoring empties and capping the
// set at 64 entries.
func addSorted(set []string, s string) []string {
	s = clip(s, 128)
	if s == "" || len(set) >= 64 {
		return set
	}
	i, found := slices.BinarySearch(set, s)
	if found {
		return set
	}
	return slices.Insert(set, i, s)
}
