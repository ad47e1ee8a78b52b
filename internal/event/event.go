// Package event defines the Event envelope: the one contract between sensors
// (honeypot services) and everything downstream (bus, pipeline, store, API).
//
// An Event is minted by the emitter with a UUIDv7 id; ingest is idempotent on
// that id, so redelivery of the same event is harmless. Events travel as JSON
// on the bus and can be rendered to (and read from) DECNET's RFC 5424 line
// format for interoperability with the original tooling.
package event

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"time"

	"github.com/google/uuid"
)

// Event is one thing an attacker did (or a service reported) on a decky.
type Event struct {
	ID         string         `json:"id"`
	Time       time.Time      `json:"ts"`
	Decky      string         `json:"decky"`
	Service    string         `json:"service"`
	Type       string         `json:"type"`
	SrcIP      string         `json:"src_ip,omitempty"`
	SrcPort    int            `json:"src_port,omitempty"`
	DstIP      string         `json:"dst_ip,omitempty"`
	DstPort    int            `json:"dst_port,omitempty"`
	Proto      string         `json:"proto,omitempty"`
	Session    string         `json:"session,omitempty"`
	Fields     map[string]any `json:"fields,omitempty"`
	Credential *Credential    `json:"credential,omitempty"`
}

// Credential is a captured secret, in DECNET's universal credential shape
// (spec/engine.md §2.0). SecretB64 holds the exact bytes; SecretPrintable is
// the same value with bytes outside 0x20–0x7e shown as '?'.
type Credential struct {
	Principal       string `json:"principal,omitempty"`
	SecretKind      string `json:"secret_kind"`
	SecretPrintable string `json:"secret_printable"`
	SecretB64       string `json:"secret_b64"`
	// Outcome is success, failure or observed (the decky neither accepted nor refused).
	Outcome string `json:"outcome,omitempty"`
}

// Common event types. Services may emit others; the type only has to be a
// short lower-case token.
const (
	TypeConnect      = "connect"
	TypeDisconnect   = "disconnect"
	TypeLoginAttempt = "login_attempt"
	TypeCommand      = "command"
	TypeRequest      = "request"
	TypeStartup      = "startup"
	TypeShutdown     = "shutdown"
	// TypeFileCaptured: an attacker left a file (upload, download, mail);
	// fields from honeypot.Artifact.Fields.
	TypeFileCaptured = "file_captured"
)

// Credential outcomes.
const (
	OutcomeSuccess  = "success"
	OutcomeFailure  = "failure"
	OutcomeObserved = "observed"
)

// Secret kinds seen in DECNET; the list is open.
const (
	SecretPlaintext = "plaintext"
)

// Services is the set of service slugs an event may carry: every emulator of
// the registry, plus the emitters of the original DECNET line format
// (auth-helper, bash, sessrec, …) so foreign lines can be ingested.
var Services = map[string]bool{}

func init() {
	for _, s := range []string{
		"ssh", "telnet", "http", "https", "ftp", "tftp", "smtp", "smtp_relay", "pop3", "imap",
		"smb", "rdp", "vnc", "mysql", "postgres", "mssql", "mongodb", "redis", "elasticsearch",
		"ldap", "snmp", "sip", "mqtt", "dns", "docker_api", "k8s", "llmnr", "conpot", "sniffer",
		"modbus", "s7", "bacnet", "dnp3",
		// Emitters in DECNET's original line format and platform components.
		"auth-helper", "bash", "sessrec", "mutator", "prober", "decnet", "system", "canary",
	} {
		Services[s] = true
	}
}

var (
	deckyName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
	typeName  = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)
)

// Validation errors; wrapped with the offending value by Validate.
var (
	ErrNoID           = errors.New("event: empty id")
	ErrNoTime         = errors.New("event: zero timestamp")
	ErrDecky          = errors.New("event: bad decky name")
	ErrUnknownService = errors.New("event: unknown service")
	ErrType           = errors.New("event: bad event type")
	ErrIP             = errors.New("event: bad ip address")
	ErrPort           = errors.New("event: port out of range")
	ErrCredential     = errors.New("event: bad credential")
)

// ValidDeckyName reports whether name can be a decky name: lower-case letters,
// digits and dashes, at most 63 characters, usable as a NATS subject token and
// a DNS label.
func ValidDeckyName(name string) bool { return deckyName.MatchString(name) }

// Validate checks the envelope. It does not judge the service-specific fields.
func (e *Event) Validate() error {
	switch {
	case e.ID == "":
		return ErrNoID
	case e.Time.IsZero():
		return ErrNoTime
	case !deckyName.MatchString(e.Decky):
		return fmt.Errorf("%w: %q", ErrDecky, e.Decky)
	case !Services[e.Service]:
		return fmt.Errorf("%w: %q", ErrUnknownService, e.Service)
	case !typeName.MatchString(e.Type):
		return fmt.Errorf("%w: %q", ErrType, e.Type)
	}
	for _, a := range [...]struct{ name, ip string }{{"src_ip", e.SrcIP}, {"dst_ip", e.DstIP}} {
		if a.ip == "" {
			continue
		}
		if _, err := netip.ParseAddr(a.ip); err != nil {
			return fmt.Errorf("%w: %s %q", ErrIP, a.name, a.ip)
		}
	}
	if e.SrcPort < 0 || e.SrcPort > 65535 || e.DstPort < 0 || e.DstPort > 65535 {
		return fmt.Errorf("%w: %d/%d", ErrPort, e.SrcPort, e.DstPort)
	}
	if c := e.Credential; c != nil {
		if _, err := c.Secret(); err != nil {
			return fmt.Errorf("%w: %v", ErrCredential, err)
		}
	}
	return nil
}

// New returns an event of the given kind stamped with a fresh UUIDv7 and the
// current UTC time.
func New(decky, service, typ string) Event {
	return Event{ID: NewID(), Time: time.Now().UTC(), Decky: decky, Service: service, Type: typ}
}

// NewID mints a UUIDv7: time-ordered, so ids sort roughly by creation.
func NewID() string {
	id, err := uuid.NewV7()
	if err != nil { // only fails when the system random source fails
		return uuid.NewString()
	}
	return id.String()
}

// Subject is the bus subject of a raw event: events.<decky>.<service>.<type>.
func (e *Event) Subject() string {
	return SubjectPrefix + e.Decky + "." + e.Service + "." + e.Type
}

// SubjectPrefix starts every raw-event subject.
const SubjectPrefix = "events."

// SubjectAll matches every raw event.
const SubjectAll = "events.>"
