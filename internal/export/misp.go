package export

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/decnet-go/decnet/internal/attack"
)

// MISPEvent is the MISP core format's {"Event": …} wrapper.
type MISPEvent struct {
	Event MISPEventBody `json:"Event"`
}

// MISPEventBody is the subset of a MISP event DECNET fills.
type MISPEventBody struct {
	UUID          string          `json:"uuid"`
	Info          string          `json:"info"`
	Date          string          `json:"date"`
	ThreatLevelID string          `json:"threat_level_id"`
	Analysis      string          `json:"analysis"`
	Distribution  string          `json:"distribution"`
	Timestamp     string          `json:"timestamp"`
	Orgc          MISPOrg         `json:"Orgc"`
	Attribute     []MISPAttribute `json:"Attribute"`
	Tag           []MISPTag       `json:"Tag"`
}

// MISPOrg is the creating organisation.
type MISPOrg struct {
	Name string `json:"name"`
	UUID string `json:"uuid"`
}

// MISPAttribute is one indicator of the event.
type MISPAttribute struct {
	UUID      string `json:"uuid"`
	Type      string `json:"type"`
	Category  string `json:"category"`
	Value     string `json:"value"`
	ToIDS     bool   `json:"to_ids"`
	Comment   string `json:"comment,omitempty"`
	Timestamp string `json:"timestamp"`
}

// MISPTag is a tag or galaxy cluster reference.
type MISPTag struct {
	Name string `json:"name"`
}

// MISP builds the MISP event of one attacker: attributes for its addresses,
// credentials, file hashes, URLs and commands, and one
// misp-galaxy:mitre-attack-pattern tag per technique.
func MISP(a Attacker, cat *attack.Catalogue) MISPEvent {
	cat = catalogue(cat)
	ts := fmt.Sprint(a.LastSeen.Unix())
	date := a.FirstSeen
	if date.IsZero() {
		date = a.LastSeen
	}
	ev := MISPEventBody{
		UUID: id("misp-event:" + a.UUID), Info: "DECNET honeypot activity from attacker " + short(a.UUID),
		Date: date.UTC().Format(time.DateOnly), ThreatLevelID: "2", Analysis: "2", Distribution: "0", Timestamp: ts,
		Orgc:      MISPOrg{Name: "DECNET", UUID: id("decnet-honeypot")},
		Attribute: []MISPAttribute{}, Tag: []MISPTag{{Name: "tlp:amber"}, {Name: "source:decnet-honeypot"}},
	}
	attr := func(typ, cat, value string, ids bool, comment string) {
		ev.Attribute = append(ev.Attribute, MISPAttribute{UUID: id("misp-attr:" + a.UUID + ":" + typ + ":" + value), Type: typ, Category: cat,
			Value: value, ToIDS: ids, Comment: comment, Timestamp: ts})
	}
	for _, ip := range a.IPs {
		attr("ip-src", "Network activity", ip, true, "attacker address")
	}
	for _, c := range a.Credentials {
		if c.Username != "" {
			attr("text", "Other", c.Username, false, fmt.Sprintf("username tried on %s (%d attempts)", c.Service, c.Attempts))
		}
		if c.Secret != "" {
			attr("text", "Other", c.Secret, false, fmt.Sprintf("password tried on %s for %q", c.Service, c.Username))
		}
	}
	for _, f := range a.Files {
		if len(f.SHA256) == 64 {
			attr("sha256", "Payload delivery", strings.ToLower(f.SHA256), f.Malicious, f.Name)
		}
	}
	for _, u := range a.URLs {
		attr("url", "Payload delivery", u, true, "fetched from a decky shell")
	}
	for _, c := range a.Commands {
		attr("text", "Artifacts dropped", c.Text, false, fmt.Sprintf("shell command, %d times", max(1, c.Count)))
	}
	seen := map[string]bool{}
	var galaxy []string
	for _, tg := range a.Tags {
		t, ok := cat.Technique(tg.Technique())
		if !ok || seen[t.ID] {
			continue
		}
		seen[t.ID] = true
		galaxy = append(galaxy, fmt.Sprintf("misp-galaxy:mitre-attack-pattern=%q", t.Name+" - "+t.ID))
	}
	slices.Sort(galaxy)
	for _, g := range galaxy {
		ev.Tag = append(ev.Tag, MISPTag{Name: g})
	}
	return MISPEvent{Event: ev}
}
