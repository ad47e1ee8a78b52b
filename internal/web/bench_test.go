package web

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/store"
)

// BenchmarkPages renders each screen over a store of many attackers
// (DECNET_BENCH_ATTACKERS, default 20 000, five events each). The budget is
// 50 ms of server time per page; compare ns/op with it.
func BenchmarkPages(b *testing.B) {
	n := 20000
	if v, err := strconv.Atoi(os.Getenv("DECNET_BENCH_ATTACKERS")); err == nil && v > 0 {
		n = v
	}
	e := newEnv(b)
	seedMany(b, e.st, n)
	e.seed()
	tagged, _ := e.seedInsights()
	e.addUser("alice", roleAdmin, false)
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
		{"ttp_technique", "/ui/ttp/T1059.004"},
		{"ttp_inspector", "/ui/attackers/" + tagged.UUID + "/ttp/T1059.004"},
		{"credentials", "/ui/credentials"},
		{"identities", "/ui/identities"},
	} {
		if p.name == "overview" {
			// Cold: the cached aggregates recomputed on every load, as one
			// request in each aggregateTTL pays.
			b.Run("overview_cold", func(b *testing.B) {
				for b.Loop() {
					e.d.aggregates = aggregateCache{}
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

// seedMany stores n attackers with five events each over the last day:
// a connect, two logins with credentials, a command, a disconnect.
func seedMany(b *testing.B, st *store.Store, n int) {
	b.Helper()
	ctx := context.Background()
	const batch = 2000
	evs := make([]event.Event, 0, batch)
	flush := func() {
		if _, err := st.IngestBatch(ctx, evs); err != nil {
			b.Fatal(err)
		}
		evs = evs[:0]
	}
	services := []string{"ssh", "telnet", "http", "smb", "ftp"}
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
		evs = append(evs, mk(event.TypeConnect, 0, nil), l1, l2,
			mk(event.TypeCommand, 3, map[string]any{"command": "uname -a"}), mk(event.TypeDisconnect, 4, nil))
		if len(evs) >= batch {
			flush()
		}
	}
	if len(evs) > 0 {
		flush()
	}
}
