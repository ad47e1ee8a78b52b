package store

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestAttackerCapturedFiles: an address's artifact bounties come back
// newest first, a message followed by its attachments, each with the hash
// verdict observed_attachments holds; another address's files and other
// bounty types do not, and the limit cuts the bounties.
func TestAttackerCapturedFiles(t *testing.T) {
	st := openTest(t)
	ctx := context.Background()
	uuid := seedAttacker(t, st, "203.0.113.5")
	seedAttacker(t, st, "198.51.100.7")
	sha := func(c string) string { return strings.Repeat(c, 64) }
	t0 := time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)
	for _, b := range []Bounty{
		{TS: t0, AttackerIP: "203.0.113.5", Decky: "d1", Service: "ssh", BountyType: BountyArtifact,
			Payload: json.RawMessage(`{"artifact_type":"file","sha256":"` + sha("a") + `","orig_path":"/tmp/x.sh","size":4812,"session_id":"s1"}`)},
		{TS: t0.Add(time.Minute), AttackerIP: "203.0.113.5", Decky: "d1", Service: "smtp", BountyType: BountyArtifact,
			Payload: json.RawMessage(`{"artifact_type":"email","sha256":"` + sha("b") + `","subject":"invoice","attachment_sha256s":["` + sha("c") + `"]}`)},
		{TS: t0.Add(2 * time.Minute), AttackerIP: "203.0.113.5", BountyType: BountyFingerprint, Payload: json.RawMessage(`{"x":1}`)},
		{TS: t0, AttackerIP: "198.51.100.7", BountyType: BountyArtifact, Payload: json.RawMessage(`{"artifact_type":"file","sha256":"` + sha("d") + `"}`)},
	} {
		if _, err := st.AddBounty(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	bad, good := true, false
	for _, s := range []AttachmentSighting{
		{SHA256: sha("a"), AttackerUUID: uuid, MalHashMatch: &bad, Provider: "malwarebazaar", Time: t0},
		{SHA256: sha("c"), AttackerUUID: uuid, MalHashMatch: &good, Provider: "malwarebazaar", Time: t0},
	} {
		if _, err := st.UpsertObservedAttachment(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name  string
		limit int
		want  []string // kind name verdict
	}{
		{"all", 50, []string{"email invoice -", "attachment invoice false", "file /tmp/x.sh true"}},
		{"limit", 1, []string{"email invoice -", "attachment invoice false"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			files, err := st.AttackerCapturedFiles(ctx, "203.0.113.5", tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range files {
				v := "-"
				if f.MalHashMatch != nil {
					v = map[bool]string{true: "true", false: "false"}[*f.MalHashMatch]
				}
				got = append(got, f.Kind+" "+f.Name+" "+v)
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("files = %q, want %q", got, tc.want)
			}
		})
	}
}
