package store

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

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
	forEachDialect(t, func(t *testing.T, st *Store) {
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
	})
}

// TestIngestHostileText: a principal with NUL, invalid UTF-8 or a length
// beyond the key column stores alike on every engine instead of failing
// the batch (PostgreSQL refuses NUL, MySQL invalid UTF-8 and long keys).
func TestIngestHostileText(t *testing.T) {
	forEachDialect(t, func(t *testing.T, st *Store) {
		ctx := context.Background()
		principals := []string{"ro\x00ot", "adm\xffin", strings.Repeat("é", 300), "Admin", "admin"}
		var events []event.Event
		for i, p := range principals {
			e := event.New("decky-01", "ssh", event.TypeLoginAttempt)
			e.SrcIP, e.Session = "203.0.113.77", "s1"
			e.Credential = event.NewCredential(p, "plaintext", []byte(strings.Repeat("\x00", i+1)), event.OutcomeFailure)
			events = append(events, e)
		}
		if _, err := st.IngestBatch(ctx, events); err != nil {
			t.Fatal(err)
		}
		creds, total, err := st.Credentials(ctx, Page{Limit: 10})
		if err != nil || total != len(principals) {
			t.Fatalf("%d credentials, %v; want %d (Admin and admin are distinct)", total, err, len(principals))
		}
		for _, c := range creds {
			if strings.ContainsRune(c.Principal, 0) || !utf8.ValidString(c.Principal) || utf8.RuneCountInString(c.Principal) > maxPrincipal {
				t.Errorf("principal %q stored unclean", c.Principal)
			}
		}
		// Search ignores case on every engine (SQLite's LIKE does).
		if _, n, err := st.Credentials(ctx, Page{Limit: 10, Search: "DMIN"}); err != nil || n != 2 {
			t.Errorf("search DMIN found %d, %v; want Admin and admin", n, err)
		}
	})
}
