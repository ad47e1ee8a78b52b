package decky

import (
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/decnet-go/decnet/internal/persona"
)

// MaxConfigSize is the largest fleet file accepted (the original's limit).
const MaxConfigSize = 512 << 10

// MaxAmount is the largest amount= of one decky group.
const MaxAmount = 100

// Fleet is a deployment read from a fleet file: the network the deckies
// live on, the deckies with every default resolved, and the operator's own
// service images.
type Fleet struct {
	Network Network         `json:"network"`
	Deckies []Decky         `json:"deckies"`
	Custom  []CustomService `json:"custom,omitempty"`

	// explicit holds the deckies whose ip the file gave, so Allocate can
	// redo the others once the host's own address is known.
	explicit map[string]bool
}

// Network is the LAN the deckies appear on ([general] of the INI file).
// A zero Subnet means loopback for the local driver (DefaultSubnet).
type Network struct {
	Subnet    netip.Prefix `json:"subnet,omitzero"`
	Gateway   netip.Addr   `json:"gateway,omitzero"`
	Interface string       `json:"interface,omitempty"`
	// IPStart is the first address handed out to deckies without an ip;
	// zero means the subnet's first host (DefaultIPStart on loopback).
	IPStart netip.Addr `json:"ip_start,omitzero"`
}

// CustomService is a bring-your-own service image ([custom-<name>]): a
// decky lists it in services by its name. DECNET-Go reads and keeps it but
// cannot run one yet: Runnable is always false and the engines refuse a
// fleet whose deckies use one (see Fleet.CheckRunnable).
type CustomService struct {
	Name     string `json:"name"`
	Image    string `json:"image"` // binary= in the INI file
	Exec     string `json:"exec,omitempty"`
	Ports    []int  `json:"ports,omitempty"`
	Runnable bool   `json:"runnable"`
}

// ErrCustomService is returned by Fleet.CheckRunnable when a decky uses a
// custom service.
var ErrCustomService = errors.New("custom images run only under the docker driver")

// CheckRunnable reports a decky that uses a custom service (a container
// image of the operator's), which only the docker driver runs; the local
// driver checks fleets with it.
func (f *Fleet) CheckRunnable() error {
	for _, d := range f.Deckies {
		for _, s := range d.Services {
			if c, ok := f.custom(s); ok {
				return fmt.Errorf("decky %s: service %s is a custom image (%s): %w; remove it from the decky's services",
					d.Name, s, c.Image, ErrCustomService)
			}
		}
	}
	return nil
}

func (f *Fleet) custom(name string) (CustomService, bool) {
	i := slices.IndexFunc(f.Custom, func(c CustomService) bool { return c.Name == name })
	if i < 0 {
		return CustomService{}, false
	}
	return f.Custom[i], true
}

// Allocate (re)assigns addresses to the deckies whose ip the file did not
// give, skipping host (the machine's own address on the LAN, when known).
// Loading a fleet already allocates without a host address; a driver that
// knows it calls Allocate again. On a Fleet that was not loaded from a file
// (decoded from JSON, built by hand) every address present is kept.
func (f *Fleet) Allocate(host netip.Addr) error {
	for i := range f.Deckies {
		if f.explicit != nil && !f.explicit[f.Deckies[i].Name] {
			f.Deckies[i].IP = netip.Addr{}
		}
	}
	return Allocate(f.Deckies, f.Network, host)
}

// ServiceCatalog is what loading a fleet needs to know about services: the
// slugs that exist and whether a service accepts a configuration. A
// honeypot registry provides it (honeypot imports this package, so the
// adapter lives with the caller).
type ServiceCatalog interface {
	Names() []string
	// CheckConfig validates one service's persona keys and names the
	// first wrong key.
	CheckConfig(service string, cfg map[string]string) error
}

// ConfigError is a mistake in a fleet file, with the line it is on.
type ConfigError struct {
	File string
	Line int // 0 when the mistake has no one line
	Msg  string
}

func (e *ConfigError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return e.File + ": " + e.Msg
}

// LoadFile reads a fleet file, INI (.ini, .conf) or YAML (.yaml, .yml),
// and resolves it as ParseINI and ParseYAML do.
func LoadFile(path string, cat ServiceCatalog) (*Fleet, error) {
	parse := ParseINI
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".ini", ".conf", ".cfg":
	case ".yaml", ".yml":
		parse = ParseYAML
	default:
		return nil, fmt.Errorf("fleet file %s: unknown format %q (use .ini or .conf for INI, .yaml or .yml for YAML)", path, ext)
	}
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("fleet file: %w", err)
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, MaxConfigSize+1))
	if err != nil {
		return nil, fmt.Errorf("fleet file %s: %w", path, err)
	}
	return parse(filepath.Base(path), data, cat)
}

func checkSize(file string, data []byte) error {
	if len(data) > MaxConfigSize {
		return &ConfigError{File: file, Msg: fmt.Sprintf("larger than %d KiB; split the fleet or trim it", MaxConfigSize>>10)}
	}
	return nil
}

// entry is one key of a fleet file with where it was written.
type entry struct {
	key, val string
	line     int
}

// group is a decky section before resolution: one decky, or amount of them.
type group struct {
	name  string
	line  int
	where string // how errors name it: [web] or decky "web"
	keys  map[string]entry
	svcs  map[string]*svcSection
	order []string // service sections in file order
}

type svcSection struct {
	line  int
	where string
	keys  []entry
}

type customSection struct {
	name  string
	line  int
	where string
	keys  map[string]entry
}

// raw is a fleet file read but not yet resolved; INI and YAML both end here.
type raw struct {
	file     string
	general  map[string]entry
	genLine  int
	genWhere string
	groups   []*group
	customs  []customSection
}

var (
	generalKeys = []string{"net", "gw", "interface", "ip_start"}
	deckyKeys   = []string{"ip", "services", "archetype", "amount", "nmap_os", "mutate_interval", "distro"}
	customKeys  = []string{"binary", "exec", "ports"}
)

func (r *raw) errf(line int, format string, args ...any) error {
	return &ConfigError{File: r.file, Line: line, Msg: fmt.Sprintf(format, args...)}
}

func (r *raw) unknownKey(e entry, where string, known []string) error {
	return r.errf(e.line, "unknown key %q in %s%s", e.key, where, suggest(e.key, known))
}

// resolve turns what the file says into deckies: archetypes expanded,
// defaults filled, addresses allocated, everything checked.
func (r *raw) resolve(cat ServiceCatalog) (*Fleet, error) {
	f := &Fleet{explicit: map[string]bool{}}
	if err := r.network(&f.Network); err != nil {
		return nil, err
	}
	known := map[string]bool{}
	for _, n := range cat.Names() {
		known[n] = true
	}
	for _, c := range r.customs {
		cs, err := r.customService(c, known)
		if err != nil {
			return nil, err
		}
		f.Custom = append(f.Custom, cs)
	}
	services := slices.Sorted(func(yield func(string) bool) {
		for n := range known {
			if !yield(n) {
				return
			}
		}
	})
	for _, c := range f.Custom {
		known[c.Name] = true
		services = append(services, c.Name)
	}
	slices.Sort(services)

	names := map[string]int{}
	ips := map[netip.Addr]string{}
	for _, g := range r.groups {
		members, err := r.expand(g, services, known)
		if err != nil {
			return nil, err
		}
		for _, d := range members {
			if first, dup := names[d.Name]; dup {
				return nil, r.errf(g.line, "duplicate decky name %q (first defined at line %d)", d.Name, first)
			}
			names[d.Name] = g.line
			if d.IP.IsValid() {
				ipLine := g.keys["ip"].line
				if other, dup := ips[d.IP]; dup {
					return nil, r.errf(ipLine, "%s: ip %s is already used by decky %s", g.where, d.IP, other)
				}
				if err := checkExplicitIP(d.IP, f.Network); err != nil {
					return nil, r.errf(ipLine, "%s: %v", g.where, err)
				}
				ips[d.IP] = d.Name
				f.explicit[d.Name] = true
			}
			// Custom services take no schema; the rest are checked.
			for _, svc := range slices.Sorted(func(yield func(string) bool) {
				for s := range d.Config {
					if !yield(s) {
						return
					}
				}
			}) {
				sec := g.svcs[svc]
				if _, isCustom := f.custom(svc); isCustom {
					continue
				}
				for _, e := range sec.keys {
					if err := cat.CheckConfig(svc, map[string]string{e.key: e.val}); err != nil {
						return nil, r.errf(e.line, "%s %v", sec.where, err)
					}
				}
			}
			f.Deckies = append(f.Deckies, d)
		}
	}
	if len(f.Deckies) == 0 {
		return nil, r.errf(0, "no deckies: add a decky section (e.g. [decky-01] with services = ssh, http)")
	}
	if err := f.Allocate(netip.Addr{}); err != nil {
		return nil, r.errf(r.genLine, "%v", err)
	}
	for i, d := range f.Deckies {
		if err := d.Validate(); err != nil {
			return nil, r.errf(0, "%v", err)
		}
		for _, svc := range d.Services {
			if c, ok := f.custom(svc); ok {
				f.Deckies[i].Custom = append(f.Deckies[i].Custom, c)
			}
		}
	}
	return f, nil
}

func (r *raw) network(n *Network) error {
	for _, k := range sortedKeys(r.general) {
		e := r.general[k]
		switch k {
		case "net":
			p, err := netip.ParsePrefix(e.val)
			if err != nil || !p.Addr().Is4() {
				return r.errf(e.line, "%s net: %q is not an IPv4 network like 10.0.0.0/24", r.genWhere, e.val)
			}
			if p.Masked() != p {
				return r.errf(e.line, "%s net: %s has host bits set (did you mean %s?)", r.genWhere, p, p.Masked())
			}
			n.Subnet = p
		case "gw":
			a, err := parseIPv4(e.val)
			if err != nil {
				return r.errf(e.line, "%s gw: %v", r.genWhere, err)
			}
			n.Gateway = a
		case "interface":
			n.Interface = e.val
		case "ip_start":
			a, err := parseIPv4(e.val)
			if err != nil {
				return r.errf(e.line, "%s ip_start: %v", r.genWhere, err)
			}
			n.IPStart = a
		default:
			return r.unknownKey(e, r.genWhere, generalKeys)
		}
	}
	if n.Subnet.IsValid() {
		for _, k := range []string{"gw", "ip_start"} {
			a := n.Gateway
			if k == "ip_start" {
				a = n.IPStart
			}
			if a.IsValid() && !n.Subnet.Contains(a) {
				return r.errf(r.general[k].line, "%s %s: %s is outside net %s", r.genWhere, k, a, n.Subnet)
			}
		}
	}
	return nil
}

func (r *raw) customService(c customSection, known map[string]bool) (CustomService, error) {
	cs := CustomService{Name: c.name}
	if !validServiceName(c.name) {
		return cs, r.errf(c.line, "%s: custom service name %q: use lower-case letters, digits, dashes and underscores", c.where, c.name)
	}
	if known[c.name] {
		return cs, r.errf(c.line, "%s: %q is already a built-in service; give the custom one another name", c.where, c.name)
	}
	for _, k := range sortedKeys(c.keys) {
		e := c.keys[k]
		switch k {
		case "binary":
			cs.Image = e.val
		case "exec":
			cs.Exec = e.val
		case "ports":
			for _, p := range splitList(e.val) {
				n, err := strconv.Atoi(p)
				if err != nil || n < 1 || n > 65535 {
					return cs, r.errf(e.line, "%s ports: %q is not a port number (1-65535)", c.where, p)
				}
				cs.Ports = append(cs.Ports, n)
			}
		default:
			return cs, r.unknownKey(e, c.where, customKeys)
		}
	}
	if cs.Image == "" {
		return cs, r.errf(c.line, "%s: binary (the service's image) is missing", c.where)
	}
	return cs, nil
}

// expand resolves one decky section into its decky, or its amount members.
func (r *raw) expand(g *group, services []string, known map[string]bool) ([]Decky, error) {
	d := Decky{Name: g.name}
	for _, k := range sortedKeys(g.keys) {
		if !slices.Contains(deckyKeys, k) {
			return nil, r.unknownKey(g.keys[k], g.where, deckyKeys)
		}
	}
	var arch Archetype
	if e, ok := g.keys["archetype"]; ok {
		a, found := LookupArchetype(e.val)
		if !found {
			return nil, r.errf(e.line, "%s: unknown archetype %q%s (known: %s)", g.where, e.val,
				suggest(e.val, archetypeSlugs()), strings.Join(archetypeSlugs(), ", "))
		}
		arch = a
		d.Archetype = a.Slug
		d.Services = slices.Clone(a.Services)
		d.OSFamily = a.OSFamily
	}
	if e, ok := g.keys["services"]; ok {
		d.Services = nil
		for _, s := range splitList(e.val) {
			if slices.Contains(d.Services, s) {
				return nil, r.errf(e.line, "%s services: %s is listed twice", g.where, s)
			}
			d.Services = append(d.Services, s)
		}
		if len(d.Services) == 0 {
			return nil, r.errf(e.line, "%s services: empty (list one or more of: %s)", g.where, strings.Join(services, ", "))
		}
	}
	if len(d.Services) == 0 {
		return nil, r.errf(g.line, "%s: no services and no archetype (add services = ssh, http or archetype = linux-server)", g.where)
	}
	for _, s := range d.Services {
		if !known[s] {
			line := g.keys["services"].line
			if line == 0 {
				line = g.keys["archetype"].line
				return nil, r.errf(line, "%s: archetype %s needs service %q, which this decnet does not have yet (available: %s); list the services yourself with services =",
					g.where, arch.Slug, s, strings.Join(services, ", "))
			}
			return nil, r.errf(line, "%s: unknown service %q%s (known: %s)", g.where, s, suggest(s, services), strings.Join(services, ", "))
		}
	}
	if e, ok := g.keys["nmap_os"]; ok {
		if _, found := LookupFamily(e.val); !found || e.val == "" {
			return nil, r.errf(e.line, "%s: unknown nmap_os %q%s (known: %s)", g.where, e.val,
				suggest(e.val, Families()), strings.Join(Families(), ", "))
		}
		d.OSFamily = e.val
	}
	if d.OSFamily == "" {
		d.OSFamily = "linux"
	}
	if e, ok := g.keys["distro"]; ok {
		if _, found := persona.LookupDistro(e.val); !found {
			return nil, r.errf(e.line, "%s: unknown distro %q%s (known: %s)", g.where, e.val,
				suggest(e.val, persona.Distros()), strings.Join(persona.Distros(), ", "))
		}
		d.Distro = e.val
	}
	if e, ok := g.keys["mutate_interval"]; ok {
		n, err := strconv.Atoi(e.val)
		if err != nil || n < 1 {
			return nil, r.errf(e.line, "%s mutate_interval: %q is not a whole number of minutes (1 or more)", g.where, e.val)
		}
		d.MutateInterval = n
	}
	if e, ok := g.keys["ip"]; ok {
		a, err := parseIPv4(e.val)
		if err != nil {
			return nil, r.errf(e.line, "%s ip: %v", g.where, err)
		}
		d.IP = a
	}
	for _, svc := range g.order {
		sec := g.svcs[svc]
		if !slices.Contains(d.Services, svc) {
			return nil, r.errf(sec.line, "%s configures %s, but %s does not run it (services: %s)",
				sec.where, svc, g.name, strings.Join(d.Services, ", "))
		}
		if d.Config == nil {
			d.Config = map[string]map[string]string{}
		}
		if d.Config[svc] == nil {
			d.Config[svc] = map[string]string{}
		}
		for _, e := range sec.keys {
			d.Config[svc][e.key] = e.val
		}
	}

	amount := 1
	e, grouped := g.keys["amount"]
	if grouped {
		n, err := strconv.Atoi(e.val)
		if err != nil || n < 1 || n > MaxAmount {
			return nil, r.errf(e.line, "%s amount: %q is not a whole number from 1 to %d", g.where, e.val, MaxAmount)
		}
		if ipe, ok := g.keys["ip"]; ok {
			return nil, r.errf(ipe.line, "%s: ip cannot be combined with amount (each of the %d deckies needs its own address; drop ip to allocate them)", g.where, n)
		}
		amount = n
	}
	var out []Decky
	for i := 1; i <= amount; i++ {
		m := d
		if grouped {
			m.Name = fmt.Sprintf("%s-%02d", g.name, i)
		}
		if !validName(m.Name) {
			return nil, r.errf(g.line, "%s: decky name %q: use lower-case letters, digits and dashes (at most 63)", g.where, m.Name)
		}
		m.Services = slices.Clone(d.Services)
		m.Config = cloneConfig(d.Config)
		if m.Distro == "" && len(arch.Distros) > 0 {
			m.Distro = pickByName(m.Name, arch.Distros)
		}
		out = append(out, m)
	}
	return out, nil
}

// pickByName chooses one of options from the decky's name, so the choice
// is the same on every load and differs between deckies.
func pickByName(name string, options []string) string {
	h := fnv.New32a()
	h.Write([]byte(name))
	return options[h.Sum32()%uint32(len(options))]
}

func checkExplicitIP(a netip.Addr, n Network) error {
	if !n.Subnet.IsValid() {
		return nil
	}
	if !n.Subnet.Contains(a) {
		return fmt.Errorf("ip %s is outside net %s", a, n.Subnet)
	}
	if a == n.Gateway {
		return fmt.Errorf("ip %s is the gateway", a)
	}
	if n.Subnet.Bits() <= 30 {
		if a == n.Subnet.Addr() {
			return fmt.Errorf("ip %s is the network address of %s", a, n.Subnet)
		}
		if a == broadcast(n.Subnet) {
			return fmt.Errorf("ip %s is the broadcast address of %s", a, n.Subnet)
		}
	}
	return nil
}

func parseIPv4(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return netip.Addr{}, fmt.Errorf("%q is not an IPv4 address", s)
	}
	return a, nil
}

func cloneConfig(c map[string]map[string]string) map[string]map[string]string {
	if c == nil {
		return nil
	}
	out := make(map[string]map[string]string, len(c))
	for s, kv := range c {
		m := make(map[string]string, len(kv))
		for k, v := range kv {
			m[k] = v
		}
		out[s] = m
	}
	return out
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func validServiceName(s string) bool {
	if s == "" || len(s) > 63 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// suggest returns ` (did you mean "x"?)` for the closest of known within a
// small edit distance, or nothing.
func suggest(s string, known []string) string {
	// Allow more typos in longer words: 1 up to 2 letters, 2 up to 4, else 3.
	best, bestD := "", 4
	switch {
	case len(s) <= 2:
		bestD = 2
	case len(s) <= 4:
		bestD = 3
	}
	for _, k := range known {
		if d := editDistance(s, k); d < bestD {
			best, bestD = k, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// editDistance is the Levenshtein distance of a and b, counted in bytes.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 99 // not worth comparing; keeps hostile input cheap
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
