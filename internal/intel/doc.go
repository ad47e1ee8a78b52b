// Package intel answers two questions about what an attacker brings to a
// decky: is this source address known to threat-intelligence providers
// (IntelProvider: GreyNoise, AbuseIPDB, ThreatFox, the Feodo Tracker feed),
// and is this file known malware (MalHashProvider: the MalwareBazaar SHA-256
// feed). It also places an address on the map and in its autonomous system
// from operator-supplied MaxMind databases and the iptoasn TSV (Geo).
//
// The package is pure: it never touches the store, the bus or the API. The
// pipeline calls an Enricher and records what it returns. Every provider is
// off unless configured (an API key, or for the bulk feeds being listed), all
// egress goes through one bounded HTTP client per provider (timeout, body
// cap, no redirects, a rate limit), answers are cached with a TTL, and a
// provider error keeps the last good answer. Parsers treat every response as
// hostile input: they never panic and cap what they keep.
package intel
