package intel

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"
)

const feodoJSONBody = `[
 {"ip_address":"203.0.113.10","port":443,"status":"online","hostname":null,"as_number":64500,"as_name":"EXAMPLE","country":"NL","first_seen":"2026-01-10 08:00:00","last_online":"2026-02-28","malware":"QakBot"},
 {"ip_address":"203.0.113.10","port":8443,"status":"offline","first_seen":"2025-12-01 08:00:00","last_online":"2026-01-15","malware":"Emotet"},
 {"ip_address":"2001:db8::7","port":"995","status":"offline","first_seen":"2026-01-01 00:00:00","last_online":null,"malware":"Dridex"},
 {"ip_address":"not-an-ip","port":1,"malware":"x"},
 {"ip_address":{"nested":true},"malware":["weird"]}
]`

const feodoCSVBody = `################################################################
# abuse.ch Feodo Tracker Botnet C2 IP Blocklist (CSV)           #
################################################################
#
# "first_seen_utc","dst_ip","dst_port","c2_status","last_online","malware"
"2026-01-10 08:00:00","203.0.113.10","443","online","2026-02-28","QakBot"
"2025-12-01 08:00:00","203.0.113.10","8443","offline","2026-01-15","Emotet"
"2026-01-01 00:00:00","2001:db8::7","995","offline","","Dridex"
# end
`

func TestFeodo(t *testing.T) {
	for _, tc := range []struct{ name, body string }{{"json", feodoJSONBody}, {"csv", feodoCSVBody}} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, text(tc.body))
			f := NewFeodo(FeodoConfig{ProviderConfig: ProviderConfig{BaseURL: srv.URL, Now: newFakeClock().Now, Logger: quietLogger()}})
			ctx := context.Background()

			v, err := f.Lookup(ctx, netip.MustParseAddr("203.0.113.10"))
			if err != nil {
				t.Fatal(err)
			}
			if !v.Malicious || v.Level != LevelMalicious {
				t.Fatalf("listed address: %+v", v)
			}
			if len(v.Families) != 2 || v.Families[0] != "Emotet" || v.Families[1] != "QakBot" {
				t.Errorf("families %v", v.Families)
			}
			if want := time.Date(2025, 12, 1, 8, 0, 0, 0, time.UTC); !v.FirstSeen.Equal(want) {
				t.Errorf("first seen %v, want %v", v.FirstSeen, want)
			}
			if want := time.Date(2026, 2, 28, 0, 0, 0, 0, time.UTC); !v.LastSeen.Equal(want) {
				t.Errorf("last seen %v, want %v", v.LastSeen, want)
			}
			if len(v.Tags) != 1 || v.Tags[0] != "c2_status:online" {
				t.Errorf("tags %v", v.Tags)
			}
			// IPv4-mapped IPv6 is the same address.
			if v, _ := f.Lookup(ctx, netip.MustParseAddr("::ffff:203.0.113.10")); !v.Malicious {
				t.Error("mapped address not matched")
			}
			if v, _ := f.Lookup(ctx, netip.MustParseAddr("2001:db8::7")); !v.Malicious {
				t.Error("IPv6 entry not matched")
			}
			v, err = f.Lookup(ctx, netip.MustParseAddr("198.51.100.1"))
			if err != nil || v.Level != LevelNone || v.Malicious {
				t.Errorf("absent address: %+v, %v (absence is LevelNone, not benign)", v, err)
			}
			if n := srv.hits.Load(); n != 1 {
				t.Errorf("%d downloads, want 1", n)
			}
		})
	}
}

func TestFeodoRefreshAndStale(t *testing.T) {
	var failing atomic.Bool
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		_, _ = w.Write([]byte(feodoJSONBody))
	})
	clock := newFakeClock()
	f := NewFeodo(FeodoConfig{ProviderConfig: ProviderConfig{BaseURL: srv.URL, Now: clock.Now, Logger: quietLogger()}, RefreshInterval: 10 * time.Minute})
	ctx := context.Background()
	ip := netip.MustParseAddr("203.0.113.10")
	if v, _ := f.Lookup(ctx, ip); !v.Malicious || v.Stale {
		t.Fatalf("first lookup %+v", v)
	}
	clock.Advance(9 * time.Minute)
	_, _ = f.Lookup(ctx, ip)
	if srv.hits.Load() != 1 {
		t.Fatal("refreshed before the interval")
	}
	failing.Store(true)
	clock.Advance(2 * time.Minute)
	v, err := f.Lookup(ctx, ip)
	if srv.hits.Load() != 2 {
		t.Fatal("did not refresh after the interval")
	}
	if err != nil || !v.Malicious || !v.Stale {
		t.Fatalf("failed refresh should keep the old index, stale: %+v %v", v, err)
	}
}

func TestFeodoUnavailable(t *testing.T) {
	for _, tc := range []struct {
		name string
		h    http.HandlerFunc
	}{
		{"500", status(http.StatusInternalServerError, "")},
		{"object not list", text(`{"error":"nope"}`)},
		{"truncated json", text(feodoJSONBody[:100])},
		{"empty list", text(`[]`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, tc.h)
			f := NewFeodo(FeodoConfig{ProviderConfig: ProviderConfig{BaseURL: srv.URL, Logger: quietLogger()}})
			_, err := f.Lookup(context.Background(), netip.MustParseAddr("203.0.113.10"))
			if !errors.Is(err, ErrFeedUnavailable) {
				t.Errorf("err = %v, want ErrFeedUnavailable", err)
			}
		})
	}
}
