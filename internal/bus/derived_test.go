package bus

import (
	"context"
	"testing"
	"time"
)

// TestDerivedStreamKeepsCorePublishes: a plain core NATS publish on a
// derived subject is kept by the DERIVED stream and handed to a durable
// consumer that subscribed afterwards; ttp.> (the TTP worker's own output)
// and raw events are not on it. An unacknowledged message stays pending.
func TestDerivedStreamKeepsCorePublishes(t *testing.T) {
	ctx := context.Background()
	b := open(t, Options{DataDir: t.TempDir()})
	nc := b.Conn()
	for _, subj := range []string{"identity.formed", "ttp.tagged", "credential.reuse.detected", "attacker.intel.enriched"} {
		if err := nc.Publish(subj, []byte(`{"identity_uuid":"i1"}`)); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Publish(ctx, sample(1)...); err != nil { // raw: EVENTS only
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	c, err := b.DerivedConsumer(ctx, ConsumerOptions{Durable: "d1", Filters: []string{"identity.formed", "credential.reuse.detected"}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	deadline := time.Now().Add(5 * time.Second)
	var first Message
	for len(got) < 2 && time.Now().Before(deadline) {
		nctx, cancel := context.WithTimeout(ctx, time.Second)
		ms, err := c.Next(nctx, 10, 10*time.Millisecond)
		cancel()
		if err != nil {
			continue
		}
		for _, m := range ms {
			got[m.Subject] = true
			if m.Subject == "identity.formed" {
				first = m // left unacknowledged
				continue
			}
			if err := m.Ack(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if !got["identity.formed"] || !got["credential.reuse.detected"] || len(got) != 2 {
		t.Fatalf("consumed %v", got)
	}
	if string(first.Data) != `{"identity_uuid":"i1"}` {
		t.Errorf("data %q", first.Data)
	}
	info, err := b.js.Stream(ctx, DerivedStream)
	if err != nil {
		t.Fatal(err)
	}
	if n := info.CachedInfo().State.Msgs; n != 3 { // identity, credential, intel; not ttp.tagged, not the raw event
		t.Errorf("DERIVED holds %d messages, want 3", n)
	}
	if p, err := b.DerivedPending(ctx, "d1"); err != nil || p != 1 {
		t.Errorf("pending %d, %v; want the unacknowledged one", p, err)
	}
}
