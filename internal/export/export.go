// Package export turns what DECNET knows about attackers into the formats
// other tools read: a STIX 2.1 bundle, a MISP event and an ATT&CK Navigator
// layer. It works on its own small model (Attacker, Tag, …) so that it needs
// neither the store nor the API; the wiring maps store rows into the model.
//
// Every id is deterministic (UUIDv5), so exporting the same data twice gives
// byte-identical output and re-imports update rather than duplicate.
package export

import (
	"time"

	"github.com/google/uuid"

	"github.com/decnet-go/decnet/internal/attack"
)

// Namespace is DECNET's namespace for the ids of exported objects
// (spec intel §7.7).
var Namespace = uuid.MustParse("b5d2c3a1-8f4e-4d1b-9a6c-0e7f5b3d2c1a")

// Attacker is everything exported about one attacker.
type Attacker struct {
	UUID        string
	IPs         []string
	FirstSeen   time.Time
	LastSeen    time.Time
	EventCount  int
	CountryCode string
	ASN         int
	ASName      string
	Credentials []Credential
	Files       []File
	Commands    []Command
	URLs        []string
	Tags        []Tag
	Intel       []string // provider verdict lines, e.g. "abuseipdb: malicious (score 100)"
}

// Credential is a (username, secret) pair the attacker tried.
type Credential struct {
	Service  string
	Username string
	Secret   string
	Success  bool
	Attempts int
}

// File is a file the attacker left on a decky.
type File struct {
	SHA256    string
	Name      string
	Size      int64
	Source    string // url or path it came from
	Malicious bool   // intel knows the hash
	SeenAt    time.Time
}

// Command is a distinct command line run on a decky.
type Command struct {
	Text   string
	Count  int
	SeenAt time.Time
}

// Tag is one ttp_tag row.
type Tag struct {
	UUID           string
	Tactic         string
	TechniqueID    string
	SubTechniqueID string
	Confidence     float64
	RuleID         string
	Evidence       map[string]any
	CreatedAt      time.Time
}

// Technique is the most specific technique of the tag.
func (t Tag) Technique() string {
	if t.SubTechniqueID != "" {
		return t.SubTechniqueID
	}
	return t.TechniqueID
}

func id(name string) string { return uuid.NewSHA1(Namespace, []byte(name)).String() }

func catalogue(c *attack.Catalogue) *attack.Catalogue {
	if c == nil {
		return attack.Default()
	}
	return c
}
