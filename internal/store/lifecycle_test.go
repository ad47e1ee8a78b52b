package store

import (
	"context"
	"errors"
	"testing"
)

func TestLifecycle(t *testing.T) {
	forEachDialect(t, func(t *testing.T, st *Store) {
		ctx := context.Background()
		a, err := st.CreateLifecycle(ctx, "decky-01", OpDeploy)
		if err != nil {
			t.Fatal(err)
		}
		b, err := st.CreateLifecycle(ctx, "decky-02", OpRemove)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.UpdateLifecycle(ctx, a.ID, LifecycleRunning, ""); err != nil {
			t.Fatal(err)
		}
		if err := st.UpdateLifecycle(ctx, a.ID, LifecycleFailed, "address not on this host"); err != nil {
			t.Fatal(err)
		}
		if err := st.UpdateLifecycle(ctx, a.ID, LifecycleSucceeded, ""); !errors.Is(err, ErrConflict) {
			t.Fatalf("update of a terminal row = %v; want ErrConflict", err)
		}
		if err := st.UpdateLifecycle(ctx, "nope", LifecycleRunning, ""); !errors.Is(err, ErrNotFound) {
			t.Fatalf("update of an unknown row = %v; want ErrNotFound", err)
		}
		rows, err := st.Lifecycles(ctx, []string{b.ID, a.ID, "nope"})
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 2 {
			t.Fatalf("rows = %+v", rows)
		}
		for _, r := range rows {
			switch r.ID {
			case a.ID:
				if r.Status != LifecycleFailed || r.Error == nil || *r.Error != "address not on this host" || r.CompletedAt == nil || r.DeckyName != "decky-01" {
					t.Errorf("row a = %+v", r)
				}
			case b.ID:
				if r.Status != LifecyclePending || r.Error != nil || r.CompletedAt != nil || r.Operation != OpRemove {
					t.Errorf("row b = %+v", r)
				}
			}
		}
		if rows, err := st.Lifecycles(ctx, nil); err != nil || len(rows) != 0 {
			t.Fatalf("no ids = %v, %v", rows, err)
		}
	})
}

func TestDeleteDecky(t *testing.T) {
	forEachDialect(t, func(t *testing.T, st *Store) {
		ctx := context.Background()
		if err := st.PutDecky(ctx, DeckyRow{Name: "decky-01", IP: "127.42.0.11", Status: "running"}); err != nil {
			t.Fatal(err)
		}
		if err := st.SetDeckySpec(ctx, "decky-01", []byte(`{"name":"decky-01"}`)); err != nil {
			t.Fatal(err)
		}
		if err := st.DeleteDecky(ctx, "decky-01"); err != nil {
			t.Fatal(err)
		}
		if d, _ := st.Deckies(ctx); len(d) != 0 {
			t.Fatalf("deckies after delete = %+v", d)
		}
		if specs, _ := st.DeckySpecs(ctx); len(specs) != 0 {
			t.Fatalf("specs after delete = %s", specs)
		}
		if err := st.DeleteDecky(ctx, "decky-01"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("second delete = %v; want ErrNotFound", err)
		}
	})
}
