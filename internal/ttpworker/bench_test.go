package ttpworker

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/decnet-go/decnet/internal/attack"
	"github.com/decnet-go/decnet/internal/bus"
	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/store"
	"github.com/decnet-go/decnet/internal/ttp"
)

// BenchmarkWorkerBusSQLite measures the worker end to end: b.N command
// events published on an embedded JetStream bus (100 per message, as the
// ingest side batches them), consumed durably, tagged, stored in SQLite and
// announced. Each event yields three tags (useradd → T1136.001, the
// /etc/passwd read → T1083 and T1003.008), so tags/s = 3 × events/s.
//
// The per-tag case stores each tag with its own INSERT, as the worker did
// before it batched; both run back to back for a fair comparison.
func BenchmarkWorkerBusSQLite(b *testing.B) {
	b.Run("batched", func(b *testing.B) { benchWorker(b, false) })
	b.Run("per-tag", func(b *testing.B) { benchWorker(b, true) })
}

// perTag stores a batch one INSERT per tag, outside any transaction.
type perTag struct{ *store.Store }

func (p perTag) InsertTags(ctx context.Context, tags []store.Tag) ([]string, error) {
	var fresh []string
	for _, t := range tags {
		ok, err := p.InsertTag(ctx, t)
		if err != nil {
			return nil, err
		}
		if ok {
			fresh = append(fresh, t.UUID)
		}
	}
	return fresh, nil
}

func benchWorker(b *testing.B, oneByOne bool) {
	ctx := context.Background()
	dir := b.TempDir()
	bs, err := bus.Open(ctx, bus.Options{DataDir: dir, Log: discard()})
	if err != nil {
		b.Fatal(err)
	}
	defer bs.Close()
	st, err := store.Open(ctx, filepath.Join(dir, "decnet.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	const ips = 64
	seed := make([]event.Event, ips)
	for i := range seed {
		seed[i] = command(fmt.Sprintf("seed-%d", i), fmt.Sprintf("198.51.100.%d", i+1), "ls")
	}
	if _, err := st.IngestBatch(ctx, seed); err != nil {
		b.Fatal(err)
	}
	set, err := ttp.Embedded(attack.Default())
	if err != nil {
		b.Fatal(err)
	}
	cons, err := bs.Consumer(ctx, bus.ConsumerOptions{Durable: "ttp-bench", Filter: event.SubjectAll})
	if err != nil {
		b.Fatal(err)
	}
	defer cons.Stop()
	w := &Worker{Source: cons, Store: st, Engine: ttp.New(set, ttp.Options{}), Publish: bs.Conn(), Log: discard()}
	if oneByOne {
		w.Store = perTag{st}
	}
	probe := w.Engine.Tag(command("probe", "198.51.100.1", "useradd -m x1; cat /etc/passwd"))
	perEvent := int64(len(probe))

	b.ResetTimer()
	start := time.Now()
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); w.Run(rctx) }()
	const per = 100
	for i := 0; i < b.N; i += per {
		n := min(per, b.N-i)
		evs := make([]event.Event, n)
		for j := range evs {
			k := i + j
			evs[j] = command(fmt.Sprintf("b-%d", k), fmt.Sprintf("198.51.100.%d", k%ips+1), fmt.Sprintf("useradd -m x%d; cat /etc/passwd", k))
		}
		if err := bs.Publish(ctx, evs...); err != nil {
			b.Fatal(err)
		}
	}
	want := int64(b.N) * perEvent
	for w.Stats().Inserted < want {
		if time.Since(start) > 5*time.Minute {
			b.Fatalf("inserted %d of %d", w.Stats().Inserted, want)
		}
		time.Sleep(2 * time.Millisecond)
	}
	el := time.Since(start)
	b.StopTimer()
	cancel()
	<-done
	b.ReportMetric(float64(b.N)/el.Seconds(), "events/s")
	b.ReportMetric(float64(want)/el.Seconds(), "tags/s")
}
