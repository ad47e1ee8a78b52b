package intel

import (
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Provider names accepted in Config.Providers (DECNET_INTEL_PROVIDERS).
var ProviderNames = []string{"greynoise", "abuseipdb", "feodo", "threatfox"}

// DefaultProviders is the per-IP provider list when none is configured.
// Providers that need a key stay off until given one.
var DefaultProviders = []string{"greynoise", "abuseipdb", "feodo", "threatfox"}

// Config is the whole intel configuration, usually from ConfigFromEnv.
type Config struct {
	// Enabled switches all per-IP providers and the hash feed (default true).
	Enabled bool
	// Providers lists the per-IP providers to use, by name.
	Providers []string

	GreyNoise     GreyNoiseConfig
	AbuseIPDB     AbuseIPDBConfig
	ThreatFox     ThreatFoxConfig
	Feodo         FeodoConfig
	MalwareBazaar MalwareBazaarConfig
	// SSLBL is abuse.ch's JA3 blacklist, read by the TTP engine's
	// fingerprint catalogue (rule R0030), not by Enrich.
	SSLBL SSLBLConfig

	// Cache applies to the per-IP API providers (GreyNoise, AbuseIPDB,
	// ThreatFox); the bulk feeds are local after download.
	Cache CacheConfig
	// LookupTimeout bounds one provider's answer in one Enrich call.
	LookupTimeout time.Duration

	Geo GeoConfig

	// Client, Now and Logger, when set, are given to every provider.
	Client *http.Client
	Now    func() time.Time
	Logger *slog.Logger
}

// ConfigFromEnv reads the DECNET_* variables documented in docs/intel.md.
// getenv is usually os.Getenv. A malformed value is an error naming it.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	c := Config{Enabled: true, Providers: slices.Clone(DefaultProviders)}
	var errs []string
	str := func(name string) string { return strings.TrimSpace(getenv(name)) }
	boolean := func(name string, dst *bool) {
		if s := str(name); s != "" {
			b, err := strconv.ParseBool(s)
			if err != nil {
				errs = append(errs, fmt.Sprintf("%s=%q: want true or false", name, s))
				return
			}
			*dst = b
		}
	}
	seconds := func(name string, dst *time.Duration) {
		if s := str(name); s != "" {
			n, err := strconv.ParseFloat(s, 64)
			if err != nil || n <= 0 {
				errs = append(errs, fmt.Sprintf("%s=%q: want a positive number of seconds", name, s))
				return
			}
			*dst = time.Duration(n * float64(time.Second))
		}
	}
	perMinute := func(name string, dst *float64) {
		if s := str(name); s != "" {
			n, err := strconv.ParseFloat(s, 64)
			if err != nil || n == 0 {
				errs = append(errs, fmt.Sprintf("%s=%q: want requests a minute (negative: unlimited)", name, s))
				return
			}
			*dst = n
		}
	}
	boolean("DECNET_INTEL_ENABLED", &c.Enabled)
	if s := str("DECNET_INTEL_PROVIDERS"); s != "" {
		c.Providers = nil
		for _, name := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return r == ',' || r == ' ' }) {
			if !slices.Contains(ProviderNames, name) {
				errs = append(errs, fmt.Sprintf("DECNET_INTEL_PROVIDERS: unknown provider %q (known: %s)", name, strings.Join(ProviderNames, ", ")))
				continue
			}
			if !slices.Contains(c.Providers, name) {
				c.Providers = append(c.Providers, name)
			}
		}
	}

	c.GreyNoise.APIKey = str("DECNET_GREYNOISE_API_KEY")
	c.GreyNoise.BaseURL = str("DECNET_GREYNOISE_URL")
	boolean("DECNET_GREYNOISE_KEYLESS", &c.GreyNoise.Keyless)
	perMinute("DECNET_GREYNOISE_RATE_PER_MIN", &c.GreyNoise.RatePerMinute)

	c.AbuseIPDB.APIKey = str("DECNET_ABUSEIPDB_API_KEY")
	c.AbuseIPDB.BaseURL = str("DECNET_ABUSEIPDB_URL")
	perMinute("DECNET_ABUSEIPDB_RATE_PER_MIN", &c.AbuseIPDB.RatePerMinute)

	c.ThreatFox.APIKey = str("DECNET_THREATFOX_API_KEY")
	c.ThreatFox.BaseURL = str("DECNET_THREATFOX_URL")
	perMinute("DECNET_THREATFOX_RATE_PER_MIN", &c.ThreatFox.RatePerMinute)

	c.Feodo.APIKey = str("DECNET_FEODO_AUTH_KEY")
	c.Feodo.BaseURL = str("DECNET_FEODO_URL")
	seconds("DECNET_FEODO_REFRESH_INTERVAL_S", &c.Feodo.RefreshInterval)

	c.MalwareBazaar.APIKey = str("DECNET_MALWAREBAZAAR_AUTH_KEY")
	c.MalwareBazaar.BaseURL = str("DECNET_MALWAREBAZAAR_URL")
	seconds("DECNET_MAL_HASH_REFRESH_INTERVAL_S", &c.MalwareBazaar.RefreshInterval)
	errs = append(errs, c.SSLBL.fromEnv(getenv)...)

	seconds("DECNET_INTEL_CACHE_TTL_S", &c.Cache.TTL)
	seconds("DECNET_INTEL_TIMEOUT_S", &c.LookupTimeout)

	c.Geo.CityDB = str("DECNET_GEOIP_CITY_DB")
	c.Geo.ASNDB = str("DECNET_GEOIP_ASN_DB")
	c.Geo.IPToASN = str("DECNET_IPTOASN_TSV")

	if len(errs) > 0 {
		return c, fmt.Errorf("intel configuration: %s", strings.Join(errs, "; "))
	}
	return c, nil
}

// New builds an Enricher from c: the listed per-IP providers that are
// enabled (each API provider behind a Cache), the MalwareBazaar feed, and
// GeoIP when files are configured. Providers left off are logged once each.
// The caller closes the Enricher to release the GeoIP files.
func New(c Config) (*Enricher, error) {
	log := c.Logger
	if log == nil {
		log = slog.Default()
	}
	share := func(p *ProviderConfig) {
		if p.Client == nil {
			p.Client = c.Client
		}
		if p.Now == nil {
			p.Now = c.Now
		}
		if p.Logger == nil {
			p.Logger = log
		}
	}
	for _, p := range []*ProviderConfig{&c.GreyNoise.ProviderConfig, &c.AbuseIPDB.ProviderConfig, &c.ThreatFox.ProviderConfig, &c.Feodo.ProviderConfig, &c.MalwareBazaar.ProviderConfig} {
		share(p)
	}
	if c.Cache.Now == nil {
		c.Cache.Now = c.Now
	}
	if c.Cache.Logger == nil {
		c.Cache.Logger = log
	}
	geo, err := OpenGeo(c.Geo)
	if err != nil {
		return nil, err
	}
	ec := EnricherConfig{Geo: geo, Timeout: c.LookupTimeout}
	if !c.Enabled {
		log.Info("intel providers disabled (DECNET_INTEL_ENABLED=false)")
		return NewEnricher(ec), nil
	}
	for _, name := range c.Providers {
		switch name {
		case "greynoise":
			if g := NewGreyNoise(c.GreyNoise); g.Enabled() {
				ec.Providers = append(ec.Providers, NewCache(g, c.Cache))
			} else {
				log.Info("intel provider off: no DECNET_GREYNOISE_API_KEY and DECNET_GREYNOISE_KEYLESS not set", "provider", name)
			}
		case "abuseipdb":
			if a := NewAbuseIPDB(c.AbuseIPDB); a.Enabled() {
				ec.Providers = append(ec.Providers, NewCache(a, c.Cache))
			} else {
				log.Info("intel provider off: no DECNET_ABUSEIPDB_API_KEY", "provider", name)
			}
		case "threatfox":
			if t := NewThreatFox(c.ThreatFox); t.Enabled() {
				ec.Providers = append(ec.Providers, NewCache(t, c.Cache))
			} else {
				log.Info("intel provider off: no DECNET_THREATFOX_API_KEY", "provider", name)
			}
		case "feodo":
			ec.Providers = append(ec.Providers, NewFeodo(c.Feodo))
		default:
			geo.Close()
			return nil, fmt.Errorf("intel: unknown provider %q (known: %s)", name, strings.Join(ProviderNames, ", "))
		}
	}
	if mb := NewMalwareBazaar(c.MalwareBazaar); mb.Enabled() {
		ec.Hashes = append(ec.Hashes, mb)
	}
	return NewEnricher(ec), nil
}

// Close releases the GeoIP databases.
func (e *Enricher) Close() error { return e.geo.Close() }
