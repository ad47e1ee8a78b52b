package intel

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"time"
)

// DefaultGreyNoiseURL is the GreyNoise API root.
const DefaultGreyNoiseURL = "https://api.greynoise.io"

// GreyNoiseConfig configures the GreyNoise community provider.
type GreyNoiseConfig struct {
	ProviderConfig
	// Keyless enables the community endpoint without a key (heavily
	// rate-limited by GreyNoise). Without a key and without Keyless the
	// provider is disabled and sends nothing.
	Keyless bool
}

// GreyNoise is an IntelProvider asking the GreyNoise community API
// (/v3/community/{ip}). It sends the attacker's address. Its classification
// maps to the level; a 404 ("not observed") is recorded as unknown.
type GreyNoise struct {
	ep      *endpoint
	keyless bool
}

// NewGreyNoise builds the provider (default rate 50 a minute).
func NewGreyNoise(c GreyNoiseConfig) *GreyNoise {
	return &GreyNoise{ep: newEndpoint("greynoise", DefaultGreyNoiseURL, 256<<10, 50, c.ProviderConfig), keyless: c.Keyless}
}

// Name returns "greynoise".
func (g *GreyNoise) Name() string { return "greynoise" }

// Enabled reports whether a key was configured or keyless use allowed.
func (g *GreyNoise) Enabled() bool { return g.ep.key != "" || g.keyless }

// Lookup asks GreyNoise about ip.
func (g *GreyNoise) Lookup(ctx context.Context, ip netip.Addr) (Verdict, error) {
	v := Verdict{Provider: g.Name()}
	if !g.Enabled() {
		return v, fmt.Errorf("greynoise: %w", ErrDisabled)
	}
	if !ip.IsValid() {
		return v, fmt.Errorf("greynoise: %w", ErrInvalidAddr)
	}
	req, err := http.NewRequest(http.MethodGet, strings.TrimRight(g.ep.base, "/")+"/v3/community/"+ip.Unmap().String(), nil)
	if err != nil {
		return v, fmt.Errorf("greynoise: %w", err)
	}
	if g.ep.key != "" {
		req.Header.Set("key", g.ep.key)
	}
	req.Header.Set("Accept", "application/json")
	status, body, err := g.ep.do(ctx, req)
	if err != nil {
		return v, err
	}
	if status != http.StatusOK && status != http.StatusNotFound {
		return v, g.ep.statusErr(status)
	}
	v, err = parseGreyNoise(status, body, g.ep.now())
	if err != nil {
		return Verdict{Provider: g.Name()}, fmt.Errorf("greynoise: %w", err)
	}
	v.Reference = "https://viz.greynoise.io/ip/" + ip.Unmap().String()
	return v, nil
}

type greyNoiseResponse struct {
	Noise          flexString        `json:"noise"`
	RIOT           flexString        `json:"riot"`
	Classification flexString        `json:"classification"`
	Name           flexString        `json:"name"`
	LastSeen       flexString        `json:"last_seen"`
	Tags           []json.RawMessage `json:"tags"`
}

// parseGreyNoise maps a community response (200, or 404 for "not observed")
// to a verdict.
func parseGreyNoise(status int, body []byte, now time.Time) (Verdict, error) {
	v := classify("greynoise", LevelUnknown, now)
	if status == http.StatusNotFound {
		v.Raw = rawCapped(body)
		return v, nil
	}
	var r greyNoiseResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return v, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	switch strings.ToLower(strings.TrimSpace(string(r.Classification))) {
	case "malicious":
		v.Level = LevelMalicious
	case "suspicious":
		v.Level = LevelSuspicious
	case "benign":
		v.Level = LevelBenign
	}
	v.Malicious = v.Level == LevelMalicious
	if n := clip(string(r.Name), 128); n != "unknown" {
		v.Name = n
	}
	if r.Noise == "true" {
		v.Tags = addSorted(v.Tags, "noise")
	}
	if r.RIOT == "true" {
		v.Tags = addSorted(v.Tags, "riot")
	}
	for _, t := range r.Tags {
		var s flexString
		if json.Unmarshal(t, &s) == nil {
			v.Tags = addSorted(v.Tags, string(s))
		}
	}
	v.LastSeen = parseTimeLoose(string(r.LastSeen))
	v.Raw = rawCapped(body)
	return v, nil
}
