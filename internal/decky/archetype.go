package decky

import (
	"slices"
	"strings"
)

// Archetype is a role a decky can be built from: the services such a
// machine runs, the distros it is likely to run, and its network
// personality (spec/engine.md §4.2).
type Archetype struct {
	Slug     string   `json:"slug"`
	Services []string `json:"services"`
	Distros  []string `json:"distros"` // preferred distros, most likely first
	OSFamily string   `json:"nmap_os"` // a Family name
}

var archetypes = []Archetype{
	{"database-server", []string{"mysql", "postgres", "redis"}, []string{"debian", "ubuntu22"}, "linux"},
	{"deaddeck", []string{"ssh"}, []string{"debian", "ubuntu22"}, "linux"},
	{"devops-host", []string{"docker_api", "ssh", "k8s"}, []string{"ubuntu22", "debian"}, "linux"},
	{"domain-controller", []string{"ldap", "smb", "rdp", "llmnr"}, []string{"debian", "ubuntu22"}, "windows_server"},
	{"file-server", []string{"smb", "ftp", "ssh"}, []string{"debian", "ubuntu22", "rocky9"}, "linux"},
	{"industrial-control", []string{"conpot", "snmp"}, []string{"debian"}, "embedded"},
	{"iot-device", []string{"mqtt", "snmp", "telnet"}, []string{"alpine"}, "embedded"},
	{"linux-server", []string{"ssh", "http"}, []string{"debian", "ubuntu22", "rocky9", "fedora"}, "linux"},
	{"mail-server", []string{"smtp", "pop3", "imap"}, []string{"debian", "ubuntu22"}, "linux"},
	{"monitoring-node", []string{"snmp", "ssh"}, []string{"debian", "rocky9"}, "linux"},
	{"printer", []string{"snmp", "ftp"}, []string{"alpine", "debian"}, "embedded"},
	{"voip-server", []string{"sip"}, []string{"debian", "ubuntu22"}, "linux"},
	{"web-server", []string{"http", "ftp"}, []string{"debian", "ubuntu22", "ubuntu20"}, "linux"},
	{"windows-server", []string{"smb", "rdp", "ldap"}, []string{"debian", "ubuntu22"}, "windows_server"},
	{"windows-workstation", []string{"smb", "rdp"}, []string{"debian", "ubuntu22"}, "windows"},
}

// LookupArchetype returns the archetype with the given slug. The returned
// value is a copy the caller may change.
func LookupArchetype(slug string) (Archetype, bool) {
	i := slices.IndexFunc(archetypes, func(a Archetype) bool { return a.Slug == slug })
	if i < 0 {
		return Archetype{}, false
	}
	return archetypes[i].clone(), true
}

// Archetypes lists every archetype, sorted by slug.
func Archetypes() []Archetype {
	out := make([]Archetype, len(archetypes))
	for i, a := range archetypes {
		out[i] = a.clone()
	}
	slices.SortFunc(out, func(a, b Archetype) int { return strings.Compare(a.Slug, b.Slug) })
	return out
}

func archetypeSlugs() []string {
	out := make([]string, len(archetypes))
	for i, a := range archetypes {
		out[i] = a.Slug
	}
	slices.Sort(out)
	return out
}

func (a Archetype) clone() Archetype {
	a.Services = slices.Clone(a.Services)
	a.Distros = slices.Clone(a.Distros)
	return a
}
