// Package canary makes canary tokens — bait planted in a decky's
// filesystem that calls home when an attacker uses it — and detects that
// use (spec intel §8):
//
//   - http tokens embed a URL <http base>/c/<slug>; fetching it is a trigger;
//   - dns tokens embed a host name <slug>.<zone>; resolving it is a trigger;
//   - aws_passive tokens are cloud keys with no callback; they trigger when
//     the planted key id shows up in something an attacker sends a decky.
//
// A trigger becomes events on the event stream (service "canary", types
// canary_triggered and canary_fingerprint, on the decky the bait came
// from), so the attacker gets a profile and ATT&CK tags like any other,
// and a canary.<token uuid>.triggered notice for webhooks and live views.
//
// The package never imports the store, the bus or the API: what it needs
// of them are the small interfaces below.
package canary

import (
	"context"
	"io/fs"
	"time"

	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/persona"
)

// Token kinds: how a token's use is detected.
const (
	KindHTTP       = "http"
	KindDNS        = "dns"
	KindAWSPassive = "aws_passive"
)

// Token states.
const (
	StatePlanted = "planted"
	StateRevoked = "revoked"
	StateFailed  = "failed"
)

// Event types the listeners emit (ttp maps both to its canary source kind).
const (
	TypeTriggered   = "canary_triggered"
	TypeFingerprint = "canary_fingerprint"
	// Service is the event's service name.
	Service = "canary"
)

// Token is one planted bait (the canary_tokens row).
type Token struct {
	UUID          string
	Kind          string // KindHTTP, KindDNS or KindAWSPassive
	DeckyName     string
	Generator     string // generator name, see Generators
	PlacementPath string // absolute path in the decky's filesystem
	// Slug is the callback token: unique, lower-case letters and digits,
	// usable as a URL path segment and as a DNS label.
	Slug string
	// SecretSeed makes the generator's output for this token reproducible
	// (the same bytes after a restart re-plants it).
	SecretSeed string
	// FingerprintNonce is the k a fingerprint beacon must echo.
	FingerprintNonce string
	// AccessKeyID is the planted cloud key id of an aws_passive token
	// (and of any generator that plants one), "" otherwise.
	AccessKeyID     string
	State           string
	TriggerCount    int
	LastTriggeredAt time.Time // zero: never
	CreatedAt       time.Time // placed_at
	CreatedBy       string    // the operator who planted it ("" for the baseline)
	LastError       string    // why planting failed (state failed)
}

// Metric is one conclusion drawn from a fingerprint beacon, named as the
// canary TTP rules read it (navigator_webdriver, tz_mismatch,
// lang_mismatch, webrtc_geo_mismatch, platform_mismatch,
// ua_webgl_mismatch), with the values that disagreed.
type Metric struct {
	Name      string
	Signature string
}

// Trigger is one use of a token (the canary_triggers row).
type Trigger struct {
	UUID        string
	TokenUUID   string
	OccurredAt  time.Time
	SrcIP       string
	UserAgent   string
	RequestPath string
	DNSQName    string
	// Via is how it was seen: "http", "dns" or "passive" (the key in an
	// attacker's request to a decky).
	Via        string
	RawHeaders map[string]string
	// Fingerprint is the validated beacon payload, nil when none came.
	Fingerprint map[string]any
	Metrics     []Metric
}

// Tokens is what the trigger listeners and the planter need of the store.
type Tokens interface {
	// TokenBySlug finds a token by its callback slug; found is false for
	// an unknown slug.
	TokenBySlug(ctx context.Context, slug string) (t Token, found bool, err error)
	// TokenByAccessKey finds the token that planted a cloud key id.
	TokenByAccessKey(ctx context.Context, keyID string) (t Token, found bool, err error)
	// CreateToken stores a new token (its UUID and slug are set).
	CreateToken(ctx context.Context, t Token) error
	// RecordTrigger stores a trigger (its UUID is set) and bumps the
	// token's trigger_count and last_triggered_at.
	RecordTrigger(ctx context.Context, tr Trigger) error
	// SetTokenState moves a token to StateRevoked or StateFailed.
	SetTokenState(ctx context.Context, uuid, state string) error
}

// Sink is where a trigger's results go.
type Sink interface {
	// Emit puts an event on the event stream (the node's emitter).
	Emit(ev event.Event)
	// Publish sends a canary.<uuid>.<what> notice on the bus.
	Publish(subject string, payload any)
}

// Files writes bait into a decky's filesystem (engine.Operator has these).
type Files interface {
	WriteFile(ctx context.Context, decky, path string, content []byte, mode fs.FileMode, mtime time.Time) error
	RemoveFile(ctx context.Context, decky, path string) error
}

// Personas gives a running decky's persona, so the bait agrees with the
// machine it is planted on (hostname, user names); found is false for a
// decky that is not running.
type Personas func(decky string) (p *persona.Persona, found bool)
