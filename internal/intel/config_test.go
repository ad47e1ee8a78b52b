package intel

import (
	"strings"
	"testing"
	"time"
)

func TestConfigFromEnv(t *testing.T) {
	cases := []struct {
		name    string
		env     map[string]string
		wantErr string
		check   func(t *testing.T, c Config)
	}{
		{"defaults", nil, "", func(t *testing.T, c Config) {
			if !c.Enabled || strings.Join(c.Providers, ",") != "greynoise,abuseipdb,feodo,threatfox" {
				t.Errorf("%+v", c)
			}
		}},
		{"values", map[string]string{
			"DECNET_INTEL_ENABLED":               "false",
			"DECNET_INTEL_PROVIDERS":             "Feodo, threatfox,feodo",
			"DECNET_MAL_HASH_REFRESH_INTERVAL_S": "3600",
			"DECNET_INTEL_CACHE_TTL_S":           "60",
			"DECNET_GREYNOISE_KEYLESS":           "1",
			"DECNET_ABUSEIPDB_RATE_PER_MIN":      "0.5",
			"DECNET_GEOIP_CITY_DB":               "/var/lib/GeoLite2-City.mmdb",
		}, "", func(t *testing.T, c Config) {
			if c.Enabled || strings.Join(c.Providers, ",") != "feodo,threatfox" || c.MalwareBazaar.RefreshInterval != time.Hour ||
				c.Cache.TTL != time.Minute || !c.GreyNoise.Keyless || c.AbuseIPDB.RatePerMinute != 0.5 || c.Geo.CityDB == "" {
				t.Errorf("%+v", c)
			}
		}},
		{"unknown provider", map[string]string{"DECNET_INTEL_PROVIDERS": "greynoise,virustotal"}, `unknown provider "virustotal"`, nil},
		{"bad interval", map[string]string{"DECNET_MAL_HASH_REFRESH_INTERVAL_S": "daily"}, "DECNET_MAL_HASH_REFRESH_INTERVAL_S", nil},
		{"bad bool", map[string]string{"DECNET_INTEL_ENABLED": "maybe"}, "DECNET_INTEL_ENABLED", nil},
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
			tc.check(t, c)
		})
	}
}
