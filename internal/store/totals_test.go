package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/decnet-go/decnet/internal/event"
)

func TestRowCount(t *testing.T) {
	ctx := context.Background()
	var c rowCount
	loads, truth := 0, 10
	load := func(context.Context) (int, error) { loads++; return truth, nil }
	steps := []struct {
		name      string
		act       func()
		want      int
		wantLoads int
	}{
		{"first get counts", func() {}, 10, 1},
		{"second get is cached", func() {}, 10, 1},
		{"an insert of known size adds", func() { truth += 3; c.add(3) }, 13, 1},
		{"an unknown change recounts", func() { truth = 7; c.invalidate() }, 7, 2},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			s.act()
			n, err := c.get(ctx, load)
			if err != nil || n != s.want || loads != s.wantLoads {
				t.Fatalf("get = %d, %v after %d loads; want %d after %d", n, err, loads, s.want, s.wantLoads)
			}
		})
	}
	boom := errors.New("boom")
	c.invalidate()
	if _, err := c.get(ctx, func(context.Context) (int, error) { return 0, boom }); !errors.Is(err, boom) {
		t.Fatalf("failed count: %v", err)
	}
	if n, _ := c.get(ctx, load); n != 7 {
		t.Errorf("after a failed count, get = %d; want a recount (7)", n)
	}
}

// The cached totals stay exact across this process's ingest batches.
func TestTotalsFollowIngest(t *testing.T) {
	forEachDialect(t, func(t *testing.T, st *Store) {
		ctx := context.Background()
		for batch := range 3 {
			var evs []event.Event
			for i := range 4 {
				ev := event.New("decky-01", "ssh", event.TypeConnect)
				ev.SrcIP = fmt.Sprintf("198.51.100.%d", batch*2+i%2) // two new addresses a batch
				evs = append(evs, ev)
			}
			if _, err := st.IngestBatch(ctx, evs); err != nil {
				t.Fatal(err)
			}
			if _, err := st.IngestBatch(ctx, evs); err != nil { // redelivery changes nothing
				t.Fatal(err)
			}
			_, events, err := st.Events(ctx, Page{Limit: 1})
			if err != nil || events != 4*(batch+1) {
				t.Fatalf("batch %d: events total %d, %v; want %d", batch, events, err, 4*(batch+1))
			}
			_, attackers, err := st.Attackers(ctx, Page{Limit: 1})
			if err != nil || attackers != 2*(batch+1) {
				t.Fatalf("batch %d: attackers total %d, %v; want %d", batch, attackers, err, 2*(batch+1))
			}
		}
		if st.Changes() != 3 {
			t.Errorf("Changes = %d; want 3 (redeliveries change nothing)", st.Changes())
		}
	})
}

// The first count is shared: a burst of callers on a cold cache runs one.
func TestRowCountColdBurst(t *testing.T) {
	var c rowCount
	var loads atomic.Int32
	release := make(chan struct{})
	load := func(context.Context) (int, error) { loads.Add(1); <-release; return 42, nil }
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if n, err := c.get(context.Background(), load); n != 42 || err != nil {
				t.Errorf("get = %d, %v", n, err)
			}
		}()
	}
	time.Sleep(50 * time.Millisecond)
	close(release)
	wg.Wait()
	if loads.Load() != 1 {
		t.Errorf("%d counts for one cold burst; want 1", loads.Load())
	}
}
