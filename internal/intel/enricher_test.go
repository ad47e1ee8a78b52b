package intel

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestEnricherMerges(t *testing.T) {
	prov := func(name string, l Level, err error) *stubProvider {
		return &stubProvider{name: name, fn: func(netip.Addr) (Verdict, error) {
			return Verdict{Provider: name, Level: l, Malicious: l == LevelMalicious}, err
		}}
	}
	cases := []struct {
		name      string
		providers []IntelProvider
		level     Level
		verdicts  string
		errs      int
	}{
		{"strongest wins", []IntelProvider{prov("b", LevelBenign, nil), prov("a", LevelMalicious, nil), prov("c", LevelSuspicious, nil)}, LevelMalicious, "a,b,c", 0},
		{"errors are not verdicts", []IntelProvider{prov("a", LevelMalicious, errors.New("down")), prov("b", LevelUnknown, nil)}, LevelUnknown, "b", 1},
		{"absence only", []IntelProvider{prov("feodo", LevelNone, nil)}, LevelNone, "feodo", 0},
		{"nothing configured", nil, LevelNone, "", 0},
		{"panicking provider", []IntelProvider{&stubProvider{name: "boom", fn: func(netip.Addr) (Verdict, error) { panic("hostile") }}, prov("ok", LevelBenign, nil)}, LevelBenign, "ok", 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := NewEnricher(EnricherConfig{Providers: tc.providers})
			r := e.Enrich(context.Background(), attacker)
			var names []string
			for _, v := range r.Verdicts {
				names = append(names, v.Provider)
			}
			if r.Level != tc.level || r.Malicious != (tc.level == LevelMalicious) || strings.Join(names, ",") != tc.verdicts || len(r.Errors) != tc.errs {
				t.Errorf("level %v verdicts %v errors %v", r.Level, names, r.Errors)
			}
		})
	}
}

func TestEnricherRunsProvidersConcurrently(t *testing.T) {
	slow := func(name string) *stubProvider {
		return &stubProvider{name: name, fn: func(netip.Addr) (Verdict, error) {
			time.Sleep(200 * time.Millisecond)
			return Verdict{Level: LevelBenign}, nil
		}}
	}
	e := NewEnricher(EnricherConfig{Providers: []IntelProvider{slow("a"), slow("b"), slow("c"), slow("d")}})
	start := time.Now()
	r := e.Enrich(context.Background(), attacker)
	if d := time.Since(start); d > 600*time.Millisecond {
		t.Errorf("4 × 200 ms providers took %v: not concurrent", d)
	}
	if len(r.Verdicts) != 4 {
		t.Errorf("%d verdicts", len(r.Verdicts))
	}
}

func TestEnricherEndToEndOnLoopback(t *testing.T) {
	feodo := newServer(t, text(`[{"ip_address":"198.51.100.23","port":443,"status":"online","malware":"QakBot","first_seen":"2026-01-01 00:00:00"}]`))
	abuse := newServer(t, text(abuseBody(30, "")))
	grey := newServer(t, status(http.StatusNotFound, `{"message":"IP not observed"}`))
	tf := newServer(t, status(http.StatusInternalServerError, ""))
	mb := newServer(t, text(hashA+"\n"))
	env := map[string]string{
		"DECNET_INTEL_PROVIDERS":        "greynoise,abuseipdb,feodo,threatfox",
		"DECNET_GREYNOISE_API_KEY":      "g",
		"DECNET_GREYNOISE_URL":          grey.URL,
		"DECNET_ABUSEIPDB_API_KEY":      "a",
		"DECNET_ABUSEIPDB_URL":          abuse.URL,
		"DECNET_THREATFOX_API_KEY":      "t",
		"DECNET_THREATFOX_URL":          tf.URL,
		"DECNET_FEODO_URL":              feodo.URL,
		"DECNET_MALWAREBAZAAR_AUTH_KEY": "m",
		"DECNET_MALWAREBAZAAR_URL":      mb.URL,
		"DECNET_ABUSEIPDB_RATE_PER_MIN": "-1",
	}
	cfg, err := ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	cfg.Logger = quietLogger()
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	r := e.Enrich(context.Background(), attacker)
	if r.Level != LevelMalicious {
		t.Errorf("aggregate %v, want malicious (feodo lists it)", r.Level)
	}
	if v, ok := r.Verdict("abuseipdb"); !ok || v.Level != LevelSuspicious {
		t.Errorf("abuseipdb %+v", v)
	}
	if v, ok := r.Verdict("greynoise"); !ok || v.Level != LevelUnknown {
		t.Errorf("greynoise %+v", v)
	}
	if _, ok := r.Errors["threatfox"]; !ok {
		t.Errorf("threatfox error not reported: %v", r.Errors)
	}
	h := e.CheckHash(context.Background(), strings.ToUpper(hashA))
	if !h.Answered || !h.Malicious {
		t.Errorf("hash report %+v", h)
	}
	if h := e.CheckHash(context.Background(), hashB); !h.Answered || h.Malicious {
		t.Errorf("unknown hash report %+v", h)
	}
}

func TestEnricherHashWithoutKeyIsUnanswered(t *testing.T) {
	mb := newServer(t, text(hashA+"\n"))
	cfg, err := ConfigFromEnv(func(k string) string {
		return map[string]string{"DECNET_MALWAREBAZAAR_URL": mb.URL, "DECNET_INTEL_PROVIDERS": "feodo"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Logger = quietLogger()
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if h := e.CheckHash(context.Background(), hashA); h.Answered || h.Malicious {
		t.Errorf("without a key the hash must stay unanswered: %+v", h)
	}
	if mb.hits.Load() != 0 {
		t.Error("MalwareBazaar contacted without a key")
	}
	if got := strings.Join(e.Providers(), ","); got != "feodo" {
		t.Errorf("providers %q", got)
	}
}
