package store

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/decnet-go/decnet/internal/canary"
)

func testToken(uuid, slug, decky, kind string, at time.Time) canary.Token {
	return canary.Token{UUID: uuid, Kind: kind, DeckyName: decky, Generator: "git_config", PlacementPath: "/root/.gitconfig",
		Slug: slug, SecretSeed: "seed-" + uuid, FingerprintNonce: "nonce", CreatedAt: at, CreatedBy: "admin"}
}

// TestCanaryTokens: tokens round-trip (every field), are found by uuid,
// slug and access key, listed with filters and pages, change state, and a
// duplicate slug is a conflict.
func TestCanaryTokens(t *testing.T) {
	forEachDialect(t, func(t *testing.T, st *Store) {
		ctx := context.Background()
		t0 := time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)
		a := testToken("t-a", "slugaaaa", "decky-01", canary.KindHTTP, t0)
		b := testToken("t-b", "slugbbbb", "decky-01", canary.KindAWSPassive, t0.Add(time.Minute))
		b.Generator, b.AccessKeyID = "aws_creds", "AKIAIOSFODNN7EXAMPLE"
		c := testToken("t-c", "slugcccc", "decky-02", canary.KindDNS, t0.Add(2*time.Minute))
		c.State, c.LastError = canary.StateFailed, "decky not running"
		for _, tok := range []canary.Token{a, b, c} {
			if err := st.CreateToken(ctx, tok); err != nil {
				t.Fatalf("create %s: %v", tok.UUID, err)
			}
		}

		got, err := st.CanaryToken(ctx, "t-b")
		if err != nil {
			t.Fatal(err)
		}
		want := b
		want.State = canary.StatePlanted
		if got != want {
			t.Errorf("round trip:\n got %+v\nwant %+v", got, want)
		}
		if _, err := st.CanaryToken(ctx, "nope"); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown uuid: %v, want ErrNotFound", err)
		}

		lookups := []struct {
			name  string
			find  func() (canary.Token, bool, error)
			found string
		}{
			{"by slug", func() (canary.Token, bool, error) { return st.TokenBySlug(ctx, "slugaaaa") }, "t-a"},
			{"unknown slug", func() (canary.Token, bool, error) { return st.TokenBySlug(ctx, "slugzzzz") }, ""},
			{"empty slug", func() (canary.Token, bool, error) { return st.TokenBySlug(ctx, "") }, ""},
			{"slug is case-sensitive", func() (canary.Token, bool, error) { return st.TokenBySlug(ctx, "SLUGAAAA") }, ""},
			{"by access key", func() (canary.Token, bool, error) { return st.TokenByAccessKey(ctx, "AKIAIOSFODNN7EXAMPLE") }, "t-b"},
			{"unknown key", func() (canary.Token, bool, error) { return st.TokenByAccessKey(ctx, "AKIAXXXXXXXXXXXXXXXX") }, ""},
			{"empty key never matches the tokens without one", func() (canary.Token, bool, error) { return st.TokenByAccessKey(ctx, "") }, ""},
		}
		for _, tc := range lookups {
			t.Run(tc.name, func(t *testing.T) {
				tok, found, err := tc.find()
				if err != nil {
					t.Fatal(err)
				}
				if found != (tc.found != "") || tok.UUID != tc.found {
					t.Errorf("found %v %q, want %q", found, tok.UUID, tc.found)
				}
			})
		}

		lists := []struct {
			name  string
			f     CanaryTokenFilter
			uuids string
			total int
		}{
			{"all, newest first", CanaryTokenFilter{}, "t-c t-b t-a", 3},
			{"decky", CanaryTokenFilter{Decky: "decky-01"}, "t-b t-a", 2},
			{"state", CanaryTokenFilter{State: canary.StateFailed}, "t-c", 1},
			{"kind", CanaryTokenFilter{Kind: canary.KindAWSPassive}, "t-b", 1},
			{"decky and kind", CanaryTokenFilter{Decky: "decky-01", Kind: canary.KindDNS}, "", 0},
			{"page", CanaryTokenFilter{Limit: 1, Offset: 1}, "t-b", 3},
			{"past the end", CanaryTokenFilter{Offset: 10}, "", 3},
		}
		for _, tc := range lists {
			t.Run(tc.name, func(t *testing.T) {
				rows, total, err := st.CanaryTokens(ctx, tc.f)
				if err != nil {
					t.Fatal(err)
				}
				var ids []string
				for _, r := range rows {
					ids = append(ids, r.UUID)
				}
				if strings.Join(ids, " ") != tc.uuids || total != tc.total {
					t.Errorf("got %v (total %d), want %q (total %d)", ids, total, tc.uuids, tc.total)
				}
				if rows == nil {
					t.Error("nil list; want [] for JSON")
				}
			})
		}

		if err := st.SetTokenState(ctx, "t-a", canary.StateRevoked); err != nil {
			t.Fatal(err)
		}
		if err := st.SetTokenState(ctx, "t-a", canary.StateRevoked); err != nil {
			t.Errorf("same state again: %v", err) // MySQL reports 0 changed rows
		}
		if err := st.SetTokenState(ctx, "nope", canary.StateRevoked); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown token: %v, want ErrNotFound", err)
		}
		if err := st.SetCanaryTokenCreator(ctx, "t-c", "alice"); err != nil {
			t.Fatal(err)
		}
		if err := st.SetCanaryTokenCreator(ctx, "t-c", "alice"); err != nil {
			t.Errorf("same creator again: %v", err)
		}
		if tok, _ := st.CanaryToken(ctx, "t-c"); tok.CreatedBy != "alice" {
			t.Errorf("created_by %q, want alice", tok.CreatedBy)
		}
		if err := st.SetCanaryTokenCreator(ctx, "nope", "alice"); !errors.Is(err, ErrNotFound) {
			t.Errorf("creator of unknown token: %v, want ErrNotFound", err)
		}
		if err := st.SetTokenState(ctx, "t-a", "lost"); !errors.Is(err, ErrInvalid) {
			t.Errorf("bad state: %v, want ErrInvalid", err)
		}
		planted, err := st.PlantedCanaryTokens(ctx)
		if err != nil || len(planted) != 1 || planted[0].UUID != "t-b" {
			t.Errorf("planted = %+v, %v; want only t-b", planted, err)
		}

		dup := testToken("t-d", "slugaaaa", "decky-03", canary.KindHTTP, t0)
		if err := st.CreateToken(ctx, dup); !errors.Is(err, ErrConflict) {
			t.Errorf("duplicate slug: %v, want ErrConflict", err)
		}
		if err := st.CreateToken(ctx, canary.Token{UUID: "x"}); !errors.Is(err, ErrInvalid) {
			t.Errorf("token without slug: %v, want ErrInvalid", err)
		}
	})
}

// TestCanaryTriggers: a trigger is stored with its JSON columns and bumps
// the token's count and last time (never backwards); hostile text is
// cleaned and bounded; an unknown token stores nothing; concurrent
// triggers all count.
func TestCanaryTriggers(t *testing.T) {
	forEachDialect(t, func(t *testing.T, st *Store) {
		ctx := context.Background()
		t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		if err := st.CreateToken(ctx, testToken("tok", "slug0001", "decky-01", canary.KindHTTP, t0)); err != nil {
			t.Fatal(err)
		}
		first := canary.Trigger{UUID: "tr-1", TokenUUID: "tok", OccurredAt: t0.Add(time.Hour), SrcIP: "198.51.100.7",
			UserAgent: "curl/8.5.0", RequestPath: "/c/slug0001?o=1", Via: "http",
			RawHeaders:  map[string]string{"User-Agent": "curl/8.5.0", "X-Forwarded-For": "198.51.100.7"},
			Fingerprint: map[string]any{"nav": map[string]any{"webdriver": true}, "tz": "Europe/Berlin"},
			Metrics:     []canary.Metric{{Name: "navigator_webdriver", Signature: "true"}}}
		// Older than the first: stored, but last_triggered_at stays.
		hostile := canary.Trigger{UUID: "tr-2", TokenUUID: "tok", OccurredAt: t0.Add(time.Minute), SrcIP: "203.0.113.9",
			UserAgent: "bad\x00agent\xff" + strings.Repeat("A", 5000), DNSQName: strings.Repeat("x", 400), Via: "dns",
			RawHeaders: map[string]string{}}
		for i := range 100 {
			hostile.RawHeaders[strings.Repeat("h", 3)+string(rune('a'+i%26))+string(rune('a'+i/26))] = strings.Repeat("v", 3000)
		}
		for _, tr := range []canary.Trigger{first, hostile} {
			if err := st.RecordTrigger(ctx, tr); err != nil {
				t.Fatalf("record %s: %v", tr.UUID, err)
			}
		}
		if err := st.RecordTrigger(ctx, canary.Trigger{TokenUUID: "ghost", SrcIP: "192.0.2.1"}); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown token: %v, want ErrNotFound", err)
		}

		tok, err := st.CanaryToken(ctx, "tok")
		if err != nil {
			t.Fatal(err)
		}
		if tok.TriggerCount != 2 || !tok.LastTriggeredAt.Equal(first.OccurredAt) {
			t.Errorf("token after two triggers: count %d last %v; want 2, %v", tok.TriggerCount, tok.LastTriggeredAt, first.OccurredAt)
		}

		rows, total, err := st.CanaryTriggers(ctx, "tok", 10, 0)
		if err != nil || total != 2 || len(rows) != 2 {
			t.Fatalf("triggers: %d rows, total %d, %v", len(rows), total, err)
		}
		got := rows[0] // newest first
		if got.UUID != "tr-1" || got.SrcIP != first.SrcIP || got.Via != "http" || got.RequestPath != first.RequestPath ||
			got.RawHeaders["X-Forwarded-For"] != "198.51.100.7" || got.Fingerprint["tz"] != "Europe/Berlin" ||
			len(got.Metrics) != 1 || got.Metrics[0] != first.Metrics[0] || !got.OccurredAt.Equal(first.OccurredAt) {
			t.Errorf("first trigger read back as %+v", got)
		}
		h := rows[1]
		if strings.ContainsRune(h.UserAgent, 0) || len([]rune(h.UserAgent)) != maxTriggerUserAgent ||
			len(h.DNSQName) != maxTriggerQName || len(h.RawHeaders) != maxTriggerHeaders || h.Fingerprint != nil || len(h.Metrics) != 0 {
			t.Errorf("hostile trigger: ua %d runes, qname %d, %d headers, fingerprint %v, metrics %v",
				len([]rune(h.UserAgent)), len(h.DNSQName), len(h.RawHeaders), h.Fingerprint, h.Metrics)
		}
		if page, total, _ := st.CanaryTriggers(ctx, "tok", 1, 1); total != 2 || len(page) != 1 || page[0].UUID != "tr-2" {
			t.Errorf("second page: %+v (total %d)", page, total)
		}
		if none, total, err := st.CanaryTriggers(ctx, "ghost", 10, 0); err != nil || total != 0 || none == nil || len(none) != 0 {
			t.Errorf("unknown token's triggers: %v %d %v", none, total, err)
		}

		// Concurrent triggers (HTTP and DNS listeners at once) all count.
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for range 16 {
			wg.Go(func() {
				errs <- st.RecordTrigger(ctx, canary.Trigger{TokenUUID: "tok", SrcIP: "192.0.2.9", Via: "http"})
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if tok, _ := st.CanaryToken(ctx, "tok"); tok.TriggerCount != 18 {
			t.Errorf("after 16 concurrent triggers: count %d, want 18", tok.TriggerCount)
		}
	})
}

// FuzzTriggerJSON: whatever an attacker puts in a trigger, its JSON columns
// encode within their bounds, and the store reads them back.
func FuzzTriggerJSON(f *testing.F) {
	f.Add("User-Agent", "curl/8.5.0", "tz", "Europe/Berlin", "navigator_webdriver", "true")
	f.Add("\x00", "\xff\xfe", "", "\x00", strings.Repeat("m", 600), "")
	f.Add(strings.Repeat("k", 200), strings.Repeat("v", 2000), "nav", `{"a":`, "x", "y")
	f.Fuzz(func(t *testing.T, hk, hv, fk, fv, mn, ms string) {
		tr := canary.Trigger{RawHeaders: map[string]string{hk: hv}, Fingerprint: map[string]any{fk: fv},
			Metrics: []canary.Metric{{Name: mn, Signature: ms}}}
		headers, fingerprint, metrics := triggerJSON(tr)
		if len(headers) > 8*(maxTriggerHeaderName+maxTriggerHeaderValue)*maxTriggerHeaders || len(fingerprint) > maxTriggerFingerprint {
			t.Fatalf("unbounded: headers %d, fingerprint %d", len(headers), len(fingerprint))
		}
		got, err := scanCanaryTrigger(rowOf{"u", "t", "2026-03-01T12:00:00.000000000Z", "", "", "", "", headers, "", fingerprint, metrics})
		if err != nil {
			t.Fatal(err)
		}
		if len(got.RawHeaders) != 1 || len(got.Metrics) != 1 || got.Fingerprint == nil {
			t.Fatalf("read back %+v from %s %s %s", got, headers, fingerprint, metrics)
		}
	})
}

// rowOf is a scanner over fixed string values.
type rowOf []string

func (r rowOf) Scan(dst ...any) error {
	for i, d := range dst {
		*d.(*string) = r[i]
	}
	return nil
}
