package store

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/decnet-go/decnet/internal/event/eventtest"
)

// TestAttackerProfileEveryDialect: a profile written by the profile stage
// reads back on every reader, and the ingest upsert leaves it alone.
func TestAttackerProfileEveryDialect(t *testing.T) {
	forEachDialect(t, func(t *testing.T, st *Store) {
		ctx := context.Background()
		wave := eventtest.AttackWave(6)
		if _, err := st.IngestBatch(ctx, wave); err != nil {
			t.Fatal(err)
		}
		a, err := st.AttackerByIP(ctx, wave[0].SrcIP)
		if err != nil {
			t.Fatal(err)
		}
		if a.Profile != nil || a.ThreatScore != 0 {
			t.Fatalf("fresh attacker has profile %+v, score %d", a.Profile, a.ThreatScore)
		}
		p := AttackerProfile{Tools: []string{"libssh"}, Phases: []string{"recon", "credential_access"}, Actor: "automated",
			ActorBasis: "timing", ThreatScore: 42, Timing: ProfileTiming{Intervals: 5, Mean: 0.2, M2: 0.01,
				LastTS: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}}
		if err := st.SetAttackerProfile(ctx, a.UUID, p); err != nil {
			t.Fatal(err)
		}
		if _, err := st.IngestBatch(ctx, eventtest.AttackWave(6)); err != nil { // ingest again: profile untouched
			t.Fatal(err)
		}
		for name, get := range map[string]func() (Attacker, error){
			"by uuid": func() (Attacker, error) { return st.AttackerByUUID(ctx, a.UUID) },
			"list": func() (Attacker, error) {
				rows, _, err := st.Attackers(ctx, Page{Limit: 10, Search: a.IP})
				if err != nil || len(rows) == 0 {
					return Attacker{}, err
				}
				return rows[0], nil
			},
			"active": func() (Attacker, error) {
				rows, _, err := st.AttackersSorted(ctx, Page{Limit: 10, Search: a.IP}, SortActive)
				if err != nil || len(rows) == 0 {
					return Attacker{}, err
				}
				return rows[0], nil
			},
		} {
			got, err := get()
			if err != nil {
				t.Fatal(name, err)
			}
			if got.ThreatScore != 42 || got.Profile == nil || !slices.Equal(got.Profile.Tools, p.Tools) ||
				!slices.Equal(got.Profile.Phases, p.Phases) || got.Profile.Actor != "automated" ||
				!got.Profile.Timing.LastTS.Equal(p.Timing.LastTS) {
				t.Errorf("%s: score %d, profile %+v", name, got.ThreatScore, got.Profile)
			}
		}
	})
}
