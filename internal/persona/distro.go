package persona

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// Distro is an operating system a decky can claim to run. Every version
// string in it belongs to one real release, so the pieces agree with each
// other (an Ubuntu 22.04 OpenSSH never sits on a Debian kernel).
type Distro struct {
	Slug string
	// Family groups releases whose userland behaves alike: debian (Debian,
	// Ubuntu, Kali), rhel (Rocky, CentOS, Fedora), alpine or arch.
	Family     string
	PrettyName string // os-release PRETTY_NAME
	Name       string // os-release NAME
	ID         string // os-release ID
	VersionID  string // os-release VERSION_ID; empty on rolling releases without one
	Codename   string // os-release VERSION_CODENAME; empty where the release has none
	SSH        string // OpenSSH identification after "SSH-2.0-", as the package prints it
	Kernel     Kernel
	// KernelBuilder is the user@host of the kernel build in /proc/version.
	KernelBuilder string
	// Bash is $BASH_VERSION of the release's bash; empty where the default
	// shell is not bash (Alpine's busybox ash).
	Bash  string
	Issue string // /etc/issue, without the trailing blank line
	// HTTPServers are the Server headers of the web servers the release
	// ships (its Apache and nginx packages).
	HTTPServers []string
	// HostnameStyle is how the release's admins tend to name machines:
	// generic (web-07, db12, files-core), rhel (web07.localdomain),
	// minimal (web-07) or rolling (alpha-files).
	HostnameStyle string
}

// Kernel is what uname -r and the build line of uname -v print.
type Kernel struct{ Release, Version string }

// distros are the releases a decky can run (spec/engine.md §4.3, plus
// debian11). The first five are the ones a persona draws from its seed;
// their order is part of every existing persona and must not change.
var distros = []Distro{
	{
		Slug: "debian", Family: "debian", PrettyName: "Debian GNU/Linux 12 (bookworm)", Name: "Debian GNU/Linux", ID: "debian",
		VersionID: "12", Codename: "bookworm", SSH: "OpenSSH_9.2p1 Debian-2+deb12u3",
		Kernel:        Kernel{"6.1.0-21-amd64", "#1 SMP PREEMPT_DYNAMIC Debian 6.1.90-1 (2024-05-03)"},
		KernelBuilder: "debian-kernel@lists.debian.org", Bash: "5.2.15(1)-release",
		Issue:         "Debian GNU/Linux 12 \\n \\l",
		HTTPServers:   []string{"Apache/2.4.62 (Debian)", "nginx/1.22.1"},
		HostnameStyle: "generic",
	},
	{
		Slug: "debian11", Family: "debian", PrettyName: "Debian GNU/Linux 11 (bullseye)", Name: "Debian GNU/Linux", ID: "debian",
		VersionID: "11", Codename: "bullseye", SSH: "OpenSSH_8.4p1 Debian-5+deb11u3",
		Kernel:        Kernel{"5.10.0-28-amd64", "#1 SMP Debian 5.10.209-2 (2024-01-31)"},
		KernelBuilder: "debian-kernel@lists.debian.org", Bash: "5.1.4(1)-release",
		Issue:         "Debian GNU/Linux 11 \\n \\l",
		HTTPServers:   []string{"Apache/2.4.62 (Debian)", "nginx/1.18.0"},
		HostnameStyle: "generic",
	},
	{
		Slug: "ubuntu22", Family: "debian", PrettyName: "Ubuntu 22.04.4 LTS", Name: "Ubuntu", ID: "ubuntu",
		VersionID: "22.04", Codename: "jammy", SSH: "OpenSSH_8.9p1 Ubuntu-3ubuntu0.10",
		Kernel:        Kernel{"5.15.0-107-generic", "#117-Ubuntu SMP Fri Apr 26 12:26:49 UTC 2024"},
		KernelBuilder: "buildd@lcy02-amd64-017", Bash: "5.1.16(1)-release",
		Issue:         "Ubuntu 22.04.4 LTS \\n \\l",
		HTTPServers:   []string{"Apache/2.4.52 (Ubuntu)", "nginx/1.18.0 (Ubuntu)"},
		HostnameStyle: "generic",
	},
	{
		Slug: "ubuntu20", Family: "debian", PrettyName: "Ubuntu 20.04.6 LTS", Name: "Ubuntu", ID: "ubuntu",
		VersionID: "20.04", Codename: "focal", SSH: "OpenSSH_8.2p1 Ubuntu-4ubuntu0.11",
		Kernel:        Kernel{"5.4.0-182-generic", "#202-Ubuntu SMP Fri Apr 26 12:29:36 UTC 2024"},
		KernelBuilder: "buildd@lcy02-amd64-031", Bash: "5.0.17(1)-release",
		Issue:         "Ubuntu 20.04.6 LTS \\n \\l",
		HTTPServers:   []string{"Apache/2.4.41 (Ubuntu)", "nginx/1.18.0 (Ubuntu)"},
		HostnameStyle: "generic",
	},
	{
		Slug: "rocky9", Family: "rhel", PrettyName: "Rocky Linux 9.3 (Blue Onyx)", Name: "Rocky Linux", ID: "rocky",
		VersionID: "9.3", SSH: "OpenSSH_8.7",
		Kernel:        Kernel{"5.14.0-362.24.1.el9_3.x86_64", "#1 SMP PREEMPT_DYNAMIC Thu Mar 21 16:08:27 UTC 2024"},
		KernelBuilder: "mockbuild@iad1-prod-build001.bld.equ.rockylinux.org", Bash: "5.1.8(1)-release",
		Issue:         "\\S\nKernel \\r on an \\m",
		HTTPServers:   []string{"Apache/2.4.57 (Rocky Linux)", "nginx/1.20.1"},
		HostnameStyle: "rhel",
	},
	{
		Slug: "centos7", Family: "rhel", PrettyName: "CentOS Linux 7 (Core)", Name: "CentOS Linux", ID: "centos",
		VersionID: "7", SSH: "OpenSSH_7.4",
		Kernel:        Kernel{"3.10.0-1160.119.1.el7.x86_64", "#1 SMP Tue Jun 4 14:43:51 UTC 2024"},
		KernelBuilder: "mockbuild@kbuilder.bsys.centos.org", Bash: "4.2.46(2)-release",
		Issue:         "\\S\nKernel \\r on an \\m",
		HTTPServers:   []string{"Apache/2.4.6 (CentOS)", "nginx/1.20.1"},
		HostnameStyle: "rhel",
	},
	{
		Slug: "alpine", Family: "alpine", PrettyName: "Alpine Linux v3.19", Name: "Alpine Linux", ID: "alpine",
		VersionID: "3.19.1", SSH: "OpenSSH_9.6",
		Kernel:        Kernel{"6.6.14-0-lts", "#1-Alpine SMP PREEMPT_DYNAMIC Fri, 26 Jan 2024 11:08:07 +0000"},
		KernelBuilder: "buildozer@build-3-19-x86_64",
		Issue:         "Welcome to Alpine Linux 3.19\nKernel \\r on an \\m (\\l)",
		HTTPServers:   []string{"Apache/2.4.58 (Unix)", "nginx/1.24.0"},
		HostnameStyle: "minimal",
	},
	{
		Slug: "fedora", Family: "rhel", PrettyName: "Fedora Linux 39 (Server Edition)", Name: "Fedora Linux", ID: "fedora",
		VersionID: "39", SSH: "OpenSSH_9.3",
		Kernel:        Kernel{"6.5.6-300.fc39.x86_64", "#1 SMP PREEMPT_DYNAMIC Fri Oct  6 19:57:21 UTC 2023"},
		KernelBuilder: "mockbuild@bkernel01.iad2.fedoraproject.org", Bash: "5.2.21(1)-release",
		Issue:         "\\S\nKernel \\r on an \\m (\\l)",
		HTTPServers:   []string{"Apache/2.4.58 (Fedora Linux)", "nginx/1.24.0"},
		HostnameStyle: "rhel",
	},
	{
		Slug: "kali", Family: "debian", PrettyName: "Kali GNU/Linux Rolling", Name: "Kali GNU/Linux", ID: "kali",
		VersionID: "2024.2", Codename: "kali-rolling", SSH: "OpenSSH_9.7p1 Debian-5",
		Kernel:        Kernel{"6.8.11-amd64", "#1 SMP PREEMPT_DYNAMIC Kali 6.8.11-1kali2 (2024-05-30)"},
		KernelBuilder: "devel@kali.org", Bash: "5.2.21(1)-release",
		Issue:         "Kali GNU/Linux Rolling \\n \\l",
		HTTPServers:   []string{"Apache/2.4.59 (Debian)", "nginx/1.24.0"},
		HostnameStyle: "rolling",
	},
	{
		Slug: "arch", Family: "arch", PrettyName: "Arch Linux", Name: "Arch Linux", ID: "arch",
		SSH:           "OpenSSH_9.8",
		Kernel:        Kernel{"6.9.7-arch1-1", "#1 SMP PREEMPT_DYNAMIC Fri, 28 Jun 2024 04:32:50 +0000"},
		KernelBuilder: "linux@archlinux", Bash: "5.2.26(1)-release",
		Issue:         "Arch Linux \\r (\\l)",
		HTTPServers:   []string{"Apache/2.4.62 (Unix)", "nginx/1.26.1"},
		HostnameStyle: "rolling",
	},
}

// seeded is how many of distros (from the start) a persona without an
// explicit distro may be drawn from: the releases whose userland every
// service emulates in full today.
const seeded = 5

// Distros lists the slugs of every distro, in the order of spec/engine.md
// §4.3 (debian11 after debian).
func Distros() []string {
	out := make([]string, len(distros))
	for i, d := range distros {
		out[i] = d.Slug
	}
	return out
}

// SeededDistros lists the slugs a persona draws from when no distro is set.
func SeededDistros() []string { return Distros()[:seeded] }

// LookupDistro returns the distro with the given slug.
func LookupDistro(slug string) (Distro, bool) {
	for _, d := range distros {
		if d.Slug == slug {
			return d, true
		}
	}
	return Distro{}, false
}

var hostWords = []string{
	"alpha", "atlas", "backup", "build", "cache", "core", "data", "db", "dev", "edge",
	"files", "gw", "infra", "jump", "lab", "mail", "mon", "nas", "node", "ops",
	"proxy", "repo", "stage", "store", "web", "app", "ci", "vault", "log", "fin",
}

var (
	userNames     = []string{"ubuntu", "admin", "deploy", "devops", "backup", "jenkins", "ops", "sysadmin", "support", "git"}
	weakPasswords = []string{
		"123456", "password", "admin", "root", "toor", "12345678", "qwerty", "123456789",
		"admin123", "P@ssw0rd", "changeme", "letmein", "welcome1", "passw0rd", "1q2w3e4r", "default",
	}
)

// hostname draws a hostname in the style the distro's admins tend to use.
// The generic style draws exactly as it always has, so Debian and Ubuntu
// personas keep their names.
func (d Distro) hostname(r *rand.Rand) string {
	w := hostWords[r.IntN(len(hostWords))]
	n := 1 + r.IntN(40)
	switch d.HostnameStyle {
	case "rhel":
		return fmt.Sprintf("%s%02d.localdomain", w, n)
	case "minimal":
		return fmt.Sprintf("%s-%02d", w, n)
	case "rolling":
		w2 := hostWords[r.IntN(len(hostWords))]
		for w2 == w {
			w2 = hostWords[r.IntN(len(hostWords))]
		}
		return w + "-" + w2
	}
	switch r.IntN(3) {
	case 0:
		return fmt.Sprintf("%s-%02d", w, n)
	case 1:
		return fmt.Sprintf("%s%02d", w, n)
	default:
		w2 := hostWords[r.IntN(len(hostWords))]
		return strings.Join([]string{w, w2}, "-")
	}
}
