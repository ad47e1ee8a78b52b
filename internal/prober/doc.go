// Package prober fingerprints an attacker's own servers from the outside:
// the JARM of a TLS port (compatible with Salesforce's JARM), the HASSH of an
// SSH server's KEXINIT with its banner, and a TCP fingerprint read from the
// kernel after an ordinary connect.
//
// It is a pure library. A Prober runs one probe against one address; a
// Scheduler decides which (attacker, port, probe type) to probe and when,
// behind an allow-list of CIDRs that is empty — probing nothing — unless the
// operator fills it, with global and per-target rate limits and a re-probe
// interval, and reports every outcome through a callback. Rotate is the pure
// rotation detector that turns the previous state of a triple and a new hash
// into the next state and, on a change, the attacker.fingerprint_rotated
// payload. Storing state and publishing events belong to the caller: this
// package imports neither the store, the bus nor the API.
//
// Probing a host is an action against a third party: see docs/prober.md for
// when it is appropriate and how to enable it.
package prober
