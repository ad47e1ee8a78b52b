package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/honeypot/hptest"
	"github.com/decnet-go/decnet/internal/store"
	"github.com/decnet-go/decnet/internal/testkit/gate"
)

// TestSIGKILLLosesNothing kills `decnet up` with SIGKILL while events are
// being ingested, starts it again on the same data directory, and checks
// that every event the bus acknowledged is stored exactly once.
func TestSIGKILLLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	goBin := gate.Tool(t, "go")
	dir := t.TempDir()
	bin := filepath.Join(dir, "decnet")
	if out, err := exec.Command(goBin, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	data := filepath.Join(dir, "data")
	natsAddr := hptest.FreeAddr(t)

	proc := startUp(t, bin, data, natsAddr)
	js := connect(t, natsAddr)

	var mu sync.Mutex
	var acked []string
	stop := make(chan struct{})
	var publishers sync.WaitGroup
	// Several publishers keep the pipeline busy, so the kill is likely to
	// land while a batch is between delivery and commit.
	for p := 0; p < 4; p++ {
		publishers.Add(1)
		go func() {
			defer publishers.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				e := event.New("decky-01", "ssh", event.TypeLoginAttempt)
				e.SrcIP, e.SrcPort, e.Session = "203.0.113.9", 40000+i%1000, fmt.Sprintf("s-%d-%d", p, i/10)
				e.Credential = event.NewCredential("root", "plaintext", []byte(fmt.Sprintf("pw%d", i%37)), event.OutcomeFailure)
				data, _ := jsonEvent(e)
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				_, err := js.Publish(ctx, e.Subject(), data, jetstream.WithMsgID(e.ID))
				cancel()
				if err == nil {
					mu.Lock()
					acked = append(acked, e.ID)
					mu.Unlock()
				}
			}
		}()
	}
	// Let a few thousand events through, then kill mid-stream.
	waitFor(t, 30*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return len(acked) >= 5000 })
	if err := proc.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	proc.Wait()
	close(stop)
	publishers.Wait()
	mu.Lock()
	want := append([]string(nil), acked...)
	mu.Unlock()
	t.Logf("%d events acknowledged before SIGKILL", len(want))

	// Start again: the pipeline resumes from the bus; then stop cleanly.
	proc = startUp(t, bin, data, natsAddr)
	st := openStore(t, data)
	stored := func() int {
		_, total, _ := st.Events(context.Background(), store.Page{Limit: 1, AttackerIP: "203.0.113.9"})
		return total
	}
	if !poll(60*time.Second, func() bool { return stored() >= len(want) }) {
		// Say where the missing events are: still on the bus, or gone.
		js := connect(t, natsAddr)
		if c, err := js.Consumer(context.Background(), "EVENTS", "ingest"); err == nil {
			if info, err := c.Info(context.Background()); err == nil {
				t.Logf("consumer after restart: pending %d, ack pending %d, redelivered %d, delivered %+v, ack floor %+v",
					info.NumPending, info.NumAckPending, info.NumRedelivered, info.Delivered, info.AckFloor)
			}
		}
		if s, err := js.Stream(context.Background(), "EVENTS"); err == nil {
			if info, err := s.Info(context.Background()); err == nil {
				t.Logf("stream after restart: %d messages, seq %d..%d", info.State.Msgs, info.State.FirstSeq, info.State.LastSeq)
			}
		}
		have := storedIDs(t, st)
		missing := []int{}
		for i, id := range want {
			if have[id] == 0 {
				missing = append(missing, i)
			}
		}
		_, all, _ := st.Events(context.Background(), store.Page{Limit: 1})
		t.Fatalf("after restart the store holds %d of the %d acknowledged events (%d events in all); missing (by publish order): %v",
			stored(), len(want), all, missing)
	}
	proc.Process.Signal(syscall.SIGTERM)
	if err := proc.Wait(); err != nil {
		t.Errorf("clean shutdown after restart: %v", err)
	}

	ctx := context.Background()
	byID := storedIDs(t, st)
	for _, id := range want {
		if byID[id] != 1 {
			t.Fatalf("acknowledged event %s stored %d times", id, byID[id])
		}
	}
	// Exactly once in effect: the attacker profile counts each event once.
	a, err := st.AttackerByIP(ctx, "203.0.113.9")
	if err != nil {
		t.Fatal(err)
	}
	if a.EventCount != len(byID) || a.CredentialCount != len(byID) {
		t.Errorf("attacker counts events %d / credentials %d, store holds %d events", a.EventCount, a.CredentialCount, len(byID))
	}
}

// storedIDs counts the stored events of the test's attacker by event id.
func storedIDs(t *testing.T, st *store.Store) map[string]int {
	t.Helper()
	byID := map[string]int{}
	for off := 0; ; off += 1000 {
		rows, _, err := st.Events(context.Background(), store.Page{Limit: 1000, Offset: off, AttackerIP: "203.0.113.9"})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			byID[r.EventID]++
		}
		if len(rows) < 1000 {
			return byID
		}
	}
}

func startUp(t *testing.T, bin, data, natsAddr string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, "up", "--data-dir", data, "--listen", "127.0.0.1:0", "--nats-listen", natsAddr, "--log-level", "warn")
	cmd.Env = append(os.Environ(), "DECNET_ADMIN_PASSWORD=crash-test-password", "DECNET_CANARY_HTTP_LISTEN=127.0.0.1:0")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	up := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.Contains(sc.Text(), " is up") {
				close(up)
				break
			}
		}
		for sc.Scan() {
		}
	}()
	select {
	case <-up:
	case <-time.After(90 * time.Second):
		t.Fatal("decnet up did not come up")
	}
	return cmd
}

func connect(t *testing.T, addr string) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect("nats://"+addr, nats.MaxReconnects(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

func openStore(t *testing.T, data string) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(data, "decnet.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func waitFor(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	if !poll(d, cond) {
		t.Fatalf("condition not met within %v", d)
	}
}

// poll checks cond every 20 ms until it holds (true) or d passes (false).
func poll(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}
