package ttp

import (
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"unicode/utf8"
)

// prefilter is a cheap necessary condition for a regex to match: a tree of
// literals joined by AND and OR that the lower-cased text must satisfy.
// Most events match no rule, so tagging throughput rests on rejecting them
// without running the regexes. A nil prefilter always passes.
type prefilter = *pnode

// pnode is one node of the tree: a literal that must occur, or all (AND) or
// one (OR) of its children.
type pnode struct {
	op    pop
	lit   string
	grams []uint16 // the literal's bigrams, checked before strings.Contains
	subs  []*pnode
}

type pop uint8

const (
	pLit pop = iota
	pAnd
	pOr
)

// lowered is a field's text lower-cased, with the set of its bigrams
// (hashed into 1024 bits): a literal with a bigram missing from the set is
// absent without a substring search.
type lowered struct {
	text  string
	grams [16]uint64
}

func newLowered(text string) lowered {
	l := lowered{text: lowerASCII(text)}
	t := l.text
	for i := 0; i+1 < len(t); i++ {
		h := gram(t[i], t[i+1])
		l.grams[h>>6] |= 1 << (h & 63)
	}
	return l
}

func gram(a, b byte) uint16 { return (uint16(a)*131 + uint16(b)) & 1023 }

func gramsOf(lit string) []uint16 {
	var gs []uint16
	for i := 0; i+1 < len(lit); i++ {
		if g := gram(lit[i], lit[i+1]); !slices.Contains(gs, g) {
			gs = append(gs, g)
		}
	}
	return gs
}

// pass reports whether the lower-cased text may match.
func (p *pnode) pass(l *lowered) bool {
	switch p.op {
	case pLit:
		for _, g := range p.grams {
			if l.grams[g>>6]&(1<<(g&63)) == 0 {
				return false
			}
		}
		return strings.Contains(l.text, p.lit)
	case pAnd:
		for _, s := range p.subs {
			if !s.pass(l) {
				return false
			}
		}
		return true
	default:
		for _, s := range p.subs {
			if s.pass(l) {
				return true
			}
		}
		return false
	}
}

// String renders the tree for test failures: "a" & ("b" | "c").
func (p *pnode) String() string {
	if p == nil {
		return "*"
	}
	switch p.op {
	case pLit:
		return `"` + p.lit + `"`
	}
	sep := " & "
	if p.op == pOr {
		sep = " | "
	}
	parts := make([]string, len(p.subs))
	for i, s := range p.subs {
		parts[i] = s.String()
	}
	return "(" + strings.Join(parts, sep) + ")"
}

// newPrefilter derives the literal tree from the regex's syntax tree, in
// the manner of Russ Cox's codesearch: a node matching one of a few exact
// strings is kept as that set (so the factored `i(?:fconfig|p)` is still
// ifconfig|ip), a concatenation needs each of its parts, an alternation one
// of its branches. Regexes with no such literal get no prefilter.
func newPrefilter(re *regexp.Regexp) prefilter {
	t, err := syntax.Parse(re.String(), syntax.Perl)
	if err != nil {
		return nil
	}
	return analyze(t.Simplify()).need()
}

const (
	minLiteral = 2  // shorter literals reject too little to be worth it
	maxExact   = 16 // the largest exact set kept before it becomes a requirement
)

// info is what analysis knows of a node: either the exact set of strings it
// matches (exact != nil) or a requirement tree (match, nil = nothing).
type info struct {
	exact  []string
	prefix []string // when not exact: every match starts with one of these (nil: unknown)
	match  *pnode
}

// starts is the set every match begins with.
func (i info) starts() []string {
	if i.exact != nil {
		return i.exact
	}
	if i.prefix != nil {
		return i.prefix
	}
	return []string{""}
}

// need turns an info into a requirement tree.
func (i info) need() *pnode {
	if i.exact == nil {
		return i.match
	}
	subs := make([]*pnode, 0, len(i.exact))
	for _, s := range i.exact {
		if len(s) < minLiteral {
			return nil
		}
		subs = append(subs, &pnode{op: pLit, lit: s, grams: gramsOf(s)})
	}
	return or(subs)
}

func and(subs []*pnode) *pnode {
	var keep []*pnode
	seen := map[string]bool{} // a prefix run may repeat its part's own need
	for _, s := range subs {
		var add []*pnode
		switch {
		case s == nil:
		case s.op == pAnd:
			add = s.subs
		default:
			add = []*pnode{s}
		}
		for _, a := range add {
			if k := a.String(); !seen[k] {
				seen[k] = true
				keep = append(keep, a)
			}
		}
	}
	switch len(keep) {
	case 0:
		return nil
	case 1:
		return keep[0]
	}
	return &pnode{op: pAnd, subs: keep}
}

func or(subs []*pnode) *pnode {
	var keep []*pnode
	for _, s := range subs {
		switch {
		case s == nil:
			return nil // one branch needs nothing: the OR needs nothing
		case s.op == pOr:
			keep = append(keep, s.subs...)
		default:
			keep = append(keep, s)
		}
	}
	switch len(keep) {
	case 0:
		return nil
	case 1:
		return keep[0]
	}
	return &pnode{op: pOr, subs: keep}
}

func exactOf(ss ...string) info { return info{exact: ss} }

func analyze(re *syntax.Regexp) info {
	switch re.Op {
	case syntax.OpEmptyMatch, syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText,
		syntax.OpEndText, syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return exactOf("")
	case syntax.OpLiteral:
		s := string(re.Rune)
		if !ascii(s) {
			return info{}
		}
		return exactOf(strings.ToLower(s))
	case syntax.OpCharClass:
		return charClass(re.Rune)
	case syntax.OpCapture:
		return analyze(re.Sub[0])
	case syntax.OpQuest:
		sub := analyze(re.Sub[0])
		if sub.exact != nil && len(sub.exact) < maxExact {
			return exactOf(union([]string{""}, sub.exact)...)
		}
		return info{}
	case syntax.OpPlus:
		sub := analyze(re.Sub[0])
		return info{match: sub.need(), prefix: sub.starts()}
	case syntax.OpRepeat:
		if re.Min >= 1 {
			sub := analyze(re.Sub[0])
			return info{match: sub.need(), prefix: sub.starts()}
		}
		return info{}
	case syntax.OpConcat:
		return concat(re.Sub)
	case syntax.OpAlternate:
		subs := make([]info, len(re.Sub))
		allExact := true
		var all []string
		for i, s := range re.Sub {
			subs[i] = analyze(s)
			if subs[i].exact == nil {
				allExact = false
			}
			all = union(all, subs[i].starts())
		}
		if allExact && len(all) <= maxExact {
			return exactOf(all...)
		}
		needs := make([]*pnode, len(subs))
		for i, s := range subs {
			needs[i] = s.need()
		}
		in := info{match: or(needs)}
		if len(all) <= maxExact {
			in.prefix = all
		}
		return in
	}
	return info{} // star, any char: nothing required
}

// concat multiplies out runs of exact parts (`ip` then `\s` stays ip;
// `i` then `fconfig|p` becomes ifconfig|ip) and requires every run.
func concat(subs []*syntax.Regexp) info {
	cur := []string{""}
	exact := true
	var prefix []string
	var needs []*pnode
	flush := func() {
		if len(cur) == 1 && cur[0] == "" {
			return
		}
		needs = append(needs, info{exact: cur}.need())
		cur = []string{""}
	}
	for _, s := range subs {
		in := analyze(s)
		if in.exact != nil && len(cur)*len(in.exact) <= maxExact {
			cur = cross(cur, in.exact)
			continue
		}
		// The run so far is followed by one of in's starts: require the
		// longer strings when there are few enough of them.
		if st := in.starts(); len(cur)*len(st) <= maxExact {
			cur = cross(cur, st)
			if exact {
				prefix = cur
			}
		} else {
			if exact {
				prefix = cur // the run so far: every match starts with one of them
			}
			flush()
			cur = st
		}
		exact = false
		flush()
		needs = append(needs, in.need())
	}
	if exact {
		return exactOf(cur...)
	}
	flush()
	return info{match: and(needs), prefix: prefix}
}

func cross(a, b []string) []string {
	out := make([]string, 0, len(a)*len(b))
	for _, x := range a {
		for _, y := range b {
			out = append(out, x+y)
		}
	}
	return union(nil, out)
}

func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, s := range b {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// charClass: a class of at most four ASCII letters after folding ([46],
// [Ss], [sv]) is an exact set; anything wider requires nothing.
func charClass(ranges []rune) info {
	var set []string
	for i := 0; i+1 < len(ranges); i += 2 {
		if ranges[i+1]-ranges[i] > 8 {
			return info{}
		}
		for r := ranges[i]; r <= ranges[i+1]; r++ {
			f := foldRune(r)
			if f >= utf8.RuneSelf {
				return info{}
			}
			set = union(set, []string{string(f)})
			if len(set) > 4 {
				return info{}
			}
		}
	}
	if len(set) == 0 {
		return info{}
	}
	return exactOf(set...)
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
