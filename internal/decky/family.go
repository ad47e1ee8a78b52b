package decky

import (
	"sort"
	"strconv"
)

// Family is an OS network personality: the kernel settings that make a
// decky's TCP/IP stack answer like that family's (TTL, SYN retries, TCP
// options). They are applied to the decky's network namespace.
type Family struct {
	Name    string
	Sysctls map[string]string
}

// families are DECNET's six nmap_os families (spec/engine.md §4.4).
var families = map[string]Family{
	"linux":          family("linux", 64, 6, 1, 1, 1, 2, 0, 60, 1000, 6168),
	"windows":        family("windows", 128, 2, 1, 1, 1, 0, 0, 30, 0, 0),
	"windows_server": family("windows_server", 128, 2, 1, 1, 1, 1, 0, 30, 0, 0),
	"bsd":            family("bsd", 64, 6, 1, 1, 1, 0, 0, 60, 250, 6168),
	"embedded":       family("embedded", 255, 3, 0, 0, 0, 0, 1, 15, 0, 0),
	"cisco":          family("cisco", 255, 2, 0, 0, 0, 0, 1, 15, 0, 0),
}

func family(name string, ttl, synRetries, timestamps, wscale, sack, ecn, noPMTU, finTimeout, icmpRate, icmpMask int) Family {
	itoa := strconv.Itoa
	return Family{Name: name, Sysctls: map[string]string{
		"net.ipv4.ip_default_ttl":     itoa(ttl),
		"net.ipv4.tcp_syn_retries":    itoa(synRetries),
		"net.ipv4.tcp_timestamps":     itoa(timestamps),
		"net.ipv4.tcp_window_scaling": itoa(wscale),
		"net.ipv4.tcp_sack":           itoa(sack),
		"net.ipv4.tcp_ecn":            itoa(ecn),
		"net.ipv4.ip_no_pmtu_disc":    itoa(noPMTU),
		"net.ipv4.tcp_fin_timeout":    itoa(finTimeout),
		"net.ipv4.icmp_ratelimit":     itoa(icmpRate),
		"net.ipv4.icmp_ratemask":      itoa(icmpMask),
	}}
}

// LookupFamily returns the named family; an empty name is linux. Unknown
// names are reported, never silently replaced.
func LookupFamily(name string) (Family, bool) {
	if name == "" {
		name = "linux"
	}
	f, ok := families[name]
	return f, ok
}

// Families lists the family names, sorted.
func Families() []string {
	out := make([]string, 0, len(families))
	for n := range families {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
