package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/store"
	"github.com/decnet-go/decnet/internal/ttp"
)

// TestExportCommands: decnet export reads the store directly and writes a
// Navigator layer, a STIX bundle and a MISP event that carry the tag.
func TestExportCommands(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(dir, "decnet.db"))
	if err != nil {
		t.Fatal(err)
	}
	ev := event.Event{ID: "e1", Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Decky: "decky-01", Service: "ssh",
		Type: event.TypeCommand, SrcIP: "203.0.113.7", Session: "s1", Fields: map[string]any{"command": "useradd backdoor"}}
	if _, err := st.IngestBatch(ctx, []event.Event{ev}); err != nil {
		t.Fatal(err)
	}
	a, err := st.AttackerByIP(ctx, ev.SrcIP)
	if err != nil {
		t.Fatal(err)
	}
	id := ttp.TagID("command", "e1", "R0024", 1, "T1136", "T1136.001")
	if _, err := st.InsertTag(ctx, store.Tag{UUID: id, SourceKind: "command", SourceID: "e1", AttackerUUID: a.UUID,
		Tactic: "TA0003", TechniqueID: "T1136", SubTechniqueID: "T1136.001", Confidence: 0.8, RuleID: "R0024", RuleVersion: 1,
		Evidence: json.RawMessage(`{"command":"useradd backdoor"}`), AttackRelease: "18.1", CreatedAt: ev.Time}); err != nil {
		t.Fatal(err)
	}
	st.Close()

	cases := []struct {
		name string
		args []string
		want string
	}{
		{"fleet layer", []string{"export", "navigator", "--data-dir", dir}, `"techniqueID": "T1136.001"`},
		{"attacker layer", []string{"export", "navigator", "--attacker", a.UUID, "--data-dir", dir}, `"techniqueID": "T1136.001"`},
		{"attacker bundle", []string{"export", "stix", "--attacker", a.UUID, "--data-dir", dir}, `"external_id": "T1136.001"`},
		{"fleet bundle", []string{"export", "stix", "--data-dir", dir}, `"type": "attack-pattern"`},
		{"misp event", []string{"export", "misp", "--attacker", a.UUID, "--data-dir", dir}, `T1136.001`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := run(t, tc.args...)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if !json.Valid([]byte(out)) || !strings.Contains(out, tc.want) {
				t.Errorf("output lacks %s:\n%.2000s", tc.want, out)
			}
		})
	}
	if _, err := run(t, "export", "misp", "--data-dir", dir); err == nil {
		t.Error("misp without --attacker: no error")
	}
	if _, err := run(t, "export", "yaml", "--data-dir", dir); err == nil {
		t.Error("unknown format: no error")
	}
}
