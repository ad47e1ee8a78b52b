// Package decky holds the decky model: a fake host with a name, an address
// and the services it runs; the archetypes and OS families a decky is built
// from; fleet files (DECNET's INI format, and YAML) resolved into deckies;
// IP allocation; and the default fleet `decnet up` starts with. It says what
// a fleet is, not how it runs: that is internal/engine.
package decky

import (
	"fmt"
	"net/netip"

	"github.com/decnet-go/decnet/internal/event"
)

// Identity is what a service knows about the decky it runs on.
type Identity struct {
	Name string     // decky name: the key of every event, never the cosmetic hostname
	IP   netip.Addr // the address the decky's services bind
}

// Decky is one fake host of the fleet.
type Decky struct {
	Name     string                       `json:"name" yaml:"name"`
	IP       netip.Addr                   `json:"ip" yaml:"ip"`
	Services []string                     `json:"services" yaml:"services"`
	Config   map[string]map[string]string `json:"service_config,omitempty" yaml:"service_config,omitempty"`
	// Archetype names the role the decky was built from (linux-server, …);
	// informational once Services are set.
	Archetype string `json:"archetype,omitempty" yaml:"archetype,omitempty"`
	// Distro is the persona's distribution slug; empty lets the persona
	// seed choose.
	Distro string `json:"distro,omitempty" yaml:"distro,omitempty"`
	// OSFamily is the network personality (nmap_os): linux, windows,
	// windows_server, bsd, embedded or cisco; empty means linux.
	OSFamily string `json:"nmap_os,omitempty" yaml:"nmap_os,omitempty"`
	// MutateInterval is how often, in minutes, the decky's services are
	// rotated; 0 leaves it to the deployment's default.
	MutateInterval int `json:"mutate_interval,omitempty" yaml:"mutate_interval,omitempty"`
	// Custom are the bring-your-own images ([custom-*] of the fleet file)
	// among Services, carried with the decky so a driver that runs images
	// (docker) has what it needs wherever the decky goes.
	Custom []CustomService `json:"custom,omitempty" yaml:"-"`
}

// CustomOf returns the custom image definition of a service of d.
func (d Decky) CustomOf(svc string) (CustomService, bool) {
	for _, c := range d.Custom {
		if c.Name == svc {
			return c, true
		}
	}
	return CustomService{}, false
}

// Identity returns the service-facing identity of d.
func (d Decky) Identity() Identity { return Identity{Name: d.Name, IP: d.IP} }

// Validate checks the fields a decky cannot run without.
func (d Decky) Validate() error {
	if !validName(d.Name) {
		return fmt.Errorf("decky name %q: use lower-case letters, digits and dashes (at most 63)", d.Name)
	}
	if !d.IP.IsValid() {
		return fmt.Errorf("decky %s: ip is missing", d.Name)
	}
	if len(d.Services) == 0 {
		return fmt.Errorf("decky %s: services is empty", d.Name)
	}
	return nil
}

// validName reports whether a decky may be called name: lower-case
// letters, digits and dashes, at most 63 (a DNS label and a NATS token).
func validName(name string) bool { return event.ValidDeckyName(name) }

// DefaultFleet is the fleet `decnet up` runs when none is configured: two
// deckies on their own loopback addresses, each with ssh and http.
func DefaultFleet() []Decky {
	return []Decky{
		{Name: "decky-01", IP: netip.MustParseAddr("127.42.0.11"), Services: []string{"ssh", "http"}},
		{Name: "decky-02", IP: netip.MustParseAddr("127.42.0.12"), Services: []string{"ssh", "http"}},
	}
}
