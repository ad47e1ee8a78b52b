package ttp

import (
	"regexp"
	"regexp/syntax"
	"strings"
	"unicode/utf8"
)

// prefilter is a cheap necessary condition for a regex to match: for every
// group, one of its literals must occur in the lower-cased text. Most events
// match no rule, so tagging throughput rests on rejecting them without
// running the regexes. A nil prefilter always passes.
type prefilter [][]string

// pass reports whether lower (the lower-cased text) may match.
func (p prefilter) pass(lower string) bool {
	for _, group := range p {
		ok := false
		for _, lit := range group {
			if strings.Contains(lower, lit) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// newPrefilter derives the literal groups from the regex's syntax tree: a
// concatenation needs each of its parts, an alternation one of its branches.
// Regexes with no such literal get no prefilter.
func newPrefilter(re *regexp.Regexp) prefilter {
	t, err := syntax.Parse(re.String(), syntax.Perl)
	if err != nil {
		return nil
	}
	groups, ok := required(t.Simplify())
	if !ok {
		return nil
	}
	return groups
}

const minLiteral = 2 // shorter literals reject too little to be worth it

// required returns groups of literals (all groups must be satisfied, each
// by any of its literals), or ok=false when nothing is required.
func required(re *syntax.Regexp) ([][]string, bool) {
	switch re.Op {
	case syntax.OpLiteral:
		s := string(re.Rune)
		if utf8.RuneCountInString(s) < minLiteral || !ascii(s) {
			return nil, false
		}
		return [][]string{{strings.ToLower(s)}}, true
	case syntax.OpCapture, syntax.OpPlus:
		return required(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return required(re.Sub[0])
		}
	case syntax.OpConcat:
		var all [][]string
		for _, sub := range re.Sub {
			if groups, ok := required(sub); ok {
				all = append(all, groups...)
			}
		}
		return all, len(all) > 0
	case syntax.OpAlternate:
		var union []string
		for _, sub := range re.Sub {
			groups, ok := required(sub)
			if !ok {
				return nil, false
			}
			best := groups[0]
			for _, g := range groups[1:] {
				if score(g) > score(best) {
					best = g
				}
			}
			union = append(union, best...)
		}
		return [][]string{union}, true
	}
	return nil, false
}

// score prefers few, long literals: the shortest literal bounds selectivity.
func score(lits []string) int {
	shortest := 1 << 30
	for _, l := range lits {
		shortest = min(shortest, len(l))
	}
	return shortest*16 - len(lits)
}

// ascii: case folding of non-ASCII letters (ſ, K) is not what
// strings.ToLower does, so only ASCII literals are used.
func ascii(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// lowerASCII lower-cases ASCII letters for the prefilter. The two non-ASCII
// runes that fold to ASCII letters under (?i) — the Kelvin sign and the long
// s — become k and s, so a case-insensitive regex is never rejected wrongly.
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			return strings.Map(foldRune, s)
		}
		if 'A' <= c && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if c := b[j]; c >= utf8.RuneSelf {
					return strings.Map(foldRune, s)
				} else if 'A' <= c && c <= 'Z' {
					b[j] = c + 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

func foldRune(r rune) rune {
	switch {
	case 'A' <= r && r <= 'Z':
		return r + 'a' - 'A'
	case r == '\u212A': // KELVIN SIGN
		return 'k'
	case r == '\u017F': // LATIN SMALL LETTER LONG S
		return 's'
	}
	return r
}
