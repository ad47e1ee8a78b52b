package decky

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"

	"github.com/decnet-go/decnet/internal/persona"
)

// MaxGenerate is the largest fleet Generate builds.
const MaxGenerate = 1000

// GenerateOptions says how Generate builds a fleet from flags (decnet
// deploy -n N …) rather than a file.
type GenerateOptions struct {
	// Archetype gives every decky its services, preferred distros and
	// nmap_os.
	Archetype string
	// Services are what every decky runs when there is no archetype and
	// services are not random.
	Services []string
	// RandomServices gives each decky 1 to 3 services drawn from Pool,
	// avoiding a combination another decky already has while any is left.
	RandomServices bool
	Pool           []string
	// Distros are handed out round-robin (drawn at random with
	// RandomDistros); empty means the archetype's preferred ones, else all.
	Distros       []string
	RandomDistros bool
	// Rand makes the fleet reproducible; nil draws a fresh seed.
	Rand *rand.Rand
}

// Generate builds n deckies named decky-01 … decky-NN, without addresses
// (Allocate gives them theirs).
func Generate(n int, opts GenerateOptions) ([]Decky, error) {
	if n < 1 || n > MaxGenerate {
		return nil, fmt.Errorf("number of deckies: %d is not between 1 and %d", n, MaxGenerate)
	}
	r := opts.Rand
	if r == nil {
		r = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	var arch Archetype
	if opts.Archetype != "" {
		a, ok := LookupArchetype(opts.Archetype)
		if !ok {
			return nil, fmt.Errorf("unknown archetype %q%s (known: %s)", opts.Archetype,
				suggest(opts.Archetype, archetypeSlugs()), strings.Join(archetypeSlugs(), ", "))
		}
		arch = a
	}
	distros := opts.Distros
	for _, d := range distros {
		if _, ok := persona.LookupDistro(d); !ok {
			return nil, fmt.Errorf("unknown distro %q%s (known: %s)", d, suggest(d, persona.Distros()), strings.Join(persona.Distros(), ", "))
		}
	}
	if len(distros) == 0 {
		distros = arch.Distros
	}
	if len(distros) == 0 {
		distros = persona.Distros()
	}
	switch {
	case opts.RandomServices && len(opts.Pool) == 0:
		return nil, fmt.Errorf("random services need a pool of services to draw from")
	case !opts.RandomServices && arch.Slug == "" && len(opts.Services) == 0:
		return nil, fmt.Errorf("no services: give services, an archetype or random services")
	}
	family := arch.OSFamily
	if family == "" {
		family = "linux"
	}
	used := map[string]bool{}
	out := make([]Decky, n)
	for i := range out {
		d := Decky{Name: fmt.Sprintf("decky-%02d", i+1), Archetype: arch.Slug, OSFamily: family}
		switch {
		case opts.RandomServices:
			d.Services = drawServices(r, opts.Pool, used)
		case arch.Slug != "":
			d.Services = slices.Clone(arch.Services)
		default:
			d.Services = slices.Clone(opts.Services)
		}
		if opts.RandomDistros {
			d.Distro = distros[r.IntN(len(distros))]
		} else {
			d.Distro = distros[i%len(distros)]
		}
		out[i] = d
	}
	return out, nil
}

// drawServices picks 1 to 3 services of pool, in pool order, trying a few
// times for a combination no other decky has.
func drawServices(r *rand.Rand, pool []string, used map[string]bool) []string {
	var pick []string
	for range 32 {
		k := 1 + r.IntN(min(3, len(pool)))
		idx := r.Perm(len(pool))[:k]
		slices.Sort(idx)
		pick = pick[:0]
		for _, j := range idx {
			pick = append(pick, pool[j])
		}
		if !used[strings.Join(pick, ",")] {
			break
		}
	}
	used[strings.Join(pick, ",")] = true
	return slices.Clone(pick)
}

// GenerateOn builds n deckies as Generate does and gives them addresses of
// network in order, skipping the network and broadcast addresses and the
// gateway (the subnet's first address when network names none): the fleet
// of `decnet deploy --deckies N` without a fleet file.
func GenerateOn(n int, opts GenerateOptions, network Network) ([]Decky, error) {
	if !network.Subnet.IsValid() || !network.Subnet.Addr().Is4() {
		return nil, fmt.Errorf("subnet %s: an IPv4 subnet is needed to allocate addresses", network.Subnet)
	}
	network.Subnet = network.Subnet.Masked()
	if !network.Gateway.IsValid() {
		network.Gateway = network.Subnet.Addr().Next()
	}
	fleet, err := Generate(n, opts)
	if err != nil {
		return nil, err
	}
	if err := Allocate(fleet, network, netip.Addr{}); err != nil {
		return nil, err
	}
	return fleet, nil
}
