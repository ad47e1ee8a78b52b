package intelpipe

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/decnet-go/decnet/internal/bus"
	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/store"
)

// payloads returns what was published on subject, in order.
func (p *published) payloads(subject string) []map[string]any {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []map[string]any
	for _, m := range p.msgs {
		if m.subject == subject {
			out = append(out, m.payload)
		}
	}
	return out
}

// ingested stores events as the ingest worker would and returns them.
func (f *fixture) ingested(t testing.TB, evs ...event.Event) []event.Event {
	t.Helper()
	if _, err := f.st.IngestBatch(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	return evs
}

// lootAll runs the loot stage on events, failing on any error.
func (f *fixture) lootAll(t testing.TB, evs ...event.Event) {
	t.Helper()
	for _, e := range evs {
		if err := lootOne(context.Background(), f.p, e); err != nil {
			t.Fatalf("loot %s (%s): %v", e.ID, e.Type, err)
		}
	}
}

func lootEvent(service, typ, ip, session string, fields map[string]any) event.Event {
	e := event.New("decky-01", service, typ)
	e.SrcIP, e.SrcPort, e.Session, e.Fields = ip, 40000, session, fields
	return e
}

const (
	testHASSH = "ec7378c1a92f5a8dde7e8b7a1ddf33d1"
	testJA3   = "771,4865-4866-4867,0-23-65281-10-11,29-23-24,0"
	testJA3H  = "cd08e31494f9531f560d64c695473da9"
	testJA4   = "t13d1516h2_8daaf6152771_02713d6af862"
)

func fingerprintTypes(fps []store.AttackerFingerprint) []string {
	var out []string
	for _, f := range fps {
		out = append(out, f.Type)
	}
	slices.Sort(out)
	return out
}

func TestLootFingerprints(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	const ip = "198.51.100.30"
	hello := lootEvent("ssh", "handshake", ip, "s1", map[string]any{"client_version": "SSH-2.0-libssh_0.9.6",
		"hassh": testHASSH, "hassh_algorithms": "curve25519-sha256;aes128-ctr;hmac-sha2-256;none"})
	tls := lootEvent("http", "tls_client_hello", ip, "s2", map[string]any{"ja3": testJA3, "ja3_hash": testJA3H, "ja4": testJA4})
	req := lootEvent("http", event.TypeRequest, ip, "s2", map[string]any{
		"user_agent":  "sqlmap/1.7.2#stable (https://sqlmap.org)",
		"headers":     `{"Host":"decky","User-Agent":"sqlmap/1.7.2#stable (https://sqlmap.org)","X-Forwarded-For":"10.20.0.5, 198.51.100.30","Forwarded":"for=\"[2001:db8::7]:4711\";proto=http"}`,
		"header_list": `[["Host","decky"],["User-Agent","sqlmap"],["X-Forwarded-For","10.20.0.5, 198.51.100.30"],["Forwarded","for=x"]]`,
	})
	file := lootEvent("ssh", event.TypeFileCaptured, ip, "s1", map[string]any{"sha256": fmt.Sprintf("%064x", 7),
		"stored_as": "2026-11-29T00:00:00Z_000000000000_x.sh", "orig_path": "/tmp/x.sh", "size": 12})
	f.ingested(t, hello, tls, req, file)
	uuid, _ := f.st.AttackerByIP(ctx, ip)

	cases := []struct {
		name      string
		events    []event.Event
		wantTypes []string // attacker.fingerprinted published by this step, by type
		restart   bool     // forget what the stage remembers first
	}{
		{"ssh hello: hassh and client version", []event.Event{hello}, []string{"hassh", "ssh_client_version"}, false},
		{"redelivered: nothing", []event.Event{hello}, nil, false},
		{"redelivered after a restart: nothing", []event.Event{hello}, nil, true},
		{"same hassh in another session: nothing", []event.Event{func() event.Event {
			e := hello
			e.ID, e.Session = event.New("decky-01", "ssh", "handshake").ID, "s3"
			f.ingested(t, e)
			return e
		}()}, nil, false},
		{"tls hello: ja3 and ja4", []event.Event{tls}, []string{"ja3", "ja4"}, false},
		{"http request: user agent and header order", []event.Event{req}, []string{"http_header_order", "http_useragent"}, false},
		{"captured file: no fingerprint", []event.Event{file}, nil, false},
		{"all again: nothing", []event.Event{hello, tls, req, file}, nil, false},
		{"all again after a restart: nothing", []event.Event{hello, tls, req, file}, nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.restart {
				f.p.lootMem = lootMemory{}
			}
			before := len(f.pub.payloads(TopicFingerprinted))
			f.lootAll(t, tc.events...)
			var got []string
			for _, p := range f.pub.payloads(TopicFingerprinted)[before:] {
				got = append(got, p["fingerprint_type"].(string))
				if p["attacker_uuid"] != uuid.UUID || p["attacker_ip"] != ip || p["value"] == "" || p["decky"] != "decky-01" {
					t.Errorf("payload %v", p)
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.wantTypes) {
				t.Errorf("published %v; want %v", got, tc.wantTypes)
			}
		})
	}

	fps, err := f.st.AttackerFingerprints(ctx, ip)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"hassh", "http_header_order", "http_useragent", "ja3", "ja4", "ssh_client_version"}; !slices.Equal(fingerprintTypes(fps), want) {
		t.Errorf("attacker fingerprints %v; want %v", fingerprintTypes(fps), want)
	}
	for _, fp := range fps {
		switch fp.Type {
		case "hassh":
			if fp.Value != testHASSH || fp.Sessions != 2 || fp.SessionID != "s1" {
				t.Errorf("hassh %+v", fp)
			}
		case "ja3":
			if fp.Value != testJA3H {
				t.Errorf("ja3 %+v", fp)
			}
		}
	}
	if sess, _ := f.st.SessionFingerprints(ctx, "s2"); len(sess) != 4 {
		t.Errorf("session s2 showed %+v; want ja3, ja4, user agent, header order", sess)
	}

	bounties, _, err := f.st.Bounties(ctx, store.BountyQuery{Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	byType := map[string][]map[string]any{}
	for _, b := range bounties {
		var p map[string]any
		json.Unmarshal(b.Payload, &p)
		byType[b.BountyType] = append(byType[b.BountyType], p)
	}
	if n := len(byType[store.BountyFingerprint]); n != 6 {
		t.Errorf("%d fingerprint bounties; want 6", n)
	}
	for _, p := range byType[store.BountyFingerprint] {
		if p["fingerprint_type"] == "hassh" && (p["hash"] != testHASSH || p["session_id"] != "s1" || p["algorithms"] == "") {
			t.Errorf("hassh bounty %v", p)
		}
		if p["fingerprint_type"] == "http_useragent" && !slices.Contains(p["tools"].([]any), any("sqlmap")) {
			t.Errorf("user agent bounty not classified: %v", p)
		}
	}
	var leaked []string
	for _, p := range byType[store.BountyIPLeak] {
		leaked = append(leaked, p["header"].(string)+"="+p["leaked_ip"].(string)+"/"+p["scope"].(string))
	}
	slices.Sort(leaked)
	if want := []string{"forwarded=2001:db8::7/public", "x-forwarded-for=10.20.0.5/private"}; !slices.Equal(leaked, want) {
		t.Errorf("ip leaks %v; want %v (the source address is no leak)", leaked, want)
	}
	if a := byType[store.BountyArtifact]; len(a) != 1 || a[0]["artifact_type"] != "file" || a[0]["orig_path"] != "/tmp/x.sh" {
		t.Errorf("artifacts %v", a)
	}

	// No attacker row yet: the stage waits for the ingest worker.
	early := lootEvent("ssh", "handshake", "198.51.100.31", "s9", map[string]any{"hassh": testHASSH})
	if err := lootOne(ctx, f.p, early); err == nil {
		t.Error("no attacker row: want a retry")
	}
	if fps, _ := f.st.AttackerFingerprints(ctx, "198.51.100.31"); len(fps) != 0 {
		t.Errorf("wrote %v before the attacker existed", fps)
	}
}

func TestLootCredentialReuse(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	login := func(decky, ip string) event.Event {
		e := event.New(decky, "ssh", event.TypeLoginAttempt)
		e.SrcIP, e.Session = ip, decky+ip
		e.Credential = event.NewCredential("root", event.SecretPlaintext, []byte("Winter2025!"), event.OutcomeFailure)
		return e
	}
	e1, e2, e3 := login("decky-01", "198.51.100.40"), login("decky-02", "198.51.100.40"), login("decky-03", "203.0.113.41")

	// The credential not stored yet: retry, publish nothing.
	f.attacker(t, "198.51.100.40")
	if err := lootOne(ctx, f.p, e1); err == nil {
		t.Error("credential not ingested: want a retry")
	}
	f.lootAll(t, f.ingested(t, e1)...)
	if n := f.pub.count(TopicCredentialReuse); n != 0 {
		t.Fatalf("%d announcements for one target", n)
	}
	f.lootAll(t, f.ingested(t, e2)...)
	got := f.pub.payloads(TopicCredentialReuse)
	if len(got) != 1 {
		t.Fatalf("%d announcements after the second decky; want 1", len(got))
	}
	a1, _ := f.st.AttackerByIP(ctx, "198.51.100.40")
	p := got[0]
	if p["target_count"] != 2.0 || p["attacker_uuid"] != a1.UUID || p["secret_kind"] != "plaintext" ||
		p["principal"] != "root" || p["credential_id"] == nil || p["id"] == "" || len(p["deckies"].([]any)) != 2 {
		t.Errorf("payload %v", p)
	}
	rows, total, err := f.st.CredentialReuses(ctx, store.ReuseQuery{Limit: 10})
	if err != nil || total != 1 || rows[0].ID != p["id"] {
		t.Errorf("reuse rows %+v, %d, %v", rows, total, err)
	}

	f.p.lootMem = lootMemory{} // replay after a restart: the store alone decides
	f.lootAll(t, e1, e2)
	if n := f.pub.count(TopicCredentialReuse); n != 1 {
		t.Errorf("replay published: %d announcements", n)
	}

	f.lootAll(t, f.ingested(t, e3)...)
	got = f.pub.payloads(TopicCredentialReuse)
	a3, _ := f.st.AttackerByIP(ctx, "203.0.113.41")
	if len(got) != 2 || got[1]["target_count"] != 3.0 || got[1]["id"] != p["id"] || got[1]["attacker_uuid"] != a3.UUID ||
		len(got[1]["attacker_uuids"].([]any)) != 2 {
		t.Fatalf("third target: %v", got)
	}
	f.lootAll(t, e1, e2, e3) // replay, remembered
	f.p.lootMem = lootMemory{}
	f.lootAll(t, e1, e2, e3) // replay after a restart
	if n := f.pub.count(TopicCredentialReuse); n != 2 {
		t.Errorf("replay published: %d announcements; want 2", n)
	}
}

// TestLootFromBus runs the stage as a durable consumer of a real embedded
// bus: the events arrive, are acknowledged, and a restart of the pipeline
// (the whole stream redelivered to a fresh consumer name would be the
// same as a replay) publishes nothing new.
func TestLootFromBus(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	bs := openBus(t)
	const ip = "198.51.100.50"
	hello := lootEvent("ssh", "handshake", ip, "s1", map[string]any{"client_version": "SSH-2.0-Go", "hassh": testHASSH})
	f.ingested(t, hello)
	em := bs.NewEmitter(4)
	em.Emit(hello)
	em.Emit(hello) // a duplicate delivery
	em.Close(ctx)
	p, err := Start(ctx, Config{Bus: bs, Store: f.st, DataDir: f.dir, Publish: f.pub.publish, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	waitDrained(t, bs, DurableIntel)
	p.Stop()
	if n := len(f.pub.payloads(TopicFingerprinted)); n != 2 {
		t.Errorf("%d attacker.fingerprinted; want 2 (hassh, client version)", n)
	}
	if fps, _ := f.st.AttackerFingerprints(ctx, ip); len(fps) != 2 {
		t.Errorf("fingerprints %+v", fps)
	}
}

func waitDrained(t testing.TB, bs *bus.Bus, durable string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		left, err := bs.Pending(context.Background(), durable)
		if err == nil && left == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d pending after 30 s (%v)", durable, left, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// BenchmarkLootFromBus runs the loot stage alone on an embedded bus:
// events from 1,000 sources — per source an ssh handshake with HASSH and
// client version, an https request with JA3/JA4, user agent and headers,
// a login attempt (one secret sprayed over the fleet) and connects — are
// published, and the clock stops when the stage has acknowledged them
// all. events/s is bus to bounty, fingerprint and reuse rows committed.
func BenchmarkLootFromBus(b *testing.B) {
	ctx := context.Background()
	f := newFixture(b)
	bs := openBus(b)
	n := max(b.N, 5000)
	evs := make([]event.Event, 0, n)
	for i := range n {
		ip := fmt.Sprintf("198.51.%d.%d", 100+(i%1000)/250, (i%1000)%250+1)
		session := fmt.Sprintf("s%d", i/5)
		var e event.Event
		switch i % 5 {
		case 0:
			e = lootEvent("ssh", "handshake", ip, session, map[string]any{"client_version": "SSH-2.0-libssh_0.9.6",
				"hassh": fmt.Sprintf("%032x", i%7)})
		case 1:
			e = lootEvent("http", event.TypeRequest, ip, session, map[string]any{"ja3_hash": testJA3H, "ja4": testJA4,
				"user_agent": "curl/8.4.0", "headers": `{"Host":"d","User-Agent":"curl/8.4.0","X-Forwarded-For":"10.0.0.9"}`,
				"header_list": `[["Host","d"],["User-Agent","curl/8.4.0"],["X-Forwarded-For","10.0.0.9"]]`})
		case 2:
			e = lootEvent("ssh", event.TypeLoginAttempt, ip, session, map[string]any{"username": "root"})
			e.Decky = fmt.Sprintf("decky-%02d", i%10)
			e.Credential = event.NewCredential("root", event.SecretPlaintext, []byte("Winter2025!"), event.OutcomeFailure)
		default:
			e = lootEvent("ssh", event.TypeConnect, ip, session, nil)
		}
		evs = append(evs, e)
	}
	for i := 0; i < len(evs); i += 500 {
		f.ingested(b, evs[i:min(i+500, len(evs))]...)
	}
	em := bs.NewEmitter(len(evs))
	for _, e := range evs {
		em.Emit(e)
	}
	em.Close(ctx)
	pub := &published{}
	p := &Pipeline{cfg: Config{Bus: bs, Store: f.st, Publish: pub.publish}, log: slog.New(slog.DiscardHandler)}
	c, err := bs.Consumer(ctx, bus.ConsumerOptions{Durable: DurableIntel, Filter: event.SubjectAll, MaxPending: 1024, AckWait: time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	b.ResetTimer()
	done := make(chan struct{})
	go func() { defer close(done); p.consume(rctx, DurableIntel, c, p.lootBatch) }()
	waitDrained(b, bs, DurableIntel)
	b.StopTimer()
	cancel()
	<-done
	if got := pub.count(TopicCredentialReuse); got == 0 {
		b.Fatal("no credential.reuse.detected")
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}

// FuzzLootParsers feeds attacker-controlled header text to the leak and
// header-order parsers: they never panic, never report the source address
// and never read more than maxLeakAddrs addresses from one header.
func FuzzLootParsers(f *testing.F) {
	f.Add(`{"X-Forwarded-For":"10.0.0.1, 198.51.100.9"}`, `[["Host","a"],["User-Agent","b"]]`)
	f.Add(`{"Forwarded":"for=\"[2001:db8::1]:4711\";proto=https, for=unknown"}`, `[]`)
	f.Add(`{"X-Real-IP":"::ffff:198.51.100.9"}`, `[["Host"]]`)
	f.Add(`{"x-forwarded-for":"`+strings.Repeat("10.0.0.1,", 40)+`"}`, `not json`)
	f.Fuzz(func(t *testing.T, headers, list string) {
		e := lootEvent("http", event.TypeRequest, "198.51.100.9", "s", map[string]any{"headers": headers, "header_list": list})
		leaks := ipLeaksOf(e)
		for _, l := range leaks {
			if l["leaked_ip"] == "198.51.100.9" {
				t.Errorf("source reported as a leak: %v", l)
			}
		}
		if len(leaks) > maxLeakAddrs*len(leakHeaders) {
			t.Errorf("%d leaks", len(leaks))
		}
		fingerprintsOf(e)
	})
}

// TestLootIPv6LinkLocalLeak: a connection from a link-local IPv6 address,
// or a forwarding header naming one, announces attacker.ipv6_leak once,
// with what the interface identifier tells.
func TestLootIPv6LinkLocalLeak(t *testing.T) {
	f := newFixture(t)
	const ip = "fe80::211:22ff:fe33:4455"
	conn := f.ingested(t, lootEvent("ssh", event.TypeConnect, ip, "s1", nil))
	f.lootAll(t, conn...)
	f.lootAll(t, f.ingested(t, lootEvent("ssh", event.TypeConnect, ip, "s2", nil))...)
	got := f.pub.payloads(TopicIPv6Leak)
	if len(got) != 1 {
		t.Fatalf("attacker.ipv6_leak: %v; want one", got)
	}
	if m := got[0]; m["addr"] != ip || m["iid_kind"] != "eui64" || m["mac_oui"] != "00:11:22" || m["vector"] != "connection" || m["attacker_uuid"] == nil {
		t.Errorf("payload %v", m)
	}

	req := lootEvent("http", event.TypeRequest, "198.51.100.44", "s3", map[string]any{
		"headers": `{"X-Forwarded-For":"fe80::1c2d:3e4f:5a6b:7c8d"}`})
	f.lootAll(t, f.ingested(t, req)...)
	got = f.pub.payloads(TopicIPv6Leak)
	if len(got) != 2 || got[1]["iid_kind"] != "opaque" || got[1]["attacker_ip"] != "198.51.100.44" {
		t.Errorf("header leak: %v", got)
	}
}

// TestSecretMemory: the loot stage skips the store only for events that
// cannot change a reuse row but for its counts.
func TestSecretMemory(t *testing.T) {
	var m secretMemory
	d1, d2 := [2]string{"decky-01", "ssh"}, [2]string{"decky-02", "ssh"}
	if m.unchanged("s", d1, "198.51.100.1") {
		t.Fatal("an unknown secret is unchanged")
	}
	m.learn("s", d1, "198.51.100.1", store.ReuseUpdate{CredentialID: 1}) // one target, no row
	if !m.unchanged("s", d1, "198.51.100.2") {
		t.Error("another address on the only target changes nothing")
	}
	if m.unchanged("s", d2, "198.51.100.2") {
		t.Error("a second target makes the row")
	}
	m.learn("s", d2, "198.51.100.2", store.ReuseUpdate{CredentialID: 2, Reuse: &store.CredentialReuse{
		AttackerIPs: []string{"198.51.100.1", "198.51.100.2"}}})
	if !m.unchanged("s", d1, "198.51.100.1") || !m.unchanged("s", d2, "198.51.100.2") {
		t.Error("listed addresses on counted targets change nothing")
	}
	if m.unchanged("s", d1, "198.51.100.3") {
		t.Error("a new address joins a list that is not full")
	}
	full := make([]string, store.ReuseListMax)
	for i := range full {
		full[i] = fmt.Sprintf("198.51.100.%d", i)
	}
	m.learn("s", d1, "198.51.100.3", store.ReuseUpdate{CredentialID: 3, Reuse: &store.CredentialReuse{AttackerIPs: full}})
	if !m.unchanged("s", d1, "203.0.113.9") {
		t.Error("a full list takes no new address")
	}
	if m.unchanged("s", [2]string{"decky-03", "ftp"}, "203.0.113.9") {
		t.Error("a new target always counts")
	}
}

// lootOne runs the loot stage on one event.
func lootOne(ctx context.Context, p *Pipeline, e event.Event) error {
	return p.lootBatch(ctx, []event.Event{e})[0]
}
