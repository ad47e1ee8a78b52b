package persona

import (
	"regexp"
	"slices"
	"strings"
	"testing"
)

var secret = []byte("test-install-secret")

func TestNewIsDeterministic(t *testing.T) {
	a, b := New(secret, "decky-01"), New(secret, "decky-01")
	if a.Hostname != b.Hostname || a.Distro.Slug != b.Distro.Slug || a.MachineID != b.MachineID ||
		a.HTTPServer != b.HTTPServer || !slices.Equal(a.Logins, b.Logins) || !a.BootTime.Equal(b.BootTime) {
		t.Fatalf("same seed, different personas:\n%+v\n%+v", a, b)
	}
	if other := New([]byte("another install"), "decky-01"); other.MachineID == a.MachineID {
		t.Errorf("two installs share the machine id %s", a.MachineID)
	}
}

func TestDeckiesDiffer(t *testing.T) {
	hosts, ids := map[string]bool{}, map[string]bool{}
	for i := range 20 {
		p := New(secret, "decky-"+string(rune('a'+i)))
		hosts[p.Hostname] = true
		ids[p.MachineID] = true
	}
	if len(ids) != 20 {
		t.Errorf("machine ids repeat: %d distinct of 20", len(ids))
	}
	if len(hosts) < 15 {
		t.Errorf("hostnames barely vary: %d distinct of 20", len(hosts))
	}
}

func TestNewDrawsOnlySeededDistros(t *testing.T) {
	seen := map[string]bool{}
	for i := range 200 {
		seen[New(secret, strings.Repeat("x", 1+i%40)+string(rune('a'+i%26))).Distro.Slug] = true
	}
	for s := range seen {
		if !slices.Contains(SeededDistros(), s) {
			t.Errorf("New drew %s, which is not a seeded distro", s)
		}
	}
	if len(seen) != len(SeededDistros()) {
		t.Errorf("New drew %d of the %d seeded distros", len(seen), len(SeededDistros()))
	}
}

func TestNewWithDistro(t *testing.T) {
	for _, slug := range Distros() {
		p, err := NewWithDistro(secret, "decky-01", slug)
		if err != nil {
			t.Fatalf("%s: %v", slug, err)
		}
		if p.Distro.Slug != slug {
			t.Errorf("asked for %s, got %s", slug, p.Distro.Slug)
		}
	}
	seeded := New(secret, "decky-07")
	same, err := NewWithDistro(secret, "decky-07", seeded.Distro.Slug)
	if err != nil || same.Hostname != seeded.Hostname || same.MachineID != seeded.MachineID || same.HTTPServer != seeded.HTTPServer {
		t.Errorf("choosing the seeded distro changed the persona: %+v vs %+v (%v)", same, seeded, err)
	}
	empty, _ := NewWithDistro(secret, "decky-07", "")
	if empty.Hostname != seeded.Hostname {
		t.Errorf("empty slug: hostname %s, New gives %s", empty.Hostname, seeded.Hostname)
	}
	_, err = NewWithDistro(secret, "decky-01", "debain")
	if err == nil || !strings.Contains(err.Error(), `"debain"`) || !strings.Contains(err.Error(), "ubuntu22") {
		t.Errorf("unknown slug: error %v should name it and the known ones", err)
	}
}

func TestDistroSlugsOfSpec(t *testing.T) {
	for _, s := range []string{"debian", "ubuntu22", "ubuntu20", "rocky9", "centos7", "alpine", "fedora", "kali", "arch"} {
		if _, ok := LookupDistro(s); !ok {
			t.Errorf("spec distro %s missing", s)
		}
	}
}

// TestDistroStringsAgree checks that every string a persona shows comes from
// the same release: the SSH banner, kernel, os-release, issue, web servers
// and the hostname style.
func TestDistroStringsAgree(t *testing.T) {
	type want struct {
		ssh, kernel, build, issue, http *regexp.Regexp
		host                            *regexp.Regexp
		bash                            string
	}
	re := regexp.MustCompile
	wants := map[string]want{
		"debian":   {re(`^OpenSSH_9\.2p1 Debian-2\+deb12u\d+$`), re(`^6\.1\.0-\d+-amd64$`), re(`Debian 6\.1\.`), re(`^Debian GNU/Linux 12 `), re(`\(Debian\)$|^nginx/1\.22\.`), nil, "5.2"},
		"debian11": {re(`^OpenSSH_8\.4p1 Debian-5\+deb11u\d+$`), re(`^5\.10\.0-\d+-amd64$`), re(`Debian 5\.10\.`), re(`^Debian GNU/Linux 11 `), re(`\(Debian\)$|^nginx/1\.18\.`), nil, "5.1"},
		"ubuntu22": {re(`^OpenSSH_8\.9p1 Ubuntu-3ubuntu`), re(`^5\.15\.0-\d+-generic$`), re(`-Ubuntu SMP`), re(`^Ubuntu 22\.04`), re(`\(Ubuntu\)$`), nil, "5.1"},
		"ubuntu20": {re(`^OpenSSH_8\.2p1 Ubuntu-4ubuntu`), re(`^5\.4\.0-\d+-generic$`), re(`-Ubuntu SMP`), re(`^Ubuntu 20\.04`), re(`\(Ubuntu\)$`), nil, "5.0"},
		"rocky9":   {re(`^OpenSSH_8\.7$`), re(`\.el9_\d\.x86_64$`), re(`^#1 SMP`), re(`^\\S`), re(`\(Rocky Linux\)$|^nginx/1\.20\.`), re(`^[a-z]+\d\d\.localdomain$`), "5.1"},
		"centos7":  {re(`^OpenSSH_7\.4$`), re(`^3\.10\.0-\d+.*\.el7\.x86_64$`), re(`^#1 SMP`), re(`^\\S`), re(`\(CentOS\)$|^nginx/`), re(`^[a-z]+\d\d\.localdomain$`), "4.2"},
		"alpine":   {re(`^OpenSSH_9\.6$`), re(`-lts$`), re(`-Alpine SMP`), re(`Alpine Linux 3\.19`), re(`\(Unix\)$|^nginx/`), re(`^[a-z]+-\d\d$`), ""},
		"fedora":   {re(`^OpenSSH_9\.3$`), re(`\.fc39\.x86_64$`), re(`^#1 SMP`), re(`^\\S`), re(`\(Fedora Linux\)$|^nginx/`), re(`^[a-z]+\d\d\.localdomain$`), "5.2"},
		"kali":     {re(`^OpenSSH_9\.7p1 Debian-`), re(`^6\.\d+\.\d+-amd64$`), re(`Kali 6\.\d+\.\d+-\dkali`), re(`^Kali GNU/Linux Rolling`), re(`\(Debian\)$|^nginx/`), re(`^[a-z]+-[a-z]+$`), "5.2"},
		"arch":     {re(`^OpenSSH_9\.8$`), re(`-arch1-1$`), re(`PREEMPT_DYNAMIC`), re(`^Arch Linux`), re(`\(Unix\)$|^nginx/`), re(`^[a-z]+-[a-z]+$`), "5.2"},
	}
	if len(wants) != len(Distros()) {
		t.Fatalf("checked %d distros, have %d", len(wants), len(Distros()))
	}
	for _, slug := range Distros() {
		t.Run(slug, func(t *testing.T) {
			w := wants[slug]
			d, _ := LookupDistro(slug)
			check := func(what string, r *regexp.Regexp, s string) {
				t.Helper()
				if r != nil && !r.MatchString(s) {
					t.Errorf("%s %q does not match %s", what, s, r)
				}
			}
			check("ssh", w.ssh, d.SSH)
			check("kernel release", w.kernel, d.Kernel.Release)
			check("kernel build", w.build, d.Kernel.Version)
			check("issue", w.issue, d.Issue)
			for _, h := range d.HTTPServers {
				check("Server header", w.http, h)
			}
			if !strings.HasPrefix(d.Bash, w.bash) || (w.bash == "") != (d.Bash == "") {
				t.Errorf("bash %q, want %s.x", d.Bash, w.bash)
			}
			// A Debian kernel never sits under Ubuntu and the reverse, and
			// the family words agree with the release.
			for _, s := range append([]string{d.SSH, d.Kernel.Version, d.Issue, d.PrettyName}, d.HTTPServers...) {
				for _, other := range []string{"Debian", "Ubuntu", "Rocky", "CentOS", "Fedora", "Alpine", "Kali", "Arch"} {
					if strings.Contains(s, other) && !strings.Contains(d.PrettyName+" "+d.Family, other) &&
						!(other == "Debian" && slug == "kali") {
						t.Errorf("%q names %s on %s", s, other, d.PrettyName)
					}
				}
			}
			for i := range 30 {
				p, _ := NewWithDistro(secret, "decky-"+string(rune('a'+i)), slug)
				check("hostname", w.host, p.Hostname)
				fs := p.Files()
				osr := fs["/etc/os-release"].Content
				if !strings.Contains(osr, "ID="+d.ID+"\n") || !strings.Contains(osr, "PRETTY_NAME=\""+d.PrettyName+"\"") {
					t.Errorf("os-release disagrees:\n%s", osr)
				}
				if pv := fs["/proc/version"].Content; !strings.Contains(pv, d.Kernel.Release) || !strings.Contains(pv, d.KernelBuilder) {
					t.Errorf("/proc/version %q", pv)
				}
				if !slices.Contains(d.HTTPServers, p.HTTPServer) || p.SSHVersion != d.SSH || p.KernelRelease != d.Kernel.Release {
					t.Errorf("persona strings are not the distro's: %s %s %s", p.HTTPServer, p.SSHVersion, p.KernelRelease)
				}
			}
		})
	}
}

func TestShortHostnameAndUname(t *testing.T) {
	p, _ := NewWithDistro(secret, "decky-01", "rocky9")
	if strings.Contains(p.ShortHostname(), ".") || !strings.HasPrefix(p.Hostname, p.ShortHostname()+".") {
		t.Errorf("short %q of %q", p.ShortHostname(), p.Hostname)
	}
	a, _ := NewWithDistro(secret, "decky-01", "alpine")
	if !strings.HasSuffix(a.Uname(), "x86_64 Linux") || a.Logins[0].Shell != "/bin/ash" {
		t.Errorf("alpine: uname %q, shell %s", a.Uname(), a.Logins[0].Shell)
	}
	u, _ := NewWithDistro(secret, "decky-01", "ubuntu22")
	if !strings.HasSuffix(u.Uname(), "GNU/Linux") || !strings.Contains(u.Uname(), "-Ubuntu SMP") {
		t.Errorf("ubuntu uname %q", u.Uname())
	}
}
