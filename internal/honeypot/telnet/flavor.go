package telnet

import (
	"fmt"
	"strings"
	"time"

	"github.com/decnet-go/decnet/internal/persona"
)

// flavor is the telnetd (and login) a decky imitates.
type flavor uint8

const (
	// flavorDebian is inetutils-telnetd with shadow's login(1), as
	// Debian 12 installs them: a long negotiation, host information
	// before the prompt, five tries.
	flavorDebian flavor = iota
	// flavorBusyBox is BusyBox telnetd with BusyBox login, as on routers,
	// cameras and Alpine: four options, /etc/issue.net, three tries.
	flavorBusyBox
)

func (f flavor) String() string {
	if f == flavorBusyBox {
		return "busybox"
	}
	return "debian"
}

func parseFlavor(s string) (flavor, bool) {
	switch s {
	case "debian":
		return flavorDebian, true
	case "busybox":
		return flavorBusyBox, true
	}
	return 0, false
}

// defaultFlavor is the telnetd the persona's distro would run: BusyBox's
// on Alpine, inetutils' everywhere else.
func defaultFlavor(p *persona.Persona) flavor {
	if p.Distro.Family == "alpine" {
		return flavorBusyBox
	}
	return flavorDebian
}

// negotiateTimeout bounds the whole opening negotiation. inetutils-telnetd
// waits for ever for a client that never answers; a decky goes on to the
// login prompt instead, so that bots which ignore options still meet it.
var negotiateTimeout = 2 * time.Second

// slcTable is the SLC (special line characters) list inetutils-telnetd
// sends in LINEMODE: triplets of function, flags and value, from a Linux
// pty's default termios (^C, ^\, ^Z, ^?, ^U, ^W, ^R, ^V, ^Q, ^S …).
var slcTable = []byte{
	3, 0xe2, 0x03, // IP: ^C
	4, 0x82, 0x0f, // AO: ^O
	7, 0xe2, 0x1c, // ABORT: ^\
	8, 0x82, 0x04, // EOF: ^D
	9, 0xc2, 0x1a, // SUSP: ^Z
	10, 0x82, 0x7f, // EC: DEL
	11, 0x82, 0x15, // EL: ^U
	12, 0x82, 0x17, // EW: ^W
	13, 0x82, 0x12, // RP: ^R
	14, 0x82, 0x16, // LNEXT: ^V
	15, 0x82, 0x11, // XON: ^Q
	16, 0x82, 0x13, // XOFF: ^S
}

// negotiateDebian runs inetutils-telnetd's opening: authentication and
// encryption offers with the four terminal questions, the SEND requests for
// what the client agreed to tell, then the terminal mode options.
func (t *tconn) negotiateDebian() {
	deadline := time.Now().Add(negotiateTimeout)
	var b []byte
	b = append(b, t.ask(cmdWILL, optAuth)...)
	b = append(b, t.ask(cmdWILL, optEncrypt)...)
	for _, o := range []byte{optTType, optTSpeed, optXDispLoc, optNewEnviron, optOldEnviron} {
		b = append(b, t.ask(cmdDO, o)...)
	}
	if t.writeRaw(b) != nil {
		return
	}
	asked := []byte{optTType, optTSpeed, optXDispLoc, optNewEnviron, optOldEnviron}
	t.waitUntil(deadline, func() bool { return t.settled(asked, nil) })

	// Ask for the values the client agreed to send.
	b = b[:0]
	var want []byte
	for _, o := range []byte{optTSpeed, optXDispLoc, optNewEnviron, optOldEnviron, optTType} {
		if !t.himIs(o) || o == optOldEnviron && t.himIs(optNewEnviron) {
			continue
		}
		b = append(b, subneg(o, sbSEND)...)
		want = append(want, o)
	}
	if len(b) > 0 {
		if t.writeRaw(b) != nil {
			return
		}
		t.waitUntil(deadline, func() bool {
			info := t.snapshot()
			for _, o := range want {
				if !info.got[o] {
					return false
				}
			}
			return true
		})
	}

	// The terminal modes.
	b = b[:0]
	b = append(b, t.ask(cmdWILL, optSGA)...)
	b = append(b, t.ask(cmdDO, optEcho)...)
	b = append(b, t.ask(cmdDO, optLinemode)...)
	b = append(b, t.ask(cmdDO, optNAWS)...)
	b = append(b, t.ask(cmdWILL, optStatus)...)
	b = append(b, t.ask(cmdDO, optLFlow)...)
	if t.writeRaw(b) != nil {
		return
	}
	t.waitUntil(deadline, func() bool {
		return t.settled([]byte{optEcho, optLinemode, optNAWS, optLFlow}, []byte{optSGA, optStatus})
	})

	b = b[:0]
	if t.himIs(optLinemode) {
		// Propose EDIT|TRAPSIG and wait for the acknowledgement.
		if t.writeRaw(append(subneg(optLinemode, 1, 3), 0)) != nil {
			return
		}
		t.waitUntil(deadline, func() bool { return t.snapshot().modeAck })
		if t.himIs(optLFlow) {
			b = append(b, subneg(optLFlow, 3)...)
			b = append(b, 0)
		}
		b = append(b, t.ask(cmdWILL, optEcho)...)
		b = append(b, t.ask(cmdDO, optBinary)...)
		b = append(b, t.ask(cmdDONT, optLinemode)...)
		if t.snapshot().slc {
			// The answer to the client's table: ours.
			b = append(b, subneg(optLinemode, append([]byte{3}, slcTable...)...)...)
		}
	} else {
		if t.himIs(optLFlow) {
			b = append(b, subneg(optLFlow, 3)...)
			b = append(b, 0)
		}
		b = append(b, t.ask(cmdWILL, optEcho)...)
		b = append(b, verb(cmdDO, optTimingMark)...)
		b = append(b, t.ask(cmdDO, optBinary)...)
	}
	t.writeRaw(b)
}

// reofferEcho is what inetutils-telnetd does when login(1) sets up the
// terminal and the client had refused to let the server echo: it offers
// SGA and ECHO once more.
func (t *tconn) reofferEcho() {
	t.waitUntil(time.Now().Add(negotiateTimeout/4), func() bool { return t.settled(nil, []byte{optEcho}) })
	if t.usIs(optEcho) {
		return
	}
	var b []byte
	if !t.usIs(optSGA) {
		b = append(b, t.ask(cmdWILL, optSGA)...)
	}
	b = append(b, t.ask(cmdWILL, optEcho)...)
	t.writeRaw(b)
}

// negotiateBusyBox sends BusyBox telnetd's four options and goes on
// without waiting: BusyBox never waits for, nor answers, a reply.
func (t *tconn) negotiateBusyBox() {
	var b []byte
	b = append(b, t.ask(cmdDO, optEcho)...)
	b = append(b, t.ask(cmdDO, optNAWS)...)
	b = append(b, t.ask(cmdWILL, optEcho)...)
	b = append(b, t.ask(cmdWILL, optSGA)...)
	t.writeRaw(b)
}

// hostInfo is the line inetutils-telnetd prints before login starts
// (its default "\r\n%s %s (%h) (%t)\r\n\r\n": uname -s, uname -r, host
// and terminal).
func hostInfo(p *persona.Persona, pts int) string {
	return fmt.Sprintf("\r\nLinux %s (%s) (pts/%d)\r\n\r\n", p.KernelRelease, p.Hostname, pts)
}

// issueNet is the persona's /etc/issue.net: Debian-family releases ship
// their name without getty escapes ("Debian GNU/Linux 12"); the others
// ship /etc/issue's text.
func issueNet(p *persona.Persona) string {
	if p.Distro.Family == "debian" {
		s, _, _ := strings.Cut(p.Distro.Issue, ` \n`)
		return s + "\n"
	}
	return p.Distro.Issue + "\n"
}

// busyboxIssue renders an issue file as BusyBox's print_login_issue does
// on a pty: a leading "\r\n", each "\n" sent as "\n\r", the escapes
// \s \n \h \r \v \m \l (or with %) expanded; the pty's onlcr then turns
// every "\n" into "\r\n".
func busyboxIssue(p *persona.Persona, issue string, pts int) string {
	var b strings.Builder
	b.WriteString("\r\n")
	for i := 0; i < len(issue); i++ {
		c := issue[i]
		if (c == '\\' || c == '%') && i+1 < len(issue) {
			i++
			switch issue[i] {
			case 's':
				b.WriteString("Linux")
			case 'n', 'h':
				b.WriteString(p.Hostname)
			case 'r':
				b.WriteString(p.KernelRelease)
			case 'v':
				b.WriteString(p.KernelVersion)
			case 'm':
				b.WriteString("x86_64")
			case 'l':
				fmt.Fprintf(&b, "pts/%d", pts)
			case 'D', 'o':
				b.WriteString("(none)")
			default:
				b.WriteByte(issue[i])
			}
			continue
		}
		b.WriteByte(c)
		if c == '\n' {
			b.WriteByte('\r')
		}
	}
	return strings.ReplaceAll(b.String(), "\n", "\r\n")
}
