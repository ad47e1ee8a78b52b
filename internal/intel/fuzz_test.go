package intel

import (
	"bytes"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// The fuzz targets check that no response, however hostile, panics a parser
// or yields an out-of-range verdict.

func checkVerdict(t *testing.T, v Verdict) {
	t.Helper()
	if v.Level < LevelNone || v.Level > LevelMalicious {
		t.Fatalf("level %d out of range", v.Level)
	}
	if v.Malicious != (v.Level == LevelMalicious) {
		t.Fatalf("malicious %v at level %v", v.Malicious, v.Level)
	}
	if v.Score < 0 || v.Score > 100 {
		t.Fatalf("score %d out of range", v.Score)
	}
	if len(v.Raw) > maxRaw {
		t.Fatalf("raw %d bytes", len(v.Raw))
	}
	for _, set := range [][]string{v.Families, v.Tags, v.ThreatTypes, v.IOCTypes} {
		if len(set) > 64 {
			t.Fatalf("set of %d", len(set))
		}
	}
}

func FuzzParseHashFeed(f *testing.F) {
	f.Add([]byte("# comment\n" + hashA + "\n" + strings.ToUpper(hashB) + "\r\n"))
	f.Add([]byte("# \"first_seen_utc\",\"sha256_hash\",\"md5_hash\"\n\"2026-01-01\", \"" + hashA + "\", \"x\"\n"))
	f.Add([]byte("sha256_hash\n\"" + hashC + "\"\n"))
	f.Add([]byte("PK\x03\x04garbage"))
	f.Add([]byte{0x1f, 0x8b, 0, 0})
	f.Add([]byte("\"unterminated, \"quote\n" + hashA))
	f.Fuzz(func(t *testing.T, body []byte) {
		set, err := decodeHashFeed(bytes.NewReader(body), 1<<20)
		if err != nil {
			return
		}
		for i := 1; i < len(set); i++ {
			if cmpHash(set[i-1], set[i]) >= 0 {
				t.Fatal("set not sorted and unique")
			}
		}
	})
}

func FuzzParseFeodo(f *testing.F) {
	f.Add([]byte(feodoJSONBody))
	f.Add([]byte(feodoCSVBody))
	f.Add([]byte(`[{"ip_address":"::ffff:1.2.3.4","port":1e99,"malware":"` + strings.Repeat("é", 200) + `"}]`))
	f.Add([]byte(`[null, 1, "x", {"ip_address": 7}]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		idx, err := parseFeodo(body)
		if err != nil {
			return
		}
		for ip, rec := range idx {
			if !ip.IsValid() || ip.Is4In6() {
				t.Fatalf("bad key %v", ip)
			}
			if len(rec.Ports) > 64 {
				t.Fatal("unbounded ports")
			}
		}
	})
}

func FuzzParseAbuseIPDB(f *testing.F) {
	f.Add([]byte(abuseBody(75, `,"reports":[{"categories":[22,18]}]`)))
	f.Add([]byte(abuseBody("NaN", "")))
	f.Add([]byte(`{"data":{"abuseConfidenceScore":-1e309}}`))
	f.Add([]byte(`{"errors":[{"detail":{"x":1}}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		v, err := parseAbuseIPDB(body, time.Unix(0, 0))
		if err == nil {
			checkVerdict(t, v)
		}
	})
}

func FuzzParseGreyNoise(f *testing.F) {
	f.Add(200, []byte(`{"noise":true,"riot":false,"classification":"malicious","name":"x","last_seen":"2026-01-01","tags":["a"]}`))
	f.Add(404, []byte(`{"message":"IP not observed"}`))
	f.Add(200, []byte(`{"tags":[{},[],null,1.5]}`))
	f.Fuzz(func(t *testing.T, code int, body []byte) {
		if code != http.StatusNotFound {
			code = http.StatusOK
		}
		v, err := parseGreyNoise(code, body, time.Unix(0, 0))
		if err == nil {
			checkVerdict(t, v)
		}
	})
}

func FuzzParseThreatFox(f *testing.F) {
	f.Add([]byte(`{"query_status":"ok","data":[{"id":"1","ioc":"198.51.100.23:443","threat_type":"botnet_cc","ioc_type":"ip:port","malware_printable":"X","confidence_level":75,"tags":["a"]}]}`))
	f.Add([]byte(`{"query_status":"no_result","data":"none"}`))
	f.Add([]byte(`{"query_status":"ok","data":[{"ioc":"198.51.100.23","confidence_level":"Infinity"}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		v, err := parseThreatFox(body, netip.MustParseAddr("198.51.100.23"), time.Unix(0, 0))
		if err == nil {
			checkVerdict(t, v)
		}
	})
}

func FuzzParseASNTable(f *testing.F) {
	f.Add([]byte(asnTSV))
	f.Add([]byte("::\t::ffff:1.2.3.4\t1\tX\ty\n"))
	f.Add([]byte("1.2.3.4%eth0\t1.2.3.5\t1\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		tab, err := ParseASNTable(bytes.NewReader(body))
		if err != nil {
			return
		}
		for i, r := range tab.ranges {
			if r.End.Less(r.Start) || r.ASN == 0 {
				t.Fatalf("bad range %+v", r)
			}
			if i > 0 && r.Start.Compare(tab.ranges[i-1].End) <= 0 {
				t.Fatalf("overlap at %d", i)
			}
			if got, ok := tab.Lookup(r.Start); !ok || got != r {
				t.Fatalf("range start %v not found", r.Start)
			}
		}
	})
}
