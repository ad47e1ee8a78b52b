package intel

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// DefaultSSLBLJA3URL is abuse.ch SSLBL's JA3 fingerprint blacklist (CSV).
const DefaultSSLBLJA3URL = "https://sslbl.abuse.ch/blacklist/ja3_fingerprints.csv"

// SSLBLConfig configures the abuse.ch SSLBL JA3 feed. BaseURL is the whole
// download URL. APIKey, when set, is sent as Auth-Key; the feed needs none.
type SSLBLConfig struct {
	ProviderConfig
	// Enabled switches the feed on. The zero value is off so that a Config
	// built in code reaches no network it did not name; ConfigFromEnv turns
	// it on unless DECNET_SSLBL_ENABLED=false.
	Enabled         bool
	RefreshInterval time.Duration // default 1 h
	RetryInterval   time.Duration // default 5 min
}

// fromEnv reads the DECNET_SSLBL_* variables into c and returns what was
// malformed, for ConfigFromEnv.
func (c *SSLBLConfig) fromEnv(getenv func(string) string) []string {
	var errs []string
	str := func(name string) string { return strings.TrimSpace(getenv(name)) }
	c.Enabled = true
	if s := str("DECNET_SSLBL_ENABLED"); s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			errs = append(errs, fmt.Sprintf("DECNET_SSLBL_ENABLED=%q: want true or false", s))
		} else {
			c.Enabled = b
		}
	}
	c.BaseURL = str("DECNET_SSLBL_JA3_URL")
	c.APIKey = str("DECNET_SSLBL_AUTH_KEY")
	if s := str("DECNET_SSLBL_REFRESH_INTERVAL_S"); s != "" {
		n, err := strconv.ParseFloat(s, 64)
		if err != nil || n <= 0 {
			errs = append(errs, fmt.Sprintf("DECNET_SSLBL_REFRESH_INTERVAL_S=%q: want a positive number of seconds", s))
		} else {
			c.RefreshInterval = time.Duration(n * float64(time.Second))
		}
	}
	return errs
}

// SSLBLFeed builds the SSLBL JA3 feed of c with c's shared client, clock
// and logger, or returns nil when intel or the feed is switched off.
func (c Config) SSLBLFeed() *SSLBL {
	if !c.Enabled {
		return nil
	}
	if !c.SSLBL.Enabled {
		log := c.Logger
		if log == nil {
			log = slog.Default()
		}
		log.Info("intel feed off: DECNET_SSLBL_ENABLED=false; R0030 sees no SSLBL JA3", "provider", "sslbl")
		return nil
	}
	s := c.SSLBL
	if s.Client == nil {
		s.Client = c.Client
	}
	if s.Now == nil {
		s.Now = c.Now
	}
	if s.Logger == nil {
		s.Logger = c.Logger
	}
	return NewSSLBL(s)
}

// SSLBL is abuse.ch's SSL Blacklist of JA3 client fingerprints (malware
// and C2 clients), held in memory. It answers the TTP engine's fingerprint
// catalogue for kind "ja3_hash". Lookups only read memory and never wait on
// the network: Run downloads the list at start and keeps it current, on the
// same schedule and with the same keep-the-last-good-copy rule as the other
// bulk feeds. It sends no attacker data: it only downloads the list.
type SSLBL struct {
	ep    *endpoint
	feed  *feed[map[string]string]
	index atomic.Pointer[map[string]string] // what lookups read
}

// NewSSLBL builds the feed; it downloads nothing until Run or Refresh.
func NewSSLBL(c SSLBLConfig) *SSLBL {
	ep := newEndpoint("sslbl", DefaultSSLBLJA3URL, 4<<20, -1, c.ProviderConfig)
	s := &SSLBL{ep: ep}
	s.feed = &feed[map[string]string]{
		name: "sslbl", interval: c.RefreshInterval, retry: c.RetryInterval,
		now: ep.now, log: ep.log, load: s.download,
	}
	if s.feed.interval <= 0 {
		s.feed.interval = time.Hour
	}
	if s.feed.retry <= 0 {
		s.feed.retry = 5 * time.Minute
	}
	return s
}

// Name returns "sslbl".
func (s *SSLBL) Name() string { return "sslbl" }

// Refresh downloads the list now; on failure the previous copy stays.
func (s *SSLBL) Refresh(ctx context.Context) error {
	s.feed.refreshMu.Lock()
	err := s.feed.refresh(ctx)
	s.feed.refreshMu.Unlock()
	s.publish()
	return err
}

// Run keeps the list current until ctx ends: a download at once, then one
// each RefreshInterval (RetryInterval after a failure).
func (s *SSLBL) Run(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.feed.current(ctx) // refreshes when due
		s.publish()
		s.feed.mu.RLock()
		wait := s.feed.interval
		if s.feed.lastErr != nil {
			wait = s.feed.retry
		}
		s.feed.mu.RUnlock()
		t.Reset(wait)
	}
}

// publish hands the feed's current copy to lookups.
func (s *SSLBL) publish() {
	s.feed.mu.RLock()
	defer s.feed.mu.RUnlock()
	if s.feed.loaded {
		m := s.feed.data
		s.index.Store(&m)
	}
}

// Len is the number of fingerprints held (0 before the first download).
func (s *SSLBL) Len() int {
	if m := s.index.Load(); m != nil {
		return len(*m)
	}
	return 0
}

// LookupFingerprint answers for kind "ja3_hash": the listing reason of a
// listed JA3, e.g. "TrickBot (abuse.ch SSLBL)". Other kinds are never
// listed. It does not allocate: it is on the tagging hot path.
func (s *SSLBL) LookupFingerprint(kind, value string) (string, bool) {
	if kind != "ja3_hash" || len(value) != 32 {
		return "", false
	}
	m := s.index.Load()
	if m == nil {
		return "", false
	}
	var low [32]byte
	for i := 0; i < 32; i++ {
		c := value[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		low[i] = c
	}
	label, ok := (*m)[string(low[:])]
	return label, ok
}

func (s *SSLBL) download(ctx context.Context) (map[string]string, int, error) {
	idx, err := fetchFeed(ctx, s.ep, parseSSLBL)
	return idx, len(idx), err
}

// maxSSLBLEntries bounds the index; the real list holds a few hundred.
const maxSSLBLEntries = 1 << 16

// parseSSLBL reads the SSLBL JA3 CSV: '#' comment lines, then rows
// "ja3_md5,Firstseen,Lastseen,Listingreason". A row whose first field is
// not 32 hex digits is skipped (a header, a torn line); the hash is
// lower-cased and the label is the listing reason with the source named,
// built here so that lookups allocate nothing.
func parseSSLBL(body []byte) (map[string]string, error) {
	idx := make(map[string]string)
	br := bufio.NewReaderSize(bytes.NewReader(body), 64<<10)
	var fields []string
	for len(idx) < maxSSLBLEntries {
		line, err := readLine(br)
		if line = strings.TrimSpace(line); line != "" && line[0] != '#' {
			fields = splitCSV(line, fields[:0])
			if h, ok := md5Hex(fields[0]); ok {
				reason := ""
				if len(fields) > 3 {
					reason = clip(fields[3], 128)
				}
				if reason == "" {
					idx[h] = "abuse.ch SSLBL listing"
				} else {
					idx[h] = reason + " (abuse.ch SSLBL)"
				}
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
	}
	return idx, nil
}

// md5Hex returns s lower-cased when it is 32 hex digits.
func md5Hex(s string) (string, bool) {
	if len(s) != 32 {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return "", false
		}
	}
	return strings.ToLower(s), true
}
