package canary

import (
	"encoding/binary"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzDNSQuery feeds arbitrary packets to the DNS path: it must never
// panic, never answer a response or a runt, and every answer it gives
// must be a well-formed reply to that query's id.
func FuzzDNSQuery(f *testing.F) {
	f.Add(query(1, "k3j4h5g6f7d8s9a0q1w2."+testZone, dnsTypeA, false))
	f.Add(query(2, "k3j4h5g6f7d8s9a0q1w2."+testZone, dnsTypeAAAA, true))
	f.Add(query(3, testZone, dnsTypeSOA, false))
	f.Add(query(4, "a.b.c."+testZone, dnsTypeANY, false))
	f.Add(query(5, "example.com", dnsTypeA, false))
	f.Add(append(query(6, "x", dnsTypeA, false)[:12], 0xc0, 0x0c, 0, 1, 0, 1))
	f.Add([]byte{0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 1, 0, 0, 41})
	f.Add([]byte{})
	zone := strings.Split(testZone, ".")
	f.Fuzz(func(t *testing.T, pkt []byte) {
		reply, slug, _ := respondDNS(pkt, zone, 2026010101)
		if reply == nil {
			return
		}
		if len(pkt) < 12 || pkt[2]&0x80 != 0 {
			t.Fatal("answered a runt or a response")
		}
		if len(reply) < 12 || len(reply) > 512 || reply[0] != pkt[0] || reply[1] != pkt[1] || reply[2]&0x80 == 0 {
			t.Fatalf("bad reply %x", reply)
		}
		if slug != "" && !validSlug(slug) {
			t.Fatalf("slug %q", slug)
		}
		if qd := binary.BigEndian.Uint16(reply[4:]); qd > 1 {
			t.Fatalf("qdcount %d", qd)
		}
	})
}

// FuzzBeacon drives the whole HTTP beacon path (query parsing, chunk
// reassembly, base64/JSON decoding, the four layers, metric derivation)
// with arbitrary query strings and headers: no panic, always the GIF,
// always exactly bounded state.
func FuzzBeacon(f *testing.F) {
	tok := testToken("fingerprint_html", "aaaaaaaaaaaaaaaaaaaa")
	f.Add("d="+beaconData(tok, nil), "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/124.0", "de-DE")
	f.Add("d="+beaconData(tok, func(m map[string]any) {
		m["nav"] = map[string]any{"wd": true, "pl": 7, "lang": []any{1}}
		m["rtc"] = map[string]any{"c": []any{"203.0.113.1", 5, nil}}
		m["gl"] = "x"
	}), "", "")
	f.Add("o=1", "curl/8.5.0", "")
	f.Add("s=abc&i=0&n=2&d=eyJr", "", "en")
	f.Add("s=abc&i=1&n=2&d=IjoieCJ9", "", "en")
	f.Add("d=e30", "", "")
	f.Add("d=bnVsbA", "", "")
	f.Add("k=x&mint=y&d=W10", "", "*")
	f.Fuzz(func(t *testing.T, rawQuery, ua, lang string) {
		r := newRig(tok)
		r.tokens.tokens[tok.UUID] = tok
		req := httptest.NewRequest("GET", "/c/aaaaaaaaaaaaaaaaaaaa", nil)
		req.URL.RawQuery = rawQuery
		req.Header.Set("User-Agent", ua)
		req.Header.Set("Accept-Language", lang)
		req.RemoteAddr = "198.51.100.7:1234"
		w := httptest.NewRecorder()
		r.l.Handler().ServeHTTP(w, req)
		if w.Code != 200 || w.Body.String() != string(emptyGIF) {
			t.Fatalf("answer %d", w.Code)
		}
		if len(r.tokens.Triggers()) > 1 {
			t.Fatal("more than one trigger for one request")
		}
		if r.l.chunkBytes > maxChunkBytes || r.l.chunkBytes < 0 {
			t.Fatalf("chunk bytes %d", r.l.chunkBytes)
		}
		// The same bytes straight into decode/validate/metrics.
		q, _ := url.ParseQuery(rawQuery)
		if m, err := decodeBeacon(q.Get("d"), maxSingleData); err == nil {
			if flag, fp := validateBeacon(tok, m, q.Get("k"), q.Get("mint")); flag == "" {
				deriveMetrics(fp, metricInput{UserAgent: ua, AcceptLanguage: lang, SrcIP: "198.51.100.7",
					Geo: func(string) (string, bool) { return "DE", true }})
			}
		}
	})
}

// FuzzFindKeyIDs: whatever an attacker sends a decky, the passive scan's
// key finder never panics and finds only well-formed key ids that stand
// in the text as tokens of their own.
func FuzzFindKeyIDs(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20260101/us-east-1/s3/aws4_request")
	f.Add("aws_access_key_id = ASIAABCDEFGHIJKLMNOP\n")
	f.Add("xAKIAIOSFODNN7EXAMPLE AKIAIOSFODNN7EXAMPL AKIAIOSFODNN7EXAMPLEX")
	f.Add("AKIA")
	f.Add("")
	f.Fuzz(func(t *testing.T, text string) {
		for _, id := range findKeyIDs(text) {
			i := strings.Index(text, id)
			if len(id) != 20 || i < 0 || (id[:4] != "AKIA" && id[:4] != "ASIA") {
				t.Fatalf("%q: found %q", text, id)
			}
			for _, c := range id[4:] {
				if !(c >= 'A' && c <= 'Z' || c >= '2' && c <= '7') {
					t.Fatalf("%q: found %q", text, id)
				}
			}
		}
	})
}
