package bus

import (
	"context"
	"testing"
	"time"

	"github.com/decnet-go/decnet/internal/event"
)

func sample(n int) []event.Event {
	out := make([]event.Event, n)
	for i := range out {
		out[i] = event.New("decky-01", "ssh", event.TypeLoginAttempt)
		out[i].SrcIP = "198.51.100.7"
		out[i].Fields = map[string]any{"username": "root", "n": float64(i)}
	}
	return out
}

func open(t *testing.T, o Options) *Bus {
	t.Helper()
	b, err := Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b
}

// TestExternalServer: a second bus connects to the first one's listener by
// URL, as a sensor on another host would, and both see the same stream.
func TestExternalServer(t *testing.T) {
	ctx := context.Background()
	host := open(t, Options{DataDir: t.TempDir(), Listen: "127.0.0.1:0"})
	if host.ListenAddr() == "" {
		t.Fatal("embedded server has no listener")
	}
	sensor := open(t, Options{URL: "nats://" + host.ListenAddr()})
	if err := sensor.Publish(ctx, sample(3)...); err != nil {
		t.Fatal(err)
	}
	c, err := host.Consumer(ctx, ConsumerOptions{Durable: "test", Filter: event.SubjectAll})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	ds, err := c.Next(ctx, 10, 50*time.Millisecond)
	if err != nil || len(ds) != 1 || len(ds[0].Events) != 3 || ds[0].Events[2].Fields["n"] != float64(2) {
		t.Fatalf("Next = %+v, %v; want one message of 3 events", ds, err)
	}
}

// TestTokenRequired: with a token, the listener refuses clients without
// it (a host on the deckies' network cannot forge events), while the
// control process's in-process connection and clients that give it work.
func TestTokenRequired(t *testing.T) {
	ctx := context.Background()
	host := open(t, Options{DataDir: t.TempDir(), Listen: "127.0.0.1:0", Token: "s3cret-token"})
	if err := host.Publish(ctx, sample(1)...); err != nil {
		t.Fatalf("in-process publish: %v", err)
	}
	if b, err := Open(ctx, Options{URL: "nats://" + host.ListenAddr()}); err == nil {
		b.Close()
		t.Fatal("a client without the token connected")
	}
	sensor := open(t, Options{URL: "nats://s3cret-token@" + host.ListenAddr()})
	if err := sensor.Publish(ctx, sample(2)...); err != nil {
		t.Fatal(err)
	}
}

// TestUnackedRedelivered: a process that stops before acking gets the same
// events again after a restart, and an ack stops that.
func TestUnackedRedelivered(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	dir := t.TempDir()
	b, err := Open(ctx, Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	want := sample(1)[0]
	if err := b.Publish(ctx, want); err != nil {
		t.Fatal(err)
	}
	opts := ConsumerOptions{Durable: "ingest", Filter: event.SubjectAll, AckWait: time.Second}
	c, _ := b.Consumer(ctx, opts)
	ds, err := c.Next(ctx, 10, 10*time.Millisecond)
	if err != nil || ds[0].Events[0].ID != want.ID {
		t.Fatalf("first delivery: %v %v", ds, err)
	}
	// Killed before the ack.
	c.Stop()
	b.Close()

	b = open(t, Options{DataDir: dir})
	c, _ = b.Consumer(ctx, opts)
	defer c.Stop()
	ds, err = c.Next(ctx, 10, 10*time.Millisecond)
	if err != nil || ds[0].Events[0].ID != want.ID {
		t.Fatalf("redelivery: %v %v", ds, err)
	}
	ds[0].Ack()
	if p := waitPending(t, b, "ingest"); p != 0 {
		t.Errorf("pending after ack = %d", p)
	}
}

func waitPending(t *testing.T, b *Bus, durable string) uint64 {
	t.Helper()
	var p uint64
	for i := 0; i < 100; i++ {
		var err error
		if p, err = b.Pending(context.Background(), durable); err == nil && p == 0 {
			return 0
		}
		time.Sleep(20 * time.Millisecond)
	}
	return p
}

func TestEmitterGroupsAndAcks(t *testing.T) {
	b := open(t, Options{DataDir: t.TempDir()})
	em := b.NewEmitter(1024)
	events := sample(500)
	other := event.New("decky-02", "http", event.TypeRequest)
	for _, e := range events {
		em.Emit(e)
	}
	em.Emit(other)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	em.Close(ctx)
	if em.Acked() != 501 || em.Dropped() != 0 {
		t.Fatalf("acked %d dropped %d; want 501 and 0", em.Acked(), em.Dropped())
	}
	c, _ := b.Consumer(ctx, ConsumerOptions{Durable: "check", Filter: event.SubjectAll})
	defer c.Stop()
	seen := map[string]bool{}
	for len(seen) < 501 {
		ds, err := c.Next(ctx, 100, 20*time.Millisecond)
		if err != nil {
			t.Fatalf("after %d events: %v", len(seen), err)
		}
		for _, d := range ds {
			subject := d.Events[0].Subject()
			for _, e := range d.Events {
				if e.Subject() != subject {
					t.Fatalf("message mixes %s and %s", subject, e.Subject())
				}
				seen[e.ID] = true
			}
		}
	}
}

func TestEncodeRejectsMixedSubjects(t *testing.T) {
	a, b := sample(1)[0], event.New("decky-02", "ssh", event.TypeLoginAttempt)
	if _, _, err := encode([]event.Event{a, b}); err == nil {
		t.Fatal("encode accepted events of two subjects in one message")
	}
	if _, _, err := encode(nil); err == nil {
		t.Fatal("encode accepted an empty message")
	}
}

func FuzzDecodeEvents(f *testing.F) {
	one, _ := jsonMarshal(sample(1)[0])
	many, _ := jsonMarshal(sample(3))
	for _, s := range [][]byte{one, many, []byte(`[]`), []byte(`{"id":1}`), []byte(" [{}]"), []byte("\xff")} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		evs, err := decodeEvents(data)
		if err == nil {
			for _, e := range evs {
				_ = e.Validate()
			}
		}
	})
}
