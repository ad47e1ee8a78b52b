// Package behave turns one recorded shell session (an asciicast v2
// recording written by internal/honeypot/asciicast) into BEHAVE
// observations: small, named facts about how the person or program at the
// other end drives a shell — how they type, how fast they react, what
// they reach for — each wrapped in the observation envelope of spec
// intel.md §3.2.
//
// The package is pure: it reads a parsed recording and returns values. It
// knows nothing of the store, the bus or the API; the pipeline worker that
// calls Analyze persists the observations (idempotent on evidence_ref and
// primitive; the ids are deterministic so a re-run keeps them) and
// publishes attacker.observation.<primitive>.
//
// Analyze is built for hostile input: it makes one pass over the events,
// bounds every buffer it keeps, never trusts timestamps (negative,
// non-finite or backwards times are tolerated) and never emits typed text
// — only labels, numbers and a keystroke-timing hash.
package behave
