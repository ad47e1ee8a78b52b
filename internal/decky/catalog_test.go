package decky_test

import (
	"fmt"
	"slices"

	"github.com/decnet-go/decnet/internal/honeypot"
	"github.com/decnet-go/decnet/internal/honeypot/builtin"
)

// catalog is a decky.ServiceCatalog over service schemas.
type catalog map[string]honeypot.Schema

func (c catalog) Names() []string {
	var out []string
	for n := range c {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

func (c catalog) CheckConfig(svc string, cfg map[string]string) error {
	s, ok := c[svc]
	if !ok {
		return fmt.Errorf("unknown service %q", svc)
	}
	return s.Validate(cfg)
}

// builtinCatalog is what this decnet really has.
func builtinCatalog() catalog {
	r := builtin.Registry()
	c := catalog{}
	for _, n := range r.Names() {
		s, _ := r.New(n)
		c[n] = s.Schema()
	}
	return c
}

// fullCatalog adds every service an archetype names, without keys, so the
// whole spec can be exercised before the emulators exist.
func fullCatalog() catalog {
	c := builtinCatalog()
	for _, n := range []string{"conpot", "docker_api", "ftp", "imap", "k8s", "ldap", "llmnr", "mqtt", "mysql",
		"pop3", "postgres", "rdp", "redis", "sip", "smb", "smtp", "snmp", "telnet"} {
		if _, ok := c[n]; !ok {
			c[n] = honeypot.Schema{}
		}
	}
	return c
}
