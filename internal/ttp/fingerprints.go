package ttp

import "strings"

// Fingerprints is a FingerprintCatalogue held in memory: kind → value →
// label. Kinds are those rule R0030 reads: hassh, hassh_server, ja3_hash,
// ja4, jarm. Values compare case-insensitively.
type Fingerprints map[string]map[string]string

// LookupFingerprint implements FingerprintCatalogue.
func (f Fingerprints) LookupFingerprint(kind, value string) (string, bool) {
	label, ok := f[kind][strings.ToLower(value)]
	return label, ok
}

// KnownFingerprints is the catalogue compiled into the binary: JARM
// fingerprints that public research ties to C2 frameworks in their default
// TLS configuration (Salesforce's JARM announcement, 2020). They are
// indicators, not proof: the Cobalt Strike JARM is also that of any server
// on the same Java TLS stack, which is why R0030's confidence stays below
// certainty. The prober computes Salesforce-compatible JARM, so the values
// compare directly.
func KnownFingerprints() Fingerprints {
	return Fingerprints{
		"jarm": {
			"07d14d16d21d21d07c42d41d00041d24a458a375eef0c576d23a7bab9a9fb1": "Cobalt Strike (default TLS)",
			"07d14d16d21d21d00042d43d000000aa99ce74e2c6d013c745aa52b5cc042d": "Metasploit (default TLS)",
			"22b22b09b22b22b22b22b22b22b22b352842cd5d6b0278445702035e06875c": "TrickBot C2",
			"1dd40d40d00040d1dc1dd40d1dd40d3df2d6a0c2caaa0dc59908f0d3602943": "AsyncRAT C2",
		},
	}
}
