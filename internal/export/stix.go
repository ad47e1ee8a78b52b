package export

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/decnet-go/decnet/internal/attack"
)

// scoNamespace is the STIX 2.1 namespace for deterministic SCO ids (§2.9).
var scoNamespace = uuid.MustParse("00abedb4-aa42-466c-9c01-fed23315a9b7")

// Object is one STIX object: its properties in a map, so that every type
// (and custom properties) serialise the same way. Keys are emitted sorted.
type Object map[string]any

// ID is the object's STIX id.
func (o Object) ID() string { s, _ := o["id"].(string); return s }

// Type is the object's STIX type.
func (o Object) Type() string { s, _ := o["type"].(string); return s }

// Bundle is a STIX 2.1 bundle.
type Bundle struct {
	Type    string   `json:"type"`
	ID      string   `json:"id"`
	Objects []Object `json:"objects"`
}

// STIXOptions tune the bundle.
type STIXOptions struct {
	Catalogue *attack.Catalogue
	// Created stamps the SDOs' created/modified; default the attacker's last
	// sighting, so the output depends on the data alone.
	Created time.Time
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// scoID is a STIX 2.1 deterministic SCO id: UUIDv5 over the canonical JSON
// of the id-contributing properties.
func scoID(typ string, props map[string]any) string {
	b, _ := json.Marshal(props) // map keys are sorted: canonical for flat string values
	return typ + "--" + uuid.NewSHA1(scoNamespace, b).String()
}

// IdentityID is the id of the DECNET organisation identity.
func IdentityID() string { return "identity--" + id("decnet-honeypot") }

func identity(created string) Object {
	return Object{"type": "identity", "spec_version": "2.1", "id": IdentityID(), "created": created, "modified": created,
		"name": "DECNET", "identity_class": "organization", "description": "DECNET honeypot deception network"}
}

// STIX builds the bundle of one or more attackers. Objects shared between
// attackers (identity, attack-patterns, addresses) appear once.
func STIX(attackers []Attacker, opt STIXOptions) Bundle {
	cat := catalogue(opt.Catalogue)
	var objs []Object
	seen := map[string]bool{}
	add := func(o Object) {
		if !seen[o.ID()] {
			seen[o.ID()] = true
			objs = append(objs, o)
		}
	}
	created := opt.Created
	for _, a := range attackers {
		if a.LastSeen.After(created) {
			created = a.LastSeen
		}
	}
	if created.IsZero() {
		created = time.Unix(0, 0)
	}
	ts := stamp(created)
	org := identity(ts)
	add(org)
	for _, a := range attackers {
		addAttacker(add, a, cat, ts)
	}
	ids := make([]string, len(objs))
	for i, o := range objs {
		ids[i] = o.ID()
	}
	return Bundle{Type: "bundle", ID: "bundle--" + id("bundle:"+strings.Join(ids, ",")), Objects: objs}
}

func addAttacker(add func(Object), a Attacker, cat *attack.Catalogue, ts string) {
	actorID := "threat-actor--" + id(a.UUID)
	first, last := a.FirstSeen, a.LastSeen
	if first.IsZero() {
		first = last
	}
	actor := Object{"type": "threat-actor", "spec_version": "2.1", "id": actorID, "created": ts, "modified": ts,
		"created_by_ref": IdentityID(), "name": "DECNET-attacker-" + short(a.UUID), "threat_actor_types": []string{"unknown"},
		"first_seen": stamp(first), "last_seen": stamp(last)}
	if a.CountryCode != "" {
		actor["x_decnet_country_code"] = a.CountryCode
	}
	if a.ASN != 0 {
		actor["x_decnet_asn"] = a.ASN
		actor["x_decnet_as_name"] = a.ASName
	}
	add(actor)

	// Addresses, observed together.
	var ipRefs []string
	for _, ip := range a.IPs {
		addr, err := netip.ParseAddr(ip)
		if err != nil {
			continue
		}
		typ := "ipv4-addr"
		if addr.Is6() && !addr.Is4In6() {
			typ = "ipv6-addr"
		}
		sco := Object{"type": typ, "spec_version": "2.1", "id": scoID(typ, map[string]any{"value": addr.String()}), "value": addr.String()}
		add(sco)
		ipRefs = append(ipRefs, sco.ID())
	}
	var obsID string
	if len(ipRefs) > 0 {
		obsID = "observed-data--" + id("observed:"+a.UUID)
		add(Object{"type": "observed-data", "spec_version": "2.1", "id": obsID, "created": ts, "modified": ts, "created_by_ref": IdentityID(),
			"first_observed": stamp(first), "last_observed": stamp(last), "number_observed": max(1, min(a.EventCount, 999999999)), "object_refs": ipRefs})
		for i, ref := range ipRefs {
			value := a.IPs[i]
			add(Object{"type": "indicator", "spec_version": "2.1", "id": "indicator--" + id("indicator:"+ref), "created": ts, "modified": ts,
				"created_by_ref": IdentityID(), "name": "Attacker address seen by DECNET", "indicator_types": []string{"malicious-activity"},
				"pattern": fmt.Sprintf("[%s:value = '%s']", strings.Split(ref, "--")[0], value), "pattern_type": "stix", "valid_from": stamp(first)})
			add(rel("indicates", "indicator--"+id("indicator:"+ref), actorID, ts))
		}
	}

	// Techniques: one attack-pattern each, used by the actor; one sighting per tag.
	for _, tg := range sortedTags(a.Tags) {
		tech, ok := cat.Technique(tg.Technique())
		if !ok {
			continue
		}
		ap := Object{"type": "attack-pattern", "spec_version": "2.1", "id": tech.STIXID, "created": ts, "modified": ts, "name": tech.Name,
			"external_references": []map[string]any{{"source_name": "mitre-attack", "external_id": tech.ID, "url": tech.URL}}}
		if len(tech.Tactics) > 0 {
			var phases []map[string]any
			for _, p := range tech.Tactics {
				phases = append(phases, map[string]any{"kill_chain_name": "mitre-attack", "phase_name": p})
			}
			ap["kill_chain_phases"] = phases
		}
		add(ap)
		add(rel("uses", actorID, tech.STIXID, ts))
		s := Object{"type": "sighting", "spec_version": "2.1", "id": "sighting--" + id("sighting:"+tg.UUID), "created": ts, "modified": ts,
			"created_by_ref": IdentityID(), "sighting_of_ref": tech.STIXID, "count": 1, "where_sighted_refs": []string{IdentityID()},
			"first_seen": stamp(tg.CreatedAt), "last_seen": stamp(tg.CreatedAt),
			"description": fmt.Sprintf("DECNET rule %s, confidence %.2f", tg.RuleID, tg.Confidence)}
		if obsID != "" {
			s["observed_data_refs"] = []string{obsID}
		}
		add(s)
	}

	// Files, with an indicator for the ones intel knows as malware.
	for _, f := range a.Files {
		if len(f.SHA256) != 64 {
			continue
		}
		props := map[string]any{"hashes": map[string]any{"SHA-256": strings.ToLower(f.SHA256)}}
		fo := Object{"type": "file", "spec_version": "2.1", "id": scoID("file", props), "hashes": props["hashes"]}
		if f.Name != "" {
			fo["name"] = f.Name
		}
		if f.Size > 0 {
			fo["size"] = f.Size
		}
		add(fo)
		seenAt := f.SeenAt
		if seenAt.IsZero() {
			seenAt = last
		}
		add(Object{"type": "observed-data", "spec_version": "2.1", "id": "observed-data--" + id("file:"+a.UUID+":"+f.SHA256), "created": ts, "modified": ts,
			"created_by_ref": IdentityID(), "first_observed": stamp(seenAt), "last_observed": stamp(seenAt), "number_observed": 1, "object_refs": []string{fo.ID()}})
		if f.Malicious {
			ind := "indicator--" + id("indicator:"+fo.ID())
			add(Object{"type": "indicator", "spec_version": "2.1", "id": ind, "created": ts, "modified": ts, "created_by_ref": IdentityID(),
				"name": "Malware dropped on a DECNET decky", "indicator_types": []string{"malicious-activity"},
				"pattern": fmt.Sprintf("[file:hashes.'SHA-256' = '%s']", strings.ToLower(f.SHA256)), "pattern_type": "stix", "valid_from": stamp(seenAt)})
			add(rel("indicates", ind, actorID, ts))
		}
	}

	// Commands: a process SCO each, observed.
	for _, c := range a.Commands {
		if c.Text == "" {
			continue
		}
		// A process has no id-contributing properties; the id hashes the command line.
		po := Object{"type": "process", "spec_version": "2.1", "id": "process--" + id("process:"+c.Text), "command_line": c.Text}
		add(po)
		seenAt := c.SeenAt
		if seenAt.IsZero() {
			seenAt = last
		}
		add(Object{"type": "observed-data", "spec_version": "2.1", "id": "observed-data--" + id("cmd:"+a.UUID+":"+c.Text), "created": ts, "modified": ts,
			"created_by_ref": IdentityID(), "first_observed": stamp(seenAt), "last_observed": stamp(seenAt), "number_observed": max(1, c.Count), "object_refs": []string{po.ID()}})
	}
	for _, u := range a.URLs {
		add(Object{"type": "url", "spec_version": "2.1", "id": scoID("url", map[string]any{"value": u}), "value": u})
	}
}

func rel(typ, src, dst, ts string) Object {
	return Object{"type": "relationship", "spec_version": "2.1", "id": "relationship--" + id(typ+":"+src+"->"+dst), "created": ts, "modified": ts,
		"created_by_ref": IdentityID(), "relationship_type": typ, "source_ref": src, "target_ref": dst}
}

func short(u string) string {
	u = strings.ReplaceAll(u, "-", "")
	if len(u) > 8 {
		return u[:8]
	}
	return u
}

func sortedTags(tags []Tag) []Tag {
	out := slices.Clone(tags)
	slices.SortFunc(out, func(a, b Tag) int { return strings.Compare(a.UUID, b.UUID) })
	return out
}
