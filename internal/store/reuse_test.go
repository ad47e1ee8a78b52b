package store

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/decnet-go/decnet/internal/event"
)

func reuseLogin(decky, svc, ip, user, secret string) event.Event {
	ev := event.New(decky, svc, event.TypeLoginAttempt)
	ev.SrcIP, ev.Session = ip, decky+svc+ip
	ev.Credential = event.NewCredential(user, event.SecretPlaintext, []byte(secret), event.OutcomeFailure)
	return ev
}

func TestCredentialReuse(t *testing.T) {
	forEachDialect(t, func(t *testing.T, st *Store) {
		ctx := context.Background()
		if _, err := st.IngestBatch(ctx, []event.Event{
			reuseLogin("decky-01", "ssh", "198.51.100.7", "root", "Winter2025!"),
			reuseLogin("decky-02", "ssh", "198.51.100.7", "root", "Winter2025!"),
			reuseLogin("decky-01", "ssh", "203.0.113.9", "root", "Winter2025!"),   // a second attacker, a known target
			reuseLogin("decky-01", "ssh", "198.51.100.7", "admin", "Winter2025!"), // another principal: its own row
			reuseLogin("decky-01", "ftp", "198.51.100.7", "bob", "one-target"),
			reuseLogin("decky-01", "ftp", "203.0.113.9", "bob", "one-target"),
		}); err != nil {
			t.Fatal(err)
		}
		changed, err := st.RefreshCredentialReuse(ctx, time.Time{})
		if err != nil || len(changed) != 1 {
			t.Fatalf("first refresh changed %v, %v; want one row", changed, err)
		}
		rows, total, err := st.CredentialReuses(ctx, ReuseQuery{Limit: 10})
		if err != nil || total != 1 || len(rows) != 1 {
			t.Fatalf("list: %d rows, total %d, %v", len(rows), total, err)
		}
		r := rows[0]
		if r.ID != changed[0] || r.TargetCount != 2 || r.AttemptCount != 3 || r.Principal != "root" ||
			r.SecretPrintable != "Winter2025!" || len(r.AttackerIPs) != 2 || len(r.AttackerUUIDs) != 2 ||
			len(r.Deckies) != 2 || len(r.Services) != 1 {
			t.Errorf("row %+v", r)
		}
		if again, err := st.RefreshCredentialReuse(ctx, time.Time{}); err != nil || len(again) != 0 {
			t.Errorf("unchanged refresh reported %v, %v", again, err)
		}
		// A third target: the same row grows, same id.
		if _, err := st.IngestBatch(ctx, []event.Event{reuseLogin("decky-03", "smb", "192.0.2.4", "root", "Winter2025!")}); err != nil {
			t.Fatal(err)
		}
		if grown, err := st.RefreshCredentialReuse(ctx, time.Now().Add(-time.Minute)); err != nil || len(grown) != 1 || grown[0] != r.ID {
			t.Fatalf("refresh after a new target: %v, %v; want [%s]", grown, err, r.ID)
		}
		got, err := st.CredentialReuseByID(ctx, r.ID)
		if err != nil || got.TargetCount != 3 || len(got.AttackerIPs) != 3 {
			t.Errorf("by id: %+v, %v", got, err)
		}
		for _, q := range []ReuseQuery{{Limit: 10, MinTargets: 4}, {Limit: 10, SecretKind: "ntlm"}} {
			if _, n, err := st.CredentialReuses(ctx, q); err != nil || n != 0 {
				t.Errorf("%+v: total %d, %v; want 0", q, n, err)
			}
		}
		if _, err := st.CredentialReuseByID(ctx, "nope"); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown id: %v", err)
		}
	})
}

func TestBounty(t *testing.T) {
	forEachDialect(t, func(t *testing.T, st *Store) {
		ctx := context.Background()
		cases := []struct {
			name    string
			b       Bounty
			new     bool
			wantErr error
		}{
			{"new", Bounty{TS: testNow, Decky: "d1", Service: "https", AttackerIP: "198.51.100.7", BountyType: "ja3", Payload: json.RawMessage(`{"hash":"abc"}`)}, true, nil},
			{"duplicate", Bounty{TS: testNow.Add(time.Hour), Decky: "d2", Service: "https", AttackerIP: "198.51.100.7", BountyType: "ja3", Payload: json.RawMessage(`{"hash":"abc"}`)}, false, nil},
			{"other address", Bounty{TS: testNow.Add(time.Hour), Decky: "d2", Service: "smb", AttackerIP: "203.0.113.9", BountyType: "ip_leak", Payload: json.RawMessage(`{"ip":"10.1.2.3"}`)}, true, nil},
			{"bad payload", Bounty{AttackerIP: "x", BountyType: "ja3", Payload: json.RawMessage(`{`)}, false, ErrInvalid},
			{"no type", Bounty{AttackerIP: "x"}, false, ErrInvalid},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				isNew, err := st.AddBounty(ctx, tc.b)
				if !errors.Is(err, tc.wantErr) || isNew != tc.new {
					t.Fatalf("AddBounty = %v, %v; want %v, %v", isNew, err, tc.new, tc.wantErr)
				}
			})
		}
		rows, total, err := st.Bounties(ctx, BountyQuery{Limit: 10})
		if err != nil || total != 2 || rows[0].BountyType != "ip_leak" || !sameJSON(t, rows[1].Payload, json.RawMessage(`{"hash":"abc"}`)) {
			t.Fatalf("list: %+v total %d %v", rows, total, err)
		}
		for _, q := range []BountyQuery{{Limit: 10, BountyType: "ja3"}, {Limit: 10, Search: "10.1.2"}, {Limit: 10, Search: "SMB"}} {
			if _, n, err := st.Bounties(ctx, q); err != nil || n != 1 {
				t.Errorf("%+v: total %d, %v; want 1", q, n, err)
			}
		}
	})
}

func TestAttackersOfIdentityAndCampaignPage(t *testing.T) {
	forEachDialect(t, func(t *testing.T, st *Store) {
		ctx := context.Background()
		a1, a2 := seedAttacker(t, st, "198.51.100.7"), seedAttacker(t, st, "203.0.113.9")
		id1, err := st.EnsureStubIdentityForAttacker(ctx, a1)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.db.Exec(st.q("UPDATE attackers SET identity_id = ? WHERE uuid = ?"), id1, a2); err != nil {
			t.Fatal(err)
		}
		rows, total, err := st.AttackersOfIdentity(ctx, id1, 1, 0)
		if err != nil || total != 2 || len(rows) != 1 {
			t.Fatalf("attackers of identity: %d rows, total %d, %v", len(rows), total, err)
		}
		camp, _ := st.CreateCampaign(ctx, "")
		if err := st.SetIdentityCampaign(ctx, id1, camp); err != nil {
			t.Fatal(err)
		}
		ids, total, err := st.IdentitiesOfCampaignPage(ctx, camp, 10, 0)
		if err != nil || total != 1 || ids[0].UUID != id1 {
			t.Fatalf("identities of campaign: %+v total %d %v", ids, total, err)
		}
		if _, total, _ := st.IdentitiesOfCampaignPage(ctx, "nope", 10, 0); total != 0 {
			t.Errorf("unknown campaign total %d", total)
		}
	})
}
