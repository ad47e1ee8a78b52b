package pipeline

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/decnet-go/decnet/internal/bus"
	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/event/eventtest"
	"github.com/decnet-go/decnet/internal/store"
)

type rig struct {
	bus   *bus.Bus
	store *store.Store
	w     *Ingest
	stop  func()
}

func newRig(tb testing.TB) *rig {
	tb.Helper()
	ctx := context.Background()
	dir := tb.TempDir()
	b, err := bus.Open(ctx, bus.Options{DataDir: dir})
	if err != nil {
		tb.Fatal(err)
	}
	st, err := store.Open(ctx, filepath.Join(dir, "decnet.db"))
	if err != nil {
		tb.Fatal(err)
	}
	cons, err := b.Consumer(ctx, bus.ConsumerOptions{Durable: "ingest", Filter: event.SubjectAll})
	if err != nil {
		tb.Fatal(err)
	}
	w := &Ingest{Source: cons, Store: st}
	rctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); w.Run(rctx) }()
	r := &rig{bus: b, store: st, w: w}
	r.stop = func() { cancel(); cons.Stop(); wg.Wait(); b.Close(); st.Close() }
	tb.Cleanup(r.stop)
	return r
}

// publish sends events the way sensors do, through an Emitter, and waits
// until the bus has stored them all.
func (r *rig) publish(tb testing.TB, events []event.Event) {
	tb.Helper()
	em := r.bus.NewEmitter(65536)
	for _, e := range events {
		em.Emit(e)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	em.Close(ctx)
	if em.Acked() != int64(len(events)) {
		tb.Fatalf("bus acknowledged %d of %d events", em.Acked(), len(events))
	}
}

func (r *rig) waitIngested(tb testing.TB, n int64) {
	tb.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for r.w.Ingested() < n {
		if time.Now().After(deadline) {
			tb.Fatalf("ingested %d of %d", r.w.Ingested(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestIngestEndToEnd(t *testing.T) {
	r := newRig(t)
	events := eventtest.AttackWave(90) // 10 sessions
	r.publish(t, events)
	r.waitIngested(t, int64(len(events)))
	ctx := context.Background()

	_, total, err := r.store.Events(ctx, store.Page{Limit: 1})
	if err != nil || total != 90 {
		t.Fatalf("events total = %d, %v; want 90", total, err)
	}
	atk, err := r.store.AttackerByIP(ctx, events[0].SrcIP)
	if err != nil {
		t.Fatal(err)
	}
	if atk.EventCount != 9 || atk.CredentialCount != 3 || atk.CommandCount != 4 || atk.SessionCount != 1 {
		t.Errorf("attacker counts = %+v", atk)
	}
	sessions, _, _ := r.store.Sessions(ctx, store.Page{Limit: 10, AttackerIP: events[0].SrcIP})
	if len(sessions) != 1 || sessions[0].EventCount != 9 || sessions[0].EndedAt == nil || sessions[0].CommandCount != 4 {
		t.Errorf("sessions = %+v", sessions)
	}

	// Redelivery of the same events (a consumer crash before ack) changes nothing.
	if _, err := r.store.IngestBatch(ctx, events); err != nil {
		t.Fatal(err)
	}
	again, _ := r.store.AttackerByIP(ctx, events[0].SrcIP)
	if again.EventCount != atk.EventCount {
		t.Errorf("redelivery changed event_count %d → %d", atk.EventCount, again.EventCount)
	}
	creds, ctotal, _ := r.store.Credentials(ctx, store.Page{Limit: 100})
	sum := 0
	for _, c := range creds {
		sum += c.AttemptCount
	}
	if sum != 30 || ctotal == 0 {
		t.Errorf("credential attempts = %d over %d rows; want 30", sum, ctotal)
	}
}

func TestIngestDiscardsInvalid(t *testing.T) {
	r := newRig(t)
	bad := event.New("decky-01", "ssh", "connect")
	bad.SrcIP = "not-an-ip"
	good := eventtest.AttackWave(1)
	if err := r.bus.Publish(context.Background(), bad); err != nil {
		t.Fatal(err)
	}
	r.publish(t, good)
	r.waitIngested(t, 1)
	deadline := time.Now().Add(5 * time.Second)
	for r.w.Discarded() != 1 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if r.w.Discarded() != 1 {
		t.Fatalf("discarded = %d, want 1", r.w.Discarded())
	}
}

// BenchmarkIngest measures events through JetStream into SQLite: publish
// b.N events of a realistic mix, wait until all are committed.
func BenchmarkIngest(b *testing.B) {
	r := newRig(b)
	events := eventtest.AttackWave(b.N)
	b.ResetTimer()
	start := time.Now()
	r.publish(b, events)
	r.waitIngested(b, int64(b.N))
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}
