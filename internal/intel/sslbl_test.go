package intel

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// sslblBody has the shape of the real export: a '#' banner, the column
// header as a comment, rows, and a torn or hostile row or two.
const sslblBody = `################################################################
# abuse.ch SSLBL JA3 Fingerprint Blacklist (CSV)                #
# Last updated: 2026-03-01 12:00:00 UTC                        #
################################################################
#
# ja3_md5,Firstseen,Lastseen,Listingreason
1aa7bf8b97e540ca5edd75f7b8384bfa,2017-07-14 18:08:16,2019-07-27 20:42:54,TrickBot
B386946A5A44D1DDCC843BC75336DFCE,2017-07-14 18:08:18,2019-07-27 20:42:50,Dridex
8f52d1ce303fb4a6515836aec3cc16b1,2017-07-14 19:44:30,2019-07-27 20:42:55,
"e7d705a3286e19ea42f587b344ee6865","2017-07-14","2019-07-27","Tofsee, Spam bot"
not-a-hash,2017-07-14,2019-07-27,Bogus
1aa7bf8b97e540ca5edd75f7b8384bf,short,,Short
zzzzbf8b97e540ca5edd75f7b8384bfa,,,NotHex
# Number of entries: 4
`

func TestParseSSLBL(t *testing.T) {
	idx, err := parseSSLBL([]byte(sslblBody))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"1aa7bf8b97e540ca5edd75f7b8384bfa": "TrickBot (abuse.ch SSLBL)",
		"b386946a5a44d1ddcc843bc75336dfce": "Dridex (abuse.ch SSLBL)",
		"8f52d1ce303fb4a6515836aec3cc16b1": "abuse.ch SSLBL listing",
		"e7d705a3286e19ea42f587b344ee6865": "Tofsee, Spam bot (abuse.ch SSLBL)",
	}
	if len(idx) != len(want) {
		t.Errorf("index %v, want %v", idx, want)
	}
	for h, l := range want {
		if idx[h] != l {
			t.Errorf("%s → %q, want %q", h, idx[h], l)
		}
	}
}

func TestSSLBLLookup(t *testing.T) {
	srv := newServer(t, text(sslblBody))
	s := NewSSLBL(SSLBLConfig{ProviderConfig: ProviderConfig{BaseURL: srv.URL, APIKey: "k1", Logger: quietLogger()}, Enabled: true})
	if _, ok := s.LookupFingerprint("ja3_hash", "1aa7bf8b97e540ca5edd75f7b8384bfa"); ok {
		t.Fatal("listed before any download")
	}
	if err := s.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r, _ := srv.lastRequest(); r.Header.Get("Auth-Key") != "k1" {
		t.Errorf("Auth-Key = %q", r.Header.Get("Auth-Key"))
	}
	cases := []struct {
		name, kind, value, label string
		ok                       bool
	}{
		{"listed", "ja3_hash", "1aa7bf8b97e540ca5edd75f7b8384bfa", "TrickBot (abuse.ch SSLBL)", true},
		{"upper case", "ja3_hash", "1AA7BF8B97E540CA5EDD75F7B8384BFA", "TrickBot (abuse.ch SSLBL)", true},
		{"listed upper in feed", "ja3_hash", "b386946a5a44d1ddcc843bc75336dfce", "Dridex (abuse.ch SSLBL)", true},
		{"absent", "ja3_hash", "00000000000000000000000000000000", "", false},
		{"other kind", "hassh", "1aa7bf8b97e540ca5edd75f7b8384bfa", "", false},
		{"too long", "ja3_hash", "1aa7bf8b97e540ca5edd75f7b8384bfa0", "", false},
		{"empty", "ja3_hash", "", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			label, ok := s.LookupFingerprint(tc.kind, tc.value)
			if ok != tc.ok || label != tc.label {
				t.Errorf("LookupFingerprint(%q, %q) = %q, %v; want %q, %v", tc.kind, tc.value, label, ok, tc.label, tc.ok)
			}
		})
	}
	if n := s.Len(); n != 4 {
		t.Errorf("Len = %d, want 4", n)
	}
}

// TestSSLBLRunRefreshAndKeep: Run downloads at once and again each
// interval; a failed or empty download keeps the last good list.
func TestSSLBLRunRefreshAndKeep(t *testing.T) {
	var mode atomic.Int32 // 0 first list, 1 second list, 2 failing, 3 empty
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch mode.Load() {
		case 0:
			_, _ = w.Write([]byte("# x\n1aa7bf8b97e540ca5edd75f7b8384bfa,,,TrickBot\n"))
		case 1:
			_, _ = w.Write([]byte("b386946a5a44d1ddcc843bc75336dfce,,,Dridex\n"))
		case 2:
			w.WriteHeader(http.StatusBadGateway)
		default:
			_, _ = w.Write([]byte("# nothing listed\n"))
		}
	})
	s := NewSSLBL(SSLBLConfig{ProviderConfig: ProviderConfig{BaseURL: srv.URL, Logger: quietLogger()}, Enabled: true,
		RefreshInterval: 20 * time.Millisecond, RetryInterval: 20 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	listed := func(h string) bool { _, ok := s.LookupFingerprint("ja3_hash", h); return ok }
	pollUntil(t, "first list loaded", func() bool { return listed("1aa7bf8b97e540ca5edd75f7b8384bfa") })
	mode.Store(1)
	pollUntil(t, "second list replaces the first", func() bool {
		return listed("b386946a5a44d1ddcc843bc75336dfce") && !listed("1aa7bf8b97e540ca5edd75f7b8384bfa")
	})
	for _, m := range []int32{2, 3} {
		before := srv.hits.Load()
		mode.Store(m)
		pollUntil(t, "two more attempts", func() bool { return srv.hits.Load() >= before+2 })
		if !listed("b386946a5a44d1ddcc843bc75336dfce") {
			t.Fatalf("mode %d: the last good list was dropped", m)
		}
	}
}

func pollUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestSSLBLOversizedBody(t *testing.T) {
	srv := newServer(t, text(strings.Repeat("1aa7bf8b97e540ca5edd75f7b8384bfa,,,TrickBot\n", 2000)))
	s := NewSSLBL(SSLBLConfig{ProviderConfig: ProviderConfig{BaseURL: srv.URL, MaxBodyBytes: 1024, Logger: quietLogger()}, Enabled: true})
	if err := s.Refresh(context.Background()); !errors.Is(err, ErrBodyTooLarge) {
		t.Fatalf("oversized body: err = %v", err)
	}
	if s.Len() != 0 {
		t.Error("an oversized body was half loaded")
	}
}

func TestSSLBLConfig(t *testing.T) {
	cases := []struct {
		name    string
		env     map[string]string
		wantErr string
		on      bool
		url     string
		every   time.Duration
	}{
		{"defaults on", nil, "", true, "", 0},
		{"values", map[string]string{"DECNET_SSLBL_JA3_URL": "http://127.0.0.1:9/ja3.csv", "DECNET_SSLBL_REFRESH_INTERVAL_S": "600",
			"DECNET_SSLBL_AUTH_KEY": "k"}, "", true, "http://127.0.0.1:9/ja3.csv", 10 * time.Minute},
		{"switched off", map[string]string{"DECNET_SSLBL_ENABLED": "false"}, "", false, "", 0},
		{"intel off", map[string]string{"DECNET_INTEL_ENABLED": "0"}, "", false, "", 0},
		{"bad switch", map[string]string{"DECNET_SSLBL_ENABLED": "perhaps"}, "DECNET_SSLBL_ENABLED", false, "", 0},
		{"bad interval", map[string]string{"DECNET_SSLBL_REFRESH_INTERVAL_S": "-1"}, "DECNET_SSLBL_REFRESH_INTERVAL_S", false, "", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ConfigFromEnv(func(k string) string { return tc.env[k] })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want mention of %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			f := c.SSLBLFeed()
			if (f != nil) != tc.on {
				t.Fatalf("feed on = %v, want %v", f != nil, tc.on)
			}
			if f == nil {
				return
			}
			wantURL := tc.url
			if wantURL == "" {
				wantURL = DefaultSSLBLJA3URL
			}
			if f.ep.base != wantURL {
				t.Errorf("URL %q, want %q", f.ep.base, wantURL)
			}
			if tc.every != 0 && f.feed.interval != tc.every {
				t.Errorf("interval %v, want %v", f.feed.interval, tc.every)
			}
		})
	}
	// A Config built in code leaves the feed off unless asked.
	if (Config{Enabled: true}).SSLBLFeed() != nil {
		t.Error("zero SSLBLConfig switched the feed on")
	}
}

func FuzzParseSSLBL(f *testing.F) {
	f.Add([]byte(sslblBody))
	f.Add([]byte("1aa7bf8b97e540ca5edd75f7b8384bfa\n"))
	f.Add([]byte("\"1aa7bf8b97e540ca5edd75f7b8384bfa,\"\"x\",,,\"" + strings.Repeat("é", 100) + "\"\r\n"))
	f.Add([]byte("# ja3_md5\n" + strings.Repeat("A", 70000) + "\n1aa7bf8b97e540ca5edd75f7b8384bfa,,,\xff\xfe"))
	f.Add([]byte{0, '\n', '#', ','})
	f.Fuzz(func(t *testing.T, body []byte) {
		idx, err := parseSSLBL(body)
		if err != nil {
			return
		}
		if len(idx) > maxSSLBLEntries {
			t.Fatal("unbounded index")
		}
		for h, label := range idx {
			if _, ok := md5Hex(h); !ok || strings.ToLower(h) != h {
				t.Fatalf("bad key %q", h)
			}
			if len(label) > 128+len(" (abuse.ch SSLBL)") || label == "" {
				t.Fatalf("bad label %q", label)
			}
		}
	})
}

func BenchmarkSSLBLLookup(b *testing.B) {
	idx, _ := parseSSLBL([]byte(sslblBody))
	s := NewSSLBL(SSLBLConfig{Enabled: true})
	s.index.Store(&idx)
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := s.LookupFingerprint("ja3_hash", "1AA7BF8B97E540CA5EDD75F7B8384BFA"); !ok {
			b.Fatal("miss")
		}
	}
}
