package intel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// IntelProvider is a per-address reputation source.
//
// Lookup returns what the provider knows about ip. A provider that has no
// record returns a Verdict with Level LevelNone and a nil error: absence from
// a list is not a benign verdict. Errors mean the provider could not answer
// (disabled, transport, quota, malformed response).
type IntelProvider interface {
	Name() string
	Lookup(ctx context.Context, ip netip.Addr) (Verdict, error)
}

// MalHashProvider answers whether a file, named by its SHA-256, is known malware.
//
// IsMalicious reports (false, v, err) when it could not answer; callers that
// must distinguish "not malicious" from "no answer" (email.received carries
// mal_hash_match only when a provider answered) check err.
type MalHashProvider interface {
	Name() string
	IsMalicious(ctx context.Context, sha256 string) (bool, Verdict, error)
}

// Errors shared by the providers. Compare with errors.Is.
var (
	// ErrDisabled means the provider is not configured (no API key, or not
	// listed) and sent nothing.
	ErrDisabled = errors.New("intel: provider disabled")
	// ErrRateLimited means the provider answered 429 or the local rate
	// limit could not grant a request before the context ended.
	ErrRateLimited = errors.New("intel: rate limited")
	// ErrBodyTooLarge means a response exceeded the provider's size cap.
	ErrBodyTooLarge = errors.New("intel: response body too large")
	// ErrMalformed means a response could not be parsed.
	ErrMalformed = errors.New("intel: malformed response")
	// ErrInvalidHash means the argument is not 64 hexadecimal digits.
	ErrInvalidHash = errors.New("intel: not a sha256 hex digest")
	// ErrInvalidAddr means the address is the zero netip.Addr.
	ErrInvalidAddr = errors.New("intel: invalid address")
	// ErrFeedUnavailable means a bulk feed has never loaded successfully.
	ErrFeedUnavailable = errors.New("intel: feed not loaded")
)

// StatusError is a provider's non-success HTTP answer.
type StatusError struct {
	Provider string
	Status   int
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("intel: %s answered HTTP %d", e.Provider, e.Status)
}

// Level is a provider's classification, ordered from weakest to strongest so
// that merging takes the maximum.
type Level int8

// Levels, weakest first.
const (
	LevelNone       Level = iota // the provider has no record: absence, not innocence
	LevelUnknown                 // seen, but not classified
	LevelBenign                  // classified harmless (a crawler, a CDN)
	LevelSuspicious              // some reports, below the malicious threshold
	LevelMalicious               // listed as malicious
)

var levelNames = [...]string{"none", "unknown", "benign", "suspicious", "malicious"}

// String returns the lower-case name used in events and the store.
func (l Level) String() string {
	if l < 0 || int(l) >= len(levelNames) {
		return fmt.Sprintf("level(%d)", int8(l))
	}
	return levelNames[l]
}

// MarshalText encodes the level by name.
func (l Level) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// UnmarshalText decodes a level name.
func (l *Level) UnmarshalText(b []byte) error {
	for i, n := range levelNames {
		if string(b) == n {
			*l = Level(i)
			return nil
		}
	}
	return fmt.Errorf("intel: unknown level %q", b)
}

// Verdict is one provider's answer about one address or file hash.
type Verdict struct {
	Provider  string `json:"provider"`
	Level     Level  `json:"level"`
	Malicious bool   `json:"malicious"`
	// Score is the provider's confidence or abuse score, 0–100 (AbuseIPDB
	// abuseConfidenceScore, ThreatFox confidence_level); 0 when it gives none.
	Score int `json:"score,omitempty"`
	// Name is the actor or organisation the provider attaches (GreyNoise name).
	Name        string    `json:"name,omitempty"`
	Families    []string  `json:"families,omitempty"`     // malware families, sorted
	Tags        []string  `json:"tags,omitempty"`         // provider tags, sorted
	ThreatTypes []string  `json:"threat_types,omitempty"` // ThreatFox threat_type, sorted
	IOCTypes    []string  `json:"ioc_types,omitempty"`    // ThreatFox ioc_type, sorted
	Categories  []int     `json:"categories,omitempty"`   // AbuseIPDB report categories, sorted union
	FirstSeen   time.Time `json:"first_seen,omitzero"`
	LastSeen    time.Time `json:"last_seen,omitzero"`
	Reference   string    `json:"reference,omitempty"` // a page about the subject on the provider's site
	FetchedAt   time.Time `json:"fetched_at"`
	// Stale is set when the answer is the last good one, served because the
	// provider failed (or its feed could not be refreshed) since.
	Stale bool `json:"stale,omitempty"`
	// Raw is the provider's response for this subject, as received (capped).
	Raw json.RawMessage `json:"raw,omitempty"`
}

func classify(provider string, l Level, at time.Time) Verdict {
	return Verdict{Provider: provider, Level: l, Malicious: l == LevelMalicious, FetchedAt: at}
}
