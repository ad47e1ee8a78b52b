package ttpworker

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/decnet-go/decnet/internal/attack"
	"github.com/decnet-go/decnet/internal/store"
	"github.com/decnet-go/decnet/internal/ttp"
)

const siteRule = `rule_id: R9001
rule_version: 1
name: Site rule
description: A command only this site cares about.
applies_to: [command]
match:
  pattern: '\bfrobnicate\b'
emits:
  - {tactic: TA0002, technique_id: T1059, sub_technique_id: T1059.004, confidence: 0.7}
evidence_fields: [command]
`

// TestRulesMirroredOnStartAndReload: ttp_rule holds the loaded set at
// start, gains a rule dropped in the rules directory on hot reload, and
// keeps a rule that left the set with loaded = false; an unchanged rule's
// row is not rewritten.
func TestRulesMirroredOnStartAndReload(t *testing.T) {
	_, st, _, _ := setup(t)
	ctx := context.Background()
	dir := t.TempDir()
	set, err := ttp.Load(dir, attack.Default())
	if err != nil {
		t.Fatal(err)
	}
	if err := MirrorRules(ctx, st, set, "filesystem"); err != nil {
		t.Fatal(err)
	}
	defs := ruleDefs(t, st)
	if len(defs) != set.Len() {
		t.Fatalf("mirrored %d rules, loaded %d", len(defs), set.Len())
	}
	r19 := defs["R0019"]
	if !r19.Loaded || r19.Name == "" || r19.RuleVersion < 1 || len(r19.TechniqueIDs) == 0 || len(r19.YAML) == 0 ||
		len(r19.DefinitionSHA256) != 64 || r19.UpdatedBy != "filesystem" || r19.AppliesTo[0] != "command" {
		t.Fatalf("R0019 row = %+v", r19)
	}

	e := ttp.New(set, ttp.Options{})
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	hup := make(chan os.Signal, 1)
	go func() {
		defer close(done)
		WatchDir(wctx, e, dir, 10*time.Millisecond, hup, discard(), func(s *ttp.RuleSet) {
			// A reload racing the test's end fails with the cancelled
			// context; that is shutdown, not a mirroring error.
			if err := MirrorRules(wctx, st, s, "filesystem"); err != nil && wctx.Err() == nil {
				t.Error(err)
			}
		})
	}()
	defer func() { cancel(); <-done }()
	time.Sleep(50 * time.Millisecond)
	writeFile(t, filepath.Join(dir, "site.yaml"), siteRule)
	waitFor(t, func() bool { d, ok := ruleDefs(t, st)["R9001"]; return ok && d.Loaded })
	if d := ruleDefs(t, st)["R9001"]; d.Name != "Site rule" || d.TechniqueIDs[0] != "T1059.004" || d.SourcePath == "" {
		t.Errorf("R9001 row = %+v", d)
	}
	if again := ruleDefs(t, st)["R0019"]; !again.UpdatedAt.Equal(r19.UpdatedAt) || again.DefinitionSHA256 != r19.DefinitionSHA256 {
		t.Errorf("unchanged R0019 rewritten: %v → %v", r19.UpdatedAt, again.UpdatedAt)
	}
	if err := os.Remove(filepath.Join(dir, "site.yaml")); err != nil {
		t.Fatal(err)
	}
	hup <- os.Interrupt
	waitFor(t, func() bool { return !ruleDefs(t, st)["R9001"].Loaded })
	if n := len(ruleDefs(t, st)); n != set.Len()+1 {
		t.Errorf("%d rows after the rule left, want %d", n, set.Len()+1)
	}
}

func ruleDefs(t *testing.T, st *store.Store) map[string]store.RuleDef {
	t.Helper()
	defs, err := st.RuleDefs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]store.RuleDef{}
	for _, d := range defs {
		m[d.RuleID] = d
	}
	return m
}
