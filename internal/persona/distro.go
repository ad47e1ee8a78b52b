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
	Slug       string
	Family     string // debian or rhel
	PrettyName string
	ID         string // os-release ID
	VersionID  string
	Codename   string
	SSH        string // OpenSSH identification, as the package ships it
	Kernel     Kernel
	Issue      string // /etc/issue
	// HTTPServers are the Server headers of the web servers the release
	// ships (its Apache and nginx packages).
	HTTPServers []string
}

// Kernel is what uname -r and the build line of uname -v print.
type Kernel struct{ Release, Version string }

var distros = []Distro{
	{
		Slug: "debian12", Family: "debian", PrettyName: "Debian GNU/Linux 12 (bookworm)", ID: "debian",
		VersionID: "12", Codename: "bookworm", SSH: "OpenSSH_9.2p1 Debian-2+deb12u3",
		Kernel:      Kernel{"6.1.0-21-amd64", "#1 SMP PREEMPT_DYNAMIC Debian 6.1.90-1 (2024-05-03)"},
		Issue:       "Debian GNU/Linux 12 \\n \\l",
		HTTPServers: []string{"Apache/2.4.62 (Debian)", "nginx/1.22.1"},
	},
	{
		Slug: "debian11", Family: "debian", PrettyName: "Debian GNU/Linux 11 (bullseye)", ID: "debian",
		VersionID: "11", Codename: "bullseye", SSH: "OpenSSH_8.4p1 Debian-5+deb11u3",
		Kernel:      Kernel{"5.10.0-28-amd64", "#1 SMP Debian 5.10.209-2 (2024-01-31)"},
		Issue:       "Debian GNU/Linux 11 \\n \\l",
		HTTPServers: []string{"Apache/2.4.62 (Debian)", "nginx/1.18.0"},
	},
	{
		Slug: "ubuntu22", Family: "debian", PrettyName: "Ubuntu 22.04.4 LTS", ID: "ubuntu",
		VersionID: "22.04", Codename: "jammy", SSH: "OpenSSH_8.9p1 Ubuntu-3ubuntu0.10",
		Kernel:      Kernel{"5.15.0-107-generic", "#117-Ubuntu SMP Fri Apr 26 12:26:49 UTC 2024"},
		Issue:       "Ubuntu 22.04.4 LTS \\n \\l",
		HTTPServers: []string{"Apache/2.4.52 (Ubuntu)", "nginx/1.18.0 (Ubuntu)"},
	},
	{
		Slug: "ubuntu20", Family: "debian", PrettyName: "Ubuntu 20.04.6 LTS", ID: "ubuntu",
		VersionID: "20.04", Codename: "focal", SSH: "OpenSSH_8.2p1 Ubuntu-4ubuntu0.11",
		Kernel:      Kernel{"5.4.0-182-generic", "#202-Ubuntu SMP Fri Apr 26 12:29:36 UTC 2024"},
		Issue:       "Ubuntu 20.04.6 LTS \\n \\l",
		HTTPServers: []string{"Apache/2.4.41 (Ubuntu)", "nginx/1.18.0 (Ubuntu)"},
	},
	{
		Slug: "rocky9", Family: "rhel", PrettyName: "Rocky Linux 9.3 (Blue Onyx)", ID: "rocky",
		VersionID: "9.3", Codename: "", SSH: "OpenSSH_8.7",
		Kernel:      Kernel{"5.14.0-362.24.1.el9_3.x86_64", "#1 SMP PREEMPT_DYNAMIC Thu Mar 21 16:08:27 UTC 2024"},
		Issue:       "\\S\nKernel \\r on an \\m",
		HTTPServers: []string{"Apache/2.4.57 (Rocky Linux)", "nginx/1.20.1"},
	},
}

// Distros lists the slugs a persona may be drawn from.
func Distros() []string {
	out := make([]string, len(distros))
	for i, d := range distros {
		out[i] = d.Slug
	}
	return out
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
func (d Distro) hostname(r *rand.Rand) string {
	w := hostWords[r.IntN(len(hostWords))]
	n := 1 + r.IntN(40)
	switch r.IntN(3) {
	case 0:
		return fmt.Sprintf("%s-%02d", w, n)
	case 1:
		return fmt.Sprintf("%s%02d", w, n)
	default:
		w2 := hostWords[r.IntN(len(hostWords))]
		if d.Family == "rhel" {
			return fmt.Sprintf("%s-%s%d", w, w2, n)
		}
		return strings.Join([]string{w, w2}, "-")
	}
}
