package store

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"testing"

	"github.com/decnet-go/decnet/internal/event"
)

// TestInsertTagsBatch: one call stores the new tags, reports exactly those
// (an id already stored, or repeated in the batch, is not new; a batch
// of new tags reports them all), skips tags
// under the confidence floor, and refuses a batch with an unanchored tag
// without storing any of it.
func TestInsertTagsBatch(t *testing.T) {
	forEachDialect(t, func(t *testing.T, st *Store) {
		ctx := context.Background()
		if _, err := st.IngestBatch(ctx, []event.Event{{ID: "e-tags", Decky: "d1", Service: "ssh", Type: event.TypeCommand, SrcIP: "203.0.113.50"}}); err != nil {
			t.Fatal(err)
		}
		a, err := st.AttackerByIP(ctx, "203.0.113.50")
		if err != nil {
			t.Fatal(err)
		}
		tag := func(src string, conf float64) Tag {
			return Tag{SourceKind: "command", SourceID: src, AttackerUUID: a.UUID, Tactic: "TA0003", TechniqueID: "T1136",
				SubTechniqueID: "T1136.001", Confidence: conf, RuleID: "R0024", RuleVersion: 1, AttackRelease: "18.1"}
		}
		if ok, err := st.InsertTag(ctx, tag("old", 0.8)); !ok || err != nil {
			t.Fatalf("seed: %v %v", ok, err)
		}
		batch := []Tag{tag("old", 0.8), tag("a", 0.8), tag("b", 0.8), tag("a", 0.8), tag("weak", 0.1)}
		fresh, err := st.InsertTags(ctx, batch)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{TagID("command", "a", "R0024", 1, "T1136", "T1136.001"), TagID("command", "b", "R0024", 1, "T1136", "T1136.001")}
		if !slices.Equal(fresh, want) {
			t.Errorf("fresh = %v, want %v", fresh, want)
		}
		if again, err := st.InsertTags(ctx, batch); err != nil || len(again) != 0 {
			t.Errorf("same batch again: %v %v", again, err)
		}
		// All new: the row counts tell, no lookup.
		xy := []string{TagID("command", "x", "R0024", 1, "T1136", "T1136.001"), TagID("command", "y", "R0024", 1, "T1136", "T1136.001")}
		if fresh, err := st.InsertTags(ctx, []Tag{tag("x", 0.8), tag("y", 0.8)}); err != nil || !slices.Equal(fresh, xy) {
			t.Errorf("all new: %v %v", fresh, err)
		}
		bad := tag("c", 0.8)
		bad.AttackerUUID = ""
		if _, err := st.InsertTags(ctx, []Tag{tag("d", 0.8), bad}); !errors.Is(err, ErrNoAnchor) {
			t.Errorf("unanchored: %v", err)
		}
		stored, _ := st.TagsInScope(ctx, ScopeAttacker, a.UUID, 0)
		if len(stored) != 5 {
			t.Errorf("%d rows stored, want 5 (old, a, b, x, y)", len(stored))
		}
	})
}

// BenchmarkInsertTags stores tags 256 to a transaction, as the tagging
// worker does, on SQLite: ns/op is the cost of one tag.
func BenchmarkInsertTags(b *testing.B) {
	ctx := context.Background()
	st, err := Open(ctx, b.TempDir()+"/decnet.db")
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	if _, err := st.IngestBatch(ctx, []event.Event{{ID: "e-bench", Decky: "d1", Service: "ssh", Type: event.TypeCommand, SrcIP: "203.0.113.51"}}); err != nil {
		b.Fatal(err)
	}
	a, err := st.AttackerByIP(ctx, "203.0.113.51")
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for start := 0; start < b.N; start += 256 {
		batch := make([]Tag, 0, 256)
		for i := start; i < min(start+256, b.N); i++ {
			batch = append(batch, Tag{SourceKind: "command", SourceID: strconv.Itoa(i), AttackerUUID: a.UUID, SessionID: "s" + strconv.Itoa(i/4),
				DeckyID: "decky-01", Tactic: "TA0003", TechniqueID: "T1136", SubTechniqueID: "T1136.001", Confidence: 0.8,
				RuleID: "R0024", RuleVersion: 1, AttackRelease: "18.1", Evidence: json.RawMessage(`{"cmd":"useradd x"}`)})
		}
		if _, err := st.InsertTags(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
}
