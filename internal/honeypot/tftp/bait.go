package tftp

import (
	"fmt"
	"strings"

	"github.com/decnet-go/decnet/internal/persona"
)

// baitFiles are what a network-boot and config-backup server keeps in its
// tftp root, drawn from the persona so that every decky differs: a switch
// configuration backup (with password hashes and an SNMP community worth
// trying elsewhere) and a PXE menu pointing at the distro's installer.
func baitFiles(p *persona.Persona) map[string][]byte {
	r := p.Rand("tftp-bait")
	short := p.ShortHostname()
	sites := []string{"core", "dist", "access", "edge", "lab", "dc1", "branch"}
	sw := fmt.Sprintf("%s-sw%02d", sites[r.IntN(len(sites))], 1+r.IntN(12))
	const salt = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	rnd := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = salt[r.IntN(len(salt))]
		}
		return string(b)
	}
	communities := []string{"public", "private", "n3tw0rk", "snmpRO", "monitor", short}
	net2, net3 := 1+r.IntN(30), 1+r.IntN(250)
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "!\n! Last configuration change at %s by admin\n!\nversion 15.2\n", p.BootTime.AddDate(0, 0, -r.IntN(90)).UTC().Format("15:04:05 UTC Mon Jan 2 2006"))
	fmt.Fprintf(&cfg, "service timestamps debug datetime msec\nservice password-encryption\n!\nhostname %s\n!\n", sw)
	fmt.Fprintf(&cfg, "enable secret 5 $1$%s$%s\n!\n", rnd(4), rnd(22))
	fmt.Fprintf(&cfg, "username admin privilege 15 secret 5 $1$%s$%s\n", rnd(4), rnd(22))
	fmt.Fprintf(&cfg, "username backup privilege 1 password 7 %X\n!\n", r.Uint64())
	fmt.Fprintf(&cfg, "ip domain-name %s.local\n!\n", strings.ToLower(sites[r.IntN(len(sites))]))
	for i := 1; i <= 4; i++ {
		fmt.Fprintf(&cfg, "interface GigabitEthernet0/%d\n switchport mode access\n switchport access vlan %d\n!\n", i, 10*(1+r.IntN(5)))
	}
	fmt.Fprintf(&cfg, "interface Vlan1\n ip address 10.%d.%d.2 255.255.255.0\n!\nip default-gateway 10.%d.%d.1\n!\n", net2, net3, net2, net3)
	fmt.Fprintf(&cfg, "snmp-server community %s RO\nsnmp-server community %s RW\n!\n", communities[r.IntN(len(communities))], rnd(10))
	fmt.Fprintf(&cfg, "logging host 10.%d.%d.%d\n!\nline vty 0 4\n login local\n transport input ssh telnet\n!\nend\n", net2, net3, 10+r.IntN(200))

	distro := p.Distro.ID
	pxe := fmt.Sprintf(`DEFAULT menu.c32
PROMPT 0
TIMEOUT 300
MENU TITLE %s network boot

LABEL local
  MENU LABEL Boot from local disk
  LOCALBOOT 0

LABEL install
  MENU LABEL Install %s
  KERNEL %s-installer/amd64/linux
  APPEND vga=788 initrd=%s-installer/amd64/initrd.gz auto=true priority=critical url=http://%s/preseed.cfg --- quiet
`, short, p.Distro.PrettyName, distro, distro, p.Hostname)

	return map[string][]byte{
		sw + "-confg":          []byte(cfg.String()),
		"pxelinux.cfg/default": []byte(pxe),
	}
}
