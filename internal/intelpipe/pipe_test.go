package intelpipe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/decnet-go/decnet/internal/bus"
	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/intel"
	"github.com/decnet-go/decnet/internal/prober"
	"github.com/decnet-go/decnet/internal/store"
)

// published records what a stage publishes.
type published struct {
	mu   sync.Mutex
	msgs []msg
}

type msg struct {
	subject string
	payload map[string]any
}

func (p *published) publish(subject string, payload any) {
	b, _ := json.Marshal(payload)
	var m map[string]any
	json.Unmarshal(b, &m)
	p.mu.Lock()
	p.msgs = append(p.msgs, msg{subject, m})
	p.mu.Unlock()
}

func (p *published) count(prefix string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, m := range p.msgs {
		if strings.HasPrefix(m.subject, prefix) {
			n++
		}
	}
	return n
}

// fixture is a pipeline over a fresh SQLite store, without a bus: the
// handlers are called directly, as the consumers would.
type fixture struct {
	p   *Pipeline
	st  *store.Store
	pub *published
	dir string
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(context.Background(), filepath.Join(dir, "decnet.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	pub := &published{}
	p := &Pipeline{cfg: Config{Store: st, DataDir: dir, Publish: pub.publish}, log: slog.New(slog.DiscardHandler)}
	return &fixture{p: p, st: st, pub: pub, dir: dir}
}

// attacker makes the attacker row of ip, as the ingest worker would.
func (f *fixture) attacker(t testing.TB, ip string) string {
	t.Helper()
	e := event.New("decky-01", "ssh", event.TypeConnect)
	e.SrcIP, e.SrcPort = ip, 40000
	if _, err := f.st.IngestBatch(context.Background(), []event.Event{e}); err != nil {
		t.Fatal(err)
	}
	a, err := f.st.AttackerByIP(context.Background(), ip)
	if err != nil {
		t.Fatal(err)
	}
	return a.UUID
}

// recording writes an asciicast of commands typed gap apart (0: pasted)
// under the decky's ssh state directory and returns its session_recorded
// event.
func (f *fixture) recording(t testing.TB, ip, name string, gap float64, commands ...string) event.Event {
	t.Helper()
	dir := filepath.Join(f.dir, "deckies", "decky-01", "ssh", "transcripts")
	os.MkdirAll(dir, 0o750)
	var b strings.Builder
	fmt.Fprintf(&b, `{"version":2,"width":120,"height":40,"timestamp":%d,"env":{"SHELL":"/bin/bash","TERM":"xterm"}}`+"\n", time.Now().Unix()-60)
	at := 0.5
	out := func(s string) { fmt.Fprintf(&b, "[%.3f,\"o\",%q]\n", at, s) }
	out("root@host:~# ")
	for _, c := range commands {
		at += 1.2
		line := c + "\r"
		if gap == 0 {
			fmt.Fprintf(&b, "[%.3f,\"i\",%q]\n", at, line)
		} else {
			for i, r := range line {
				fmt.Fprintf(&b, "[%.3f,\"i\",%q]\n", at, string(r))
				at += gap * (1 + float64(i%3)/3)
			}
		}
		at += 0.05
		out("\r\noutput\r\nroot@host:~# ")
	}
	if err := os.WriteFile(filepath.Join(dir, name), []byte(b.String()), 0o640); err != nil {
		t.Fatal(err)
	}
	e := event.New("decky-01", "ssh", typeSessionRecorded)
	e.SrcIP = ip
	e.Fields = map[string]any{"stored_as": "transcripts/" + name, "sid": strings.TrimSuffix(name, ".cast"), "tty": true}
	return e
}

func TestBehaveAndAttributionAreIdempotent(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	uuid := f.attacker(t, "198.51.100.7")
	e := f.recording(t, "198.51.100.7", "s1.cast", 0.12, "uname -a", "cat /etc/passwd", "ls -la /tmp")

	if err := behaveOne(ctx, f.p, e); err != nil {
		t.Fatal(err)
	}
	n := f.pub.count(TopicObservationPrefix)
	if n < 5 {
		t.Fatalf("%d observations published; want the session's primitives", n)
	}
	changed := f.pub.count("attribution.profile.state_changed")
	if changed != n {
		t.Errorf("%d state_changed for %d new primitives", changed, n)
	}
	// Redelivery of the same event: nothing new stored or published.
	if err := behaveOne(ctx, f.p, e); err != nil {
		t.Fatal(err)
	}
	if got := f.pub.count(""); got != n+changed {
		t.Errorf("redelivery published %d more messages", got-n-changed)
	}
	latest, err := f.st.LatestObservationPerPrimitive(ctx, uuid)
	if err != nil || len(latest) != n {
		t.Errorf("latest observations = %d (%v); want %d", len(latest), err, n)
	}
	id, _ := f.st.EnsureStubIdentityForAttacker(ctx, uuid)
	st, err := f.st.AttributionState(ctx, id, "motor.input_modality")
	if err != nil || st.ObservationCount != 1 || st.State != store.AttributionUnknown {
		t.Errorf("attribution state = %+v, %v; want unknown over one observation", st, err)
	}

	// A second and third session typed the same way: the categorical
	// primitives settle, which is a transition.
	for i := 2; i <= 3; i++ {
		e := f.recording(t, "198.51.100.7", fmt.Sprintf("s%d.cast", i), 0.12, "uname -a", "id", "ls -la /tmp")
		if err := behaveOne(ctx, f.p, e); err != nil {
			t.Fatal(err)
		}
	}
	st, _ = f.st.AttributionState(ctx, id, "motor.input_modality")
	if st.ObservationCount != 3 || st.State != store.AttributionStable || string(st.CurrentValue) != `"typed"` {
		t.Errorf("after three typed sessions input_modality = %+v; want stable typed", st)
	}
}

func TestBehaveDefersUntilTheAttackerExists(t *testing.T) {
	f := newFixture(t)
	e := f.recording(t, "198.51.100.8", "s.cast", 0.1, "id")
	err := behaveOne(context.Background(), f.p, e)
	if _, ok := err.(*retryError); !ok {
		t.Fatalf("behave without an attacker row = %v; want a retry", err)
	}
	if f.pub.count("") != 0 {
		t.Error("published before storing")
	}
}

func TestRecordingPathMustStayInside(t *testing.T) {
	f := newFixture(t)
	for _, storedAs := range []string{"../../../etc/passwd", "/etc/passwd", "", "transcripts/../../../x"} {
		e := event.New("decky-01", "ssh", typeSessionRecorded)
		e.Fields = map[string]any{"stored_as": storedAs, "sid": "x"}
		if _, ok := f.p.recordingOf(e); ok {
			t.Errorf("stored_as %q accepted", storedAs)
		}
	}
	// A symlink in the state directory pointing outside is refused too.
	dir := filepath.Join(f.dir, "deckies", "decky-01", "ssh", "transcripts")
	os.MkdirAll(dir, 0o750)
	outside := filepath.Join(t.TempDir(), "secret.cast")
	os.WriteFile(outside, []byte(`{"version":2,"width":80,"height":24}`+"\n"), 0o600)
	os.Symlink(outside, filepath.Join(dir, "link.cast"))
	if _, err := f.p.analyze(recording{rel: "decky-01/ssh/transcripts/link.cast", ref: "r"}); err == nil {
		t.Error("a symlink out of the data directory was followed")
	}
}

type fakeProvider struct{ asked chan netip.Addr }

func (p fakeProvider) Name() string { return "fake" }
func (p fakeProvider) Lookup(_ context.Context, ip netip.Addr) (intel.Verdict, error) {
	p.asked <- ip
	return intel.Verdict{Level: intel.LevelMalicious, Malicious: true}, nil
}

func TestEnrichmentAsksOncePerPublicAddress(t *testing.T) {
	f := newFixture(t)
	asked := make(chan netip.Addr, 10)
	f.p.cfg.Enricher = intel.NewEnricher(intel.EnricherConfig{Providers: []intel.IntelProvider{fakeProvider{asked}}})
	f.p.enrichQ = make(chan netip.Addr, 8)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go f.p.enrichLoop(ctx)
	for _, ip := range []string{"127.0.0.1", "10.1.2.3", "192.168.1.1", "203.0.113.5", "203.0.113.5"} {
		e := event.New("decky-01", "ssh", event.TypeConnect)
		e.SrcIP = ip
		f.p.hashes(ctx, e)
	}
	select {
	case a := <-asked:
		if a.String() != "203.0.113.5" {
			t.Fatalf("asked about %s", a)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the public address was not enriched")
	}
	time.Sleep(100 * time.Millisecond)
	if len(asked) != 0 {
		t.Errorf("asked %d more times (private addresses or a repeat)", len(asked))
	}
	deadline := time.Now().Add(5 * time.Second)
	for f.pub.count(TopicIntelEnriched) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if f.pub.count(TopicIntelEnriched) != 1 {
		t.Errorf("%d attacker.intel.enriched messages; want 1", f.pub.count(TopicIntelEnriched))
	}
}

func TestProbeRotationPublishes(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	uuid := f.attacker(t, "198.51.100.9")
	ip := netip.MustParseAddr("198.51.100.9")
	at := time.Now()
	for _, h := range []string{"aaaa", "aaaa", "bbbb", prober.ZeroJARM} {
		f.p.probed(ctx, prober.Result{AttackerIP: ip, Port: 443, ProbeType: prober.JARMProbe, Hash: h, At: at})
		at = at.Add(time.Minute)
	}
	if n := f.pub.count(TopicFingerprinted); n != 3 {
		t.Errorf("%d attacker.fingerprinted; want 3 (the zero JARM is no fingerprint)", n)
	}
	if n := f.pub.count(prober.RotatedTopic); n != 1 {
		t.Fatalf("%d rotations published; want 1", n)
	}
	var rot map[string]any
	for _, m := range f.pub.msgs {
		if m.subject == prober.RotatedTopic {
			rot = m.payload
		}
	}
	for k, want := range map[string]any{"attacker_uuid": uuid, "old_hash": "aaaa", "new_hash": "bbbb",
		"rotation_count": float64(1), "port": float64(443), "probe_type": "jarm"} {
		if rot[k] != want {
			t.Errorf("rotation %s = %v; want %v", k, rot[k], want)
		}
	}
	n, last, err := f.st.AttackerRotation(ctx, uuid)
	if err != nil || n != 1 || last == nil {
		t.Errorf("attacker rotation = %d %v %v", n, last, err)
	}
}

// BenchmarkPipelineStages measures the BEHAVE and attribution stages on
// one recorded session each iteration (bus excluded): sessions/s from a
// session_recorded event to observations and attribution rows committed.
func BenchmarkPipelineStages(b *testing.B) {
	ctx := context.Background()
	f := newFixture(b)
	f.attacker(b, "198.51.100.10")
	f.p.cfg.Publish = func(string, any) {}
	var events []event.Event
	for i := range b.N {
		events = append(events, f.recording(b, "198.51.100.10", fmt.Sprintf("b%d.cast", i), 0.1, "uname -a", "id", "ls -la /tmp"))
	}
	b.ResetTimer()
	for _, e := range events {
		if err := behaveOne(ctx, f.p, e); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sessions/s")
}

// BenchmarkStagesFromBus runs the real consumers on an embedded bus: raw
// events (1 in 100 a captured file, the rest connections of 1,000
// sources) are published, and the clock stops when every intel consumer
// has acknowledged all of them. events/s is bus to final tables.
func BenchmarkStagesFromBus(b *testing.B) {
	ctx := context.Background()
	f := newFixture(b)
	bs := openBus(b)
	var evs []event.Event
	for i := range 1000 {
		f.attacker(b, fmt.Sprintf("198.51.%d.%d", 100+i/250, i%250+1))
	}
	n := max(b.N, 1000)
	for i := range n {
		e := event.New("decky-01", "ssh", event.TypeConnect)
		e.SrcIP = fmt.Sprintf("198.51.%d.%d", 100+(i%1000)/250, (i%1000)%250+1)
		if i%100 == 0 {
			e.Type = event.TypeFileCaptured
			e.Fields = map[string]any{"sha256": fmt.Sprintf("%064x", i), "orig_path": "/tmp/x.sh"}
		}
		evs = append(evs, e)
	}
	em := bs.NewEmitter(len(evs))
	for _, e := range evs {
		em.Emit(e)
	}
	em.Close(ctx)
	b.ResetTimer()
	p, err := Start(ctx, Config{Bus: bs, Store: f.st, DataDir: f.dir, Publish: func(string, any) {},
		Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Stop()
	for _, d := range []string{DurableIntel, DurableBehave} {
		for {
			left, err := bs.Pending(ctx, d)
			if err == nil && left == 0 {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	b.StopTimer()
	if a, err := f.st.ObservedAttachment(ctx, fmt.Sprintf("%064x", (n-1)/100*100)); err != nil || a.FirstSeenAttackerUUID == "" {
		b.Fatalf("last captured file not recorded: %+v %v", a, err)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}

type fakeHashes map[string]bool

func (fakeHashes) Name() string { return "fakebazaar" }
func (h fakeHashes) IsMalicious(_ context.Context, sha string) (bool, intel.Verdict, error) {
	return h[sha], intel.Verdict{Provider: "fakebazaar", Malicious: h[sha]}, nil
}

// TestEmailReceived: message_stored becomes email.received without
// recipient addresses, with mal_hash_match only when the message had
// attachments, true when one of them is known bad.
func TestEmailReceived(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	bad, good := strings.Repeat("ab", 32), strings.Repeat("cd", 32)
	f.p.cfg.Enricher = intel.NewEnricher(intel.EnricherConfig{Hashes: []intel.MalHashProvider{fakeHashes{bad: true}}})
	f.attacker(t, "198.51.100.30")
	mail := func(id string, atts ...string) {
		t.Helper()
		e := event.New("decky-01", "smtp", "message_stored")
		e.SrcIP = "198.51.100.30"
		var list []string
		for i, sha := range atts {
			list = append(list, fmt.Sprintf(`{"filename":"invoice%d.doc","sha256":%q}`, i, sha))
		}
		e.Fields = map[string]any{"msg_id": id, "subject": "Invoice", "mail_from_domain": "example.net",
			"rcpt_count": 2, "attachments_json": "[" + strings.Join(list, ",") + "]"}
		if err := f.p.hashes(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	mail("m1", good, bad)
	mail("m2", good)
	mail("m3")
	got := map[string]map[string]any{}
	for _, m := range f.pub.payloads(TopicEmailReceived) {
		got[m["msg_id"].(string)] = m
	}
	if len(got) != 3 {
		t.Fatalf("email.received: %v", got)
	}
	if m := got["m1"]; m["mal_hash_match"] != true || m["attachment_count"] != float64(2) || m["source_id"] != "m1" || m["attacker_uuid"] == nil {
		t.Errorf("m1: %v", m)
	}
	if m := got["m2"]; m["mal_hash_match"] != false {
		t.Errorf("m2: %v", m)
	}
	if _, ok := got["m3"]["mal_hash_match"]; ok {
		t.Errorf("m3 has no attachment but carries mal_hash_match: %v", got["m3"])
	}
	for _, m := range got {
		for k := range m {
			if strings.Contains(k, "rcpt_to") || k == "body" || k == "mail_from" {
				t.Errorf("email.received carries %s", k)
			}
		}
	}
}

// TestBehaveBatch: two sessions of one attacker in one batch are stored
// together and attributed once over both; the same batch again stores and
// publishes nothing new.
func TestBehaveBatch(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.attacker(t, "198.51.100.61")
	e1 := f.recording(t, "198.51.100.61", "b1.cast", 0.12, "uname -a", "id")
	e2 := f.recording(t, "198.51.100.61", "b2.cast", 0.15, "cat /etc/passwd", "ls /tmp")
	for _, err := range f.p.behaveBatch(ctx, []event.Event{e1, e2}) {
		if err != nil {
			t.Fatal(err)
		}
	}
	uuid := f.attacker(t, "198.51.100.61")
	identity, err := f.st.EnsureStubIdentityForAttacker(ctx, uuid)
	if err != nil {
		t.Fatal(err)
	}
	states, err := f.st.AttributionStates(ctx, identity)
	if err != nil || len(states) == 0 {
		t.Fatalf("attribution: %v %v", states, err)
	}
	for _, st := range states {
		if st.ObservationCount > 2 || st.ObservationCount < 1 {
			t.Errorf("%s: %d observations", st.Primitive, st.ObservationCount)
		}
	}
	changed := f.pub.count("attribution.profile.state_changed")
	if changed != len(states) {
		t.Errorf("%d state_changed for %d states: one per primitive, not per session", changed, len(states))
	}
	before := f.pub.count("")
	for _, err := range f.p.behaveBatch(ctx, []event.Event{e1, e2}) {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := f.pub.count(""); n != before {
		t.Errorf("a replayed batch published %d more", n-before)
	}
}

// openBus is an embedded bus on a temporary directory, closed when the
// test ends.
func openBus(tb testing.TB) *bus.Bus {
	tb.Helper()
	bs, err := bus.Open(context.Background(), bus.Options{DataDir: tb.TempDir(), Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(bs.Close)
	return bs
}

// behaveOne runs the BEHAVE and attribution stage on one event.
func behaveOne(ctx context.Context, p *Pipeline, e event.Event) error {
	return p.behaveBatch(ctx, []event.Event{e})[0]
}

// TestWorse: stages sharing a consumer report, per event, the outcome that
// asks the most of the bus.
func TestWorse(t *testing.T) {
	hard := errors.New("store down")
	short, long := retryLater(time.Second, "a"), retryLater(5*time.Second, "b")
	for _, tc := range []struct{ a, b, want error }{
		{nil, nil, nil}, {nil, short, short}, {short, nil, short},
		{short, long, long}, {long, short, long}, {short, hard, hard}, {hard, long, hard},
	} {
		if got := worse(tc.a, tc.b); got != tc.want {
			t.Errorf("worse(%v, %v) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

// TestRetiredConsumersDropped: the per-stage consumers of earlier versions
// are deleted when the pipeline starts.
func TestRetiredConsumersDropped(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	bs := openBus(t)
	for _, d := range retiredDurables {
		c, err := bs.Consumer(ctx, bus.ConsumerOptions{Durable: d, Filter: event.SubjectAll})
		if err != nil {
			t.Fatal(err)
		}
		c.Stop()
	}
	p, err := Start(ctx, Config{Bus: bs, Store: f.st, DataDir: f.dir, Publish: func(string, any) {}, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	for _, d := range retiredDurables {
		if _, err := bs.Pending(ctx, d); err == nil {
			t.Errorf("consumer %s still there", d)
		}
	}
	if _, err := bs.Pending(ctx, DurableIntel); err != nil {
		t.Errorf("consumer %s: %v", DurableIntel, err)
	}
}
