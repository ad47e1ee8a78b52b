package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/event/eventtest"
)

// TestDashboardReadsEveryDialect: the dashboard's bounded reads answer
// what their unbounded counterparts do, on every dialect.
func TestDashboardReadsEveryDialect(t *testing.T) {
	forEachDialect(t, func(t *testing.T, st *Store) {
		ctx := context.Background()
		wave := eventtest.AttackWave(18)
		if _, err := st.IngestBatch(ctx, wave); err != nil {
			t.Fatal(err)
		}
		all, total, err := st.Events(ctx, Page{Limit: 100})
		if err != nil || total != 18 {
			t.Fatalf("events: %d %v", total, err)
		}

		t.Run("event by id", func(t *testing.T) {
			e, err := st.EventByID(ctx, all[3].ID)
			if err != nil || e.EventID != all[3].EventID {
				t.Fatalf("EventByID = %v, %v", e.EventID, err)
			}
			if _, err := st.EventByID(ctx, all[0].ID+1000); !errors.Is(err, ErrNotFound) {
				t.Fatalf("unknown id: %v", err)
			}
		})
		t.Run("events capped", func(t *testing.T) {
			_, exact, _ := st.Events(ctx, Page{Limit: 5, Service: "ssh"})
			for _, tc := range []struct{ atMost, want int }{{100, exact}, {3, 3}} {
				rows, n, err := st.EventsCapped(ctx, Page{Limit: 5, Service: "ssh"}, tc.atMost)
				if err != nil || n != tc.want || len(rows) != min(5, exact) {
					t.Errorf("at most %d: %d rows, total %d, %v; want total %d", tc.atMost, len(rows), n, err, tc.want)
				}
			}
			if _, n, err := st.EventsCapped(ctx, Page{Limit: 5}, 3); err != nil || n != 18 {
				t.Errorf("unfiltered total %d, %v; want the exact 18", n, err)
			}
		})
		t.Run("stats", func(t *testing.T) {
			a, _ := st.Stats(ctx)
			b, err := st.DashboardStats(ctx)
			if err != nil || a != b {
				t.Errorf("DashboardStats = %+v, %v; Stats = %+v", b, err, a)
			}
		})
		t.Run("latest credentials", func(t *testing.T) {
			want, _, _ := st.Credentials(ctx, Page{Limit: 2})
			got, err := st.LatestCredentials(ctx, 2)
			if err != nil || len(got) != len(want) || len(got) > 0 && got[0].ID != want[0].ID {
				t.Errorf("LatestCredentials = %v, %v; want %v", got, err, want)
			}
		})
		t.Run("digests and base", func(t *testing.T) {
			d, err := st.EventDigestsAfter(ctx, all[len(all)-1].ID, 5) // after the oldest
			if err != nil || len(d) != 5 || d[0].ID != all[len(all)-2].ID || d[0].Hour.IsZero() || d[0].Service == "" {
				t.Fatalf("EventDigestsAfter = %+v, %v", d, err)
			}
			b, err := st.OverviewBase(ctx, time.Unix(0, 0))
			if err != nil || b.Through != all[0].ID {
				t.Fatalf("OverviewBase through %d, %v; want %d", b.Through, err, all[0].ID)
			}
			sum, events := 0, 0
			for _, n := range b.Hours {
				sum += n
			}
			for _, n := range b.PerIP {
				events += n
			}
			_, sessions, _ := st.Sessions(ctx, Page{Limit: 1})
			if sum != 18 || events != 18 || len(b.Sessions) != sessions {
				t.Errorf("base: %d events by hour, %d by address, %d sessions; want 18, 18, %d", sum, events, len(b.Sessions), sessions)
			}
		})
	})
}

func TestCredentialReuseSummaries(t *testing.T) {
	st := openTest(t)
	ctx := context.Background()
	var evs []event.Event
	for i, target := range [][2]string{{"decky-01", "ssh"}, {"decky-02", "ssh"}, {"decky-02", "ftp"}} {
		for k := range 5 {
			e := event.New(target[0], target[1], event.TypeLoginAttempt)
			e.SrcIP, e.Session = "192.0.2."+string(rune('1'+i))+string(rune('0'+k)), "s"
			e.Credential = event.NewCredential("root", "password", []byte("hunter2"), "failure")
			evs = append(evs, e)
		}
	}
	if _, err := st.IngestBatch(ctx, evs); err != nil {
		t.Fatal(err)
	}
	if _, err := st.RefreshCredentialReuse(ctx, time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	full, n, err := st.CredentialReuses(ctx, ReuseQuery{Limit: 10})
	if err != nil || n != 1 {
		t.Fatalf("reuses: %d %v", n, err)
	}
	got, m, err := st.CredentialReuseSummaries(ctx, 10, 4)
	if err != nil || m != 1 || len(got) != 1 {
		t.Fatalf("summaries: %d %v", m, err)
	}
	g, f := got[0], full[0]
	if g.AttackerCount != len(f.AttackerIPs) || len(g.AttackerIPs) != 4 || g.AttackerIPs[0] != f.AttackerIPs[0] ||
		g.TargetCount != 3 || g.SecretPrintable != "hunter2" || len(g.AttackerUUIDs) != 0 {
		t.Errorf("summary %+v; full %+v", g, f)
	}
}
