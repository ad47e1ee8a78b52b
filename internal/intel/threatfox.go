package intel

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// DefaultThreatFoxURL is the ThreatFox API endpoint.
const DefaultThreatFoxURL = "https://threatfox-api.abuse.ch/api/v1/"

// ThreatFoxConfig configures the ThreatFox provider. BaseURL is the whole
// endpoint URL.
type ThreatFoxConfig struct {
	ProviderConfig
}

// ThreatFox is an IntelProvider asking ThreatFox's search_ioc for the
// attacker's address. It sends the address; it is disabled (and sends
// nothing) without an abuse.ch Auth-Key. An IOC on the address (with or
// without a port) is malicious; no_result is LevelNone.
type ThreatFox struct {
	ep *endpoint
}

// NewThreatFox builds the provider (default rate 30 a minute).
func NewThreatFox(c ThreatFoxConfig) *ThreatFox {
	return &ThreatFox{ep: newEndpoint("threatfox", DefaultThreatFoxURL, 1<<20, 30, c.ProviderConfig)}
}

// Name returns "threatfox".
func (t *ThreatFox) Name() string { return "threatfox" }

// Enabled reports whether an Auth-Key was configured.
func (t *ThreatFox) Enabled() bool { return t.ep.key != "" }

// Lookup searches ThreatFox for IOCs on ip.
func (t *ThreatFox) Lookup(ctx context.Context, ip netip.Addr) (Verdict, error) {
	v := Verdict{Provider: t.Name()}
	if !t.Enabled() {
		return v, fmt.Errorf("threatfox: %w", ErrDisabled)
	}
	if !ip.IsValid() {
		return v, fmt.Errorf("threatfox: %w", ErrInvalidAddr)
	}
	ip = ip.Unmap()
	payload, _ := json.Marshal(map[string]string{"query": "search_ioc", "search_term": ip.String()})
	req, err := http.NewRequest(http.MethodPost, t.ep.base, bytes.NewReader(payload))
	if err != nil {
		return v, fmt.Errorf("threatfox: %w", err)
	}
	req.Header.Set("Auth-Key", t.ep.key)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	status, body, err := t.ep.do(ctx, req)
	if err != nil {
		return v, err
	}
	if status != http.StatusOK {
		return v, t.ep.statusErr(status)
	}
	v, err = parseThreatFox(body, ip, t.ep.now())
	if err != nil {
		return Verdict{Provider: t.Name()}, fmt.Errorf("threatfox: %w", err)
	}
	return v, nil
}

type threatFoxIOC struct {
	ID               flexString        `json:"id"`
	IOC              flexString        `json:"ioc"`
	ThreatType       flexString        `json:"threat_type"`
	IOCType          flexString        `json:"ioc_type"`
	Malware          flexString        `json:"malware"`
	MalwarePrintable flexString        `json:"malware_printable"`
	Confidence       flexString        `json:"confidence_level"`
	FirstSeen        flexString        `json:"first_seen"`
	LastSeen         flexString        `json:"last_seen"`
	Tags             []json.RawMessage `json:"tags"`
}

// parseThreatFox maps a search_ioc response to a verdict about ip. IOCs for
// other addresses (the search is a substring match) are ignored.
func parseThreatFox(body []byte, ip netip.Addr, now time.Time) (Verdict, error) {
	v := classify("threatfox", LevelNone, now)
	var r struct {
		Status flexString      `json:"query_status"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return v, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	switch string(r.Status) {
	case "no_result":
		return v, nil
	case "ok":
	default:
		return v, fmt.Errorf("%w: query_status %q", ErrMalformed, clip(string(r.Status), 80))
	}
	var iocs []threatFoxIOC
	if err := json.Unmarshal(r.Data, &iocs); err != nil {
		return v, fmt.Errorf("%w: data: %v", ErrMalformed, err)
	}
	matched := 0
	for _, ioc := range iocs {
		if !iocIsAddr(string(ioc.IOC), ip) {
			continue
		}
		matched++
		fam := string(ioc.MalwarePrintable)
		if fam == "" {
			fam = string(ioc.Malware)
		}
		v.Families = addSorted(v.Families, fam)
		v.ThreatTypes = addSorted(v.ThreatTypes, string(ioc.ThreatType))
		v.IOCTypes = addSorted(v.IOCTypes, string(ioc.IOCType))
		for _, raw := range ioc.Tags {
			var s flexString
			if json.Unmarshal(raw, &s) == nil {
				v.Tags = addSorted(v.Tags, string(s))
			}
		}
		if c, err := strconv.ParseFloat(strings.TrimSpace(string(ioc.Confidence)), 64); err == nil && c > float64(v.Score) {
			v.Score = int(min(c, 100))
		}
		if t := parseTimeLoose(string(ioc.FirstSeen)); !t.IsZero() && (v.FirstSeen.IsZero() || t.Before(v.FirstSeen)) {
			v.FirstSeen = t
		}
		if t := parseTimeLoose(string(ioc.LastSeen)); t.After(v.LastSeen) {
			v.LastSeen = t
		}
		if v.Reference == "" {
			if id, err := strconv.ParseUint(string(ioc.ID), 10, 64); err == nil {
				v.Reference = "https://threatfox.abuse.ch/ioc/" + strconv.FormatUint(id, 10) + "/"
			}
		}
	}
	if matched > 0 {
		v.Level, v.Malicious = LevelMalicious, true
		v.Raw = rawCapped(body)
	}
	return v, nil
}

// iocIsAddr reports whether a ThreatFox IOC value ("1.2.3.4", "1.2.3.4:443",
// "[2001:db8::1]:443") names ip.
func iocIsAddr(ioc string, ip netip.Addr) bool {
	ioc = strings.TrimSpace(ioc)
	if a, err := netip.ParseAddr(ioc); err == nil {
		return a.Unmap() == ip
	}
	if ap, err := netip.ParseAddrPort(ioc); err == nil {
		return ap.Addr().Unmap() == ip
	}
	return false
}
