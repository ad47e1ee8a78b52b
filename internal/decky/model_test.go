package decky_test

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/decnet-go/decnet/internal/decky"
	"github.com/decnet-go/decnet/internal/persona"
)

func TestArchetypes(t *testing.T) {
	all := decky.Archetypes()
	if len(all) != 15 {
		t.Fatalf("%d archetypes, the spec has 15", len(all))
	}
	if !slices.IsSortedFunc(all, func(a, b decky.Archetype) int { return strings.Compare(a.Slug, b.Slug) }) {
		t.Error("Archetypes is not sorted")
	}
	known := fullCatalog()
	for _, a := range all {
		if _, ok := decky.LookupFamily(a.OSFamily); !ok {
			t.Errorf("%s: family %q unknown", a.Slug, a.OSFamily)
		}
		for _, d := range a.Distros {
			if _, ok := persona.LookupDistro(d); !ok {
				t.Errorf("%s: distro %q unknown", a.Slug, d)
			}
		}
		for _, s := range a.Services {
			if _, ok := known[s]; !ok {
				t.Errorf("%s: service %q is not in the test catalog", a.Slug, s)
			}
		}
	}
	dc, ok := decky.LookupArchetype("domain-controller")
	if !ok || strings.Join(dc.Services, ",") != "ldap,smb,rdp,llmnr" || dc.OSFamily != "windows_server" {
		t.Errorf("domain-controller = %+v", dc)
	}
	dc.Services[0] = "changed"
	if again, _ := decky.LookupArchetype("domain-controller"); again.Services[0] != "ldap" {
		t.Error("LookupArchetype hands out its own slice")
	}
	if _, ok := decky.LookupArchetype("mainframe"); ok {
		t.Error("unknown archetype found")
	}
}

func TestAllocate(t *testing.T) {
	ip := netip.MustParseAddr
	mk := func(ips ...string) []decky.Decky {
		var ds []decky.Decky
		for i, s := range ips {
			d := decky.Decky{Name: string(rune('a' + i))}
			if s != "" {
				d.IP = ip(s)
			}
			ds = append(ds, d)
		}
		return ds
	}
	cases := []struct {
		name    string
		ds      []decky.Decky
		net     decky.Network
		host    string
		want    string
		wantErr string
	}{
		{"loopback default", mk("", ""), decky.Network{}, "", "127.42.0.11 127.42.0.12", ""},
		{"skips network gateway host and explicit", mk("", "10.0.0.3", "", ""),
			decky.Network{Subnet: netip.MustParsePrefix("10.0.0.0/24"), Gateway: ip("10.0.0.1")}, "10.0.0.2",
			"10.0.0.4 10.0.0.3 10.0.0.5 10.0.0.6", ""},
		{"ip start", mk("", ""),
			decky.Network{Subnet: netip.MustParsePrefix("10.0.0.0/24"), IPStart: ip("10.0.0.100")}, "",
			"10.0.0.100 10.0.0.101", ""},
		{"skips broadcast and runs out", mk("", "", ""),
			decky.Network{Subnet: netip.MustParsePrefix("10.0.0.0/30")}, "", "",
			"net 10.0.0.0/30 has no free address left for decky c"},
		{"start outside", mk(""),
			decky.Network{Subnet: netip.MustParsePrefix("10.0.0.0/24"), IPStart: ip("10.0.1.1")}, "", "",
			"ip_start 10.0.1.1 is outside net 10.0.0.0/24"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var host netip.Addr
			if tc.host != "" {
				host = ip(tc.host)
			}
			err := decky.Allocate(tc.ds, tc.net, host)
			if tc.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, d := range tc.ds {
				got = append(got, d.IP.String())
			}
			if strings.Join(got, " ") != tc.want {
				t.Errorf("got %v, want %s", got, tc.want)
			}
		})
	}
}

func TestGenerate(t *testing.T) {
	seeded := func() *rand.Rand { return rand.New(rand.NewPCG(7, 11)) }
	pool := []string{"ftp", "http", "mysql", "smb", "ssh", "telnet"}
	a, err := decky.Generate(12, decky.GenerateOptions{RandomServices: true, Pool: pool, RandomDistros: true, Rand: seeded()})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := decky.Generate(12, decky.GenerateOptions{RandomServices: true, Pool: pool, RandomDistros: true, Rand: seeded()})
	combos := map[string]bool{}
	for i := range a {
		if a[i].Name != b[i].Name || a[i].Distro != b[i].Distro || !slices.Equal(a[i].Services, b[i].Services) {
			t.Fatalf("same seed, different fleets: %+v vs %+v", a[i], b[i])
		}
		if n := len(a[i].Services); n < 1 || n > 3 {
			t.Errorf("%s has %d services", a[i].Name, n)
		}
		combos[strings.Join(a[i].Services, ",")] = true
	}
	if a[0].Name != "decky-01" || a[11].Name != "decky-12" {
		t.Errorf("names %s … %s", a[0].Name, a[11].Name)
	}
	if len(combos) != 12 {
		t.Errorf("service combinations repeat: %d distinct of 12 (41 are possible)", len(combos))
	}

	ws, err := decky.Generate(5, decky.GenerateOptions{Archetype: "linux-server"})
	if err != nil {
		t.Fatal(err)
	}
	var distros []string
	for _, d := range ws {
		distros = append(distros, d.Distro)
		if strings.Join(d.Services, ",") != "ssh,http" || d.OSFamily != "linux" || d.Archetype != "linux-server" {
			t.Errorf("%+v", d)
		}
	}
	if got := strings.Join(distros, " "); got != "debian ubuntu22 rocky9 fedora debian" {
		t.Errorf("round-robin over the archetype's distros: %s", got)
	}
	fixed, _ := decky.Generate(3, decky.GenerateOptions{Services: []string{"ssh"}, Distros: []string{"kali", "arch"}})
	if fixed[0].Distro != "kali" || fixed[1].Distro != "arch" || fixed[2].Distro != "kali" {
		t.Errorf("explicit distros round-robin: %+v", fixed)
	}

	for _, bad := range []struct {
		n    int
		opts decky.GenerateOptions
		want string
	}{
		{0, decky.GenerateOptions{Services: []string{"ssh"}}, "number of deckies: 0"},
		{2, decky.GenerateOptions{Archetype: "web-srv"}, `unknown archetype "web-srv" (did you mean "web-server"?)`},
		{2, decky.GenerateOptions{Services: []string{"ssh"}, Distros: []string{"debain"}}, `unknown distro "debain"`},
		{2, decky.GenerateOptions{}, "no services"},
		{2, decky.GenerateOptions{RandomServices: true}, "random services need a pool"},
	} {
		if _, err := decky.Generate(bad.n, bad.opts); err == nil || !strings.HasPrefix(err.Error(), bad.want) {
			t.Errorf("Generate(%d, %+v) = %v, want %q", bad.n, bad.opts, err, bad.want)
		}
	}
}

func TestFleetAllocateKeepsAddressesOfAFleetNotLoaded(t *testing.T) {
	f := &decky.Fleet{Deckies: []decky.Decky{{Name: "a", IP: netip.MustParseAddr("127.0.0.5")}, {Name: "b"}}}
	if err := f.Allocate(netip.Addr{}); err != nil {
		t.Fatal(err)
	}
	if f.Deckies[0].IP.String() != "127.0.0.5" || f.Deckies[1].IP.String() != "127.42.0.11" {
		t.Errorf("got %s %s", f.Deckies[0].IP, f.Deckies[1].IP)
	}
}
