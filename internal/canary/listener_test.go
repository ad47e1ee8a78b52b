package canary

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/decnet-go/decnet/internal/testkit/gate"
)

// fakeRevoker records revocations and applies them to the fake store.
type fakeRevoker struct {
	mu      sync.Mutex
	tokens  *fakeTokens
	revoked []string
}

func (r *fakeRevoker) Revoke(ctx context.Context, tok Token, reason string) error {
	r.mu.Lock()
	r.revoked = append(r.revoked, tok.UUID+":"+reason)
	r.mu.Unlock()
	return r.tokens.SetTokenState(ctx, tok.UUID, StateRevoked)
}

func (r *fakeRevoker) Revoked() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.revoked...)
}

type rig struct {
	tokens *fakeTokens
	sink   *fakeSink
	rev    *fakeRevoker
	l      *Listener
	now    time.Time
	mu     sync.Mutex
}

func newRig(ts ...Token) *rig {
	r := &rig{tokens: newFakeTokens(ts...), sink: &fakeSink{}, now: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	r.rev = &fakeRevoker{tokens: r.tokens}
	r.l = &Listener{Tokens: r.tokens, Sink: r.sink, Revoker: r.rev, DNSZone: testZone, Now: r.clock, Log: quietLog}
	return r
}

func (r *rig) clock() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.now
}

func (r *rig) advance(d time.Duration) {
	r.mu.Lock()
	r.now = r.now.Add(d)
	r.mu.Unlock()
}

// get sends one request through the handler.
func (r *rig) get(method, target string, hdr map[string]string) *http.Response {
	req := httptest.NewRequest(method, target, nil)
	req.RemoteAddr = "198.51.100.7:41234"
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	r.l.Handler().ServeHTTP(w, req)
	return w.Result()
}

// beaconData is a fingerprint payload as the collector sends it.
func beaconData(tok Token, mutate func(m map[string]any)) string {
	m := map[string]any{
		"k": tok.FingerprintNonce, "mint": Mint(tok.Slug),
		"nav": map[string]any{"ua": "Mozilla/5.0 (X11; Linux x86_64)", "pl": "Linux x86_64", "lang": "en-US", "langs": []any{"en-US"}, "wd": false},
		"scr": map[string]any{"w": 1920, "h": 1080},
		"tz":  map[string]any{"n": "Europe/Berlin", "o": -60},
		"cv":  map[string]any{"h": "1a2b3c4d"},
		"gl":  map[string]any{"v": "Intel", "r": "Mesa Intel(R) UHD Graphics 620"},
		"ft":  []any{"DejaVu Sans"},
		"rtc": map[string]any{"c": []any{"4a1e0d0b-aaaa.local"}},
	}
	if mutate != nil {
		mutate(m)
	}
	b, _ := json.Marshal(m)
	return base64.RawURLEncoding.EncodeToString(b)
}

func TestHTTPAnswers(t *testing.T) {
	tok := testToken("honeydoc", "aaaaaaaaaaaaaaaaaaaa")
	cases := []struct {
		name, method, target string
		status               int
		ctype                string
		body                 string
	}{
		{"known slug", "GET", "/c/aaaaaaaaaaaaaaaaaaaa", 200, "image/gif", string(emptyGIF)},
		{"unknown slug", "GET", "/c/bbbbbbbbbbbbbbbbbbbb", 200, "image/gif", string(emptyGIF)},
		{"junk slug", "GET", "/c/%3Cscript%3E", 200, "image/gif", string(emptyGIF)},
		{"git path", "GET", "/c/bbbbbbbbbbbbbbbbbbbb/ops/app.git/info/refs?service=git-upload-pack", 200, "image/gif", string(emptyGIF)},
		{"head", "HEAD", "/c/bbbbbbbbbbbbbbbbbbbb", 200, "image/gif", ""},
		{"root", "GET", "/", 404, "text/html", nginxPage("404 Not Found")},
		{"no slug", "GET", "/c/", 404, "text/html", nginxPage("404 Not Found")},
		{"docs", "GET", "/docs", 404, "text/html", nginxPage("404 Not Found")},
		{"post", "POST", "/c/bbbbbbbbbbbbbbbbbbbb", 405, "text/html", nginxPage("405 Not Allowed")},
		{"post elsewhere", "POST", "/x", 404, "text/html", nginxPage("404 Not Found")},
		{"put elsewhere", "PUT", "/x", 405, "text/html", nginxPage("405 Not Allowed")},
	}
	r := newRig(tok)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := r.get(tc.method, tc.target, nil)
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status || resp.Header.Get("Content-Type") != tc.ctype || string(body) != tc.body {
				t.Fatalf("got %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), body)
			}
			if resp.Header.Get("Server") != "nginx" {
				t.Fatalf("Server %q", resp.Header.Get("Server"))
			}
		})
	}
	if n := len(r.tokens.Triggers()); n != 1 {
		t.Fatalf("%d triggers, want 1 (the known slug only)", n)
	}
}

// TestHTTPWithCurl fetches through a real server with curl: the answers
// look like nginx's, byte for byte in the bodies.
func TestHTTPWithCurl(t *testing.T) {
	curl := gate.Tool(t, "curl")
	r := newRig()
	srv := httptest.NewServer(r.l.Handler())
	t.Cleanup(srv.Close)
	out, err := exec.Command(curl, "-sS", "-i", srv.URL+"/nothing").CombinedOutput()
	if err != nil {
		t.Fatalf("curl: %v %s", err, out)
	}
	s := string(out)
	if !strings.HasPrefix(s, "HTTP/1.1 404 Not Found\r\n") || !strings.Contains(s, "Server: nginx\r\n") ||
		!strings.HasSuffix(s, "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n") || strings.Contains(s, "page not found") {
		t.Fatalf("curl saw %q", s)
	}
	// 405 has nginx's reason phrase, which net/http cannot write.
	out, err = exec.Command(curl, "-sS", "-i", "-X", "DELETE", srv.URL+"/c/x").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "HTTP/1.1 405 Not Allowed\r\nServer: nginx\r\nDate: ") ||
		!strings.HasSuffix(string(out), nginxPage("405 Not Allowed")) {
		t.Fatalf("curl DELETE: %v %q", err, out)
	}
	f := filepath.Join(t.TempDir(), "p.gif")
	out, err = exec.Command(curl, "-sS", "-o", f, "-w", "%{http_code} %{content_type} %{size_download}", srv.URL+"/c/anything?o=1").CombinedOutput()
	if err != nil || string(out) != "200 image/gif 43" {
		t.Fatalf("curl: %v %s", err, out)
	}
	if b, _ := os.ReadFile(f); string(b) != string(emptyGIF) {
		t.Fatal("gif bytes")
	}
}

func TestHTTPTrigger(t *testing.T) {
	tok := testToken("honeydoc", "aaaaaaaaaaaaaaaaaaaa")
	cases := []struct {
		name, xff, wantIP string
	}{
		{"peer", "", "198.51.100.7"},
		{"xff", "203.0.113.9, 10.0.0.1", "203.0.113.9"},
		{"xff v6", "2001:db8::5", "2001:db8::5"},
		{"xff junk", "unknown, 203.0.113.9", "198.51.100.7"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(tok)
			h := map[string]string{"User-Agent": "curl/8.5.0", "_fp_rate_invalid": "1"}
			if tc.xff != "" {
				h["X-Forwarded-For"] = tc.xff
			}
			r.get("GET", "/c/aaaaaaaaaaaaaaaaaaaa?o=1", h)
			trs := r.tokens.Triggers()
			if len(trs) != 1 {
				t.Fatalf("%d triggers", len(trs))
			}
			tr := trs[0]
			if tr.SrcIP != tc.wantIP || tr.Via != "http" || tr.UserAgent != "curl/8.5.0" || tr.RequestPath != "/c/aaaaaaaaaaaaaaaaaaaa?o=1" ||
				tr.RawHeaders[flagOpen] != "1" || tr.RawHeaders[flagRate] != "" || tr.TokenUUID != tok.UUID || tr.UUID == "" || tr.Fingerprint != nil {
				t.Fatalf("trigger %+v", tr)
			}
			evs := r.sink.Events()
			if len(evs) != 1 || evs[0].Type != TypeTriggered || evs[0].Service != "canary" || evs[0].Decky != "decky-01" || evs[0].SrcIP != tc.wantIP ||
				evs[0].Fields["kind"] != "http" || evs[0].Fields["token_id"] != tok.UUID || evs[0].Fields["trigger_id"] != tr.UUID ||
				evs[0].ID != "" || !evs[0].Time.Equal(tr.OccurredAt) {
				t.Fatalf("events %+v", evs)
			}
			if _, ok := evs[0].Fields["dns_qname"]; ok {
				t.Error("empty dns_qname field emitted")
			}
			ns := r.sink.Notices()
			if len(ns) != 1 || ns[0].Subject != "canary."+tok.UUID+".triggered" || ns[0].Payload["attacker_ip"] != tc.wantIP ||
				ns[0].Payload["trigger_id"] != tr.UUID || ns[0].Payload["decky_name"] != "decky-01" {
				t.Fatalf("notices %+v", ns)
			}
		})
	}
}

func TestRevokedTokenRecordsNothing(t *testing.T) {
	tok := testToken("honeydoc", "aaaaaaaaaaaaaaaaaaaa")
	tok.State = StateRevoked
	r := newRig(tok)
	resp := r.get("GET", "/c/aaaaaaaaaaaaaaaaaaaa", nil)
	if resp.StatusCode != 200 || len(r.tokens.Triggers()) != 0 || len(r.sink.Events()) != 0 || len(r.sink.Notices()) != 0 {
		t.Fatalf("revoked token: %d, %d triggers", resp.StatusCode, len(r.tokens.Triggers()))
	}
}

// TestBeaconLayers: each validation layer, failing alone, records the
// trigger without a fingerprint and with its flag.
func TestBeaconLayers(t *testing.T) {
	tok := testToken("fingerprint_html", "aaaaaaaaaaaaaaaaaaaa")
	cases := []struct {
		name  string
		query func() string
		flag  string
	}{
		{"valid", func() string { return "d=" + beaconData(tok, nil) }, ""},
		{"valid padded", func() string {
			b, _ := base64.RawURLEncoding.DecodeString(beaconData(tok, nil))
			return "d=" + base64.URLEncoding.EncodeToString(b)
		}, ""},
		{"k in query", func() string {
			return "k=" + tok.FingerprintNonce + "&d=" + beaconData(tok, func(m map[string]any) { delete(m, "k") })
		}, ""},
		{"A nonce", func() string { return "d=" + beaconData(tok, func(m map[string]any) { m["k"] = "wrong" }) }, flagNonce},
		{"A no nonce", func() string { return "d=" + beaconData(tok, func(m map[string]any) { delete(m, "k") }) }, flagNonce},
		{"B two sections", func() string {
			return "d=" + beaconData(tok, func(m map[string]any) {
				for _, s := range []string{"scr", "tz", "cv", "gl", "ft", "rtc"} {
					delete(m, s)
				}
				m["au"] = nil
			})
		}, flagSections},
		{"C mint", func() string { return "d=" + beaconData(tok, func(m map[string]any) { m["mint"] = Mint("otherslug") }) }, flagMint},
		{"not base64", func() string { return "d=***~~" }, flagDecode},
		{"not json", func() string { return "d=" + base64.RawURLEncoding.EncodeToString([]byte("[1,2")) }, flagDecode},
		{"too big", func() string { return "d=" + strings.Repeat("A", maxSingleData+4) }, flagDecode},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(tok)
			r.get("GET", "/c/aaaaaaaaaaaaaaaaaaaa?"+tc.query(), map[string]string{"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0"})
			trs := r.tokens.Triggers()
			if len(trs) != 1 {
				t.Fatalf("%d triggers", len(trs))
			}
			tr := trs[0]
			if tc.flag == "" {
				if tr.Fingerprint == nil || tr.Fingerprint["nav"] == nil || tr.Fingerprint["k"] != nil {
					t.Fatalf("fingerprint %v, headers %v", tr.Fingerprint, tr.RawHeaders)
				}
				if got := r.rev.Revoked(); len(got) != 1 || got[0] != tok.UUID+":fingerprint_collected" {
					t.Fatalf("revoked %v", got)
				}
				return
			}
			if tr.Fingerprint != nil || tr.RawHeaders[tc.flag] != "1" {
				t.Fatalf("fingerprint %v, headers %v", tr.Fingerprint, tr.RawHeaders)
			}
			if len(r.rev.Revoked()) != 0 {
				t.Fatal("revoked on an invalid fingerprint")
			}
		})
	}
}

// TestBeaconRateLimit is layer D: 30 accepted per token and address per
// minute, then flagged, and accepted again in the next window.
func TestBeaconRateLimit(t *testing.T) {
	tok := testToken("honeydoc", "aaaaaaaaaaaaaaaaaaaa") // not a fingerprint_ token: no auto-revoke
	r := newRig(tok)
	q := "/c/aaaaaaaaaaaaaaaaaaaa?d=" + beaconData(tok, nil)
	for range 32 {
		r.get("GET", q, nil)
	}
	r.get("GET", q, map[string]string{"X-Forwarded-For": "203.0.113.50"}) // another address has its own budget
	trs := r.tokens.Triggers()
	valid, limited := 0, 0
	for _, tr := range trs {
		if tr.Fingerprint != nil {
			valid++
		}
		if tr.RawHeaders[flagRate] == "1" {
			limited++
		}
	}
	if len(trs) != 33 || valid != 31 || limited != 2 {
		t.Fatalf("%d triggers, %d valid, %d limited", len(trs), valid, limited)
	}
	r.advance(61 * time.Second)
	r.get("GET", q, nil)
	if trs := r.tokens.Triggers(); trs[len(trs)-1].Fingerprint == nil {
		t.Fatal("still limited in the next window")
	}
}

func chunkQueries(d, sid string, size int) []string {
	var qs []string
	n := (len(d) + size - 1) / size
	for i := 0; i < n; i++ {
		end := min(len(d), (i+1)*size)
		qs = append(qs, fmt.Sprintf("s=%s&i=%d&n=%d&d=%s", sid, i, n, d[i*size:end]))
	}
	return qs
}

func TestBeaconChunks(t *testing.T) {
	tok := testToken("fingerprint_svg", "aaaaaaaaaaaaaaaaaaaa")
	big := beaconData(tok, func(m map[string]any) { m["ft"] = []any{strings.Repeat("Font ", 3000)} })
	t.Run("reassembled out of order", func(t *testing.T) {
		r := newRig(tok)
		qs := chunkQueries(big, "sess1", 4000)
		if len(qs) < 3 {
			t.Fatalf("%d chunks", len(qs))
		}
		for i := len(qs) - 1; i >= 0; i-- {
			if n := len(r.tokens.Triggers()); n != 0 {
				t.Fatalf("trigger recorded before the last chunk (%d)", n)
			}
			r.get("GET", "/c/aaaaaaaaaaaaaaaaaaaa?"+qs[i], nil)
		}
		trs := r.tokens.Triggers()
		if len(trs) != 1 || trs[0].Fingerprint == nil {
			t.Fatalf("triggers %+v", trs)
		}
		if r.l.chunkBytes != 0 || len(r.l.chunks) != 0 {
			t.Fatalf("reassembly state left: %d bytes, %d sessions", r.l.chunkBytes, len(r.l.chunks))
		}
	})
	t.Run("bad chunks", func(t *testing.T) {
		for _, q := range []string{"s=x&i=0&n=17&d=AAAA", "s=x&i=2&n=2&d=AAAA", "s=x&i=-1&n=2&d=AAAA", "s=x&i=0&n=2&d=" + strings.Repeat("A", maxChunkData+1),
			"s=bad%20id&i=0&n=2&d=AAAA", "s=x&i=a&n=2&d=AAAA", "s=x&i=0&n=2"} {
			r := newRig(tok)
			r.get("GET", "/c/aaaaaaaaaaaaaaaaaaaa?"+q, nil)
			if trs := r.tokens.Triggers(); len(trs) != 1 || trs[0].RawHeaders[flagChunk] != "1" {
				t.Fatalf("%s: %+v", q, trs)
			}
		}
	})
	t.Run("incomplete session expires into a trigger", func(t *testing.T) {
		r := newRig(tok)
		qs := chunkQueries(big, "sess2", 4000)
		r.get("GET", "/c/aaaaaaaaaaaaaaaaaaaa?"+qs[0], nil)
		r.advance(61 * time.Second)
		r.get("GET", "/c/aaaaaaaaaaaaaaaaaaaa?"+chunkQueries(big, "sess3", 4000)[0], nil)
		trs := r.tokens.Triggers()
		if len(trs) != 1 || trs[0].RawHeaders[flagIncompl] != "1" {
			t.Fatalf("triggers %+v", trs)
		}
	})
	t.Run("bounded sessions", func(t *testing.T) {
		r := newRig(tok)
		for i := range maxChunkSessions + 5 {
			r.get("GET", fmt.Sprintf("/c/aaaaaaaaaaaaaaaaaaaa?s=s%d&i=0&n=2&d=AAAA", i), nil)
		}
		if len(r.l.chunks) != maxChunkSessions {
			t.Fatalf("%d sessions held", len(r.l.chunks))
		}
		over := 0
		for _, tr := range r.tokens.Triggers() {
			if tr.RawHeaders[flagOverflow] == "1" {
				over++
			}
		}
		if over != 5 {
			t.Fatalf("%d overflow triggers", over)
		}
	})
}

// TestFingerprintMetricsThroughHandler: a valid beacon's metrics become
// canary_fingerprint events and the notice's metrics list.
func TestFingerprintMetricsThroughHandler(t *testing.T) {
	tok := testToken("fingerprint_html", "aaaaaaaaaaaaaaaaaaaa")
	r := newRig(tok)
	d := beaconData(tok, func(m map[string]any) {
		m["nav"].(map[string]any)["wd"] = true
		m["nav"].(map[string]any)["pl"] = "Linux x86_64"
	})
	r.get("GET", "/c/aaaaaaaaaaaaaaaaaaaa?d="+d, map[string]string{
		"User-Agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36", "Accept-Language": "de-DE,de;q=0.9"})
	var got []string
	for _, ev := range r.sink.Events() {
		if ev.Type == TypeFingerprint {
			got = append(got, ev.Fields["metric"].(string))
			if ev.Fields["matched_signature"] == "" || ev.Fields["token_id"] != tok.UUID || ev.Fields["kind"] != "http" {
				t.Errorf("event %+v", ev.Fields)
			}
		}
	}
	want := "navigator_webdriver,platform_mismatch,ua_webgl_mismatch,lang_mismatch"
	if strings.Join(got, ",") != want {
		t.Fatalf("metrics %v, want %s", got, want)
	}
	if ms := r.sink.Notices()[0].Payload["metrics"].([]map[string]string); len(ms) != 4 {
		t.Fatalf("notice metrics %v", ms)
	}
	// Auto-revoked: the next beacon records nothing.
	r.get("GET", "/c/aaaaaaaaaaaaaaaaaaaa?d="+d, nil)
	if n := len(r.tokens.Triggers()); n != 1 {
		t.Fatalf("%d triggers after revocation", n)
	}
}

func TestMetrics(t *testing.T) {
	const (
		winChrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"
		macSafari = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15"
		linuxFF   = "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0"
		android   = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/124.0 Mobile Safari/537.36"
	)
	geo := func(ip string) (string, bool) {
		switch ip {
		case "198.51.100.7":
			return "DE", true
		case "2001:db8::1":
			return "US", true
		}
		return "", false
	}
	fp := func(pl, lang, tz, renderer string, wd bool, rtc ...any) map[string]any {
		return map[string]any{
			"nav": map[string]any{"pl": pl, "lang": lang, "wd": wd},
			"tz":  map[string]any{"n": tz},
			"gl":  map[string]any{"r": renderer},
			"rtc": map[string]any{"c": rtc},
		}
	}
	cases := []struct {
		name string
		fp   map[string]any
		in   metricInput
		want string
	}{
		{"consistent desktop", fp("Win32", "de-DE", "Europe/Berlin", "ANGLE (NVIDIA, NVIDIA GeForce RTX 3060 Direct3D11 vs_5_0 ps_5_0)", false, "192.168.1.5"),
			metricInput{UserAgent: winChrome, SrcIP: "198.51.100.7", Geo: geo}, ""},
		{"webdriver", fp("Linux x86_64", "de-DE", "Europe/Berlin", "", true), metricInput{UserAgent: linuxFF, SrcIP: "198.51.100.7", Geo: geo}, "navigator_webdriver"},
		{"platform", fp("Linux x86_64", "de-DE", "Europe/Berlin", "", false), metricInput{UserAgent: winChrome, SrcIP: "198.51.100.7", Geo: geo}, "platform_mismatch"},
		{"ipad desktop ua", fp("MacIntel", "de-DE", "Europe/Berlin", "Apple GPU", false), metricInput{UserAgent: macSafari, SrcIP: "198.51.100.7", Geo: geo}, ""},
		{"android platform", fp("Linux armv81", "de-DE", "Europe/Berlin", "Adreno (TM) 740", false), metricInput{UserAgent: android, SrcIP: "198.51.100.7", Geo: geo}, ""},
		{"swiftshader on windows", fp("Win32", "de-DE", "Europe/Berlin", "ANGLE (Google, Vulkan 1.3.0 (SwiftShader Device (Subzero)), SwiftShader driver)", false),
			metricInput{UserAgent: winChrome, SrcIP: "198.51.100.7", Geo: geo}, "ua_webgl_mismatch"},
		{"swiftshader on linux is fine", fp("Linux x86_64", "de-DE", "Europe/Berlin", "SwiftShader", false), metricInput{UserAgent: linuxFF, SrcIP: "198.51.100.7", Geo: geo}, ""},
		{"apple gpu on windows", fp("Win32", "de-DE", "Europe/Berlin", "Apple M2", false), metricInput{UserAgent: winChrome, SrcIP: "198.51.100.7", Geo: geo}, "ua_webgl_mismatch"},
		{"direct3d on mac", fp("MacIntel", "de-DE", "Europe/Berlin", "ANGLE (Intel, Intel(R) UHD Direct3D11)", false), metricInput{UserAgent: macSafari, SrcIP: "198.51.100.7", Geo: geo}, "ua_webgl_mismatch"},
		{"webrtc public v4", fp("Win32", "de-DE", "Europe/Berlin", "", false, "10.0.0.2", "203.0.113.77"), metricInput{UserAgent: winChrome, SrcIP: "198.51.100.7", Geo: geo}, "webrtc_geo_mismatch"},
		{"webrtc same", fp("Win32", "de-DE", "Europe/Berlin", "", false, "198.51.100.7", "abcd.local"), metricInput{UserAgent: winChrome, SrcIP: "198.51.100.7", Geo: geo}, ""},
		{"webrtc cgnat", fp("Win32", "de-DE", "Europe/Berlin", "", false, "100.72.1.1"), metricInput{UserAgent: winChrome, SrcIP: "198.51.100.7", Geo: geo}, ""},
		{"webrtc v6 other country", fp("Win32", "de-DE", "Europe/Berlin", "", false, "2001:db8::1"), metricInput{UserAgent: winChrome, SrcIP: "198.51.100.7", Geo: geo}, "webrtc_geo_mismatch"},
		{"webrtc v6 no geo", fp("Win32", "de-DE", "Europe/Berlin", "", false, "2001:db8::1"), metricInput{UserAgent: winChrome, SrcIP: "198.51.100.7"}, ""},
		{"tz other country", fp("Win32", "de-DE", "America/New_York", "", false), metricInput{UserAgent: winChrome, SrcIP: "198.51.100.7", Geo: geo}, "tz_mismatch"},
		{"tz utc", fp("Win32", "de-DE", "Etc/UTC", "", false), metricInput{UserAgent: winChrome, SrcIP: "198.51.100.7", Geo: geo}, "tz_mismatch"},
		{"tz without geo", fp("Win32", "de-DE", "America/New_York", "", false), metricInput{UserAgent: winChrome, SrcIP: "198.51.100.7"}, ""},
		{"lang region", fp("Win32", "ru-RU", "Europe/Berlin", "", false), metricInput{UserAgent: winChrome, SrcIP: "198.51.100.7", Geo: geo}, "lang_mismatch"},
		{"lang bare", fp("Win32", "zh", "Europe/Berlin", "", false), metricInput{UserAgent: winChrome, SrcIP: "198.51.100.7", Geo: geo}, "lang_mismatch"},
		{"lang bare english", fp("Win32", "en", "Europe/Berlin", "", false), metricInput{UserAgent: winChrome, SrcIP: "198.51.100.7", Geo: geo}, ""},
		{"lang vs accept-language", fp("Win32", "en-US", "", "", false), metricInput{UserAgent: winChrome, AcceptLanguage: "de-DE,de;q=0.9", SrcIP: "198.51.100.7"}, "lang_mismatch"},
		{"lang agrees with accept-language", fp("Win32", "de-DE", "", "", false), metricInput{UserAgent: winChrome, AcceptLanguage: "de-DE,de;q=0.9,en;q=0.8", SrcIP: "198.51.100.7"}, ""},
		{"lang vs bare accept-language", fp("Win32", "de-AT", "", "", false), metricInput{UserAgent: winChrome, AcceptLanguage: "de", SrcIP: "198.51.100.7"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var names []string
			for _, m := range deriveMetrics(tc.fp, tc.in) {
				names = append(names, m.Name)
				if m.Signature == "" {
					t.Errorf("%s without signature", m.Name)
				}
			}
			if strings.Join(names, ",") != tc.want {
				t.Fatalf("metrics %v, want %q", names, tc.want)
			}
		})
	}
}

// TestBeaconScriptParses checks the generated collector is valid
// JavaScript and that its string table decodes to the real values.
func TestBeaconScriptParses(t *testing.T) {
	node := gate.Tool(t, "node")
	a, p := make1(t, "fingerprint_html")
	s := string(a.Content)
	script := s[strings.Index(s, "(function(){") : strings.LastIndex(s, "})();")+5]
	// Run only the string table decoder: swap the body for a dump of T.
	dec := script[:strings.Index(script, "\nvar W=")] + "\nvar o=[];for(var i=0;i<T.length;i++)o.push(X(i));console.log(JSON.stringify(o))})();"
	f := filepath.Join(t.TempDir(), "b.js")
	if err := os.WriteFile(f, []byte(dec), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(node, f).CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v %s", err, out)
	}
	var table []string
	if err := json.Unmarshal(out, &table); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	joined := strings.Join(table, "\n")
	for _, want := range []string{testBase + "/c/" + p.Token.Slug, p.Token.FingerprintNonce, Mint(p.Token.Slug), "webdriver", "WEBGL_debug_renderer_info"} {
		if !strings.Contains(joined, want) {
			t.Errorf("table lacks %q", want)
		}
	}
	if err := os.WriteFile(f, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(node, "--check", f).CombinedOutput(); err != nil {
		t.Fatalf("node --check: %v %s", err, out)
	}
}

// TestGitFetchTriggers plants a git_config into a real repository and
// lets git use it: git's first request is the trigger.
func TestGitFetchTriggers(t *testing.T) {
	git := gate.Tool(t, "git")
	tok := testToken("git_config", "k3j4h5g6f7d8s9a0q1w2")
	r := newRig(tok)
	srv := httptest.NewServer(r.l.Handler())
	t.Cleanup(srv.Close)
	g, _ := LookupGenerator("git_config")
	art, err := g.Make(Params{Token: tok, HTTPBase: srv.URL, Persona: testPersona("decky-01")})
	if err != nil {
		t.Fatal(err)
	}
	repo := t.TempDir()
	if out, err := exec.Command(git, "init", "-q", repo).CombinedOutput(); err != nil {
		t.Fatalf("git init: %v %s", err, out)
	}
	if err := os.WriteFile(filepath.Join(repo, ".git", "config"), art.Content, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(git, "-C", repo, "ls-remote", "origin")
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_CONFIG_NOSYSTEM=1", "HOME="+repo)
	// git falls back to the dumb protocol on a non-git answer and lists
	// nothing (or fails, by version): either way it asked.
	out, _ := cmd.CombinedOutput()
	t.Logf("git ls-remote: %s", out)
	trs := r.tokens.Triggers()
	if len(trs) == 0 || !strings.Contains(trs[0].RequestPath, "/c/"+tok.Slug+"/") || !strings.Contains(trs[0].RequestPath, "info/refs?service=git-upload-pack") ||
		!strings.HasPrefix(trs[0].UserAgent, "git/") {
		t.Fatalf("triggers %+v", trs)
	}
}
