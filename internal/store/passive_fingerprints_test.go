package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/decnet-go/decnet/internal/event"
)

func TestAddFingerprint(t *testing.T) {
	forEachDialect(t, func(t *testing.T, st *Store) {
		ctx := context.Background()
		at := testNow
		fp := func(ip, typ, value, session string, dt time.Duration) AttackerFingerprint {
			return AttackerFingerprint{AttackerIP: ip, Type: typ, Value: value, SessionID: session, Decky: "decky-01",
				Service: "ssh", FirstSeen: at.Add(dt)}
		}
		payload := func(f AttackerFingerprint) json.RawMessage {
			b, _ := json.Marshal(map[string]any{"fingerprint_type": f.Type, "hash": f.Value, "session_id": f.SessionID})
			return b
		}
		const hassh = "ec7378c1a92f5a8dde7e8b7a1ddf33d1"
		cases := []struct {
			name      string
			fp        AttackerFingerprint
			wantFirst bool
		}{
			{"first sighting writes the bounty", fp("198.51.100.7", FingerprintHASSH, hassh, "s1", 0), true},
			{"the same session again is a no-op", fp("198.51.100.7", FingerprintHASSH, hassh, "s1", 0), false},
			{"another session counts, no new bounty", fp("198.51.100.7", FingerprintHASSH, hassh, "s2", time.Minute), false},
			{"another attacker with the same hash", fp("203.0.113.9", FingerprintHASSH, hassh, "s3", 2*time.Minute), true},
			{"another type", fp("198.51.100.7", FingerprintJA4, "t13d1516h2_8daaf6152771_02713d6af862", "s1", 0), true},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				first, err := st.AddFingerprints(ctx, []FingerprintSighting{{tc.fp, payload(tc.fp)}})
				if err != nil || len(first) != 1 || first[0] != tc.wantFirst {
					t.Fatalf("first = %v, %v; want [%v]", first, err, tc.wantFirst)
				}
			})
		}
		got, err := st.AttackerFingerprints(ctx, "198.51.100.7")
		if err != nil || len(got) != 2 {
			t.Fatalf("attacker fingerprints %+v, %v; want 2", got, err)
		}
		h := got[0]
		if h.Type != FingerprintHASSH || h.Value != hassh || h.SessionID != "s1" || h.Sessions != 2 ||
			!h.FirstSeen.Equal(at) || !h.LastSeen.Equal(at.Add(time.Minute)) {
			t.Errorf("hassh row %+v", h)
		}
		_, n, err := st.Bounties(ctx, BountyQuery{Limit: 10, BountyType: BountyFingerprint})
		if err != nil || n != 3 {
			t.Errorf("%d fingerprint bounties, %v; want 3 (one per attacker and value)", n, err)
		}
		shared, err := st.SharedFingerprints(ctx, FingerprintHASSH, FingerprintJA3)
		if err != nil || len(shared) != 2 || shared[0].AttackerIP != "198.51.100.7" || shared[1].AttackerIP != "203.0.113.9" {
			t.Errorf("shared %+v, %v; want the two hassh rows", shared, err)
		}
		if all, err := st.SharedFingerprints(ctx); err != nil || len(all) != 2 {
			t.Errorf("shared (every type) %+v, %v", all, err)
		}
		sess, err := st.SessionFingerprints(ctx, "s1")
		if err != nil || len(sess) != 2 || sess[0].Type != FingerprintHASSH || sess[1].Type != FingerprintJA4 {
			t.Errorf("session s1 %+v, %v", sess, err)
		}
		long := fp("198.51.100.7", FingerprintHTTPUserAgent, strings.Repeat("é", 300), "s1", 0)
		if first, err := st.AddFingerprints(ctx, []FingerprintSighting{{long, nil}}); err != nil || !first[0] {
			t.Fatalf("long value: %v, %v", first, err)
		}
		if got, _ := st.AttackerFingerprints(ctx, "198.51.100.7"); len(got) != 3 || got[1].Type != FingerprintHTTPUserAgent ||
			len([]rune(got[1].Value)) != MaxFingerprintValue {
			t.Errorf("long value not cut to %d runes: %+v", MaxFingerprintValue, got)
		}
		if _, err := st.AddFingerprints(ctx, []FingerprintSighting{{AttackerFingerprint{AttackerIP: "198.51.100.7"}, nil}}); err == nil {
			t.Error("no type or value: want an error")
		}
	})
}

func TestRefreshCredentialReuseOf(t *testing.T) {
	forEachDialect(t, func(t *testing.T, st *Store) {
		ctx := context.Background()
		refresh := func(e event.Event) ReuseUpdate {
			t.Helper()
			u, err := st.RefreshCredentialReuseOf(ctx, e)
			if err != nil {
				t.Fatal(err)
			}
			return u
		}
		ingest := func(e event.Event) {
			t.Helper()
			if _, err := st.IngestBatch(ctx, []event.Event{e}); err != nil {
				t.Fatal(err)
			}
		}
		e1 := reuseLogin("decky-01", "ssh", "198.51.100.7", "root", "Winter2025!")
		if u := refresh(e1); u.CredentialID != 0 || u.Reuse != nil {
			t.Errorf("before ingest: %+v; want no credential row", u)
		}
		ingest(e1)
		if u := refresh(e1); u.CredentialID == 0 || u.Reuse != nil || u.Announce {
			t.Errorf("one target: %+v", u)
		}
		e2 := reuseLogin("decky-02", "ssh", "198.51.100.7", "root", "Winter2025!")
		ingest(e2)
		u := refresh(e2)
		if u.Reuse == nil || !u.Inserted || !u.Announce || u.Reuse.TargetCount != 2 || u.Reuse.ID == "" {
			t.Fatalf("second target: %+v", u)
		}
		id := u.Reuse.ID
		if again := refresh(e2); again.Changed || again.Announce {
			t.Errorf("replay: %+v; want nothing", again)
		}
		// Another attempt on a known target moves the row, announces nothing.
		e3 := reuseLogin("decky-01", "ssh", "198.51.100.7", "root", "Winter2025!")
		ingest(e3)
		if u := refresh(e3); !u.Changed || u.Announce || u.Reuse.AttemptCount != 3 {
			t.Errorf("same target again: %+v", u)
		}
		// A refresh from elsewhere (the API's) does not swallow the next
		// announcement.
		e4 := reuseLogin("decky-03", "smb", "192.0.2.4", "root", "Winter2025!")
		ingest(e4)
		if _, err := st.RefreshCredentialReuse(ctx, time.Time{}); err != nil {
			t.Fatal(err)
		}
		u = refresh(e4)
		if !u.Announce || u.Inserted || u.Reuse.ID != id || u.Reuse.TargetCount != 3 || len(u.Reuse.AttackerIPs) != 2 {
			t.Errorf("third target: %+v", u)
		}
		if again := refresh(e4); again.Announce {
			t.Errorf("replay of the third: %+v", again)
		}
		got, err := st.CredentialReuseByID(ctx, id)
		if err != nil || got.TargetCount != 3 || got.AttemptCount != 4 {
			t.Errorf("stored %+v, %v", got, err)
		}
		// A new address on a counted target joins the row's list; once it is
		// listed, its attempts there take the fast path: nothing to write.
		e5 := reuseLogin("decky-01", "ssh", "192.0.2.9", "root", "Winter2025!")
		ingest(e5)
		if u := refresh(e5); u.Known || !u.Changed || u.Announce || len(u.Reuse.AttackerIPs) != 3 {
			t.Errorf("new address on a counted target: %+v", u)
		}
		if u := refresh(e5); !u.Known || u.Changed || u.Announce || u.Reuse != nil || u.CredentialID == 0 {
			t.Errorf("listed address on a counted target: %+v; want the fast path", u)
		}
		if _, err := st.RefreshCredentialReuseOf(ctx, event.New("decky-01", "ssh", event.TypeConnect)); err == nil {
			t.Error("no credential: want an error")
		}
	})
}

// TestReuseListsBounded: a secret sprayed by more addresses than a reuse
// row lists keeps ReuseListMax of them, its counts exact.
func TestReuseListsBounded(t *testing.T) {
	forEachDialect(t, func(t *testing.T, st *Store) {
		ctx := context.Background()
		var evs []event.Event
		for i := range ReuseListMax + 20 {
			evs = append(evs, reuseLogin([]string{"decky-01", "decky-02"}[i%2], "ssh", fmt.Sprintf("198.51.%d.%d", 100+i/200, i%200+1), "root", "123456"))
		}
		if _, err := st.IngestBatch(ctx, evs); err != nil {
			t.Fatal(err)
		}
		u, err := st.RefreshCredentialReuseOf(ctx, evs[len(evs)-1])
		if err != nil {
			t.Fatal(err)
		}
		if u.Reuse == nil || u.Reuse.TargetCount != 2 || u.Reuse.AttemptCount != len(evs) ||
			len(u.Reuse.AttackerIPs) != ReuseListMax || len(u.Reuse.AttackerUUIDs) != ReuseListMax {
			t.Fatalf("reuse of a sprayed secret: %+v", u.Reuse)
		}
	})
}
