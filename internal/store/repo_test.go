package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// seedAttacker stores an attacker row for ip and returns its uuid.
func seedAttacker(t *testing.T, st *Store, ip string) string {
	t.Helper()
	id := newUUID()
	_, err := st.db.Exec(st.q(`INSERT INTO attackers (uuid, ip, first_seen, last_seen, services, deckies, updated_at)
		VALUES (?,?,?,?,?,?,?)`), id, ip, fmtTime(testNow), fmtTime(testNow.Add(time.Hour)), "[]", "[]", fmtTime(testNow))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// sameJSON compares two JSON texts by value (MySQL and PostgreSQL
// normalise stored JSON).
func sameJSON(t *testing.T, got, want json.RawMessage) bool {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("stored JSON %q: %v", got, err)
	}
	json.Unmarshal(want, &w)
	return reflect.DeepEqual(g, w)
}

func TestUpsertObservation(t *testing.T) {
	forEachDialect(t, func(t *testing.T, st *Store) {
		ctx := context.Background()
		att := seedAttacker(t, st, "203.0.113.5")
		base := Observation{Primitive: "motor.input_modality", Value: json.RawMessage(`"keyboard"`), Confidence: 0.8,
			Window: ObservationWindow{100, 200}, Source: "extract", EvidenceRef: "shard:d1/ssh/s1#a", TS: 200, V: 1, AttackerUUID: att}
		cases := []struct {
			name      string
			obs       Observation
			wantErr   error
			sameID    bool // id must equal the first upsert's
			wantValue string
		}{
			{"new row", base, nil, false, `"keyboard"`},
			{"same key again keeps id, takes new value", func() Observation {
				o := base
				o.ID, o.Value, o.Confidence = "ffffffffffffffffffffffffffffffff", json.RawMessage(`{"kind":"paste","n":2}`), 0.5
				return o
			}(), nil, true, `{"kind":"paste","n":2}`},
			{"missing evidence", Observation{Primitive: "p", Value: json.RawMessage(`1`)}, ErrInvalid, false, ""},
			{"bad JSON", Observation{Primitive: "p", EvidenceRef: "e", Value: json.RawMessage(`{`)}, ErrInvalid, false, ""},
		}
		var first string
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				id, err := st.UpsertObservation(ctx, tc.obs)
				if tc.wantErr != nil {
					if !errors.Is(err, tc.wantErr) {
						t.Fatalf("err = %v; want %v", err, tc.wantErr)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if len(id) != 32 {
					t.Errorf("id %q is not 32 hex digits", id)
				}
				if first == "" {
					first = id
				}
				if tc.sameID && id != first {
					t.Errorf("re-upsert id = %s; want the first id %s", id, first)
				}
				o, err := st.ObservationByID(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				if !sameJSON(t, o.Value, json.RawMessage(tc.wantValue)) || o.AttackerUUID != att || o.Window.EndTS != 200 {
					t.Errorf("stored %+v; want value %s", o, tc.wantValue)
				}
			})
		}
	})
}

func TestObservationReads(t *testing.T) {
	forEachDialect(t, func(t *testing.T, st *Store) {
		ctx := context.Background()
		att := seedAttacker(t, st, "203.0.113.6")
		other := seedAttacker(t, st, "203.0.113.7")
		put := func(attacker, prim, ref string, ts float64, v string) {
			t.Helper()
			if _, err := st.UpsertObservation(ctx, Observation{AttackerUUID: attacker, Primitive: prim, EvidenceRef: ref,
				TS: ts, Value: json.RawMessage(v), Confidence: ts / 1000, Source: "s"}); err != nil {
				t.Fatal(err)
			}
		}
		put(att, "a.p", "r3", 300, `"late"`)
		put(att, "a.p", "r1", 100, `"early"`)
		put(att, "a.p", "r2", 200, `"mid"`)
		put(att, "b.q", "r1", 150, `7`)
		put(other, "a.p", "r9", 900, `"other attacker"`)

		t.Run("latest per primitive", func(t *testing.T) {
			got, err := st.LatestObservationPerPrimitive(ctx, att)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 2 || got["a.p"].TS != 300 || !sameJSON(t, got["a.p"].Value, json.RawMessage(`"late"`)) || got["b.q"].TS != 150 {
				t.Errorf("latest = %+v", got)
			}
			none, err := st.LatestObservationPerPrimitive(ctx, "nobody")
			if err != nil || len(none) != 0 {
				t.Errorf("latest of unknown attacker = %v, %v; want empty", none, err)
			}
		})
		t.Run("time series ascending", func(t *testing.T) {
			got, err := st.ObservationsTimeSeries(ctx, att, "a.p")
			if err != nil {
				t.Fatal(err)
			}
			var ts []float64
			for _, p := range got {
				ts = append(ts, p.TS)
			}
			if !reflect.DeepEqual(ts, []float64{100, 200, 300}) {
				t.Errorf("series ts = %v; want 100 200 300", ts)
			}
		})
		t.Run("has observations for evidence", func(t *testing.T) {
			for ref, want := range map[string]bool{"r1": true, "r9": true, "nope": false} {
				if got, err := st.HasObservationsForEvidence(ctx, ref); err != nil || got != want {
					t.Errorf("HasObservationsForEvidence(%s) = %v, %v; want %v", ref, got, err, want)
				}
			}
		})
		t.Run("identity series spans its attackers", func(t *testing.T) {
			id, err := st.EnsureStubIdentityForAttacker(ctx, att)
			if err != nil {
				t.Fatal(err)
			}
			got, err := st.ObservationsForIdentityPrimitive(ctx, id, "a.p")
			if err != nil || len(got) != 3 {
				t.Errorf("identity series = %v, %v; want the 3 of its attacker", got, err)
			}
		})
	})
}

func TestEnsureStubIdentityForAttacker(t *testing.T) {
	forEachDialect(t, func(t *testing.T, st *Store) {
		ctx := context.Background()
		att := seedAttacker(t, st, "198.51.100.1")
		id, err := st.EnsureStubIdentityForAttacker(ctx, att)
		if err != nil || len(id) != 32 {
			t.Fatalf("stub = %q, %v", id, err)
		}
		again, err := st.EnsureStubIdentityForAttacker(ctx, att)
		if err != nil || again != id {
			t.Errorf("second call = %q, %v; want the same identity %q", again, err, id)
		}
		if _, err := st.EnsureStubIdentityForAttacker(ctx, "missing"); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown attacker: err = %v; want ErrNotFound", err)
		}
		ident, err := st.IdentityByUUID(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if ident.ObservationCount != 1 || ident.FirstSeenAt == nil || !ident.FirstSeenAt.Equal(testNow) || len(ident.JA3Hashes) != 0 {
			t.Errorf("stub identity %+v", ident)
		}
		var n int
		st.db.QueryRow("SELECT COUNT(*) FROM attacker_identities").Scan(&n)
		if n != 1 {
			t.Errorf("%d identities; want 1", n)
		}
	})
}

func TestAttributionState(t *testing.T) {
	forEachDialect(t, func(t *testing.T, st *Store) {
		ctx := context.Background()
		var ids []string
		for _, ip := range []string{"192.0.2.1", "192.0.2.2", "192.0.2.3"} {
			id, err := st.EnsureStubIdentityForAttacker(ctx, seedAttacker(t, st, ip))
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
		cases := []struct {
			name    string
			in      AttributionState
			wantErr error
		}{
			{"insert", AttributionState{IdentityUUID: ids[0], Primitive: "p1", CurrentValue: json.RawMessage(`"a"`), State: AttributionStable, Confidence: 0.9, ObservationCount: 3, LastChangeTS: 10, LastObservationTS: 20}, nil},
			{"replace", AttributionState{IdentityUUID: ids[0], Primitive: "p1", CurrentValue: json.RawMessage(`"b"`), State: AttributionMultiActor, Confidence: 0.6, ObservationCount: 5, LastChangeTS: 30, LastObservationTS: 30}, nil},
			{"second multi_actor primitive", AttributionState{IdentityUUID: ids[0], Primitive: "p2", CurrentValue: json.RawMessage(`1`), State: AttributionMultiActor, LastChangeTS: 1, LastObservationTS: 1}, nil},
			{"only one multi_actor primitive", AttributionState{IdentityUUID: ids[1], Primitive: "p1", CurrentValue: json.RawMessage(`1`), State: AttributionMultiActor, LastChangeTS: 1, LastObservationTS: 1}, nil},
			{"two, other identity", AttributionState{IdentityUUID: ids[2], Primitive: "p9", CurrentValue: json.RawMessage(`1`), State: AttributionMultiActor, LastChangeTS: 1, LastObservationTS: 1}, nil},
			{"two, other identity 2", AttributionState{IdentityUUID: ids[2], Primitive: "p3", CurrentValue: json.RawMessage(`1`), State: AttributionMultiActor, LastChangeTS: 1, LastObservationTS: 1}, nil},
			{"unknown state", AttributionState{IdentityUUID: ids[0], Primitive: "p1", CurrentValue: json.RawMessage(`1`), State: "sure"}, ErrInvalid},
			{"unknown identity", AttributionState{IdentityUUID: "nope", Primitive: "p1", CurrentValue: json.RawMessage(`1`), State: AttributionStable}, nil},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				err := st.UpsertAttributionState(ctx, tc.in)
				switch {
				case tc.name == "unknown identity":
					if err == nil {
						t.Fatal("state of a missing identity stored; want a foreign-key error")
					}
				case !errors.Is(err, tc.wantErr) && (tc.wantErr != nil || err != nil):
					t.Fatalf("err = %v; want %v", err, tc.wantErr)
				}
			})
		}
		got, err := st.AttributionState(ctx, ids[0], "p1")
		if err != nil {
			t.Fatal(err)
		}
		if got.State != AttributionMultiActor || got.ObservationCount != 5 || !sameJSON(t, got.CurrentValue, json.RawMessage(`"b"`)) || got.SchemaVersion != 1 {
			t.Errorf("state = %+v", got)
		}
		if _, err := st.AttributionState(ctx, ids[0], "nope"); !errors.Is(err, ErrNotFound) {
			t.Errorf("missing state err = %v", err)
		}
		all, _ := st.AttributionStates(ctx, ids[0])
		if len(all) != 2 || all[0].Primitive != "p1" || all[1].Primitive != "p2" {
			t.Errorf("states of identity = %+v", all)
		}
		multi, err := st.MultiActorIdentities(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string][]string{ids[0]: {"p1", "p2"}, ids[2]: {"p3", "p9"}}
		gotMap := map[string][]string{}
		for _, m := range multi {
			gotMap[m.IdentityUUID] = m.Primitives
		}
		if !reflect.DeepEqual(gotMap, want) {
			t.Errorf("multi-actor identities = %v; want %v", gotMap, want)
		}
	})
}

func TestTagID(t *testing.T) {
	cases := []struct {
		kind, source, rule string
		version            int
		tech, sub, want    string
	}{
		{"command", "cmd_42", "R0014", 2, "T1083", "", "9aa491e5-f03b-5d8f-9eb5-161becedcdd6"},
		{"command", "cmd_42", "R0015", 1, "T1548", "T1548.001", "4fd57b14-c135-544c-97d9-4fabc1051584"},
	}
	for _, tc := range cases {
		t.Run(tc.want, func(t *testing.T) {
			if got := TagID(tc.kind, tc.source, tc.rule, tc.version, tc.tech, tc.sub); got != tc.want {
				t.Errorf("TagID = %s; want %s (DECNET's)", got, tc.want)
			}
		})
	}
}

func TestInsertTagAndScopes(t *testing.T) {
	forEachDialect(t, func(t *testing.T, st *Store) {
		ctx := context.Background()
		att := seedAttacker(t, st, "198.51.100.20")
		ident, err := st.EnsureStubIdentityForAttacker(ctx, att)
		if err != nil {
			t.Fatal(err)
		}
		tag := func(src string, mod func(*Tag)) Tag {
			tg := Tag{SourceKind: "command", SourceID: src, AttackerUUID: att, SessionID: "sess-1", Tactic: "TA0007",
				TechniqueID: "T1083", Confidence: 0.8, RuleID: "R0014", RuleVersion: 2, AttackRelease: "v15",
				Evidence: json.RawMessage(`{"command":"ls -la"}`), CreatedAt: testNow}
			if mod != nil {
				mod(&tg)
			}
			return tg
		}
		cases := []struct {
			name    string
			tag     Tag
			wantNew bool
			wantErr error
		}{
			{"new", tag("c1", nil), true, nil},
			{"same again is ignored", tag("c1", nil), false, nil},
			{"identity anchored, sub-technique", tag("c2", func(t *Tag) {
				t.AttackerUUID, t.IdentityUUID, t.SubTechniqueID, t.CreatedAt = "", ident, "T1083.001", testNow.Add(time.Minute)
			}), true, nil},
			{"below the confidence floor", tag("c3", func(t *Tag) { t.Confidence = 0.2 }), false, nil},
			{"no anchor", tag("c4", func(t *Tag) { t.AttackerUUID = "" }), false, ErrNoAnchor},
			{"confidence above 1", tag("c5", func(t *Tag) { t.Confidence = 1.5 }), false, ErrInvalid},
			{"missing attack_release", tag("c6", func(t *Tag) { t.AttackRelease = "" }), false, ErrInvalid},
			{"dangling attacker", tag("c7", func(t *Tag) { t.AttackerUUID = "ghost" }), false, ErrNotFound},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				isNew, err := st.InsertTag(ctx, tc.tag)
				if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
					t.Fatalf("err = %v; want %v", err, tc.wantErr)
				}
				if isNew != tc.wantNew {
					t.Errorf("new = %v; want %v", isNew, tc.wantNew)
				}
			})
		}
		stored, err := st.TagByUUID(ctx, TagID("command", "c1", "R0014", 2, "T1083", ""))
		if err != nil || !sameJSON(t, stored.Evidence, json.RawMessage(`{"command":"ls -la"}`)) || !stored.CreatedAt.Equal(testNow) {
			t.Errorf("stored tag %+v, %v", stored, err)
		}
		scopes := []struct {
			name, scope, id, sub string
			want                 []string // source ids, newest first
			wantErr              error
		}{
			{"identity covers its attacker's tags", ScopeIdentity, ident, "", []string{"c2", "c1"}, nil},
			{"attacker", ScopeAttacker, att, "", []string{"c1"}, nil},
			{"session", ScopeSession, "sess-1", "", []string{"c2", "c1"}, nil},
			{"sub-technique filter", ScopeIdentity, ident, "T1083.001", []string{"c2"}, nil},
			{"unknown scope", "campaign", ident, "", nil, ErrScope},
		}
		for _, tc := range scopes {
			t.Run(tc.name, func(t *testing.T) {
				got, err := st.TagsByScopeAndTechnique(ctx, tc.scope, tc.id, "T1083", tc.sub, 0)
				if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
					t.Fatalf("err = %v; want %v", err, tc.wantErr)
				}
				var src []string
				for _, g := range got {
					src = append(src, g.SourceID)
				}
				if !reflect.DeepEqual(src, tc.want) {
					t.Errorf("tags = %v; want %v", src, tc.want)
				}
			})
		}
	})
}

func TestObservedAttachmentStickyVerdict(t *testing.T) {
	forEachDialect(t, func(t *testing.T, st *Store) {
		ctx := context.Background()
		sha := "ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef0123456789"
		yes, no := true, false
		steps := []struct {
			name         string
			verdict      *bool
			provider     string
			ext          string
			wantVerdict  *bool
			wantProvider string
			wantCount    int
		}{
			{"first sighting, no verdict", nil, "", "PDF", nil, "", 1},
			{"benign verdict fills the unknown", &no, "bazaar", "exe", &no, "bazaar", 2},
			{"no verdict keeps benign", nil, "", "pdf", &no, "bazaar", 3},
			{"malicious upgrades benign", &yes, "feodo", "", &yes, "feodo", 4},
			{"benign never downgrades malicious", &no, "other", "", &yes, "feodo", 5},
			{"malicious again keeps first provider", &yes, "third", "", &yes, "feodo", 6},
		}
		var id string
		for i, s := range steps {
			t.Run(s.name, func(t *testing.T) {
				got, err := st.UpsertObservedAttachment(ctx, AttachmentSighting{SHA256: sha, DeckyUUID: "d1", AttackerUUID: "a" + string(rune('0'+i)),
					Extension: s.ext, Subject: "invoice", MalHashMatch: s.verdict, Provider: s.provider, Time: testNow.Add(time.Duration(i) * time.Minute)})
				if err != nil {
					t.Fatal(err)
				}
				if id == "" {
					id = got
				} else if got != id {
					t.Errorf("id changed: %s → %s", id, got)
				}
				a, err := st.ObservedAttachment(ctx, sha)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(a.MalHashMatch, s.wantVerdict) || a.MalHashMatchProvider != s.wantProvider || a.ObservationCount != s.wantCount {
					t.Errorf("verdict %v provider %q count %d; want %v %q %d", a.MalHashMatch, a.MalHashMatchProvider, a.ObservationCount,
						s.wantVerdict, s.wantProvider, s.wantCount)
				}
			})
		}
		a, _ := st.ObservedAttachment(ctx, sha)
		if !reflect.DeepEqual(a.Extensions, []string{"pdf", "exe"}) || a.FirstSeenAttackerUUID != "a0" || a.LastSeenAttackerUUID != "a5" {
			t.Errorf("extensions %v first %q last %q", a.Extensions, a.FirstSeenAttackerUUID, a.LastSeenAttackerUUID)
		}
		if _, err := st.UpsertObservedAttachment(ctx, AttachmentSighting{SHA256: "short"}); !errors.Is(err, ErrInvalid) {
			t.Errorf("bad hash err = %v", err)
		}
	})
}

func TestRecordFingerprint(t *testing.T) {
	forEachDialect(t, func(t *testing.T, st *Store) {
		ctx := context.Background()
		att := seedAttacker(t, st, "198.51.100.30")
		steps := []struct {
			name  string
			port  int
			probe string
			hash  string
			want  FingerprintChange
		}{
			{"first sighting", 443, "jarm", "h1", FingerprintChange{First: true}},
			{"same hash", 443, "jarm", "h1", FingerprintChange{}},
			{"rotation", 443, "jarm", "h2", FingerprintChange{Rotated: true, OldHash: "h1", RotationCount: 1}},
			{"other probe type is its own state", 443, "tcpfp", "x", FingerprintChange{First: true}},
			{"second rotation", 443, "jarm", "h3", FingerprintChange{Rotated: true, OldHash: "h2", RotationCount: 2}},
		}
		for i, s := range steps {
			t.Run(s.name, func(t *testing.T) {
				got, err := st.RecordFingerprint(ctx, att, s.port, s.probe, s.hash, testNow.Add(time.Duration(i)*time.Minute))
				if err != nil {
					t.Fatal(err)
				}
				if got != s.want {
					t.Errorf("change = %+v; want %+v", got, s.want)
				}
			})
		}
		n, last, err := st.AttackerRotation(ctx, att)
		if err != nil || n != 2 || last == nil || !last.Equal(testNow.Add(4*time.Minute)) {
			t.Errorf("attacker rotation = %d, %v, %v; want 2 at +4m", n, last, err)
		}
		if _, err := st.RecordFingerprint(ctx, "ghost", 22, "hassh", "h", testNow); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown attacker err = %v; want ErrNotFound", err)
		}
	})
}

func TestWebhooks(t *testing.T) {
	forEachDialect(t, func(t *testing.T, st *Store) {
		ctx := context.Background()
		w, err := st.CreateWebhook(ctx, Webhook{Name: "siem", URL: "https://siem.example/hook", Secret: "s3cret",
			TopicPatterns: []string{"attacker.*", "ttp.tagged"}, Enabled: true})
		if err != nil {
			t.Fatal(err)
		}
		if !w.Enabled || !reflect.DeepEqual(w.TopicPatterns, []string{"attacker.*", "ttp.tagged"}) || w.Secret != "s3cret" {
			t.Errorf("created %+v", w)
		}
		off := false
		cases := []struct {
			name    string
			run     func() error
			wantErr error
		}{
			{"duplicate name", func() error { _, err := st.CreateWebhook(ctx, Webhook{Name: "siem", URL: "u"}); return err }, ErrConflict},
			{"missing url", func() error { _, err := st.CreateWebhook(ctx, Webhook{Name: "x"}); return err }, ErrInvalid},
			{"second hook", func() error { _, err := st.CreateWebhook(ctx, Webhook{Name: "chat", URL: "u"}); return err }, nil},
			{"rename onto a taken name", func() error { n := "chat"; return st.UpdateWebhook(ctx, w.UUID, WebhookPatch{Name: &n}) }, ErrConflict},
			{"disable", func() error { return st.UpdateWebhook(ctx, w.UUID, WebhookPatch{Enabled: &off}) }, nil},
			{"update unknown", func() error { return st.UpdateWebhook(ctx, "nope", WebhookPatch{Enabled: &off}) }, ErrNotFound},
			{"delete unknown", func() error { return st.DeleteWebhook(ctx, "nope") }, ErrNotFound},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				if err := tc.run(); !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
					t.Fatalf("err = %v; want %v", err, tc.wantErr)
				}
			})
		}
		if all, _ := st.Webhooks(ctx, false); len(all) != 2 || all[0].Name != "chat" {
			t.Errorf("all webhooks = %+v", all)
		}
		if on, _ := st.Webhooks(ctx, true); len(on) != 0 {
			t.Errorf("enabled webhooks = %+v; want none (siem disabled, chat created disabled)", on)
		}
		long := strings.Repeat("x", 2000)
		for i := 1; i <= 3; i++ {
			n, err := st.RecordWebhookFailure(ctx, w.UUID, long, testNow)
			if err != nil || n != i {
				t.Fatalf("failure %d = %d, %v", i, n, err)
			}
		}
		if err := st.TripWebhookCircuit(ctx, w.UUID, testNow); err != nil {
			t.Fatal(err)
		}
		got, _ := st.WebhookByName(ctx, "siem")
		if got.AutoDisabledAt == nil || len(got.LastError) != maxWebhookError || got.ConsecutiveFailures != 3 {
			t.Errorf("after failures %+v", got)
		}
		on := true
		if err := st.UpdateWebhook(ctx, w.UUID, WebhookPatch{Enabled: &on}); err != nil {
			t.Fatal(err)
		}
		if err := st.RecordWebhookSuccess(ctx, w.UUID, testNow); err != nil {
			t.Fatal(err)
		}
		got, _ = st.Webhook(ctx, w.UUID)
		if !got.Enabled || got.AutoDisabledAt != nil || got.ConsecutiveFailures != 0 || got.LastSuccessAt == nil {
			t.Errorf("re-enabled %+v", got)
		}
		if err := st.DeleteWebhook(ctx, w.UUID); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Webhook(ctx, w.UUID); !errors.Is(err, ErrNotFound) {
			t.Errorf("deleted webhook err = %v", err)
		}
	})
}

func TestIdentitiesAndCampaigns(t *testing.T) {
	forEachDialect(t, func(t *testing.T, st *Store) {
		ctx := context.Background()
		var ids []string
		for _, ip := range []string{"192.0.2.10", "192.0.2.11", "192.0.2.12"} {
			id, err := st.EnsureStubIdentityForAttacker(ctx, seedAttacker(t, st, ip))
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
		// 0 → 1 → 2: reads of 0 and 1 land on 2.
		if err := st.MergeIdentity(ctx, ids[1], ids[2]); err != nil {
			t.Fatal(err)
		}
		if err := st.MergeIdentity(ctx, ids[0], ids[1]); err != nil {
			t.Fatal(err)
		}
		cases := []struct {
			name, id, want string
			wantErr        error
		}{
			{"unmerged", ids[2], ids[2], nil},
			{"one hop", ids[1], ids[2], nil},
			{"two hops", ids[0], ids[2], nil},
			{"unknown", "nope", "", ErrNotFound},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				got, err := st.IdentityByUUID(ctx, tc.id)
				if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
					t.Fatalf("err = %v; want %v", err, tc.wantErr)
				}
				if got.UUID != tc.want {
					t.Errorf("IdentityByUUID(%s) = %s; want %s", tc.id, got.UUID, tc.want)
				}
			})
		}
		rows, total, err := st.Identities(ctx, 10, 0)
		if err != nil || total != 1 || len(rows) != 1 || rows[0].UUID != ids[2] {
			t.Errorf("identities = %d rows, total %d, %v; want only the unmerged one", len(rows), total, err)
		}
		if err := st.MergeIdentity(ctx, ids[2], "ghost"); !errors.Is(err, ErrNotFound) {
			t.Errorf("merge into a missing identity err = %v", err)
		}
		c1, err := st.CreateCampaign(ctx, "op one")
		if err != nil {
			t.Fatal(err)
		}
		if err := st.SetIdentityCampaign(ctx, ids[2], c1); err != nil {
			t.Fatal(err)
		}
		c, err := st.CampaignByUUID(ctx, c1)
		if err != nil || c.Notes != "op one" || len(c.C2Endpoints) != 0 {
			t.Errorf("campaign = %+v, %v", c, err)
		}
		members, _ := st.IdentitiesOfCampaign(ctx, c1)
		if len(members) != 1 || members[0].CampaignID != c1 {
			t.Errorf("campaign members = %+v", members)
		}
		if cs, total, err := st.Campaigns(ctx, 10, 0); err != nil || total != 1 || len(cs) != 1 {
			t.Errorf("campaigns = %v, %d, %v", cs, total, err)
		}
		if _, err := st.CampaignByUUID(ctx, "nope"); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown campaign err = %v", err)
		}
	})
}

// TestUpsertObservationSets: several sessions in one call, one of them
// twice (a message redelivered into the same batch): no conflict error on
// any dialect, the repeat reports nothing new, ids stay the first ones.
func TestUpsertObservationSets(t *testing.T) {
	forEachDialect(t, func(t *testing.T, st *Store) {
		ctx := context.Background()
		att := seedAttacker(t, st, "203.0.113.8")
		set := func(ref string, vals ...string) []Observation {
			var os []Observation
			for i, v := range vals {
				os = append(os, Observation{AttackerUUID: att, Primitive: fmt.Sprintf("p%d", i), EvidenceRef: ref,
					TS: 100, Value: json.RawMessage(v), Confidence: 0.5, Source: "s"})
			}
			return os
		}
		fresh, err := st.UpsertObservationSets(ctx, [][]Observation{set("r1", `1`, `2`), set("r2", `3`), set("r1", `1`, `9`)})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(fresh[0], []bool{true, true}) || !slices.Equal(fresh[1], []bool{true}) || !slices.Equal(fresh[2], []bool{false, false}) {
			t.Errorf("fresh = %v", fresh)
		}
		obs, err := st.ObservationsForEvidence(ctx, "r1")
		if err != nil || len(obs) != 2 || string(obs[1].Value) != `9` {
			t.Errorf("r1 = %+v, %v; want two rows, the later value kept", obs, err)
		}
		again, err := st.UpsertObservationSets(ctx, [][]Observation{set("r2", `3`)})
		if err != nil || again[0][0] {
			t.Errorf("replay: %v %v", again, err)
		}
	})
}
