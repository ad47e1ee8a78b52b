package intel

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"
)

var attacker = netip.MustParseAddr("198.51.100.23")

func TestAPIProvidersWithoutKeySendNothing(t *testing.T) {
	srv := newServer(t, text(`{}`))
	pc := ProviderConfig{BaseURL: srv.URL, Logger: quietLogger()}
	for _, p := range []IntelProvider{
		NewAbuseIPDB(AbuseIPDBConfig{ProviderConfig: pc}),
		NewGreyNoise(GreyNoiseConfig{ProviderConfig: pc}),
		NewThreatFox(ThreatFoxConfig{ProviderConfig: pc}),
	} {
		if _, err := p.Lookup(context.Background(), attacker); !errors.Is(err, ErrDisabled) {
			t.Errorf("%s: err = %v, want ErrDisabled", p.Name(), err)
		}
	}
	if n := srv.hits.Load(); n != 0 {
		t.Errorf("%d requests without keys, want 0", n)
	}
}

func abuseBody(score any, extra string) string {
	b, _ := json.Marshal(score)
	return `{"data":{"ipAddress":"198.51.100.23","isPublic":true,"ipVersion":4,"isWhitelisted":false,"abuseConfidenceScore":` + string(b) +
		`,"countryCode":"CN","usageType":"Data Center/Web Hosting/Transit","isp":"Example Hosting","domain":"example.net","hostnames":[],"isTor":true,"totalReports":3,"numDistinctUsers":2,"lastReportedAt":"2026-02-27T10:11:12+00:00"` + extra + `}}`
}

func TestAbuseIPDB(t *testing.T) {
	reports := `,"reports":[{"reportedAt":"2026-02-20T00:00:00+00:00","categories":[22,18]},{"reportedAt":"2026-02-27T10:11:12+00:00","categories":[18,"14",-3,"x"]}]`
	cases := []struct {
		name  string
		body  string
		level Level
		score int
		err   error
	}{
		{"malicious at 75", abuseBody(75, reports), LevelMalicious, 75, nil},
		{"suspicious at 25", abuseBody(25, ""), LevelSuspicious, 25, nil},
		{"suspicious at 74", abuseBody(74, ""), LevelSuspicious, 74, nil},
		{"benign below 25", abuseBody(24, ""), LevelBenign, 24, nil},
		{"benign at 0", abuseBody(0, ""), LevelBenign, 0, nil},
		{"score as string", abuseBody("90", ""), LevelMalicious, 90, nil},
		{"score clamped", abuseBody(1e9, ""), LevelMalicious, 100, nil},
		{"negative score clamped", abuseBody(-5, ""), LevelBenign, 0, nil},
		{"score missing", `{"data":{"ipAddress":"198.51.100.23"}}`, LevelNone, 0, ErrMalformed},
		{"errors object", `{"errors":[{"detail":"The ip address must be a valid IPv4 or IPv6 address.","status":422}]}`, LevelNone, 0, ErrMalformed},
		{"not json", `<html>`, LevelNone, 0, ErrMalformed},
		{"data is a list", `{"data":[1,2]}`, LevelNone, 0, ErrMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, text(tc.body))
			a := NewAbuseIPDB(AbuseIPDBConfig{ProviderConfig: ProviderConfig{BaseURL: srv.URL + "/api/v2/", APIKey: "abuse-key", Logger: quietLogger(), RatePerMinute: -1}})
			v, err := a.Lookup(context.Background(), attacker)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if v.Level != tc.level || v.Score != tc.score || v.Malicious != (tc.level == LevelMalicious) {
				t.Errorf("level %v score %d, want %v %d", v.Level, v.Score, tc.level, tc.score)
			}
			req, _ := srv.lastRequest()
			if req.URL.Path != "/api/v2/check" || req.URL.Query().Get("ipAddress") != "198.51.100.23" || req.URL.Query().Get("maxAgeInDays") != "30" {
				t.Errorf("request %s", req.URL)
			}
			if req.Header.Get("Key") != "abuse-key" || req.Header.Get("Accept") != "application/json" {
				t.Errorf("headers %v", req.Header)
			}
			if tc.name == "malicious at 75" {
				if got := v.Categories; len(got) != 3 || got[0] != 14 || got[1] != 18 || got[2] != 22 {
					t.Errorf("categories %v, want sorted union [14 18 22]", got)
				}
				if v.Name != "Example Hosting" || !strings.Contains(strings.Join(v.Tags, ","), "tor") {
					t.Errorf("name %q tags %v", v.Name, v.Tags)
				}
				if want := time.Date(2026, 2, 27, 10, 11, 12, 0, time.UTC); !v.LastSeen.Equal(want) {
					t.Errorf("last seen %v", v.LastSeen)
				}
				if len(v.Raw) == 0 {
					t.Error("raw response not kept")
				}
			}
		})
	}
}

func TestAbuseIPDBStatusErrors(t *testing.T) {
	for _, tc := range []struct {
		code int
		want error
	}{{http.StatusTooManyRequests, ErrRateLimited}, {http.StatusUnauthorized, nil}, {http.StatusInternalServerError, nil}} {
		srv := newServer(t, status(tc.code, `{"errors":[{"detail":"x"}]}`))
		a := NewAbuseIPDB(AbuseIPDBConfig{ProviderConfig: ProviderConfig{BaseURL: srv.URL, APIKey: "k", Logger: quietLogger(), RatePerMinute: -1}})
		_, err := a.Lookup(context.Background(), attacker)
		var se *StatusError
		if !errors.As(err, &se) || se.Status != tc.code {
			t.Errorf("%d: err = %v", tc.code, err)
		}
		if tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("%d: err = %v, want %v", tc.code, err, tc.want)
		}
	}
}

func TestAbuseIPDBBodyCap(t *testing.T) {
	srv := newServer(t, text(abuseBody(80, `,"pad":"`+strings.Repeat("a", 4096)+`"`)))
	a := NewAbuseIPDB(AbuseIPDBConfig{ProviderConfig: ProviderConfig{BaseURL: srv.URL, APIKey: "k", MaxBodyBytes: 1024, Logger: quietLogger(), RatePerMinute: -1}})
	if _, err := a.Lookup(context.Background(), attacker); !errors.Is(err, ErrBodyTooLarge) {
		t.Errorf("err = %v, want ErrBodyTooLarge", err)
	}
}

func TestGreyNoise(t *testing.T) {
	cases := []struct {
		name   string
		code   int
		body   string
		level  Level
		vname  string
		tags   string
		errIs  error
		status bool
	}{
		{"malicious", 200, `{"ip":"198.51.100.23","noise":true,"riot":false,"classification":"malicious","name":"unknown","link":"https://viz.greynoise.io/ip/198.51.100.23","last_seen":"2026-02-28","message":"Success"}`, LevelMalicious, "", "noise", nil, false},
		{"benign riot", 200, `{"ip":"198.51.100.23","noise":false,"riot":true,"classification":"benign","name":"Cloudflare","last_seen":"2026-02-28","message":"Success"}`, LevelBenign, "Cloudflare", "riot", nil, false},
		{"suspicious uppercase", 200, `{"classification":"SUSPICIOUS","noise":true,"tags":["SSH Bruteforcer",7,null]}`, LevelSuspicious, "", "7,SSH Bruteforcer,noise", nil, false},
		{"unknown classification", 200, `{"classification":"unknown","noise":true}`, LevelUnknown, "", "noise", nil, false},
		{"odd classification", 200, `{"classification":{"x":1},"noise":"yes"}`, LevelUnknown, "", "", nil, false},
		{"404 not observed", 404, `{"ip":"198.51.100.23","noise":false,"riot":false,"message":"IP not observed scanning the internet or contained in RIOT data set."}`, LevelUnknown, "", "", nil, false},
		{"404 html", 404, `<html>not found</html>`, LevelUnknown, "", "", nil, false},
		{"429", 429, `{"message":"rate limit"}`, LevelNone, "", "", ErrRateLimited, true},
		{"401", 401, `{"message":"bad key"}`, LevelNone, "", "", nil, true},
		{"malformed", 200, `{"classification":`, LevelNone, "", "", ErrMalformed, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, status(tc.code, tc.body))
			g := NewGreyNoise(GreyNoiseConfig{ProviderConfig: ProviderConfig{BaseURL: srv.URL, APIKey: "gn-key", Logger: quietLogger(), RatePerMinute: -1}})
			v, err := g.Lookup(context.Background(), attacker)
			if tc.status {
				var se *StatusError
				if !errors.As(err, &se) || se.Status != tc.code {
					t.Fatalf("err = %v, want status %d", err, tc.code)
				}
			}
			if tc.errIs != nil && !errors.Is(err, tc.errIs) {
				t.Fatalf("err = %v, want %v", err, tc.errIs)
			}
			if tc.status || tc.errIs != nil {
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if v.Level != tc.level || v.Name != tc.vname || strings.Join(v.Tags, ",") != tc.tags {
				t.Errorf("got level %v name %q tags %v", v.Level, v.Name, v.Tags)
			}
			req, _ := srv.lastRequest()
			if req.URL.Path != "/v3/community/198.51.100.23" || req.Header.Get("key") != "gn-key" {
				t.Errorf("request %s key=%q", req.URL.Path, req.Header.Get("key"))
			}
		})
	}
}

func TestGreyNoiseKeyless(t *testing.T) {
	srv := newServer(t, text(`{"classification":"benign"}`))
	g := NewGreyNoise(GreyNoiseConfig{ProviderConfig: ProviderConfig{BaseURL: srv.URL, Logger: quietLogger()}, Keyless: true})
	if _, err := g.Lookup(context.Background(), attacker); err != nil {
		t.Fatal(err)
	}
	req, _ := srv.lastRequest()
	if _, ok := req.Header["Key"]; ok {
		t.Error("keyless request carries a key header")
	}
}

func TestThreatFox(t *testing.T) {
	ok := `{"query_status":"ok","data":[
	 {"id":"1234567","ioc":"198.51.100.23:443","threat_type":"botnet_cc","ioc_type":"ip:port","malware":"win.cobalt_strike","malware_printable":"Cobalt Strike","confidence_level":75,"first_seen":"2026-02-01 10:00:00 UTC","last_seen":null,"tags":["CobaltStrike","c2"]},
	 {"id":"1234568","ioc":"198.51.100.23:8080","threat_type":"payload_delivery","ioc_type":"ip:port","malware":"elf.mirai","malware_printable":"Mirai","confidence_level":"100","first_seen":"2026-01-01 10:00:00 UTC","last_seen":"2026-02-20 10:00:00 UTC","tags":null},
	 {"id":"999","ioc":"198.51.100.234:80","threat_type":"botnet_cc","ioc_type":"ip:port","malware_printable":"Other","confidence_level":100}
	]}`
	cases := []struct {
		name  string
		body  string
		level Level
		err   error
	}{
		{"ok", ok, LevelMalicious, nil},
		{"no_result", `{"query_status":"no_result","data":"Your search did not yield any results"}`, LevelNone, nil},
		{"only other addresses", `{"query_status":"ok","data":[{"ioc":"198.51.100.230:80"},{"ioc":"evil.example"}]}`, LevelNone, nil},
		{"illegal term", `{"query_status":"illegal_search_term","data":"x"}`, LevelNone, ErrMalformed},
		{"unknown auth key", `{"query_status":"unknown_auth_key"}`, LevelNone, ErrMalformed},
		{"data not list", `{"query_status":"ok","data":"surprise"}`, LevelNone, ErrMalformed},
		{"not json", `nope`, LevelNone, ErrMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, text(tc.body))
			p := NewThreatFox(ThreatFoxConfig{ProviderConfig{BaseURL: srv.URL + "/api/v1/", APIKey: "tf-key", Logger: quietLogger(), RatePerMinute: -1}})
			v, err := p.Lookup(context.Background(), attacker)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if v.Level != tc.level {
				t.Fatalf("level %v, want %v", v.Level, tc.level)
			}
			req, body := srv.lastRequest()
			var sent map[string]any
			_ = json.Unmarshal(body, &sent)
			if req.Method != http.MethodPost || req.URL.Path != "/api/v1/" || req.Header.Get("Auth-Key") != "tf-key" ||
				sent["query"] != "search_ioc" || sent["search_term"] != "198.51.100.23" {
				t.Errorf("request %s %s key=%q body=%s", req.Method, req.URL.Path, req.Header.Get("Auth-Key"), body)
			}
			if tc.name != "ok" {
				return
			}
			if strings.Join(v.Families, ",") != "Cobalt Strike,Mirai" ||
				strings.Join(v.ThreatTypes, ",") != "botnet_cc,payload_delivery" ||
				strings.Join(v.IOCTypes, ",") != "ip:port" ||
				strings.Join(v.Tags, ",") != "CobaltStrike,c2" || v.Score != 100 {
				t.Errorf("merged %+v", v)
			}
			if v.Reference != "https://threatfox.abuse.ch/ioc/1234567/" {
				t.Errorf("reference %q", v.Reference)
			}
			if !v.FirstSeen.Equal(time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)) || !v.LastSeen.Equal(time.Date(2026, 2, 20, 10, 0, 0, 0, time.UTC)) {
				t.Errorf("seen %v – %v", v.FirstSeen, v.LastSeen)
			}
		})
	}
}

func TestIOCIsAddr(t *testing.T) {
	v6 := netip.MustParseAddr("2001:db8::1")
	for _, tc := range []struct {
		ioc  string
		ip   netip.Addr
		want bool
	}{
		{"198.51.100.23", attacker, true},
		{"198.51.100.23:443", attacker, true},
		{"198.51.100.234:443", attacker, false},
		{"[2001:db8::1]:443", v6, true},
		{"2001:db8::1", v6, true},
		{"2001:db8::10", v6, false},
		{"http://198.51.100.23/", attacker, false},
	} {
		if got := iocIsAddr(tc.ioc, tc.ip); got != tc.want {
			t.Errorf("iocIsAddr(%q) = %v", tc.ioc, got)
		}
	}
}

func TestRateLimitEnforced(t *testing.T) {
	srv := newServer(t, text(abuseBody(10, "")))
	a := NewAbuseIPDB(AbuseIPDBConfig{ProviderConfig: ProviderConfig{BaseURL: srv.URL, APIKey: "k", Logger: quietLogger(), RatePerMinute: 1, Burst: 1}})
	if _, err := a.Lookup(context.Background(), attacker); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := a.Lookup(ctx, attacker)
	if !errors.Is(err, ErrRateLimited) {
		t.Errorf("second lookup within the minute: err = %v, want ErrRateLimited", err)
	}
	if n := srv.hits.Load(); n != 1 {
		t.Errorf("%d requests reached the provider, want 1", n)
	}
}
