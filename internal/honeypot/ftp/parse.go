package ftp

import (
	"net/netip"
	"strconv"
	"strings"
)

// maxLine is the longest command line read, as vsftpd's
// VSFTP_MAX_COMMAND_LINE.
const maxLine = 4096

// parseCommand splits a control line into its verb, upper-cased, and its
// argument, as vsftpd does: the verb ends at the first space, the line's
// CR LF is dropped and the argument is kept as sent.
func parseCommand(line string) (verb, arg string) {
	line = strings.TrimRight(line, "\r\n")
	verb, arg, _ = strings.Cut(line, " ")
	return asciiUpper(verb), arg
}

// asciiUpper upper-cases a-z only, byte by byte, as vsftpd's str_upper;
// other bytes (invalid UTF-8 included) pass unchanged.
func asciiUpper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

// parsePORT parses the argument of PORT, "h1,h2,h3,h4,p1,p2" with every
// number 0–255, into an address. vsftpd also refuses port 0.
func parsePORT(arg string) (netip.AddrPort, bool) {
	parts := strings.Split(strings.TrimSpace(arg), ",")
	if len(parts) != 6 {
		return netip.AddrPort{}, false
	}
	var b [6]byte
	for i, p := range parts {
		n, err := strconv.ParseUint(p, 10, 8)
		if err != nil {
			return netip.AddrPort{}, false
		}
		b[i] = byte(n)
	}
	port := uint16(b[4])<<8 | uint16(b[5])
	if port == 0 {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[:4])), port), true
}

// eprtError says why an EPRT argument was refused.
type eprtError int

const (
	eprtOK       eprtError = iota
	eprtBad                // malformed
	eprtProtocol           // a network protocol this server does not speak
)

// parseEPRT parses the argument of EPRT (RFC 2428), "|1|h.h.h.h|port|" or
// "|2|ipv6|port|", with any printable delimiter. v6 says whether the
// control connection is IPv6, in which case protocol 2 is accepted.
func parseEPRT(arg string, v6 bool) (netip.AddrPort, eprtError) {
	if len(arg) < 2 {
		return netip.AddrPort{}, eprtBad
	}
	d := arg[:1]
	if d[0] < 33 || d[0] > 126 {
		return netip.AddrPort{}, eprtBad
	}
	parts := strings.Split(arg[1:], d)
	if len(parts) != 4 || parts[3] != "" {
		return netip.AddrPort{}, eprtBad
	}
	switch {
	case parts[0] == "1":
	case parts[0] == "2" && v6:
	default:
		return netip.AddrPort{}, eprtProtocol
	}
	addr, err := netip.ParseAddr(parts[1])
	if err != nil || addr.Zone() != "" || (parts[0] == "1") != addr.Is4() {
		return netip.AddrPort{}, eprtBad
	}
	port, err := strconv.ParseUint(parts[2], 10, 16)
	if err != nil || port == 0 {
		return netip.AddrPort{}, eprtBad
	}
	return netip.AddrPortFrom(addr, uint16(port)), eprtOK
}

// pasvReply formats the address of PASV's answer: "h1,h2,h3,h4,p1,p2".
func pasvReply(ap netip.AddrPort) string {
	a := ap.Addr().Unmap().As4()
	p := ap.Port()
	return strconv.Itoa(int(a[0])) + "," + strconv.Itoa(int(a[1])) + "," + strconv.Itoa(int(a[2])) + "," +
		strconv.Itoa(int(a[3])) + "," + strconv.Itoa(int(p>>8)) + "," + strconv.Itoa(int(p&0xff))
}
