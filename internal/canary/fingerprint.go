package canary

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// Beacon limits. The collector sends one d= up to 6000 characters and
// chunks beyond that; these caps leave room for a richer browser while
// bounding what an attacker can make the listener hold.
const (
	maxSingleData = 16 << 10 // one d= value
	maxChunkData  = 8 << 10  // one chunk's d=
	maxChunks     = 16       // chunks per session
)

// sections are the fingerprint parts layer B counts.
var sections = []string{"nav", "scr", "tz", "cv", "gl", "au", "ft", "rtc"}

// Invalid-fingerprint flags, set in Trigger.RawHeaders (spec: _fp_*_invalid).
const (
	flagDecode   = "_fp_decode_invalid"
	flagNonce    = "_fp_nonce_invalid"    // layer A
	flagSections = "_fp_sections_invalid" // layer B
	flagMint     = "_fp_mint_invalid"     // layer C
	flagRate     = "_fp_rate_invalid"     // layer D
	flagChunk    = "_fp_chunk_invalid"
	flagOverflow = "_fp_chunk_overflow"
	flagIncompl  = "_fp_chunks_incomplete"
	flagOpen     = "_beacon_open"
)

var errBeacon = errors.New("malformed beacon")

// decodeBeacon turns a d= value (base64url, padding optional) into the
// beacon's JSON object.
func decodeBeacon(d string, limit int) (map[string]any, error) {
	if d == "" || len(d) > limit {
		return nil, errBeacon
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(d, "="))
	if err != nil {
		return nil, errBeacon
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return nil, errBeacon
	}
	return m, nil
}

// validateBeacon applies layers A–C (D, the rate, needs the listener's
// state) and returns the failed layer's flag, or "" and the fingerprint
// (the sections only) when it passes. qk and qmint are the k and mint
// query parameters, used when the JSON lacks them.
func validateBeacon(tok Token, m map[string]any, qk, qmint string) (flag string, fp map[string]any) {
	k, _ := m["k"].(string)
	if k == "" {
		k = qk
	}
	if tok.FingerprintNonce == "" || k != tok.FingerprintNonce {
		return flagNonce, nil
	}
	fp = map[string]any{}
	for _, s := range sections {
		if v, ok := m[s]; ok && v != nil {
			fp[s] = v
		}
	}
	if len(fp) < 3 {
		return flagSections, nil
	}
	mint, _ := m["mint"].(string)
	if mint == "" {
		mint = qmint
	}
	if mint != Mint(tok.Slug) {
		return flagMint, nil
	}
	return "", fp
}

// getStr reads fp[section][key] as a string.
func getStr(fp map[string]any, section, key string) string {
	sec, _ := fp[section].(map[string]any)
	s, _ := sec[key].(string)
	return s
}

// MetricInput is what metrics are derived from besides the fingerprint.
type metricInput struct {
	UserAgent      string // the request's User-Agent (what the client claims on the wire)
	AcceptLanguage string
	SrcIP          string
	Geo            func(ip string) (country string, ok bool)
}

// deriveMetrics draws the conclusions the canary TTP rules read from a
// valid fingerprint. Each Signature says what disagreed, for an analyst.
func deriveMetrics(fp map[string]any, in metricInput) []Metric {
	var out []Metric
	add := func(name, format string, args ...any) {
		out = append(out, Metric{Name: name, Signature: truncate(fmt.Sprintf(format, args...), 256)})
	}
	nav, _ := fp["nav"].(map[string]any)
	if wd, _ := nav["wd"].(bool); wd {
		add("navigator_webdriver", "navigator.webdriver=true")
	}
	ua := in.UserAgent
	if ua == "" {
		ua = getStr(fp, "nav", "ua")
	}
	claimed := uaOS(ua)
	if pl := getStr(fp, "nav", "pl"); pl != "" && claimed != "" && !platformAgrees(claimed, pl) {
		add("platform_mismatch", "User-Agent claims %s, navigator.platform %q", claimed, pl)
	}
	if r := getStr(fp, "gl", "r"); r != "" && claimed != "" {
		if why := webglContradicts(claimed, ua, r); why != "" {
			add("ua_webgl_mismatch", "%s with a %s User-Agent (WebGL renderer %q)", why, claimed, r)
		}
	}
	src, srcErr := netip.ParseAddr(in.SrcIP)
	var country string
	var geoOK bool
	if in.Geo != nil && srcErr == nil {
		country, geoOK = in.Geo(src.Unmap().String())
		country = strings.ToUpper(country)
	}
	if srcErr == nil {
		src = src.Unmap()
		if rtc, _ := fp["rtc"].(map[string]any); rtc != nil {
			cands, _ := rtc["c"].([]any)
			for i, c := range cands {
				if i >= 16 {
					break
				}
				s, _ := c.(string)
				a, err := netip.ParseAddr(s)
				if err != nil || !publicAddr(a) {
					continue // mDNS .local names and private addresses say nothing
				}
				a = a.Unmap()
				if a == src {
					continue
				}
				if a.Is4() == src.Is4() {
					add("webrtc_geo_mismatch", "WebRTC address %s, connecting from %s", a, src)
					break
				}
				// A dual-stack client legitimately has a v6 address
				// besides its v4 one; only a different country says proxy.
				if geoOK {
					if c2, ok := in.Geo(a.String()); ok && !strings.EqualFold(c2, country) {
						add("webrtc_geo_mismatch", "WebRTC address %s (%s), connecting from %s (%s)", a, strings.ToUpper(c2), src, country)
						break
					}
				}
			}
		}
	}
	if geoOK && country != "" {
		if tz := getStr(fp, "tz", "n"); tz != "" {
			if tzc, known := tzCountry(tz); known && !strings.Contains(tzc, country) {
				if tzc == "" {
					add("tz_mismatch", "time zone %s, address in %s", tz, country)
				} else {
					add("tz_mismatch", "time zone %s (%s), address in %s", tz, tzc, country)
				}
			}
		}
	}
	lang := getStr(fp, "nav", "lang")
	if lang == "" {
		if langs, _ := nav["langs"].([]any); len(langs) > 0 {
			lang, _ = langs[0].(string)
		}
	}
	if lang != "" {
		if geoOK && country != "" {
			if langContradicts(lang, country) {
				add("lang_mismatch", "navigator.language %s, address in %s", lang, country)
			}
		} else if al := firstAcceptLanguage(in.AcceptLanguage); al != "" && langTagsDiffer(lang, al) {
			add("lang_mismatch", "navigator.language %s, Accept-Language %s", lang, al)
		}
	}
	return out
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// uaOS is the operating system a User-Agent claims.
func uaOS(ua string) string {
	switch {
	case ua == "":
		return ""
	case strings.Contains(ua, "Windows"):
		return "Windows"
	case strings.Contains(ua, "iPhone"), strings.Contains(ua, "iPad"), strings.Contains(ua, "iPod"):
		return "iOS"
	case strings.Contains(ua, "Android"):
		return "Android"
	case strings.Contains(ua, "Macintosh"), strings.Contains(ua, "Mac OS X"):
		return "macOS"
	case strings.Contains(ua, "CrOS"):
		return "ChromeOS"
	case strings.Contains(ua, "Linux"), strings.Contains(ua, "X11"):
		return "Linux"
	}
	return ""
}

// platformAgrees reports whether navigator.platform fits the OS the
// User-Agent claims (iPadOS Safari's desktop UA claims macOS with MacIntel,
// which agrees).
func platformAgrees(osName, pl string) bool {
	p := strings.ToLower(pl)
	switch osName {
	case "Windows":
		return strings.HasPrefix(p, "win")
	case "macOS":
		return strings.HasPrefix(p, "mac")
	case "iOS":
		return strings.HasPrefix(p, "iphone") || strings.HasPrefix(p, "ipad") || strings.HasPrefix(p, "ipod") || strings.HasPrefix(p, "mac")
	case "Android", "Linux", "ChromeOS":
		return strings.HasPrefix(p, "linux") || strings.HasPrefix(p, "android") || (osName != "Android" && strings.Contains(p, "x11"))
	}
	return true
}

// webglContradicts says why a WebGL renderer cannot belong to a browser on
// the claimed OS, "" when it can.
func webglContradicts(osName, ua, renderer string) string {
	r := strings.ToLower(renderer)
	desktop := osName == "Windows" || osName == "macOS"
	browser := strings.Contains(ua, "Chrome/") || strings.Contains(ua, "Firefox/") || strings.Contains(ua, "Edg/") || strings.Contains(ua, "Safari/")
	switch {
	case desktop && browser && (strings.Contains(r, "swiftshader") || strings.Contains(r, "llvmpipe") || strings.Contains(r, "softpipe") || strings.Contains(r, "mesa offscreen")):
		return "a software renderer (headless or virtual machine)"
	case (strings.Contains(r, "apple m") || strings.Contains(r, "apple gpu") || strings.Contains(r, "metal renderer")) && osName != "macOS" && osName != "iOS":
		return "an Apple GPU"
	case (strings.Contains(r, "direct3d") || strings.Contains(r, "d3d11") || strings.Contains(r, "d3d9")) && osName != "Windows":
		return "a Direct3D renderer"
	case desktop && (strings.Contains(r, "adreno") || strings.Contains(r, "mali-") || strings.Contains(r, "mali ") || strings.Contains(r, "powervr")):
		return "a mobile GPU"
	case osName == "Windows" && (strings.Contains(r, "mesa") || strings.Contains(r, "radeonsi") || strings.Contains(r, "nouveau")):
		return "a Linux (Mesa) driver"
	}
	return ""
}

// publicAddr reports whether a is routable on the internet (a WebRTC
// candidate that could only come from a STUN reflection or a public NIC).
func publicAddr(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsValid() || a.IsPrivate() || a.IsLoopback() || a.IsLinkLocalUnicast() || a.IsUnspecified() || a.IsMulticast() {
		return false
	}
	return !cgnat.Contains(a)
}

var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// tzCountry maps a browser time zone to the ISO countries it is used in;
// known with "" is a zone no consumer browser reports (UTC): a server or
// container, which contradicts every residential address.
func tzCountry(tz string) (countries string, known bool) {
	switch {
	case tz == "UTC" || tz == "GMT" || strings.HasPrefix(tz, "Etc/"):
		return "", true
	}
	c, ok := tzCountries[tz]
	return c, ok
}

var tzCountries = map[string]string{
	"America/New_York": "US", "America/Chicago": "US", "America/Denver": "US", "America/Los_Angeles": "US", "America/Phoenix": "US",
	"America/Anchorage": "US", "Pacific/Honolulu": "US", "America/Detroit": "US", "America/Indiana/Indianapolis": "US", "America/Boise": "US",
	"America/Toronto": "CA", "America/Vancouver": "CA", "America/Edmonton": "CA", "America/Winnipeg": "CA", "America/Halifax": "CA",
	"America/Montreal": "CA", "America/Mexico_City": "MX", "America/Sao_Paulo": "BR", "America/Argentina/Buenos_Aires": "AR", "America/Bogota": "CO",
	"America/Lima": "PE", "America/Santiago": "CL", "America/Caracas": "VE", "Europe/London": "GB IM JE GG", "Europe/Dublin": "IE",
	"Europe/Lisbon": "PT", "Europe/Madrid": "ES", "Europe/Paris": "FR MC", "Europe/Brussels": "BE", "Europe/Amsterdam": "NL",
	"Europe/Luxembourg": "LU", "Europe/Berlin": "DE", "Europe/Zurich": "CH LI", "Europe/Vienna": "AT", "Europe/Rome": "IT SM VA",
	"Europe/Prague": "CZ", "Europe/Warsaw": "PL", "Europe/Budapest": "HU", "Europe/Copenhagen": "DK", "Europe/Stockholm": "SE",
	"Europe/Oslo": "NO", "Europe/Helsinki": "FI", "Europe/Tallinn": "EE", "Europe/Riga": "LV", "Europe/Vilnius": "LT",
	"Europe/Bucharest": "RO", "Europe/Sofia": "BG", "Europe/Athens": "GR", "Europe/Istanbul": "TR", "Europe/Kiev": "UA",
	"Europe/Kyiv": "UA", "Europe/Minsk": "BY", "Europe/Moscow": "RU", "Europe/Belgrade": "RS", "Europe/Zagreb": "HR",
	"Europe/Ljubljana": "SI", "Europe/Bratislava": "SK", "Asia/Yekaterinburg": "RU", "Asia/Novosibirsk": "RU", "Asia/Vladivostok": "RU",
	"Asia/Tokyo": "JP", "Asia/Seoul": "KR", "Asia/Shanghai": "CN", "Asia/Hong_Kong": "HK", "Asia/Taipei": "TW",
	"Asia/Singapore": "SG", "Asia/Kuala_Lumpur": "MY", "Asia/Bangkok": "TH", "Asia/Ho_Chi_Minh": "VN", "Asia/Jakarta": "ID",
	"Asia/Manila": "PH", "Asia/Kolkata": "IN", "Asia/Calcutta": "IN", "Asia/Karachi": "PK", "Asia/Dhaka": "BD",
	"Asia/Dubai": "AE", "Asia/Riyadh": "SA", "Asia/Tehran": "IR", "Asia/Jerusalem": "IL", "Asia/Almaty": "KZ",
	"Asia/Tashkent": "UZ", "Asia/Pyongyang": "KP", "Africa/Cairo": "EG", "Africa/Lagos": "NG", "Africa/Johannesburg": "ZA",
	"Africa/Nairobi": "KE", "Africa/Casablanca": "MA", "Australia/Sydney": "AU", "Australia/Melbourne": "AU", "Australia/Perth": "AU",
	"Australia/Brisbane": "AU", "Pacific/Auckland": "NZ",
}

// langRegion splits a BCP 47 tag into its language and (upper-case) region.
func langRegion(tag string) (lang, region string) {
	parts := strings.FieldsFunc(tag, func(r rune) bool { return r == '-' || r == '_' })
	if len(parts) == 0 {
		return "", ""
	}
	lang = strings.ToLower(parts[0])
	for _, p := range parts[1:] {
		if len(p) == 2 {
			region = strings.ToUpper(p)
			break
		}
	}
	return lang, region
}

// langCountries lists where a language without a region is the
// expected browser language; English and Spanish are too widespread to
// contradict anything without a region.
var langCountries = map[string]string{
	"de": "DE AT CH LI LU BE", "fr": "FR BE CH LU MC CA SN CI MA DZ TN", "it": "IT CH SM VA", "nl": "NL BE SR",
	"pt": "PT BR AO MZ", "ru": "RU BY KZ KG UA", "zh": "CN TW HK SG MO", "ja": "JP", "ko": "KR KP", "pl": "PL",
	"tr": "TR CY", "uk": "UA", "cs": "CZ", "sv": "SE FI", "da": "DK", "nb": "NO", "no": "NO", "fi": "FI",
	"el": "GR CY", "hu": "HU", "ro": "RO MD", "bg": "BG", "fa": "IR AF", "he": "IL", "vi": "VN", "th": "TH",
	"id": "ID", "ar": "AE SA EG MA DZ TN IQ JO KW LB LY OM QA SY YE BH SD",
}

// langContradicts reports whether a browser language cannot be expected
// from an address in country.
func langContradicts(tag, country string) bool {
	lang, region := langRegion(tag)
	if region != "" {
		return region != country
	}
	where, ok := langCountries[lang]
	return ok && !strings.Contains(where, country)
}

// firstAcceptLanguage is the first tag of an Accept-Language header.
func firstAcceptLanguage(h string) string {
	first, _, _ := strings.Cut(h, ",")
	first, _, _ = strings.Cut(first, ";")
	first = strings.TrimSpace(first)
	if first == "*" || len(first) > 35 {
		return ""
	}
	return first
}

// langTagsDiffer compares navigator.language with Accept-Language: a real
// browser derives one from the other, so a different language, or a
// different region where both name one, means something rewrote one.
func langTagsDiffer(a, b string) bool {
	la, ra := langRegion(a)
	lb, rb := langRegion(b)
	if la == "" || lb == "" {
		return false
	}
	return la != lb || (ra != "" && rb != "" && ra != rb)
}
