package intelpipe

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/intel"
	"github.com/decnet-go/decnet/internal/store"
)

// clusterFixture is a clusterer over a fresh SQLite store.
type clusterFixture struct {
	*fixture
	c *Clusterer
}

func newClusterFixture(t *testing.T) *clusterFixture {
	t.Helper()
	f := newFixture(t)
	return &clusterFixture{f, NewClusterer(f.st, f.pub.publish, ClusterConfig{}, slog.New(slog.DiscardHandler))}
}

// fingerprint records that ip showed (typ, value), as the loot stage would.
func (f *clusterFixture) fingerprint(t *testing.T, ip, typ, value string) {
	t.Helper()
	payload, _ := json.Marshal(map[string]any{"fingerprint_type": typ, "hash": value})
	if _, err := f.st.AddFingerprint(context.Background(), store.AttackerFingerprint{AttackerIP: ip, Type: typ, Value: value,
		SessionID: "s-" + ip, Decky: "decky-01", Service: "ssh", FirstSeen: time.Now()}, payload); err != nil {
		t.Fatal(err)
	}
}

// run clusters once and returns what it published.
func (f *clusterFixture) run(t *testing.T) []msg {
	t.Helper()
	f.pub.mu.Lock()
	before := len(f.pub.msgs)
	f.pub.mu.Unlock()
	if _, err := f.c.Once(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.pub.mu.Lock()
	defer f.pub.mu.Unlock()
	return slices.Clone(f.pub.msgs[before:])
}

func (f *clusterFixture) identityOf(t *testing.T, attacker string) string {
	t.Helper()
	a, err := f.st.AttackerByUUID(context.Background(), attacker)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := f.st.ClusterSnapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range snap.Attackers {
		if x.UUID == a.UUID {
			return x.IdentityID
		}
	}
	return ""
}

func subjects(ms []msg) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.subject
	}
	return out
}

func TestClustererFormsMergesAndUnmerges(t *testing.T) {
	f := newClusterFixture(t)
	ctx := context.Background()
	a := f.attacker(t, "198.51.100.7")
	b := f.attacker(t, "198.51.100.8")
	c := f.attacker(t, "203.0.113.9")
	f.fingerprint(t, "198.51.100.7", "hassh", "aaaa")
	f.fingerprint(t, "198.51.100.8", "hassh", "AAAA") // hashes compare case-insensitively
	f.fingerprint(t, "203.0.113.9", "hassh", "cccc")

	// Two attackers share a HASSH: one identity with both, announced once.
	got := f.run(t)
	if !reflect.DeepEqual(subjects(got), []string{TopicIdentityFormed}) {
		t.Fatalf("first run published %v; want one identity.formed", subjects(got))
	}
	formed := got[0].payload
	want := []any{a, b}
	slices.SortFunc(want, func(x, y any) int { return cmpStr(x.(string), y.(string)) })
	if !reflect.DeepEqual(formed["observation_uuids"], want) {
		t.Errorf("formed observation_uuids = %v; want %v", formed["observation_uuids"], want)
	}
	id := formed["identity_uuid"].(string)
	if f.identityOf(t, a) != id || f.identityOf(t, b) != id || f.identityOf(t, c) != "" {
		t.Errorf("identities a=%s b=%s c=%s; want %s, %s, none", f.identityOf(t, a), f.identityOf(t, b), f.identityOf(t, c), id, id)
	}
	ident, err := f.st.IdentityByUUID(ctx, id)
	if err != nil || !reflect.DeepEqual(ident.HASSHHashes, []string{"aaaa"}) || ident.ObservationCount != 2 || ident.Confidence == nil {
		t.Errorf("identity %+v, %v; want the hassh roll-up, two observations and a confidence", ident, err)
	}

	// Nothing changed: nothing is written or published.
	if got := f.run(t); len(got) != 0 {
		t.Fatalf("second run published %v; want nothing", subjects(got))
	}

	// d has a stub identity of its own (the attribution stage's); then a
	// shows d's JA3: the two identities merge into the smaller uuid.
	d := f.attacker(t, "192.0.2.50")
	stub, err := f.st.EnsureStubIdentityForAttacker(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	f.fingerprint(t, "192.0.2.50", "ja3", "d00d")
	f.fingerprint(t, "198.51.100.7", "ja3", "d00d")
	got = f.run(t)
	if !reflect.DeepEqual(subjects(got), []string{TopicIdentityMerged}) {
		t.Fatalf("link run published %v; want one identity.merged", subjects(got))
	}
	winner, loser := min(id, stub), max(id, stub)
	if p := got[0].payload; p["winner_uuid"] != winner || p["loser_uuid"] != loser || p["identity_uuid"] != winner {
		t.Errorf("merged payload %v; want winner %s loser %s", p, winner, loser)
	}
	if f.identityOf(t, d) != stub {
		t.Errorf("d was re-pointed to %s; merges never move observations", f.identityOf(t, d))
	}
	if w, _ := f.st.IdentityByUUID(ctx, loser); w.UUID != winner || !reflect.DeepEqual(w.JA3Hashes, []string{"d00d"}) {
		t.Errorf("loser resolves to %+v; want the winner with the JA3 roll-up", w)
	}
	if got := f.run(t); len(got) != 0 {
		t.Fatalf("run after the merge published %v; want nothing", subjects(got))
	}

	// The JA3 turns out to be a tool's default — shown from four more
	// networks — so it links nothing any more and the merge is undone.
	for i := range 4 {
		ip := fmt.Sprintf("100.%d.0.1", 64+i)
		f.attacker(t, ip)
		f.fingerprint(t, ip, "ja3", "d00d")
	}
	got = f.run(t)
	if !reflect.DeepEqual(subjects(got), []string{TopicIdentityUnmerged}) {
		t.Fatalf("run after the JA3 became common published %v; want one identity.unmerged", subjects(got))
	}
	if p := got[0].payload; p["resurrected_uuid"] != loser || p["former_winner_uuid"] != winner {
		t.Errorf("unmerged payload %v", p)
	}
	if got := f.run(t); len(got) != 0 {
		t.Fatalf("run after the unmerge published %v; want nothing", subjects(got))
	}
}

func cmpStr(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func TestClustererLinksLateAttacker(t *testing.T) {
	f := newClusterFixture(t)
	a := f.attacker(t, "198.51.100.7")
	f.attacker(t, "198.51.100.8")
	f.fingerprint(t, "198.51.100.7", "ja4", "t13d1516h2_8daaf6152771_02713d6af862")
	f.fingerprint(t, "198.51.100.8", "ja4", "t13d1516h2_8daaf6152771_02713d6af862")
	f.run(t)
	id := f.identityOf(t, a)
	late := f.attacker(t, "198.51.100.9")
	f.fingerprint(t, "198.51.100.9", "ja4", "t13d1516h2_8daaf6152771_02713d6af862")
	got := f.run(t)
	if !reflect.DeepEqual(subjects(got), []string{TopicIdentityLinked}) ||
		got[0].payload["identity_uuid"] != id || got[0].payload["observation_uuid"] != late {
		t.Fatalf("published %v; want identity.observation.linked of %s to %s", got, late, id)
	}
}

func TestClustererCampaigns(t *testing.T) {
	f := newClusterFixture(t)
	ctx := context.Background()
	// Two identities (two attackers each, linked by a HASSH) whose
	// attackers fetch from the same dropper host: one campaign.
	for i, ip := range []string{"198.51.100.1", "198.51.100.2", "203.0.113.1", "203.0.113.2"} {
		f.attacker(t, ip)
		f.fingerprint(t, ip, "hassh", fmt.Sprintf("h%d", i/2))
	}
	dl := func(ip, url string) event.Event {
		e := event.New("decky-01", "ssh", "download_attempt")
		e.SrcIP, e.Fields = ip, map[string]any{"url": url, "tool": "wget"}
		return e
	}
	if _, err := f.st.IngestBatch(ctx, []event.Event{dl("198.51.100.1", "http://185.0.2.10/bins/x86"),
		dl("203.0.113.2", "http://185.0.2.10/bins/arm7"), dl("198.51.100.2", "https://raw.githubusercontent.com/a/b/c.sh"),
		dl("203.0.113.1", "https://raw.githubusercontent.com/a/b/c.sh")}); err != nil {
		t.Fatal(err)
	}
	got := f.run(t)
	var formed map[string]any
	assigned := 0
	for _, m := range got {
		switch m.subject {
		case TopicCampaignFormed:
			formed = m.payload
		case TopicIdentityCampaignAssigned:
			assigned++
		}
	}
	if formed == nil || len(formed["identity_uuids"].([]any)) != 2 || assigned != 2 {
		t.Fatalf("published %v; want campaign.formed with two identities and two identity.campaign.assigned", subjects(got))
	}
	camp, err := f.st.CampaignByUUID(ctx, formed["campaign_uuid"].(string))
	if err != nil || !reflect.DeepEqual(camp.C2Endpoints, []string{"185.0.2.10"}) || camp.IdentityCount != 2 {
		t.Errorf("campaign %+v, %v; want the dropper host only (GitHub is everyone's)", camp, err)
	}
	if got := f.run(t); len(got) != 0 {
		t.Fatalf("second run published %v; want nothing", subjects(got))
	}
}

func TestGroupAttackers(t *testing.T) {
	att := func(ip string, asn int64, fps ...string) store.ClusterAttacker {
		a := store.ClusterAttacker{UUID: ip, IP: ip, ASN: asn}
		for i := 0; i+1 < len(fps); i += 2 {
			a.Fingerprints = append(a.Fingerprints, store.Fingerprint{Type: fps[i], Value: fps[i+1]})
		}
		return a
	}
	cases := []struct {
		name       string
		atts       []store.ClusterAttacker
		cfg        ClusterConfig
		wantComps  int
		wantCommon int
	}{
		{"a shared HASSH links", []store.ClusterAttacker{att("10.0.0.1", 1, "hassh", "x"), att("10.0.0.2", 2, "hassh", "x")}, ClusterConfig{}, 1, 0},
		{"different values do not", []store.ClusterAttacker{att("10.0.0.1", 1, "hassh", "x"), att("10.0.0.2", 2, "hassh", "y")}, ClusterConfig{}, 0, 0},
		{"server-side and claimed values never link", []store.ClusterAttacker{att("10.0.0.1", 1, "ja3s", "x", "ssh_client_version", "SSH-2.0-Go", "probe:tcpfp", "l"),
			att("10.0.0.2", 1, "ja3s", "x", "ssh_client_version", "SSH-2.0-Go", "probe:tcpfp", "l")}, ClusterConfig{}, 0, 0},
		{"a value from four networks is common", []store.ClusterAttacker{att("10.0.0.1", 1, "ja3", "curl"), att("10.0.0.2", 2, "ja3", "curl"),
			att("10.0.0.3", 3, "ja3", "curl"), att("10.0.0.4", 4, "ja3", "curl")}, ClusterConfig{}, 0, 1},
		{"without an ASN the /16 is the network", []store.ClusterAttacker{att("10.1.0.1", 0, "ja3", "z"), att("10.1.200.2", 0, "ja3", "z"),
			att("10.1.3.3", 0, "ja3", "z"), att("10.1.4.4", 0, "ja3", "z")}, ClusterConfig{}, 1, 0},
		{"the ignore list wins", []store.ClusterAttacker{att("10.0.0.1", 1, "hassh", "x"), att("10.0.0.2", 1, "hassh", "x")},
			ClusterConfig{Ignore: []string{"hassh:X"}}, 0, 1},
		{"a value most attackers show is common", func() []store.ClusterAttacker {
			var l []store.ClusterAttacker
			for i := range 12 {
				l = append(l, att(fmt.Sprintf("10.0.0.%d", i), 1, "hassh", "openssh"))
			}
			return l
		}(), ClusterConfig{}, 0, 1},
		{"components join through a shared member", []store.ClusterAttacker{att("10.0.0.1", 1, "hassh", "x"),
			att("10.0.0.2", 1, "hassh", "x", "ja4", "q"), att("10.0.0.3", 1, "ja4", "q")}, ClusterConfig{}, 1, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := groupAttackers(tc.atts, tc.cfg)
			if len(g.comps) != tc.wantComps || g.common != tc.wantCommon {
				t.Errorf("components %v, common %d; want %d components, %d common", g.comps, g.common, tc.wantComps, tc.wantCommon)
			}
		})
	}
}

func TestJaccard(t *testing.T) {
	cases := []struct {
		name string
		a, b []string
		want float64
	}{
		{"both empty", nil, nil, 0},
		{"same", []string{"a", "b"}, []string{"a", "b"}, 1},
		{"half", []string{"a", "b", "c"}, []string{"b", "c", "d"}, 0.5},
		{"disjoint", []string{"a"}, []string{"b"}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := jaccard(tc.a, tc.b); got != tc.want {
				t.Errorf("jaccard = %v; want %v", got, tc.want)
			}
		})
	}
}

// stubIntel answers every address with a fixed verdict.
type stubIntel struct {
	name string
	v    intel.Verdict
}

func (s stubIntel) Name() string { return s.name }
func (s stubIntel) Lookup(context.Context, netip.Addr) (intel.Verdict, error) {
	return s.v, nil
}

func TestEnrichmentStoresIntel(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	att := f.attacker(t, "198.51.100.7")
	e := intel.NewEnricher(intel.EnricherConfig{Providers: []intel.IntelProvider{
		stubIntel{"abuseipdb", intel.Verdict{Level: intel.LevelSuspicious, Score: 40, Categories: []int{18, 22}}},
		stubIntel{"feodo", intel.Verdict{Level: intel.LevelNone}},
	}})
	r := e.Enrich(ctx, netip.MustParseAddr("198.51.100.7"))
	got, verdict := f.p.storeIntel(ctx, netip.MustParseAddr("198.51.100.7"), r)
	if got != att || verdict != "suspicious" {
		t.Fatalf("storeIntel = %s, %q; want %s, suspicious", got, verdict, att)
	}
	row, err := f.st.AttackerIntel(ctx, att)
	if err != nil {
		t.Fatal(err)
	}
	if row.AbuseIPDB == nil || row.AbuseIPDB.Score != 40 || row.Feodo == nil || row.Feodo.Listed || row.AggregateVerdict != "suspicious" {
		t.Errorf("stored intel %+v", row)
	}
	if d := row.ExpiresAt.Sub(row.CachedAt); d != IntelTTL {
		t.Errorf("expires %v after caching; want %v", d, IntelTTL)
	}
}
