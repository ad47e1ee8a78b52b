package api

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/store"
)

func TestIdentityAndCampaignRoutes(t *testing.T) {
	e := newEnv(t)
	e.seed()
	ctx := context.Background()
	tok := e.viewerToken()
	a1, a2 := e.attackerUUID("198.51.100.7"), e.attackerUUID("203.0.113.9")
	winner, err := e.st.EnsureStubIdentityForAttacker(ctx, a1)
	if err != nil {
		t.Fatal(err)
	}
	loser, err := e.st.EnsureStubIdentityForAttacker(ctx, a2)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.st.MergeIdentity(ctx, loser, winner); err != nil {
		t.Fatal(err)
	}
	camp, err := e.st.CreateCampaign(ctx, "spray")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.st.SetIdentityCampaign(ctx, winner, camp); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		path   string
		status int
		check  func(t *testing.T, body []byte)
	}{
		{"list leaves merged identities out", "/api/v1/identities", 200, func(t *testing.T, b []byte) {
			var env envelope[store.Identity]
			json.Unmarshal(b, &env)
			if env.Total != 1 || len(env.Data) != 1 || env.Data[0].UUID != winner {
				t.Errorf("identities %s; want only %s", b, winner)
			}
		}},
		{"a merged identity answers as its winner", "/api/v1/identities/" + loser, 200, func(t *testing.T, b []byte) {
			var d identityDetail
			json.Unmarshal(b, &d)
			if d.UUID != winner || d.ObservationCountLive != 1 {
				t.Errorf("identity %s; want %s with 1 attacker", b, winner)
			}
		}},
		{"observations are the winner's attackers", "/api/v1/identities/" + loser + "/observations?limit=5", 200, func(t *testing.T, b []byte) {
			var env envelope[store.Attacker]
			json.Unmarshal(b, &env)
			if env.Total != 1 || env.Limit != 5 || env.Data[0].UUID != a1 {
				t.Errorf("observations %s; want attacker %s", b, a1)
			}
		}},
		{"unknown identity", "/api/v1/identities/nope", 404, nil},
		{"unknown identity observations", "/api/v1/identities/nope/observations", 404, nil},
		{"bad limit", "/api/v1/identities?limit=0", 422, nil},
		{"campaign list", "/api/v1/campaigns", 200, func(t *testing.T, b []byte) {
			var env envelope[store.Campaign]
			json.Unmarshal(b, &env)
			if env.Total != 1 || env.Data[0].UUID != camp {
				t.Errorf("campaigns %s", b)
			}
		}},
		{"campaign detail counts identities live", "/api/v1/campaigns/" + camp, 200, func(t *testing.T, b []byte) {
			var d campaignDetail
			json.Unmarshal(b, &d)
			if d.UUID != camp || d.IdentityCountLive != 1 {
				t.Errorf("campaign %s", b)
			}
		}},
		{"campaign identities", "/api/v1/campaigns/" + camp + "/identities", 200, func(t *testing.T, b []byte) {
			var env envelope[store.Identity]
			json.Unmarshal(b, &env)
			if env.Total != 1 || env.Data[0].UUID != winner {
				t.Errorf("campaign identities %s", b)
			}
		}},
		{"unknown campaign", "/api/v1/campaigns/nope", 404, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := e.do("GET", tc.path, tok, "")
			if rec.Code != tc.status {
				t.Fatalf("GET %s: %d %s; want %d", tc.path, rec.Code, rec.Body, tc.status)
			}
			if tc.check != nil {
				tc.check(t, rec.Body.Bytes())
			}
		})
	}
}

func TestCredentialReuseRoutes(t *testing.T) {
	e := newEnv(t)
	tok := e.viewerToken()
	login := func(decky, svc, ip, user, secret string) event.Event {
		ev := event.New(decky, svc, event.TypeLoginAttempt)
		ev.SrcIP, ev.Session = ip, decky+svc+ip
		ev.Credential = event.NewCredential(user, event.SecretPlaintext, []byte(secret), event.OutcomeFailure)
		return ev
	}
	// "Winter2025!" for root on three targets by two addresses; "solo"
	// twice on one target only.
	evs := []event.Event{
		login("decky-01", "ssh", "198.51.100.7", "root", "Winter2025!"),
		login("decky-02", "ssh", "198.51.100.7", "root", "Winter2025!"),
		login("decky-02", "ftp", "203.0.113.9", "root", "Winter2025!"),
		login("decky-01", "ssh", "198.51.100.7", "admin", "solo"),
		login("decky-01", "ssh", "203.0.113.9", "admin", "solo"),
	}
	if _, err := e.st.IngestBatch(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	rec := e.do("GET", "/api/v1/credential-reuse", tok, "")
	var env envelope[store.CredentialReuse]
	decode(t, rec, &env)
	if rec.Code != http.StatusOK || env.Total != 1 || len(env.Data) != 1 {
		t.Fatalf("reuse: %d %s; want one row", rec.Code, rec.Body)
	}
	r := env.Data[0]
	if r.TargetCount != 3 || r.Principal != "root" || r.SecretPrintable != "Winter2025!" || len(r.AttackerIPs) != 2 ||
		len(r.AttackerUUIDs) != 2 || len(r.Deckies) != 2 || len(r.Services) != 2 || r.AttemptCount != 3 {
		t.Errorf("reuse row %+v", r)
	}
	for _, tc := range []struct {
		name, path string
		status     int
	}{
		{"by id", "/api/v1/credential-reuse/" + r.ID, 200},
		{"unknown id", "/api/v1/credential-reuse/nope", 404},
		{"min_target_count below 2", "/api/v1/credential-reuse?min_target_count=1", 422},
		{"min_target_count above every row", "/api/v1/credential-reuse?min_target_count=4", 200},
		{"bounty list", "/api/v1/bounty?bounty_type=ja3&search=x", 200},
		{"bounty bad offset", "/api/v1/bounty?offset=-1", 422},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if rec := e.do("GET", tc.path, tok, ""); rec.Code != tc.status {
				t.Fatalf("GET %s: %d %s; want %d", tc.path, rec.Code, rec.Body, tc.status)
			}
		})
	}
	rec = e.do("GET", "/api/v1/credential-reuse?min_target_count=4", tok, "")
	decode(t, rec, &env)
	if env.Total != 0 {
		t.Errorf("min_target_count=4: %s", rec.Body)
	}
}

func TestBountyRoute(t *testing.T) {
	e := newEnv(t)
	tok := e.viewerToken()
	ctx := context.Background()
	for _, b := range []store.Bounty{
		{Decky: "decky-01", Service: "https", AttackerIP: "198.51.100.7", BountyType: "ja3", Payload: json.RawMessage(`{"hash":"abc"}`)},
		{Decky: "decky-01", Service: "https", AttackerIP: "198.51.100.7", BountyType: "ja3", Payload: json.RawMessage(`{"hash":"abc"}`)},
		{Decky: "decky-02", Service: "smb", AttackerIP: "203.0.113.9", BountyType: "ip_leak", Payload: json.RawMessage(`{"ip":"10.9.8.7"}`)},
	} {
		if _, err := e.st.AddBounty(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		query string
		total int
	}{{"", 2}, {"?bounty_type=ja3", 1}, {"?search=10.9.8", 1}, {"?bounty_type=null", 2}} {
		rec := e.do("GET", "/api/v1/bounty"+tc.query, tok, "")
		var env envelope[store.Bounty]
		decode(t, rec, &env)
		if rec.Code != http.StatusOK || env.Total != tc.total {
			t.Errorf("bounty%s: %d %s; want total %d", tc.query, rec.Code, rec.Body, tc.total)
		}
	}
}
