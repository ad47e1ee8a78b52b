package ttp

import (
	"encoding/binary"
	"strings"
	"sync"
)

// Bots send the very same commands over and over ("uname -a", "cat
// /proc/cpuinfo", the same dropper line from a thousand addresses), so most
// events repeat a text the regexes have already read. The engine remembers,
// per rule snapshot, what the regex rules made of each short text and
// answers a repeat without running the prefilters and regexes again.
const (
	maxMemoText     = 512  // the fields the regexes read, together; longer events are not remembered
	maxMemoEnvelope = 32   // kind, service and type, each; they are short slugs
	maxMemoEntries  = 4096 // when full the memo starts afresh: unique input cannot grow it
	maxMemoKey      = maxMemoText + 3*maxMemoEnvelope + 8*binary.MaxVarintLen64
)

// regexMemo maps an event's memo key (see compiled.memoKey) to the regex
// rules that fired on it and what each matched. It belongs to one compiled
// rule set, so a reload starts with an empty memo and old results are never
// used with new rules. A read-locked map beats a sync.Map here: lookups by
// a []byte key converted in place do not allocate.
type regexMemo struct {
	mu sync.RWMutex
	m  map[string][]memoHit
}

// memoHit is one regex rule that fired: its index in compiled.byKind[kind]
// and its hit (the matched text and the field it is in).
type memoHit struct {
	rule int
	h    hit
}

func (m *regexMemo) get(key []byte) ([]memoHit, bool) {
	m.mu.RLock()
	hits, ok := m.m[string(key)]
	m.mu.RUnlock()
	return hits, ok
}

// put remembers hits for key. The matched texts are copied: an event's
// field may be a slice of a larger read buffer, which the memo must not
// keep alive.
func (m *regexMemo) put(key []byte, hits []memoHit) {
	for i := range hits {
		hits[i].h.matched = strings.Clone(hits[i].h.matched)
	}
	m.mu.Lock()
	if m.m == nil || len(m.m) >= maxMemoEntries {
		m.m = make(map[string][]memoHit)
	}
	m.m[string(key)] = hits
	m.mu.Unlock()
}

func (m *regexMemo) len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.m)
}

// memoFields lists, per source kind, the fields its regex rules read, in
// the order of first use.
func memoFields(byKind map[string][]*Rule) map[string][]string {
	out := map[string][]string{}
	for kind, rules := range byKind {
		for _, r := range rules {
			if r.lifter != nil {
				continue
			}
			for _, m := range r.matchers {
				if !contains(out[kind], m.field) {
					out[kind] = append(out[kind], m.field)
				}
			}
		}
	}
	return out
}

// memoKey appends to key everything the regex rules of v's kind depend on:
// the kind, the service and type (appliesToEvent) and the text of each field
// the matchers read (a missing field reads as empty, which find treats the
// same). Each part is length-prefixed so different events never share a key.
// ok is false when the kind has no regex rules or the event is too long to
// remember.
func (c *compiled) memoKey(v *view, key []byte) (_ []byte, ok bool) {
	fields, ok := c.memoFields[v.kind]
	if !ok {
		return nil, false
	}
	for _, s := range [...]string{v.kind, v.ev.Service, v.ev.Type} {
		if len(s) > maxMemoEnvelope {
			return nil, false
		}
		key = binary.AppendUvarint(key, uint64(len(s)))
		key = append(key, s...)
	}
	n := 0
	for _, f := range fields {
		text, _ := v.get(f)
		if n += len(text); n > maxMemoText {
			return nil, false
		}
		key = binary.AppendUvarint(key, uint64(len(text)))
		key = append(key, text...)
	}
	return key, true
}
