package ttp

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"
)

// FingerprintKinds are the fingerprint kinds rule R0030 reads and a
// catalogue may list: the ssh client's HASSH, the prober's HASSH of an
// attacker's ssh server, the TLS client's JA3 (MD5) and JA4, and the
// prober's JARM of an attacker's TLS server.
var FingerprintKinds = []string{"hassh", "hassh_server", "ja3_hash", "ja4", "jarm"}

// Fingerprints is a FingerprintCatalogue held in memory: kind → value →
// label. Kinds are FingerprintKinds; values are stored lower-case and
// compare case-insensitively.
type Fingerprints map[string]map[string]string

// LookupFingerprint implements FingerprintCatalogue without allocating.
func (f Fingerprints) LookupFingerprint(kind, value string) (string, bool) {
	return lookupFold(f[kind], value)
}

// maxFingerprintLen is the longest fingerprint of any kind (JARM, 62).
const maxFingerprintLen = 62

// lookupFold looks value up in m case-insensitively. It lower-cases into a
// stack buffer rather than with strings.ToLower so that a lookup never
// allocates; a value longer than any fingerprint is never listed.
func lookupFold(m map[string]string, value string) (string, bool) {
	if m == nil || len(value) > maxFingerprintLen {
		return "", false
	}
	var low [maxFingerprintLen]byte
	for i := 0; i < len(value); i++ {
		c := value[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		low[i] = c
	}
	label, ok := m[string(low[:len(value)])]
	return label, ok
}

// KnownFingerprints is the catalogue compiled into the binary: JARM
// fingerprints that public research ties to C2 frameworks in their default
// TLS configuration (Salesforce's JARM announcement, 2020). They are
// indicators, not proof: the Cobalt Strike JARM is also that of any server
// on the same Java TLS stack, which is why R0030's confidence stays below
// certainty. The prober computes Salesforce-compatible JARM, so the values
// compare directly. HASSH, JA3 and JA4 come from the operator's file and
// the SSLBL feed (see Catalogue), not from constants that would go stale.
func KnownFingerprints() Fingerprints {
	return Fingerprints{
		"jarm": {
			"07d14d16d21d21d07c42d41d00041d24a458a375eef0c576d23a7bab9a9fb1": "Cobalt Strike (default TLS)",
			"07d14d16d21d21d00042d43d000000aa99ce74e2c6d013c745aa52b5cc042d": "Metasploit (default TLS)",
			"22b22b09b22b22b22b22b22b22b22b352842cd5d6b0278445702035e06875c": "TrickBot C2",
			"1dd40d40d00040d1dc1dd40d1dd40d3df2d6a0c2caaa0dc59908f0d3602943": "AsyncRAT C2",
		},
	}
}

// CheckFingerprint reports whether value (lower-case) is well formed for
// kind: 32 hex digits for hassh, hassh_server and ja3_hash (MD5); FoxIO's
// a_b_c for ja4 (a: t|q|d, TLS version, d|i, cipher and extension counts,
// ALPN; b and c: 12 hex digits); 62 hex digits for jarm. A malformed value
// could never match what the sensors emit, so a catalogue that holds one
// has a typo the operator wants to hear about.
func CheckFingerprint(kind, value string) error {
	switch kind {
	case "hassh", "hassh_server", "ja3_hash":
		if len(value) != 32 || !isHex(value) {
			return fmt.Errorf("not an MD5 (32 hex digits) as %s needs", kind)
		}
	case "jarm":
		if len(value) != 62 || !isHex(value) {
			return errors.New("not a JARM (62 hex digits)")
		}
	case "ja4":
		a, rest, ok1 := strings.Cut(value, "_")
		b, c, ok2 := strings.Cut(rest, "_")
		if !ok1 || !ok2 || !ja4A(a) || len(b) != 12 || !isHex(b) || len(c) != 12 || !isHex(c) {
			return errors.New(`not a JA4 (e.g. "t13d1516h2_8daaf6152771_b186095e22b6")`)
		}
	default:
		return fmt.Errorf("unknown kind (known: %s)", strings.Join(FingerprintKinds, ", "))
	}
	return nil
}

// ja4A checks JA4's first section: protocol, version, SNI, two two-digit
// counts and the ALPN's first and last characters, e.g. "t13d1516h2".
func ja4A(a string) bool {
	if len(a) != 10 || !strings.ContainsRune("tqd", rune(a[0])) || !strings.ContainsRune("di", rune(a[3])) {
		return false
	}
	for i := 1; i < 10; i++ {
		c := a[i]
		digit := '0' <= c && c <= '9'
		switch {
		case i >= 4 && i < 8 && !digit:
			return false
		case !digit && !('a' <= c && c <= 'z'):
			return false
		}
	}
	return true
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// Limits of an operator catalogue file: it is the operator's, but a wrong
// path (a log, a disk image) must fail cleanly rather than fill memory.
const (
	maxCatalogueBytes   = 16 << 20
	maxCatalogueLine    = 4096
	maxCatalogueEntries = 1 << 20
	maxLabelLen         = 256
)

// ParseFingerprints reads an operator catalogue: one "kind,value,label"
// line per fingerprint, '#' starting a comment line, blank lines ignored,
// and an optional "kind,value,label" header. The label is the rest of the
// line after the second comma, so it may itself hold commas. Kinds and
// values are checked (CheckFingerprint) and values lower-cased; a listing
// twice is an error. Errors name name:line and the field. name is what
// errors call the file.
func ParseFingerprints(name string, r io.Reader) (Fingerprints, error) {
	br := bufio.NewReaderSize(&capped{r: r, n: maxCatalogueBytes}, 64<<10)
	out := Fingerprints{}
	seen := map[string]int{} // kind "," value → line
	for lineNo := 1; ; lineNo++ {
		raw, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) || len(raw) > maxCatalogueLine {
			return nil, fmt.Errorf("%s:%d: line longer than %d bytes", name, lineNo, maxCatalogueLine)
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s:%d: %w", name, lineNo, err)
		}
		if perr := parseCatalogueLine(out, seen, string(raw), lineNo); perr != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, lineNo, perr)
		}
		if len(seen) > maxCatalogueEntries {
			return nil, fmt.Errorf("%s:%d: more than %d fingerprints", name, lineNo, maxCatalogueEntries)
		}
		if errors.Is(err, io.EOF) {
			return out, nil
		}
	}
}

func parseCatalogueLine(out Fingerprints, seen map[string]int, line string, lineNo int) error {
	line = strings.TrimSpace(line)
	if line == "" || line[0] == '#' {
		return nil
	}
	if !utf8.ValidString(line) {
		return errors.New("not UTF-8 text")
	}
	kind, rest, ok1 := strings.Cut(line, ",")
	value, label, ok2 := strings.Cut(rest, ",")
	kind, value, label = strings.ToLower(strings.TrimSpace(kind)), strings.ToLower(strings.TrimSpace(value)), strings.TrimSpace(label)
	if !ok1 || !ok2 {
		return errors.New(`want "kind,value,label"`)
	}
	if kind == "kind" && value == "value" {
		return nil // header
	}
	if !slices.Contains(FingerprintKinds, kind) {
		return fmt.Errorf("kind %q: unknown (known: %s)", kind, strings.Join(FingerprintKinds, ", "))
	}
	if err := CheckFingerprint(kind, value); err != nil {
		return fmt.Errorf("value %q: %w", value, err)
	}
	switch {
	case label == "":
		return errors.New("label: empty (say which tool or C2 this is)")
	case len(label) > maxLabelLen:
		return fmt.Errorf("label: longer than %d bytes", maxLabelLen)
	case strings.ContainsFunc(label, unicode.IsControl):
		return errors.New("label: holds a control character")
	}
	key := kind + "," + value
	if first, dup := seen[key]; dup {
		return fmt.Errorf("value %q: %s listed already on line %d", value, kind, first)
	}
	seen[key] = lineNo
	if out[kind] == nil {
		out[kind] = map[string]string{}
	}
	out[kind][value] = label
	return nil
}

// capped fails once more than n bytes were read, so that an oversized file
// is an error rather than a silently truncated catalogue.
type capped struct {
	r io.Reader
	n int64
}

func (c *capped) Read(p []byte) (int, error) {
	if c.n < 0 {
		return 0, fmt.Errorf("larger than %d bytes", maxCatalogueBytes)
	}
	if int64(len(p)) > c.n+1 {
		p = p[:c.n+1]
	}
	n, err := c.r.Read(p)
	c.n -= int64(n)
	if c.n < 0 {
		return n, fmt.Errorf("larger than %d bytes", maxCatalogueBytes)
	}
	return n, err
}

// LoadFingerprints reads the operator catalogue at path.
func LoadFingerprints(path string) (Fingerprints, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("fingerprint catalogue: %w", err)
	}
	defer f.Close()
	return ParseFingerprints(path, f)
}

// Catalogue is the FingerprintCatalogue the node gives the engine: the
// operator's file first (so an operator can relabel anything), then the
// built-in JARM values, then the live feeds (abuse.ch SSLBL's JA3). It is
// safe for concurrent use; each source is swapped atomically, so a lookup
// takes no lock and allocates nothing.
type Catalogue struct {
	builtin  Fingerprints
	path     string
	operator atomic.Pointer[Fingerprints]
	feeds    atomic.Pointer[[]FingerprintCatalogue]

	mu    sync.Mutex // one Reload at a time
	stamp fileStamp  // of the file last read, good or bad
}

type fileStamp struct {
	mod     time.Time
	size    int64
	missing bool
}

// NewCatalogue builds the catalogue, reading the operator file at path
// (none when path is empty). A bad file is an error naming file:line.
func NewCatalogue(path string) (*Catalogue, error) {
	c := &Catalogue{builtin: KnownFingerprints(), path: path}
	if path == "" {
		return c, nil
	}
	if _, err := c.Reload(true); err != nil {
		return nil, err
	}
	return c, nil
}

// Path is the operator file ("" for none).
func (c *Catalogue) Path() string { return c.path }

// Reload re-reads the operator file when its size or modification time
// changed, or always when force is set (SIGHUP), and reports whether it
// did. A file that fails to parse leaves the
// previous catalogue in service (and is not re-read until it changes
// again), so a half-saved edit never empties the catalogue.
func (c *Catalogue) Reload(force bool) (bool, error) {
	if c.path == "" {
		return false, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	fi, err := os.Stat(c.path)
	if err != nil {
		// Reported once (a poll every few seconds would repeat it); the
		// catalogue in service stays until the file is back.
		if c.stamp.missing && !force {
			return false, nil
		}
		c.stamp = fileStamp{missing: true}
		return false, fmt.Errorf("fingerprint catalogue: %w", err)
	}
	st := fileStamp{mod: fi.ModTime(), size: fi.Size()}
	if !force && c.operator.Load() != nil && st == c.stamp {
		return false, nil
	}
	c.stamp = st
	fp, err := LoadFingerprints(c.path)
	if err != nil {
		return false, err
	}
	c.operator.Store(&fp)
	return true, nil
}

// Len is the number of fingerprints in the operator file.
func (c *Catalogue) Len() int {
	n := 0
	if op := c.operator.Load(); op != nil {
		for _, m := range *op {
			n += len(m)
		}
	}
	return n
}

// SetFeeds replaces the live feeds consulted after the file and the
// built-in values (none to drop them).
func (c *Catalogue) SetFeeds(feeds ...FingerprintCatalogue) {
	if len(feeds) == 0 {
		c.feeds.Store(nil)
		return
	}
	c.feeds.Store(&feeds)
}

// LookupFingerprint implements FingerprintCatalogue.
func (c *Catalogue) LookupFingerprint(kind, value string) (string, bool) {
	if op := c.operator.Load(); op != nil {
		if label, ok := op.LookupFingerprint(kind, value); ok {
			return label, true
		}
	}
	if label, ok := c.builtin.LookupFingerprint(kind, value); ok {
		return label, true
	}
	if fs := c.feeds.Load(); fs != nil {
		for _, f := range *fs {
			if label, ok := f.LookupFingerprint(kind, value); ok {
				return label, true
			}
		}
	}
	return "", false
}
