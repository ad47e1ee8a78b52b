package ttpworker

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/decnet-go/decnet/internal/bus"
	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/ttp"
)

// DurableDerived names the worker's consumer of the derived stream.
const DurableDerived = "ttp-derived"

// DerivedTopics are the derived notifications the worker tags (spec intel
// §7.5), the filter of its consumer of bus.DerivedStream.
// attacker.session.ended and attacker.observed are not among them: the
// commands a session carries reach the worker as raw events already. Nor
// is canary.>: a canary trigger is put on the event stream as
// canary_triggered / canary_fingerprint events (internal/canary), which
// the worker tags and the ingest turns into an attacker, so tagging the
// canary.<uuid>.triggered notice too would tag one trigger twice.
var DerivedTopics = []string{
	"attacker.intel.enriched",
	"attacker.fingerprinted",
	"attacker.fingerprint_rotated",
	"attacker.ipv6_leak",
	"identity.formed",
	"identity.merged",
	"credential.reuse.detected",
	"email.received",
}

// SourceKindOf is the source kind of a derived topic's tags, "" for a
// topic the worker does not tag. It follows spec intel §7.5 with this
// port's kind names: fingerprint events (jarm, hassh, …), whose kind the original took
// from the event type, are all ttp.KindFingerprint.
func SourceKindOf(topic string) string {
	switch {
	case topic == "attacker.intel.enriched":
		return ttp.KindIntel
	case topic == "identity.formed", topic == "identity.merged":
		return ttp.KindIdentity
	case topic == "credential.reuse.detected":
		return ttp.KindCredential
	case topic == "email.received":
		return ttp.KindEmail
	case topic == "attacker.fingerprinted", topic == "attacker.fingerprint_rotated":
		return ttp.KindFingerprint
	case topic == "attacker.ipv6_leak":
		return ttp.KindIPv6Leak
	}
	return ""
}

// sourceIDKeys is the spec's source_id rule: the first non-empty of these
// payload keys, else the topic. credential_id is the reuse row's id (id
// on credential.reuse.detected).
var sourceIDKeys = []string{"source_id", "session_id", "token_id", "identity_uuid", "credential_id", "attacker_uuid", "uuid"}

// HandleDerived tags derived notifications together, stores their tags in
// one transaction and acknowledges them; a failed store write asks for all
// of them again. A notification with no anchor is dropped (logged).
func (w *Worker) HandleDerived(ctx context.Context, ms []bus.Message) {
	w.init()
	var items []item
	for i, m := range ms {
		its, err := derive(m.Subject, m.Data, time.Now())
		if err != nil {
			w.Log.Warn("ttp: dropping an undecodable notification", "subject", m.Subject, "err", err)
			_ = m.Term()
			ms[i].Subject = "" // handled
			continue
		}
		for _, it := range its {
			it.owner = i
			items = append(items, it)
		}
	}
	if _, err := w.commit(ctx, items, len(ms)); err != nil {
		msg := err.Error()
		w.lastErr.Store(&msg)
		w.Log.Warn("ttp: store write failed; redelivering", "err", err)
		for _, m := range ms {
			if m.Subject != "" {
				_ = m.Nak(2 * time.Second)
			}
		}
		return
	}
	w.lastErr.Store(nil)
	for _, m := range ms {
		if m.Subject != "" {
			_ = m.Ack()
		}
	}
}

// derive turns one derived notification into the events the engine tags,
// with the anchors the payload names. A topic the worker does not tag
// gives none.
func derive(subject string, data []byte, now time.Time) ([]item, error) {
	kind := SourceKindOf(subject)
	if kind == "" {
		return nil, nil
	}
	var p map[string]any
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("decode %s: %w", subject, err)
	}
	base := item{
		attacker: str(p, "attacker_uuid"),
		identity: str(p, "identity_uuid"),
		ip:       first(p, "attacker_ip", "src_ip"),
		derived:  true,
		ev: event.Event{
			Time:    when(p, now),
			Decky:   first(p, "decky", "decky_id", "decky_name"),
			Service: str(p, "service"),
			SrcIP:   first(p, "attacker_ip", "src_ip"),
			Session: str(p, "session_id"),
			Type:    kind,
			Fields:  p,
		},
	}
	if kind == ttp.KindCredential && str(p, "credential_id") == "" {
		p["credential_id"] = str(p, "id")
	}
	base.ev.ID = first(p, sourceIDKeys...)
	if base.ev.ID == "" {
		base.ev.ID = subject
	}
	switch kind {
	case ttp.KindIdentity:
		// Identity tags anchor on the identity alone: the rollup by
		// identity reaches its attackers' tags through attackers.identity_id.
		if base.identity == "" {
			base.identity = str(p, "winner_uuid")
			base.ev.ID = base.identity
		}
		base.attacker, base.ip = "", ""
		if base.identity == "" {
			return nil, nil
		}
	case ttp.KindIntel:
		return intelItems(base, p), nil
	case ttp.KindFingerprint:
		if !fingerprintFields(subject, p) {
			return nil, nil
		}
	}
	return []item{base}, nil
}

// intelItems makes one intel event per provider that had a record, with
// the provider's signals as the intel rules (R0054–R0057) name them.
func intelItems(base item, p map[string]any) []item {
	var verdicts []struct {
		Provider    string   `json:"provider"`
		Level       string   `json:"level"`
		Malicious   bool     `json:"malicious"`
		Score       int      `json:"score"`
		Families    []string `json:"families"`
		Tags        []string `json:"tags"`
		ThreatTypes []string `json:"threat_types"`
		Categories  []int    `json:"categories"`
	}
	raw, _ := json.Marshal(p["verdicts"])
	if json.Unmarshal(raw, &verdicts) != nil {
		return nil
	}
	ip := base.ip
	var out []item
	for _, v := range verdicts {
		if v.Level == "" || v.Level == "none" {
			continue
		}
		var sig []any
		switch v.Provider {
		case "abuseipdb":
			for _, c := range v.Categories {
				sig = append(sig, strconv.Itoa(c))
			}
		case "greynoise":
			for _, t := range v.Tags {
				t = snake(t)
				sig = append(sig, t)
				if t == "noise" { // seen scanning the internet
					sig = append(sig, "scanner")
				}
			}
			if v.Malicious {
				sig = append(sig, "malicious")
			}
		case "feodo":
			if v.Malicious {
				sig = append(sig, "listed")
			}
		case "threatfox":
			for _, t := range v.ThreatTypes {
				sig = append(sig, t)
			}
		}
		if len(sig) == 0 {
			continue
		}
		fields := map[string]any{"provider": v.Provider, "verdict": v.Level, "signals": sig, "ip": ip}
		if v.Score > 0 {
			fields["score"] = v.Score
		}
		if len(v.Families) > 0 {
			fields["malware_family"] = v.Families[0]
		}
		it := base
		it.ev.Fields = fields
		it.ev.ID = "intel:" + ip + ":" + v.Provider
		out = append(out, it)
	}
	return out
}

// fingerprintFields puts a fingerprint notification's value under the key
// the C2 catalogue rule reads (jarm, hassh, hassh_server, ja3_hash, ja4).
// It accepts the session form {fingerprint_type, value} and the prober's
// {probe_type, jarm_hash | hassh_server | …} and rotation {probe_type,
// new_hash, old_hash}. The prober's HASSH is of the attacker's own SSH
// server, hence hassh_server.
func fingerprintFields(subject string, p map[string]any) bool {
	kind, value := strings.ToLower(str(p, "fingerprint_type")), str(p, "value")
	prober := false
	if kind == "" {
		kind, prober = strings.ToLower(str(p, "probe_type")), true
	}
	if value == "" {
		value = first(p, "new_hash", "jarm_hash", "hassh_server", "hassh", "ja3_hash", "ja4", "tcpfp_hash", "hash")
	}
	switch kind {
	case "ja3":
		kind = "ja3_hash"
	case "hassh":
		if prober {
			kind = "hassh_server"
		}
	}
	if kind == "" || value == "" {
		return false
	}
	p[kind] = value
	p["fingerprint_kind"], p["fingerprint"] = kind, value
	if subject == "attacker.fingerprint_rotated" {
		if old := str(p, "old_hash"); old != "" {
			p["rotated_from"] = old
		}
	}
	return true
}

// str reads a payload value as text: a string, or a number (ids of
// integer-keyed rows).
func str(p map[string]any, k string) string {
	switch v := p[k].(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return ""
}

func first(p map[string]any, keys ...string) string {
	for _, k := range keys {
		if s := str(p, k); s != "" {
			return s
		}
	}
	return ""
}

// when reads the payload's ts (epoch seconds or RFC 3339), else now.
func when(p map[string]any, now time.Time) time.Time {
	switch ts := p["ts"].(type) {
	case float64:
		sec := int64(ts)
		return time.Unix(sec, int64((ts-float64(sec))*1e9)).UTC()
	case string:
		if t, err := time.Parse(time.RFC3339Nano, ts); err == nil {
			return t
		}
	}
	return now
}

// snake is a provider label as the rules name it: "SSH Bruteforcer" →
// ssh_bruteforcer.
func snake(s string) string {
	var b strings.Builder
	under := false
	for _, r := range strings.ToLower(strings.TrimSpace(s)) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
			under = false
		} else if !under && b.Len() > 0 {
			b.WriteByte('_')
			under = true
		}
	}
	return strings.TrimSuffix(b.String(), "_")
}
