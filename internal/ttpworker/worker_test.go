package ttpworker

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/decnet-go/decnet/internal/attack"
	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/store"
	"github.com/decnet-go/decnet/internal/ttp"
)

type recorder struct {
	mu   sync.Mutex
	msgs []string
}

func (r *recorder) Publish(subject string, _ []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, subject)
	return nil
}

func (r *recorder) count(prefix string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, m := range r.msgs {
		if strings.HasPrefix(m, prefix) {
			n++
		}
	}
	return n
}

func setup(t *testing.T) (*Worker, *store.Store, *recorder, *States) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "decnet.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	set, err := ttp.Embedded(attack.Default())
	if err != nil {
		t.Fatal(err)
	}
	states := &States{Store: st, TTL: time.Hour}
	rec := &recorder{}
	w := &Worker{Store: st, Engine: ttp.New(set, ttp.Options{States: states}), Publish: rec}
	w.init()
	return w, st, rec, states
}

func command(id, ip, line string) event.Event {
	return event.Event{ID: id, Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Decky: "decky-01", Service: "ssh",
		Type: event.TypeCommand, SrcIP: ip, Session: "s-" + id, Fields: map[string]any{"command": line}}
}

// TestRedeliveryInsertsOnce: the same event twice gives one row and one
// ttp.tagged (loop prevention).
func TestRedeliveryInsertsOnce(t *testing.T) {
	w, st, rec, _ := setup(t)
	ctx := context.Background()
	ev := command("e1", "203.0.113.7", "useradd backdoor")
	if _, err := st.IngestBatch(ctx, []event.Event{ev}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := w.process(ctx, []event.Event{ev}); err != nil {
			t.Fatal(err)
		}
	}
	a, err := st.AttackerByIP(ctx, "203.0.113.7")
	if err != nil {
		t.Fatal(err)
	}
	tags, err := st.TagsInScope(ctx, store.ScopeAttacker, a.UUID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(tags) != 1 || tags[0].SubTechniqueID != "T1136.001" {
		t.Fatalf("tags = %+v, want one T1136.001", tags)
	}
	if n := rec.count(TopicTagged); n != 1 {
		t.Errorf("ttp.tagged published %d times, want 1", n)
	}
	if n := rec.count(TopicFiredPrefix + "T1136"); n != 1 {
		t.Errorf("ttp.rule.fired.T1136 published %d times, want 1", n)
	}
	if s := w.Stats(); s.Inserted != 1 || s.Published != 1 {
		t.Errorf("stats = %+v", s)
	}
}

// TestNoAttackerIsRetried: tags of an address with no attacker row yet are
// not stored, and the delivery is to be retried.
func TestNoAttackerIsRetried(t *testing.T) {
	w, st, rec, _ := setup(t)
	ctx := context.Background()
	err := w.process(ctx, []event.Event{command("e2", "203.0.113.8", "history -c")})
	if !errors.Is(err, errNoAttacker) {
		t.Fatalf("err = %v, want errNoAttacker", err)
	}
	if tags, _ := st.TagsInScope(ctx, store.ScopeFleet, "", 0); len(tags) != 0 || rec.count("") != 0 {
		t.Errorf("tags %v, published %d", tags, rec.count(""))
	}
	// A command that matches nothing needs no attacker.
	if err := w.process(ctx, []event.Event{command("e3", "203.0.113.8", "ls")}); err != nil {
		t.Errorf("untagged event: %v", err)
	}
	// Once ingest has written the attacker, the retry stores the tags
	// computed the first time (the lifters do not see the event again).
	if len(w.held) != 1 {
		t.Fatalf("held = %v", w.held)
	}
	ev := command("e2", "203.0.113.8", "history -c")
	if _, err := st.IngestBatch(ctx, []event.Event{ev}); err != nil {
		t.Fatal(err)
	}
	if err := w.process(ctx, []event.Event{ev}); err != nil {
		t.Fatal(err)
	}
	if tags, _ := st.TagsInScope(ctx, store.ScopeFleet, "", 0); len(tags) != 1 || len(w.held) != 0 || rec.count(TopicTagged) != 1 {
		t.Errorf("after retry: tags %d, held %d, published %d", len(tags), len(w.held), rec.count(TopicTagged))
	}
}

// TestRuleStateHonoured: a rule disabled in ttp_rule_state does not fire;
// clipped caps the confidence; cleared, it fires again.
func TestRuleStateHonoured(t *testing.T) {
	w, st, _, states := setup(t)
	ctx := context.Background()
	ev := command("e4", "203.0.113.9", "useradd backdoor")
	if _, err := st.IngestBatch(ctx, []event.Event{ev}); err != nil {
		t.Fatal(err)
	}
	rule := ""
	for _, r := range w.Engine.Rules().Rules() {
		for _, e := range r.Emits {
			if e.SubTechniqueID == "T1136.001" && rule == "" && !r.IsLifter() {
				rule = r.ID
			}
		}
	}
	if err := st.SetRuleState(ctx, store.RuleState{RuleID: rule, State: store.RuleDisabled, SetBy: "test"}); err != nil {
		t.Fatal(err)
	}
	states.Invalidate()
	if tags := w.tag(ev); len(tags) != 0 {
		t.Errorf("disabled %s: %d tags", rule, len(tags))
	}
	half := 0.5
	if err := st.SetRuleState(ctx, store.RuleState{RuleID: rule, State: store.RuleClipped, ConfidenceMax: &half}); err != nil {
		t.Fatal(err)
	}
	states.Invalidate()
	if tags := w.tag(ev); len(tags) != 1 || tags[0].Confidence != 0.5 {
		t.Errorf("clipped %s: %+v", rule, tags)
	}
	if err := st.ClearRuleState(ctx, rule); err != nil {
		t.Fatal(err)
	}
	states.Invalidate()
	if tags := w.tag(ev); len(tags) != 1 || tags[0].Confidence <= 0.5 {
		t.Errorf("cleared %s: %+v", rule, tags)
	}
	all, err := st.RuleStates(ctx)
	if err != nil || len(all) != 0 {
		t.Errorf("states after clear: %v %v", all, err)
	}
}

// TestWatchDirReloads: a rule file dropped in the directory replaces the
// embedded rule of the same id; a broken file keeps the current rules.
func TestWatchDirReloads(t *testing.T) {
	dir := t.TempDir()
	set, _ := ttp.Embedded(attack.Default())
	e := ttp.New(set, ttp.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	hup := make(chan os.Signal, 1)
	go func() { defer close(done); WatchDir(ctx, e, dir, 10*time.Millisecond, hup, discard(), nil) }()
	defer func() { cancel(); <-done }()
	n := set.Len()
	time.Sleep(50 * time.Millisecond) // the watcher has taken the directory's first fingerprint
	writeFile(t, filepath.Join(dir, "site.yaml"), `rule_id: R9001
rule_version: 1
name: Site rule
description: A command only this site cares about.
applies_to: [command]
match:
  pattern: '\bfrobnicate\b'
emits:
  - {tactic: TA0002, technique_id: T1059, sub_technique_id: T1059.004, confidence: 0.7}
evidence_fields: [command]
`)
	waitFor(t, func() bool { return e.Rules().Len() == n+1 })
	if tags := e.Tag(command("e5", "203.0.113.1", "frobnicate now")); len(tags) != 1 {
		t.Errorf("site rule: %d tags", len(tags))
	}
	writeFile(t, filepath.Join(dir, "broken.yaml"), "rule_id: [\n")
	hup <- os.Interrupt // as SIGHUP would: reload now
	time.Sleep(100 * time.Millisecond)
	if e.Rules().Len() != n+1 {
		t.Errorf("a broken file changed the rules: %d", e.Rules().Len())
	}
}
