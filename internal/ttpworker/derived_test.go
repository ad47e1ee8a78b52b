package ttpworker

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/decnet-go/decnet/internal/attack"
	"github.com/decnet-go/decnet/internal/bus"
	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/store"
	"github.com/decnet-go/decnet/internal/ttp"
)

const (
	jarmCobaltStrike = "07d14d16d21d21d07c42d41d00041d24a458a375eef0c576d23a7bab9a9fb1"
	jarmMetasploit   = "07d14d16d21d21d00042d43d000000aa99ce74e2c6d013c745aa52b5cc042d"
)

// busRig is a worker over a real embedded bus and SQLite store, not yet
// running.
type busRig struct {
	bus *bus.Bus
	st  *store.Store
	w   *Worker
	rec *recorder
}

func newBusRig(t *testing.T) *busRig {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	bs, err := bus.Open(ctx, bus.Options{DataDir: dir, Log: discard()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(bs.Close)
	st, err := store.Open(ctx, filepath.Join(dir, "decnet.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	set, err := ttp.Embedded(attack.Default())
	if err != nil {
		t.Fatal(err)
	}
	raw, err := bs.Consumer(ctx, bus.ConsumerOptions{Durable: Durable, Filter: event.SubjectAll})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(raw.Stop)
	der, err := bs.DerivedConsumer(ctx, bus.ConsumerOptions{Durable: DurableDerived, Filters: DerivedTopics})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(der.Stop)
	rec := &recorder{}
	w := &Worker{Source: raw, Derived: der, Store: st, Publish: rec, Log: discard(),
		Engine: ttp.New(set, ttp.Options{Fingerprints: ttp.KnownFingerprints()})}
	return &busRig{bus: bs, st: st, w: w, rec: rec}
}

func (r *busRig) run(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.w.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// notify publishes a derived notification the way the pipeline does: a
// core NATS publish, best effort.
func (r *busRig) notify(t *testing.T, subject string, payload map[string]any) {
	t.Helper()
	data, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.bus.Conn().Publish(subject, data); err != nil {
		t.Fatal(err)
	}
}

func (r *busRig) attacker(t *testing.T, ip string) string {
	t.Helper()
	ctx := context.Background()
	if _, err := r.st.IngestBatch(ctx, []event.Event{command("seed-"+ip, ip, "ls")}); err != nil {
		t.Fatal(err)
	}
	a, err := r.st.AttackerByIP(ctx, ip)
	if err != nil {
		t.Fatal(err)
	}
	return a.UUID
}

func rulesOf(tags []store.Tag) []string {
	var out []string
	for _, t := range tags {
		if !slices.Contains(out, t.RuleID) {
			out = append(out, t.RuleID)
		}
	}
	slices.Sort(out)
	return out
}

// TestDerivedNotificationsTaggedAfterDowntime: notifications published on
// core NATS while the worker is down are kept by the DERIVED stream and
// tagged when it starts: intel (Feodo listed), the prober's JARM (C2
// catalogue) on attacker.fingerprinted and attacker.fingerprint_rotated,
// credential.reuse.detected, email.received with mal_hash_match, and an
// identity merge anchored on the identity. A notification with no anchor
// is dropped; one delivered twice stores and announces once.
func TestDerivedNotificationsTaggedAfterDowntime(t *testing.T) {
	r := newBusRig(t)
	ctx := context.Background()
	a1 := r.attacker(t, "203.0.113.10")
	a2 := r.attacker(t, "203.0.113.11")
	a3 := r.attacker(t, "203.0.113.12")

	// The worker is down: these go to the stream only.
	r.notify(t, "attacker.intel.enriched", map[string]any{"attacker_uuid": nil, "attacker_ip": "203.0.113.10",
		"level": "malicious", "malicious": true, "verdicts": []any{
			map[string]any{"provider": "feodo", "level": "malicious", "malicious": true, "families": []any{"QakBot"}},
			map[string]any{"provider": "greynoise", "level": "none"},
		}})
	r.notify(t, "attacker.fingerprinted", map[string]any{"attacker_uuid": a1, "attacker_ip": "203.0.113.10",
		"probe_type": "jarm", "port": 443, "jarm_hash": jarmCobaltStrike})
	r.notify(t, "attacker.fingerprint_rotated", map[string]any{"attacker_uuid": a2, "attacker_ip": "203.0.113.11",
		"probe_type": "jarm", "port": 8443, "old_hash": "00000000000000000000000000000000000000000000000000000000000000", "new_hash": jarmMetasploit})
	reuse := map[string]any{"id": "reuse-1", "secret_kind": "password", "principal": "root", "target_count": 3,
		"attacker_uuids": []any{a3}, "attacker_ips": []any{"203.0.113.12"}, "deckies": []any{"d1", "d2"},
		"services": []any{"ssh", "ftp"}, "attacker_uuid": a3}
	r.notify(t, "credential.reuse.detected", reuse)
	r.notify(t, "credential.reuse.detected", reuse) // redelivered / republished: one row, one announce
	r.notify(t, "email.received", map[string]any{"source_id": "msg-77", "attacker_uuid": nil, "attacker_ip": "203.0.113.12",
		"decky_id": "mail-01", "service": "smtp", "subject": "Invoice", "attachment_count": 1,
		"attachment_extensions": []any{".pdf"}, "attachment_sha256s": []any{"ab"}, "mal_hash_match": true})
	r.notify(t, "email.received", map[string]any{"source_id": "msg-78", "attacker_ip": "192.0.2.99", "service": "smtp",
		"attachment_extensions": []any{".docm"}}) // no attacker row: dropped
	r.notify(t, "attacker.observation.motor.tab_completion", map[string]any{"attacker_ip": "203.0.113.10"}) // not tagged
	r.notify(t, "attacker.ipv6_leak", map[string]any{"attacker_uuid": a2, "attacker_ip": "203.0.113.11",
		"addr": "fe80::211:22ff:fe33:4455", "iid_kind": "eui64", "mac_oui": "00:11:22", "vector": "header:x-forwarded-for",
		"source_id": "ipv6_leak:203.0.113.11:fe80::211:22ff:fe33:4455"})

	r.run(t)
	want := map[string][]string{
		a1: {"R0030", "R0056"},
		a2: {"R0030", "R0059"},
		a3: {"R0046", "R0099"},
	}
	var got map[string][]string
	waitFor(t, func() bool {
		got = map[string][]string{}
		for a := range want {
			tags, _ := r.st.TagsInScope(ctx, store.ScopeAttacker, a, 0)
			got[a] = rulesOf(tags)
		}
		for a, w := range want {
			if !slices.Equal(got[a], w) {
				return false
			}
		}
		return true
	})
	tags, _ := r.st.TagsInScope(ctx, store.ScopeAttacker, a3, 0)
	reuseTags := 0
	for _, tg := range tags {
		if tg.RuleID == "R0099" {
			reuseTags++
			if tg.SourceKind != ttp.KindCredential || tg.SourceID != "reuse-1" {
				t.Errorf("reuse tag source %s/%s, want credential/reuse-1", tg.SourceKind, tg.SourceID)
			}
		}
		if tg.RuleID == "R0046" && (tg.SourceKind != ttp.KindEmail || tg.SourceID != "msg-77") {
			t.Errorf("mail tag source %s/%s, want email/msg-77", tg.SourceKind, tg.SourceID)
		}
	}
	if reuseTags != 2 { // T1078 and T1110.004, once
		t.Errorf("R0099 stored %d rows, want 2", reuseTags)
	}
	// Every notice is acknowledged (the rows come before the acks, so wait).
	var pending uint64
	var perr error
	waitFor(t, func() bool {
		pending, perr = r.bus.DerivedPending(ctx, DurableDerived)
		return perr == nil && pending == 0
	})
	all, _ := r.st.TagsInScope(ctx, store.ScopeFleet, "", 0)
	if n := r.rec.count(TopicTagged); n != 6 { // one per notification that added rows
		t.Errorf("ttp.tagged published %d times, want 6 (tags %v)", n, rulesOf(all))
	}
}

// TestIdentityTagsInIdentityRollup: identity.formed / identity.merged tags
// anchor on the identity, and the identity's rollup (tags on the identity
// or on any of its attackers) holds them beside its attackers' tags.
func TestIdentityTagsInIdentityRollup(t *testing.T) {
	r := newBusRig(t)
	ctx := context.Background()
	a := r.attacker(t, "203.0.113.20")
	ident, err := r.st.EnsureStubIdentityForAttacker(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	r.run(t)
	if err := r.bus.Publish(ctx, command("c-ident", "203.0.113.20", "useradd -m backdoor")); err != nil {
		t.Fatal(err)
	}
	r.notify(t, "identity.merged", map[string]any{"winner_uuid": ident, "loser_uuid": "11111111-2222-4333-8444-555555555555", "identity_uuid": ident})
	// The identity formed over two attackers: the same rule on the same
	// identity, so the same tag id; stored and announced once.
	r.notify(t, "identity.formed", map[string]any{"identity_uuid": ident, "observation_uuids": []any{a, "66666666-7777-4888-8999-000000000000"}})
	var rows []store.TechniqueRow
	waitFor(t, func() bool {
		rows, _ = r.st.TechniqueRollup(ctx, store.ScopeIdentity, ident)
		return len(rows) == 2
	})
	var techs []string
	for _, row := range rows {
		techs = append(techs, row.TechniqueID+"/"+row.SubTechniqueID)
	}
	slices.Sort(techs)
	if !slices.Equal(techs, []string{"T1090/", "T1136/T1136.001"}) {
		t.Errorf("identity rollup = %v", techs)
	}
	tags, err := r.st.TagsByScopeAndTechnique(ctx, store.ScopeIdentity, ident, "T1090", "", 0)
	if err != nil || len(tags) != 1 {
		t.Fatalf("identity T1090 tags = %v, %v", tags, err)
	}
	if tg := tags[0]; tg.IdentityUUID != ident || tg.AttackerUUID != "" || tg.SourceKind != ttp.KindIdentity || tg.RuleID != "R0101" {
		t.Errorf("identity tag = %+v", tg)
	}
	// The attacker's own rollup does not hold the identity's tag.
	if own, _ := r.st.TechniqueRollup(ctx, store.ScopeAttacker, a); len(own) != 1 {
		t.Errorf("attacker rollup = %+v", own)
	}
	time.Sleep(50 * time.Millisecond)
	if n := r.rec.count(TopicFiredPrefix + "T1090"); n != 1 {
		t.Errorf("ttp.rule.fired.T1090 published %d times", n)
	}
}

// TestSourceKindOf pins the topic → source kind map (spec intel §7.5).
func TestSourceKindOf(t *testing.T) {
	for _, tc := range []struct{ topic, kind string }{
		{"attacker.intel.enriched", ttp.KindIntel},
		{"identity.formed", ttp.KindIdentity},
		{"identity.merged", ttp.KindIdentity},
		{"credential.reuse.detected", ttp.KindCredential},
		{"email.received", ttp.KindEmail},
		{"canary.tok-1.triggered", ""}, // tagged from the event stream
		{"attacker.fingerprinted", ttp.KindFingerprint},
		{"attacker.fingerprint_rotated", ttp.KindFingerprint},
		{"attacker.ipv6_leak", ttp.KindIPv6Leak},
		{"attacker.observation.motor.tab_completion", ""},
		{"ttp.tagged", ""},
	} {
		t.Run(tc.topic, func(t *testing.T) {
			if got := SourceKindOf(tc.topic); got != tc.kind {
				t.Errorf("SourceKindOf(%q) = %q, want %q", tc.topic, got, tc.kind)
			}
		})
	}
}

// FuzzDerive: whatever a derived notice carries (attacker data relayed by
// the stages: user agents, subjects, header values), decoding it and
// tagging what it gives never panics, and every event it gives has an id.
func FuzzDerive(f *testing.F) {
	set, err := ttp.Embedded(attack.Default())
	if err != nil {
		f.Fatal(err)
	}
	eng := ttp.New(set, ttp.Options{Fingerprints: ttp.KnownFingerprints()})
	for _, seed := range []struct{ subject, data string }{
		{"attacker.intel.enriched", `{"attacker_ip":"203.0.113.10","verdicts":[{"provider":"feodo","malicious":true,"families":["QakBot"]}]}`},
		{"attacker.fingerprinted", `{"attacker_uuid":"a","probe_type":"jarm","port":443,"jarm_hash":"x"}`},
		{"attacker.fingerprint_rotated", `{"attacker_uuid":"a","old_hash":"1","new_hash":"2"}`},
		{"attacker.ipv6_leak", `{"attacker_uuid":"a","addr":"fe80::1"}`},
		{"identity.merged", `{"winner_uuid":"w","loser_uuid":"l"}`},
		{"credential.reuse.detected", `{"id":"r","target_count":3,"attacker_uuid":"a","deckies":["d1",2]}`},
		{"email.received", `{"source_id":"m","attachment_extensions":[".docm"],"mal_hash_match":"Emotet"}`},
		{"canary.t1.triggered", `{"token_kind":"http","src_ip":"198.51.100.1"}`},
		{"email.received", `[1,2`},
	} {
		f.Add(seed.subject, []byte(seed.data))
	}
	f.Fuzz(func(t *testing.T, subject string, data []byte) {
		items, err := derive(subject, data, time.Unix(1_800_000_000, 0))
		if err != nil {
			return
		}
		for _, it := range items {
			if it.ev.ID == "" {
				t.Fatalf("%s %q: an event without an id", subject, data)
			}
			eng.Tag(it.ev)
		}
	})
}
