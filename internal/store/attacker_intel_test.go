package store

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestAttackerIntelUpsert(t *testing.T) {
	forEachDialect(t, func(t *testing.T, st *Store) {
		ctx := context.Background()
		att := seedAttacker(t, st, "203.0.113.5")
		at := testNow
		first := AttackerIntel{AttackerUUID: att, AttackerIP: "203.0.113.5", AggregateVerdict: "malicious",
			GreyNoise:   &GreyNoiseIntel{Classification: "malicious", Name: "Mirai", Tags: []string{"mirai", "noise"}, QueriedAt: at},
			AbuseIPDB:   &AbuseIPDBIntel{Score: 100, Categories: []int{14, 18, 22}, QueriedAt: at},
			Raw:         map[string]json.RawMessage{"greynoise": json.RawMessage(`{"classification":"malicious"}`)},
			CountryCode: "NL", ASN: 64496, ASName: "EXAMPLE-AS", ASNSource: "iptoasn",
			CachedAt: at, ExpiresAt: at.Add(24 * time.Hour)}
		// The second pass: GreyNoise and AbuseIPDB failed (nil), Feodo
		// answered, no location. What failed keeps its columns.
		second := AttackerIntel{AttackerUUID: att, AttackerIP: "203.0.113.5", AggregateVerdict: "suspicious",
			Feodo:    &FeodoIntel{Listed: true, MalwareFamily: "QakBot", QueriedAt: at.Add(time.Hour)},
			Raw:      map[string]json.RawMessage{"feodo": json.RawMessage(`{"listed":true}`)},
			CachedAt: at.Add(time.Hour), ExpiresAt: at.Add(25 * time.Hour)}
		cases := []struct {
			name    string
			in      AttackerIntel
			wantErr error
			check   func(t *testing.T, got AttackerIntel)
		}{
			{"first pass stores every provider", first, nil, func(t *testing.T, got AttackerIntel) {
				if got.GreyNoise == nil || got.GreyNoise.Name != "Mirai" || !reflect.DeepEqual(got.GreyNoise.Tags, []string{"mirai", "noise"}) {
					t.Errorf("greynoise = %+v", got.GreyNoise)
				}
				if got.AbuseIPDB == nil || got.AbuseIPDB.Score != 100 || !reflect.DeepEqual(got.AbuseIPDB.Categories, []int{14, 18, 22}) {
					t.Errorf("abuseipdb = %+v", got.AbuseIPDB)
				}
				if got.Feodo != nil || got.ThreatFox != nil {
					t.Errorf("providers that never answered: feodo %+v threatfox %+v", got.Feodo, got.ThreatFox)
				}
				if got.ASN != 64496 || got.CountryCode != "NL" || got.AggregateVerdict != "malicious" || len(got.UUID) != 32 {
					t.Errorf("row = %+v", got)
				}
			}},
			{"a later pass keeps what failed and takes the new verdict", second, nil, func(t *testing.T, got AttackerIntel) {
				if got.GreyNoise == nil || got.GreyNoise.Classification != "malicious" || got.AbuseIPDB == nil {
					t.Errorf("failed providers lost their answers: %+v %+v", got.GreyNoise, got.AbuseIPDB)
				}
				if got.Feodo == nil || !got.Feodo.Listed || got.Feodo.MalwareFamily != "QakBot" {
					t.Errorf("feodo = %+v", got.Feodo)
				}
				if got.AggregateVerdict != "suspicious" || !got.ExpiresAt.Equal(at.Add(25*time.Hour)) {
					t.Errorf("verdict %q expires %v", got.AggregateVerdict, got.ExpiresAt)
				}
				if len(got.Raw) != 2 || got.ASN != 64496 {
					t.Errorf("raw %v asn %d: want both providers' raw answers and the kept location", got.Raw, got.ASN)
				}
			}},
			{"unknown attacker", AttackerIntel{AttackerUUID: "nope", ExpiresAt: at}, ErrNotFound, nil},
			{"no expiry", AttackerIntel{AttackerUUID: att}, ErrInvalid, nil},
		}
		var id string
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				err := st.UpsertAttackerIntel(ctx, tc.in)
				if tc.wantErr != nil {
					if !errors.Is(err, tc.wantErr) {
						t.Fatalf("err = %v; want %v", err, tc.wantErr)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				got, err := st.AttackerIntel(ctx, att)
				if err != nil {
					t.Fatal(err)
				}
				if id == "" {
					id = got.UUID
				} else if got.UUID != id {
					t.Errorf("row id changed from %s to %s", id, got.UUID)
				}
				tc.check(t, got)
			})
		}
		if _, err := st.AttackerIntel(ctx, seedAttacker(t, st, "203.0.113.6")); !errors.Is(err, ErrNotFound) {
			t.Errorf("intel of an attacker never enriched: err = %v; want ErrNotFound", err)
		}
		for _, tc := range []struct {
			name string
			now  time.Time
			want []string
		}{
			{"fresh", at.Add(24 * time.Hour), []string{}},
			{"expired", at.Add(26 * time.Hour), []string{"203.0.113.5"}},
		} {
			t.Run("expired list "+tc.name, func(t *testing.T) {
				if got, err := st.ExpiredIntelAddresses(ctx, tc.now, 10); err != nil || !reflect.DeepEqual(got, tc.want) {
					t.Errorf("expired at %v = %v, %v; want %v", tc.now, got, err, tc.want)
				}
			})
		}
	})
}
