package store

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/decnet-go/decnet/internal/event"
)

// clusterEvent is an event from ip with fields.
func clusterEvent(ip, typ string, fields map[string]any) event.Event {
	e := event.New("decky-01", "ssh", typ)
	e.SrcIP, e.Session, e.Fields = ip, "s-"+ip, fields
	return e
}

func TestClusterReadsAndWrites(t *testing.T) {
	forEachDialect(t, func(t *testing.T, st *Store) {
		ctx := context.Background()
		const a, b = "198.51.100.7", "203.0.113.9"
		if _, err := st.IngestBatch(ctx, []event.Event{
			clusterEvent(a, "command", map[string]any{"command": "uname  -a"}),
			clusterEvent(a, "command", map[string]any{"command": "uname -a"}),
			clusterEvent(a, "download_attempt", map[string]any{"url": "http://C2.example.net:8080/x.sh"}),
			clusterEvent(b, "download_attempt", map[string]any{"url": "c2.example.net/y"}),
			reuseLogin("decky-01", "ssh", b, "root", "hunter2"),
		}); err != nil {
			t.Fatal(err)
		}
		for _, ip := range []string{a, b} {
			if _, err := st.AddFingerprint(ctx, AttackerFingerprint{AttackerIP: ip, Type: FingerprintHASSH, Value: "abc", SessionID: "s-" + ip,
				FirstSeen: testNow}, json.RawMessage(`{"fingerprint_type":"hassh","hash":"abc"}`)); err != nil {
				t.Fatal(err)
			}
		}
		ua, err := st.AttackerByIP(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		ub, _ := st.AttackerByIP(ctx, b)
		if err := st.UpsertAttackerIntel(ctx, AttackerIntel{AttackerUUID: ua.UUID, ASN: 64496, ExpiresAt: testNow}); err != nil {
			t.Fatal(err)
		}
		if _, err := st.RecordFingerprint(ctx, ub.UUID, 22, "jarm", "2ad2ad", testNow); err != nil {
			t.Fatal(err)
		}

		snap, err := st.ClusterSnapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		byIP := map[string]ClusterAttacker{}
		for _, x := range snap.Attackers {
			byIP[x.IP] = x
		}
		if got := byIP[a]; got.ASN != 64496 || !reflect.DeepEqual(got.Fingerprints, []Fingerprint{{"hassh", "abc"}}) {
			t.Errorf("snapshot of %s = %+v", a, got)
		}
		if got := byIP[b].Fingerprints; len(got) != 2 || !slices.Contains(got, Fingerprint{"probe:jarm", "2ad2ad"}) {
			t.Errorf("fingerprints of %s = %v; want the passive hassh and the probe's jarm", b, got)
		}

		cmds, err := st.CommandSets(ctx, []string{a, b})
		if err != nil || !reflect.DeepEqual(cmds[a], []string{"uname -a"}) || len(cmds[b]) != 0 {
			t.Errorf("command sets = %v, %v; want one normalised command for %s", cmds, err, a)
		}
		hosts, err := st.DownloadHosts(ctx, []string{a, b})
		if err != nil || !reflect.DeepEqual(hosts[a], []string{"c2.example.net"}) || !reflect.DeepEqual(hosts[b], []string{"c2.example.net"}) {
			t.Errorf("download hosts = %v, %v", hosts, err)
		}
		creds, err := st.CredentialSets(ctx, []string{a, b})
		if err != nil || len(creds[b]) != 1 || len(creds[a]) != 0 {
			t.Errorf("credential sets = %v, %v", creds, err)
		}

		// An identity for both; a second link changes nothing.
		conf := 0.5
		roll := IdentityRollup{ObservationCount: 2, FirstSeenAt: testNow, LastSeenAt: testNow.Add(time.Hour), Confidence: &conf,
			HASSHHashes: []string{"abc"}, JA3Hashes: []string{}, JA4Hashes: []string{}, JA4HHashes: []string{}, JA4QUICHashes: []string{}, TLSCertSHA256: []string{}}
		id, linked, err := st.CreateClusterIdentity(ctx, []string{ua.UUID, ub.UUID}, roll)
		if err != nil || len(linked) != 2 {
			t.Fatalf("create identity: %s %v %v", id, linked, err)
		}
		if again, err := st.LinkAttackersToIdentity(ctx, id, []string{ua.UUID}); err != nil || len(again) != 0 {
			t.Errorf("relinking a linked attacker: %v %v; want nothing linked", again, err)
		}
		stub, err := st.EnsureStubIdentityForAttacker(ctx, seedAttacker(t, st, "192.0.2.1"))
		if err != nil {
			t.Fatal(err)
		}
		if err := st.MergeIdentity(ctx, stub, id); err != nil {
			t.Fatal(err)
		}
		if got, _ := st.IdentityByUUID(ctx, stub); got.UUID != id {
			t.Errorf("merged stub resolves to %s; want %s", got.UUID, id)
		}
		if err := st.UnmergeIdentity(ctx, stub); err != nil {
			t.Fatal(err)
		}
		if got, _ := st.IdentityByUUID(ctx, stub); got.UUID != stub {
			t.Errorf("unmerged stub resolves to %s", got.UUID)
		}
		snap, _ = st.ClusterSnapshot(ctx)
		i := slices.IndexFunc(snap.Identities, func(i ClusterIdentity) bool { return i.UUID == id })
		if i < 0 || !snap.Identities[i].Rollup.Equal(roll) {
			t.Errorf("stored roll-up %+v; want %+v", snap.Identities[i].Rollup, roll)
		}
		roll.JA4Hashes = []string{"t13d"}
		if err := st.UpdateIdentityRollup(ctx, id, roll); err != nil {
			t.Fatal(err)
		}
		snap, _ = st.ClusterSnapshot(ctx)
		if got := snap.Identities[slices.IndexFunc(snap.Identities, func(i ClusterIdentity) bool { return i.UUID == id })].Rollup; !got.Equal(roll) {
			t.Errorf("updated roll-up %+v; want %+v", got, roll)
		}

		// Campaigns.
		croll := CampaignRollup{IdentityCount: 2, FirstSeenAt: testNow, LastSeenAt: testNow, JA3Hashes: []string{}, HASSHHashes: []string{"abc"},
			TLSCertSHA256: []string{}, C2Endpoints: []string{"c2.example.net"}}
		c1, err := st.CreateClusterCampaign(ctx, croll)
		if err != nil {
			t.Fatal(err)
		}
		c2, _ := st.CreateClusterCampaign(ctx, croll)
		if err := st.SetIdentityCampaign(ctx, id, c1); err != nil {
			t.Fatal(err)
		}
		if err := st.MergeCampaign(ctx, c2, c1); err != nil {
			t.Fatal(err)
		}
		croll.IdentityCount = 3
		if err := st.UpdateCampaignRollup(ctx, c1, croll); err != nil {
			t.Fatal(err)
		}
		snap, _ = st.ClusterSnapshot(ctx)
		for _, c := range snap.Campaigns {
			switch c.UUID {
			case c1:
				if !c.Rollup.Equal(croll) || c.MergedInto != "" {
					t.Errorf("campaign %+v; want roll-up %+v", c, croll)
				}
			case c2:
				if c.MergedInto != c1 {
					t.Errorf("merged campaign points at %q; want %s", c.MergedInto, c1)
				}
			}
		}
	})
}

// BenchmarkClusterSnapshot100k reads what the clusterer groups for
// 100,000 attackers with two passive fingerprints each (SQLite).
func BenchmarkClusterSnapshot100k(b *testing.B) {
	st := openTest(b)
	ctx := context.Background()
	tx, err := st.db.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	now := fmtTime(testNow)
	for i := range 100_000 {
		ip := fmt.Sprintf("10.%d.%d.%d", i>>16, (i>>8)&255, i&255)
		if _, err := tx.Exec(`INSERT INTO attackers (uuid, ip, first_seen, last_seen, updated_at) VALUES (?,?,?,?,?)`,
			fmt.Sprintf("a%07d", i), ip, now, now, now); err != nil {
			b.Fatal(err)
		}
		for _, fp := range [][2]string{{"hassh", fmt.Sprintf("h%d", i%5000)}, {"ja3", fmt.Sprintf("j%d", i%777)}} {
			if _, err := tx.Exec(`INSERT INTO attacker_fingerprints (attacker_ip, fingerprint_type, value, first_seen, last_seen)
				VALUES (?,?,?,?,?)`, ip, fp[0], fp[1], now, now); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		snap, err := st.ClusterSnapshot(ctx)
		if err != nil || len(snap.Attackers) != 100_000 || len(snap.Attackers[7].Fingerprints) != 2 {
			b.Fatalf("snapshot: %d attackers, %v", len(snap.Attackers), err)
		}
	}
}
