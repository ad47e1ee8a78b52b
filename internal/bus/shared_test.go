package bus

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// TestConsumersShareDecoding: two consumers of the same messages get equal
// events from one decoding (the same slice), and a consumer further behind
// than the cache holds still gets every event, decoded on its own.
func TestConsumersShareDecoding(t *testing.T) {
	old := sharedBudget
	defer func() { sharedBudget = old }()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b := open(t, Options{DataDir: t.TempDir()})
	const messages = 40
	var want []string
	for i := range messages {
		evs := sample(8)
		for j := range evs {
			evs[j].ID = fmt.Sprintf("m%02d-e%d", i, j)
			want = append(want, evs[j].ID)
		}
		if err := b.Publish(ctx, evs...); err != nil {
			t.Fatal(err)
		}
	}
	read := func(name string, n int) []Delivery {
		c, err := b.Consumer(ctx, ConsumerOptions{Durable: name, Filter: "events.>"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Stop)
		var out []Delivery
		for len(out) < n {
			ds, err := c.Next(ctx, n-len(out), 10*time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range ds {
				if d.Err != nil {
					t.Fatal(d.Err)
				}
				d.Ack()
			}
			out = append(out, ds...)
		}
		return out
	}
	a := read("share-a", messages)
	bb := read("share-b", messages)
	for i := range a {
		if &a[i].Events[0] != &bb[i].Events[0] {
			t.Fatalf("message %d was decoded twice", i)
		}
	}
	// With a budget of about five messages, a third consumer fills and
	// drains the cache as it goes; a fourth, starting behind everything
	// the cache dropped, decodes alone and leaves the cache as it is.
	_, data, err := encode(sample(8))
	if err != nil {
		t.Fatal(err)
	}
	sharedBudget = 5 * len(data)
	b.shared.mu.Lock()
	b.shared.m, b.shared.order, b.shared.bytes = nil, nil, 0
	b.shared.mu.Unlock()
	ids := func(ds []Delivery) string {
		var got []string
		for _, d := range ds {
			for _, e := range d.Events {
				got = append(got, e.ID)
			}
		}
		return fmt.Sprint(got)
	}
	if got := ids(read("share-c", messages)); got != fmt.Sprint(want) {
		t.Fatalf("third consumer got %v, want %v", got, want)
	}
	b.shared.mu.Lock()
	kept := fmt.Sprint(b.shared.order)
	b.shared.mu.Unlock()
	if got := ids(read("share-d", messages)); got != fmt.Sprint(want) {
		t.Fatalf("late consumer got %v, want %v", got, want)
	}
	b.shared.mu.Lock()
	defer b.shared.mu.Unlock()
	if b.shared.bytes > sharedBudget || len(b.shared.m) != len(b.shared.order) {
		t.Fatalf("cache holds %d bytes in %d entries (%d ordered), budget %d", b.shared.bytes, len(b.shared.m), len(b.shared.order), sharedBudget)
	}
	if now := fmt.Sprint(b.shared.order); now != kept {
		t.Fatalf("a consumer behind the cache changed it: %s, was %s", now, kept)
	}
}
