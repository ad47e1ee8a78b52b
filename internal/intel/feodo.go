package intel

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// DefaultFeodoURL is Feodo Tracker's botnet C2 IP blocklist (JSON).
const DefaultFeodoURL = "https://feodotracker.abuse.ch/downloads/ipblocklist.json"

// FeodoConfig configures the Feodo Tracker bulk feed. BaseURL is the whole
// download URL (JSON list, or the CSV export). APIKey, when set, is sent as
// Auth-Key; the feed needs none.
type FeodoConfig struct {
	ProviderConfig
	RefreshInterval time.Duration // default 1 h
	RetryInterval   time.Duration // default 5 min
}

// Feodo is an IntelProvider backed by the Feodo Tracker C2 blocklist, held
// in memory as an index by address. A listed address is malicious; an absent
// one gets LevelNone (absence is not innocence). It sends no attacker data:
// it only downloads the list.
type Feodo struct {
	ep   *endpoint
	feed *feed[map[netip.Addr]feodoRecord]
}

type feodoRecord struct {
	Families   []string  `json:"families"`
	Ports      []int     `json:"ports,omitempty"`
	Status     string    `json:"status,omitempty"`
	FirstSeen  time.Time `json:"first_seen,omitzero"`
	LastOnline time.Time `json:"last_online,omitzero"`
}

// NewFeodo builds the provider; it downloads nothing until the first lookup.
func NewFeodo(c FeodoConfig) *Feodo {
	ep := newEndpoint("feodo", DefaultFeodoURL, 16<<20, -1, c.ProviderConfig)
	f := &Feodo{ep: ep}
	f.feed = &feed[map[netip.Addr]feodoRecord]{
		name: "feodo", interval: c.RefreshInterval, retry: c.RetryInterval,
		now: ep.now, log: ep.log, load: f.download,
	}
	if f.feed.interval <= 0 {
		f.feed.interval = time.Hour
	}
	if f.feed.retry <= 0 {
		f.feed.retry = 5 * time.Minute
	}
	return f
}

// Name returns "feodo".
func (f *Feodo) Name() string { return "feodo" }

// Lookup reports whether ip is a listed botnet C2.
func (f *Feodo) Lookup(ctx context.Context, ip netip.Addr) (Verdict, error) {
	if !ip.IsValid() {
		return Verdict{Provider: f.Name()}, fmt.Errorf("feodo: %w", ErrInvalidAddr)
	}
	s := f.feed.current(ctx)
	if !s.loaded {
		err := ErrFeedUnavailable
		if s.err != nil {
			err = fmt.Errorf("%w: %w", ErrFeedUnavailable, s.err)
		}
		return Verdict{Provider: f.Name()}, fmt.Errorf("feodo: %w", err)
	}
	v := classify(f.Name(), LevelNone, s.loadedAt)
	v.Stale = s.stale
	rec, ok := s.data[ip.Unmap()]
	if !ok {
		return v, nil
	}
	v.Level, v.Malicious = LevelMalicious, true
	v.Families = rec.Families
	v.FirstSeen, v.LastSeen = rec.FirstSeen, rec.LastOnline
	if rec.Status != "" {
		v.Tags = []string{"c2_status:" + rec.Status}
	}
	v.Reference = "https://feodotracker.abuse.ch/browse/host/" + ip.Unmap().String() + "/"
	v.Raw, _ = json.Marshal(rec)
	return v, nil
}

func (f *Feodo) download(ctx context.Context) (map[netip.Addr]feodoRecord, int, error) {
	idx, err := fetchFeed(ctx, f.ep, parseFeodo)
	return idx, len(idx), err
}

// flexString decodes a JSON string, number, bool or null as text, so one
// oddly typed field does not reject a whole feed.
type flexString string

func (s *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		*s = ""
	case b[0] == '"':
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = flexString(v)
	case b[0] == '{' || b[0] == '[':
		*s = ""
	default:
		*s = flexString(b)
	}
	return nil
}

type feodoJSON struct {
	IP         flexString `json:"ip_address"`
	Port       flexString `json:"port"`
	Status     flexString `json:"status"`
	Malware    flexString `json:"malware"`
	FirstSeen  flexString `json:"first_seen"`
	LastOnline flexString `json:"last_online"`
}

const maxFeodoEntries = 1 << 20

// parseFeodo reads the Feodo blocklist, as the JSON list of objects or as
// the CSV export (first_seen_utc, dst_ip, dst_port, c2_status, last_online,
// malware; '#' comments). Entries without a valid address are skipped.
func parseFeodo(body []byte) (map[netip.Addr]feodoRecord, error) {
	idx := make(map[netip.Addr]feodoRecord)
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) > 0 && trimmed[0] == '[' {
		var rows []feodoJSON
		if err := json.Unmarshal(trimmed, &rows); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		for _, r := range rows {
			addFeodo(idx, string(r.IP), string(r.Port), string(r.Status), string(r.Malware), string(r.FirstSeen), string(r.LastOnline))
		}
		return idx, nil
	}
	if len(trimmed) > 0 && trimmed[0] == '{' {
		return nil, fmt.Errorf("%w: expected a JSON list", ErrMalformed)
	}
	cols := map[string]int{"first_seen_utc": 0, "dst_ip": 1, "dst_port": 2, "c2_status": 3, "last_online": 4, "malware": 5}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 0, 4096), maxFeedLine)
	var fields []string
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if line[0] == '#' {
			h := strings.TrimSpace(strings.TrimLeft(line, "#"))
			if strings.Contains(h, "dst_ip") {
				fields = splitCSV(h, fields[:0])
				cols = map[string]int{}
				for i, f := range fields {
					cols[strings.ToLower(f)] = i
				}
			}
			continue
		}
		fields = splitCSV(line, fields[:0])
		get := func(name string) string {
			if i, ok := cols[name]; ok && i < len(fields) {
				return fields[i]
			}
			return ""
		}
		addFeodo(idx, get("dst_ip"), get("dst_port"), get("c2_status"), get("malware"), get("first_seen_utc"), get("last_online"))
		if len(idx) >= maxFeodoEntries {
			break
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return idx, nil
}

func addFeodo(idx map[netip.Addr]feodoRecord, ip, port, status, malware, first, last string) {
	addr, err := netip.ParseAddr(strings.TrimSpace(ip))
	if err != nil || len(idx) >= maxFeodoEntries {
		return
	}
	addr = addr.Unmap()
	rec := idx[addr]
	if m := clip(malware, 128); m != "" && !slices.Contains(rec.Families, m) {
		rec.Families = append(rec.Families, m)
		slices.Sort(rec.Families)
	}
	if p, err := strconv.Atoi(strings.TrimSpace(port)); err == nil && p > 0 && p < 65536 && !slices.Contains(rec.Ports, p) && len(rec.Ports) < 64 {
		rec.Ports = append(rec.Ports, p)
		slices.Sort(rec.Ports)
	}
	if st := clip(strings.ToLower(status), 32); st != "" && (rec.Status == "" || st == "online") {
		rec.Status = st
	}
	if t := parseTimeLoose(first); !t.IsZero() && (rec.FirstSeen.IsZero() || t.Before(rec.FirstSeen)) {
		rec.FirstSeen = t
	}
	if t := parseTimeLoose(last); t.After(rec.LastOnline) {
		rec.LastOnline = t
	}
	idx[addr] = rec
}

// clip trims s, cuts it to at most n bytes and drops invalid UTF-8 (a rune
// cut in half included).
func clip(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		s = s[:n]
	}
	return strings.ToValidUTF8(s, "")
}

var timeLayouts = []string{
	time.RFC3339,
	"2006-01-02 15:04:05 MST",
	"2006-01-02 15:04:05",
	"2006-01-02T15:04:05",
	"2006-01-02",
}

// parseTimeLoose parses the timestamp shapes the providers use, as UTC; it
// returns the zero time for anything else.
func parseTimeLoose(s string) time.Time {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 64 {
		return time.Time{}
	}
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}
