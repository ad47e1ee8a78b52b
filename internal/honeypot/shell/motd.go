package shell

import (
	"fmt"
	"time"

	"github.com/decnet-go/decnet/internal/persona"
)

// Motd is what a login on a pty prints before the first prompt: the
// distro's message of the day and sshd's "Last login" line.
func Motd(p *persona.Persona, now time.Time, ip string) string {
	last := lastLogin(p, now)
	switch p.Distro.ID {
	case "debian":
		return fmt.Sprintf("Linux %s %s %s x86_64\n\n"+
			"The programs included with the Debian GNU/Linux system are free software;\n"+
			"the exact distribution terms for each program are described in the\n"+
			"individual files in /usr/share/doc/*/copyright.\n\n"+
			"Debian GNU/Linux comes with ABSOLUTELY NO WARRANTY, to the extent\n"+
			"permitted by applicable law.\n%s", p.Hostname, p.KernelRelease, p.KernelVersion, last)
	case "ubuntu":
		support := "https://ubuntu.com/pro"
		if p.Distro.VersionID == "20.04" {
			support = "https://ubuntu.com/advantage"
		}
		r := p.Rand("motd")
		hw := hardwareOf(p)
		return fmt.Sprintf("Welcome to %s (GNU/Linux %s x86_64)\n\n"+
			" * Documentation:  https://help.ubuntu.com\n"+
			" * Management:     https://landscape.canonical.com\n"+
			" * Support:        %s\n\n"+
			"  System information as of %s\n\n"+
			"  System load:  %-18.2f Processes:             %d\n"+
			"  Usage of /:   %-18s Users logged in:       0\n"+
			"  Memory usage: %-18s IPv4 address for eth0: %s\n"+
			"  Swap usage:   0%%\n\n"+
			"Expanded Security Maintenance for Applications is not enabled.\n\n"+
			"0 updates can be applied immediately.\n\n%s",
			p.Distro.PrettyName, p.KernelRelease, support, now.UTC().Format("Mon Jan _2 15:04:05 MST 2006"),
			hw.load[0], 95+r.IntN(60), fmt.Sprintf("%.1f%% of %.2fGB", 12+r.Float64()*40, 19.0+float64(r.IntN(4))*20.0),
			fmt.Sprintf("%d%%", hw.usedKB*100/hw.memKB), ip, last)
	}
	return "\nActivate the web console with: systemctl enable --now cockpit.socket\n\n" + last
}

// lastLogin is sshd's PrintLastLog line: a stable earlier login of the
// machine's admin from a private address.
func lastLogin(p *persona.Persona, now time.Time) string {
	r := p.Rand("lastlog")
	from := fmt.Sprintf("10.%d.%d.%d", r.IntN(256), r.IntN(256), 2+r.IntN(250))
	ago := time.Duration(2+r.IntN(70)) * time.Hour
	at := now.Add(-ago).Truncate(time.Second)
	if at.Before(p.BootTime) {
		at = p.BootTime.Add(time.Duration(5+r.IntN(60)) * time.Minute)
	}
	return fmt.Sprintf("Last login: %s from %s\n", at.Format("Mon Jan _2 15:04:05 2006"), from)
}
