package store

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/event/eventtest"
)

func openTest(tb testing.TB) *Store {
	tb.Helper()
	st, err := Open(context.Background(), filepath.Join(tb.TempDir(), "decnet.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	return st
}

func BenchmarkIngestBatch(b *testing.B) {
	st := openTest(b)
	ctx := context.Background()
	events := eventtest.AttackWave(b.N)
	b.ResetTimer()
	for start := 0; start < len(events); start += 1000 {
		if _, err := st.IngestBatch(ctx, events[start:min(start+1000, len(events))]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// TestIngestIdempotent: a batch that repeats stored events, and repeats an
// event within itself, stores and counts each event once.
func TestIngestIdempotent(t *testing.T) {
	st := openTest(t)
	ctx := context.Background()
	wave := eventtest.AttackWave(18)
	if res, err := st.IngestBatch(ctx, wave[:9]); err != nil || res.Inserted != 9 {
		t.Fatalf("first batch: %+v, %v", res, err)
	}
	// Half old, half new, and one new event twice.
	again := append(append([]event.Event{}, wave[4:]...), wave[17])
	res, err := st.IngestBatch(ctx, again)
	if err != nil {
		t.Fatal(err)
	}
	if res.Inserted != 9 || res.Duplicates != 6 {
		t.Errorf("second batch: inserted %d duplicates %d; want 9 and 6", res.Inserted, res.Duplicates)
	}
	_, total, _ := st.Events(ctx, Page{Limit: 1})
	if total != 18 {
		t.Errorf("stored %d events, want 18", total)
	}
	for _, ip := range []string{wave[0].SrcIP, wave[9].SrcIP} {
		a, err := st.AttackerByIP(ctx, ip)
		if err != nil {
			t.Fatal(err)
		}
		if a.EventCount != 9 || a.CredentialCount != 3 || a.CommandCount != 4 || a.SessionCount != 1 {
			t.Errorf("attacker %s counts %+v; want 9 events, 3 credentials, 4 commands, 1 session", ip, a)
		}
	}
	creds, _, _ := st.Credentials(ctx, Page{Limit: 100})
	sum := 0
	for _, c := range creds {
		sum += c.AttemptCount
	}
	if sum != 6 {
		t.Errorf("credential attempts %d, want 6", sum)
	}
}
