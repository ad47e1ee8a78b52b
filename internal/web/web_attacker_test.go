package web

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/decnet-go/decnet/internal/store"
)

// seedAttackerIntel adds, to the fixed seed, everything the later stages
// find about 203.0.113.5: a profile, threat intel, passive and active
// fingerprints, a captured file with its hash verdict, BEHAVE observations,
// a stub identity and its attribution states. It returns the attacker and
// the identity's id.
func (e *testEnv) seedAttackerIntel() (store.Attacker, string) {
	e.t.Helper()
	ctx := context.Background()
	a := e.seededAttacker()
	must := func(err error) {
		e.t.Helper()
		if err != nil {
			e.t.Fatal(err)
		}
	}
	must(e.st.SetAttackerProfile(ctx, a.UUID, store.AttackerProfile{Tools: []string{"wget", "libssh"},
		Phases: []string{"initial_access", "execution"}, Actor: "automated", ActorBasis: "behave",
		ThreatScore: 72, Modality: "scripted", UpdatedAt: testNow.Add(-time.Minute)}))
	must(e.st.UpsertAttackerIntel(ctx, store.AttackerIntel{AttackerUUID: a.UUID, AttackerIP: a.IP,
		GreyNoise:   &store.GreyNoiseIntel{Classification: "malicious", Name: "Mirai", Tags: []string{"SSH Bruteforcer"}, QueriedAt: testNow},
		AbuseIPDB:   &store.AbuseIPDBIntel{Score: 97, Categories: []int{18, 22}, QueriedAt: testNow},
		Feodo:       &store.FeodoIntel{Listed: false, QueriedAt: testNow},
		ThreatFox:   &store.ThreatFoxIntel{Listed: true, MalwareFamilies: []string{"elf.mirai"}, ThreatTypes: []string{"botnet_cc"}, QueriedAt: testNow},
		CountryCode: "NL", ASN: 64500, ASName: "Example Hosting", ASNSource: "maxmind",
		AggregateVerdict: "malicious", CachedAt: testNow.Add(-10 * time.Minute), ExpiresAt: testNow.Add(24 * time.Hour)}))
	for _, fp := range []store.AttackerFingerprint{
		{Type: store.FingerprintHASSH, Value: "ec7378c1a92f5a8dde7e8b7a1ddf33d1"},
		{Type: store.FingerprintSSHClientVersion, Value: "SSH-2.0-libssh_0.9.6"},
	} {
		fp.AttackerIP, fp.SessionID, fp.Decky, fp.Service = a.IP, "s1", "decky-01", "ssh"
		fp.FirstSeen, fp.LastSeen = testNow.Add(-40*time.Minute), testNow.Add(-40*time.Minute)
		_, err := e.st.AddFingerprint(ctx, fp, json.RawMessage(`{}`))
		must(err)
	}
	_, err := e.st.RecordFingerprint(ctx, a.UUID, 22, "jarm", "2ad2ad0002ad2ad00042d42d000000", testNow.Add(-20*time.Minute))
	must(err)
	_, err = e.st.RecordFingerprint(ctx, a.UUID, 22, "jarm", "3fd3fd0003fd3fd00042d42d000000", testNow.Add(-5*time.Minute))
	must(err)
	const sha = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	_, err = e.st.AddBounty(ctx, store.Bounty{TS: testNow.Add(-35 * time.Minute), Decky: "decky-01", Service: "ssh", AttackerIP: a.IP,
		BountyType: store.BountyArtifact, Payload: json.RawMessage(`{"artifact_type":"file","sha256":"` + sha +
			`","orig_path":"/tmp/x.sh","size":4812,"session_id":"s1","stored_as":"x"}`)})
	must(err)
	bad := true
	_, err = e.st.UpsertObservedAttachment(ctx, store.AttachmentSighting{SHA256: sha, DeckyUUID: "decky-01", AttackerUUID: a.UUID,
		Extension: "sh", MalHashMatch: &bad, Provider: "malwarebazaar", Time: testNow.Add(-35 * time.Minute)})
	must(err)
	ts := float64(testNow.Add(-36 * time.Minute).Unix())
	_, err = e.st.UpsertObservations(ctx, []store.Observation{
		{V: 1, TS: ts, Primitive: "motor.input_modality", Value: json.RawMessage(`"scripted"`), Confidence: 0.9,
			Source: "behave", EvidenceRef: "shard:decky-01/ssh/0#s1", AttackerUUID: a.UUID},
		{V: 1, TS: ts, Primitive: "cognitive.typo_rate", Value: json.RawMessage(`{"rate": 0.0, "n": 14}`), Confidence: 0.6,
			Source: "behave", EvidenceRef: "shard:decky-01/ssh/0#s1", AttackerUUID: a.UUID},
	})
	must(err)
	id, err := e.st.EnsureStubIdentityForAttacker(ctx, a.UUID)
	must(err)
	must(e.st.UpsertAttributionStates(ctx, []store.AttributionState{
		{IdentityUUID: id, Primitive: "motor.input_modality", CurrentValue: json.RawMessage(`"scripted"`), State: store.AttributionStable,
			Confidence: 0.9, ObservationCount: 3, LastChangeTS: ts, LastObservationTS: ts},
		{IdentityUUID: id, Primitive: "cognitive.typo_rate", CurrentValue: json.RawMessage(`{"rate":0.0}`), State: store.AttributionMultiActor,
			Confidence: 0.4, ObservationCount: 5, LastChangeTS: ts, LastObservationTS: ts},
	}))
	a, err = e.st.AttackerByUUID(ctx, a.UUID)
	must(err)
	return a, id
}

// TestAttackerIntelSections: the attacker page shows the profile, intel,
// identity, fingerprints, captured files, behaviour and attribution the
// later stages stored, each with a tab; without them, each section says
// what is missing.
func TestAttackerIntelSections(t *testing.T) {
	cases := []struct {
		name   string
		filled bool
		want   []string
	}{
		{"attacker_intel", true, []string{
			`href="#profile"`, `href="#fingerprints"`, `href="#files"`, `href="#behaviour"`,
			"72 / 100", "automated", "initial_access", "scripted",
			`<span class="badge badge-malicious">malicious</span>`, "Mirai", "score 97 / 100", "elf.mirai", "AS64500 Example Hosting",
			`href="/ui/identities/IDENTITY"`, "Fingerprint rotations</dt><dd>1",
			"ec7378c1a92f5a8dde7e8b7a1ddf33d1", "SSH-2.0-libssh_0.9.6", "3fd3fd0003fd3fd00042d42d000000",
			"/tmp/x.sh", "4.7 KiB", "malwarebazaar",
			"motor.input_modality", "cognitive.typo_rate", `{&#34;rate&#34;:0.0,&#34;n&#34;:14}`,
			`<span class="badge badge-stable">stable</span>`, `<span class="badge badge-multi_actor">multi_actor</span>`,
		}},
		{"attacker", false, []string{
			"Not profiled yet.", "Not enriched yet.", "none yet", "No passive fingerprint.", "Not probed yet.",
			"No file captured.", "No BEHAVE observation.", "No attribution state.",
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.seed()
			e.addUser("alice", roleViewer, false)
			b := e.browser()
			b.login("alice", testPassword)
			att, _, err := e.st.AttackersSorted(context.Background(), store.Page{Limit: 1, Search: "203.0.113.5"}, store.SortRecent)
			if err != nil || len(att) != 1 {
				t.Fatalf("seeded attacker: %v %v", att, err)
			}
			a, identity := att[0], "no identity"
			if tc.filled {
				a, identity = e.seedAttackerIntel()
			}
			rec := b.do("GET", "/ui/attackers/"+a.UUID, nil)
			if rec.Code != http.StatusOK {
				t.Fatalf("GET attacker: %d\n%s", rec.Code, rec.Body)
			}
			body := strings.ReplaceAll(rec.Body.String(), identity, "IDENTITY")
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("attacker page lacks %q", w)
				}
			}
			if tc.filled {
				golden(t, tc.name, fragment(t, body))
			}
		})
	}
}
