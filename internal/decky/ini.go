package decky

import (
	"bytes"
	"strings"
)

// ParseINI reads a fleet in DECNET's deployment INI format (name is the
// file name errors show) and resolves it against the service catalog:
//
//	[general]            net=, gw=, interface=, ip_start=
//	[<decky>]            ip=, services=a,b, archetype=, amount=N, nmap_os=
//	                     (or nmap-os=), mutate_interval=, distro=
//	[<decky>.<service>]  that service's persona keys (for an amount group,
//	                     every member)
//	[custom-<name>]      binary=<image>, exec=<cmd>, ports=p1,p2
//
// Lines starting with ; or # are comments; a key and its value are
// separated by = or :.
func ParseINI(name string, data []byte, cat ServiceCatalog) (*Fleet, error) {
	if err := checkSize(name, data); err != nil {
		return nil, err
	}
	secs, err := readINI(name, data)
	if err != nil {
		return nil, err
	}
	r := &raw{file: name, genWhere: "[general]", general: map[string]entry{}}
	known := map[string]bool{}
	for _, n := range cat.Names() {
		known[n] = true
	}
	for _, s := range secs {
		if c, ok := strings.CutPrefix(s.name, "custom-"); ok {
			known[c] = true
		}
	}
	byName := map[string]*group{}
	// Decky sections first, so that a service section may come before or
	// after its decky.
	for _, s := range secs {
		switch {
		case s.name == "general":
			r.genLine = s.line
			for _, e := range s.entries {
				r.general[e.key] = e
			}
		case strings.HasPrefix(s.name, "custom-"):
			c := customSection{name: strings.TrimPrefix(s.name, "custom-"), line: s.line, where: "[" + s.name + "]", keys: map[string]entry{}}
			for _, e := range s.entries {
				c.keys[e.key] = e
			}
			r.customs = append(r.customs, c)
		case isServiceSection(s.name, known):
		default:
			g := &group{name: s.name, line: s.line, where: "[" + s.name + "]", keys: map[string]entry{}, svcs: map[string]*svcSection{}}
			for _, e := range s.entries {
				// nmap-os and nmap_os are the same key.
				e.key = strings.ReplaceAll(e.key, "-", "_")
				if prev, dup := g.keys[e.key]; dup {
					return nil, r.errf(e.line, "%s: %s is set twice (also at line %d)", g.where, e.key, prev.line)
				}
				g.keys[e.key] = e
			}
			byName[s.name] = g
			r.groups = append(r.groups, g)
		}
	}
	for _, s := range secs {
		if s.name == "general" || strings.HasPrefix(s.name, "custom-") || !isServiceSection(s.name, known) {
			continue
		}
		i := strings.LastIndexByte(s.name, '.')
		dname, svc := s.name[:i], s.name[i+1:]
		g, ok := byName[dname]
		if !ok {
			return nil, r.errf(s.line, "[%s]: no decky section [%s] for these %s settings", s.name, dname, svc)
		}
		g.svcs[svc] = &svcSection{line: s.line, where: "[" + s.name + "]", keys: s.entries}
		g.order = append(g.order, svc)
	}
	// A dotted section that is not a service section is most likely a
	// misspelt service: say so rather than report a bad decky name.
	for _, g := range r.groups {
		if i := strings.LastIndexByte(g.name, '.'); i > 0 {
			if _, ok := byName[g.name[:i]]; ok {
				svc := g.name[i+1:]
				return nil, r.errf(g.line, "[%s]: unknown service %q%s (a [decky.service] section needs a service slug)",
					g.name, svc, suggest(svc, sortedKeys(known)))
			}
		}
	}
	return r.resolve(cat)
}

// isServiceSection reports whether a section configures a service: it has
// a dot and its last segment is a known service slug.
func isServiceSection(name string, known map[string]bool) bool {
	i := strings.LastIndexByte(name, '.')
	return i > 0 && known[name[i+1:]]
}

type iniSection struct {
	name    string
	line    int
	entries []entry
}

// readINI splits INI text into sections of key/value entries, keeping line
// numbers. Keys are lower-cased, as Python's configparser does.
func readINI(file string, data []byte) ([]iniSection, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	var secs []iniSection
	seen := map[string]int{}
	var keys map[string]int // of the current section
	errf := func(line int, format string, args ...any) error {
		return (&raw{file: file}).errf(line, format, args...)
	}
	for i, ln := range strings.Split(string(data), "\n") {
		line := i + 1
		s := strings.TrimSpace(strings.TrimSuffix(ln, "\r"))
		if s == "" || s[0] == ';' || s[0] == '#' {
			continue
		}
		if s[0] == '[' {
			if s[len(s)-1] != ']' {
				return nil, errf(line, "section header %s has no closing ]", quoteShort(s))
			}
			name := strings.TrimSpace(s[1 : len(s)-1])
			if name == "" || strings.ContainsAny(name, "[]") {
				return nil, errf(line, "bad section header %s", quoteShort(s))
			}
			if first, dup := seen[name]; dup {
				return nil, errf(line, "duplicate section [%s] (first at line %d)", name, first)
			}
			seen[name] = line
			secs = append(secs, iniSection{name: name, line: line})
			keys = map[string]int{}
			continue
		}
		cut := strings.IndexAny(s, "=:")
		if cut < 0 {
			return nil, errf(line, `expected "key = value" or a [section], got %s`, quoteShort(s))
		}
		key := strings.ToLower(strings.TrimSpace(s[:cut]))
		val := strings.TrimSpace(s[cut+1:])
		if key == "" {
			return nil, errf(line, "missing key before %q", s[cut:cut+1])
		}
		if len(secs) == 0 {
			return nil, errf(line, "key %q comes before any [section]", key)
		}
		sec := &secs[len(secs)-1]
		if first, dup := keys[key]; dup {
			return nil, errf(line, "[%s]: %s is set twice (also at line %d)", sec.name, key, first)
		}
		keys[key] = line
		sec.entries = append(sec.entries, entry{key: key, val: val, line: line})
	}
	return secs, nil
}

func quoteShort(s string) string {
	if len(s) > 60 {
		s = s[:60] + "…"
	}
	return strings.ToValidUTF8(`"`+s+`"`, "?")
}
