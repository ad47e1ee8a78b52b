package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/decnet-go/decnet/internal/decky"
	"github.com/decnet-go/decnet/internal/honeypot/builtin"
	"github.com/decnet-go/decnet/internal/persona"
)

// The listing commands show the registries a fleet file draws from:
// services, archetypes, distros and OS families. Each prints an aligned
// table, or JSON with --json.

func listCmd(use, short, example string, rows func() (any, [][]string)) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     use,
		Short:   short,
		Example: example,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v, table := rows()
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(v)
			}
			return printTable(cmd.OutOrStdout(), table)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	return cmd
}

func printTable(w io.Writer, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

type serviceRow struct {
	Name   string    `json:"name"`
	Ports  []string  `json:"ports"`
	Config []keyInfo `json:"config"`
}

type keyInfo struct {
	Key     string   `json:"key"`
	Type    string   `json:"type"`
	Enum    []string `json:"enum,omitempty"`
	Default string   `json:"default,omitempty"`
	Help    string   `json:"help,omitempty"`
}

func servicesCmd() *cobra.Command {
	cmd := listCmd("services", "List the services a decky can run, their ports and config keys",
		`  decnet services
  decnet services --json | jq -r '.[].name'`,
		func() (any, [][]string) {
			reg := builtin.Registry()
			var out []serviceRow
			table := [][]string{{"SERVICE", "PORTS", "CONFIG KEYS"}}
			for _, n := range reg.Names() {
				s, _ := reg.New(n)
				r := serviceRow{Name: n, Ports: []string{}, Config: []keyInfo{}}
				for _, p := range s.Ports() {
					r.Ports = append(r.Ports, fmt.Sprintf("%d/%s", p.Number, p.Proto))
				}
				var keys []string
				for _, f := range s.Schema() {
					r.Config = append(r.Config, keyInfo{f.Key, f.Type, f.Enum, f.Default, f.Help})
					k := f.Key + " (" + f.Type
					if f.Type == "enum" {
						k += ": " + strings.Join(f.Enum, "|")
					}
					if f.Default != "" {
						k += ", default " + f.Default
					}
					keys = append(keys, k+")")
				}
				out = append(out, r)
				table = append(table, []string{n, strings.Join(r.Ports, ","), strings.Join(keys, "; ")})
			}
			return out, table
		})
	cmd.Long = `services lists the protocol emulators built into this decnet: the ports each
listens on by default and the persona keys a fleet file may set for it in a
[<decky>.<service>] section.`
	return cmd
}

func archetypesCmd() *cobra.Command {
	cmd := listCmd("archetypes", "List the decky archetypes: services, preferred distros and OS family",
		`  decnet archetypes
  decnet archetypes --json`,
		func() (any, [][]string) {
			reg := builtin.Registry()
			have := map[string]bool{}
			for _, n := range reg.Names() {
				have[n] = true
			}
			table := [][]string{{"ARCHETYPE", "SERVICES", "DISTROS", "NMAP_OS", "MISSING SERVICES"}}
			all := decky.Archetypes()
			for _, a := range all {
				var missing []string
				for _, s := range a.Services {
					if !have[s] {
						missing = append(missing, s)
					}
				}
				m := "-"
				if len(missing) > 0 {
					m = strings.Join(missing, ",")
				}
				table = append(table, []string{a.Slug, strings.Join(a.Services, ","), strings.Join(a.Distros, ","), a.OSFamily, m})
			}
			return all, table
		})
	cmd.Long = `archetypes lists the roles a decky can be built from with archetype= in a fleet
file: the services it runs, the distros it prefers (one is picked per decky
when none is given) and its network personality (nmap_os). MISSING SERVICES
are those this decnet has no emulator for yet; a fleet using such an
archetype must list its services itself.`
	return cmd
}

type distroRow struct {
	Slug          string   `json:"slug"`
	Name          string   `json:"pretty_name"`
	ID            string   `json:"id"`
	VersionID     string   `json:"version_id,omitempty"`
	Codename      string   `json:"codename,omitempty"`
	SSH           string   `json:"ssh"`
	Kernel        string   `json:"kernel"`
	KernelBuild   string   `json:"kernel_build"`
	HTTPServers   []string `json:"http_servers"`
	HostnameStyle string   `json:"hostname_style"`
	Seeded        bool     `json:"seeded"`
}

func distrosCmd() *cobra.Command {
	cmd := listCmd("distros", "List the distributions a decky can claim to run",
		`  decnet distros
  decnet distros --json`,
		func() (any, [][]string) {
			seeded := map[string]bool{}
			for _, s := range persona.SeededDistros() {
				seeded[s] = true
			}
			var out []distroRow
			table := [][]string{{"DISTRO", "NAME", "SSH", "KERNEL", "HOSTNAMES", "SEEDED"}}
			for _, slug := range persona.Distros() {
				d, _ := persona.LookupDistro(slug)
				out = append(out, distroRow{d.Slug, d.PrettyName, d.ID, d.VersionID, d.Codename, d.SSH,
					d.Kernel.Release, d.Kernel.Version, d.HTTPServers, d.HostnameStyle, seeded[slug]})
				yes := "no"
				if seeded[slug] {
					yes = "yes"
				}
				table = append(table, []string{d.Slug, d.PrettyName, d.SSH, d.Kernel.Release, d.HostnameStyle, yes})
			}
			return out, table
		})
	cmd.Long = `distros lists the releases a decky's persona can be (distro= in a fleet file):
the OpenSSH banner, kernel and hostname style each one shows. A decky with no
distro gets one of the SEEDED ones, chosen from its name and the install
secret.`
	return cmd
}

type familyRow struct {
	Name    string            `json:"name"`
	Sysctls map[string]string `json:"sysctls"`
}

func familiesCmd() *cobra.Command {
	cols := []struct{ head, key string }{
		{"TTL", "ip_default_ttl"}, {"SYN_RETRIES", "tcp_syn_retries"}, {"TIMESTAMPS", "tcp_timestamps"},
		{"WSCALE", "tcp_window_scaling"}, {"SACK", "tcp_sack"}, {"ECN", "tcp_ecn"}, {"NO_PMTU", "ip_no_pmtu_disc"},
		{"FIN_TIMEOUT", "tcp_fin_timeout"}, {"ICMP_RATE", "icmp_ratelimit"}, {"ICMP_MASK", "icmp_ratemask"},
	}
	cmd := listCmd("families", "List the OS network personalities (nmap_os) and their kernel settings",
		`  decnet families
  decnet families --json | jq '.[] | {name, ttl: .sysctls["net.ipv4.ip_default_ttl"]}'`,
		func() (any, [][]string) {
			head := []string{"FAMILY"}
			for _, c := range cols {
				head = append(head, c.head)
			}
			table := [][]string{head}
			var out []familyRow
			for _, n := range decky.Families() {
				f, _ := decky.LookupFamily(n)
				out = append(out, familyRow{f.Name, f.Sysctls})
				row := []string{n}
				for _, c := range cols {
					row = append(row, f.Sysctls["net.ipv4."+c.key])
				}
				table = append(table, row)
			}
			return out, table
		})
	cmd.Long = `families lists the network personalities a decky can have (nmap_os= in a fleet
file): the net.ipv4 settings that make its TCP/IP stack answer scans like
that kind of system. The docker driver applies them to the decky's network
namespace; the local driver shares the host's stack and cannot.`
	return cmd
}
