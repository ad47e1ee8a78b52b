package telnet

import "strconv"

// Telnet commands (RFC 854).
const (
	cmdSE   byte = 240
	cmdNOP  byte = 241
	cmdDM   byte = 242
	cmdBRK  byte = 243
	cmdIP   byte = 244
	cmdAO   byte = 245
	cmdAYT  byte = 246
	cmdEC   byte = 247
	cmdEL   byte = 248
	cmdGA   byte = 249
	cmdSB   byte = 250
	cmdWILL byte = 251
	cmdWONT byte = 252
	cmdDO   byte = 253
	cmdDONT byte = 254
	cmdIAC  byte = 255
)

// Telnet options this server knows by name.
const (
	optBinary     byte = 0  // RFC 856
	optEcho       byte = 1  // RFC 857
	optSGA        byte = 3  // RFC 858, suppress go-ahead
	optStatus     byte = 5  // RFC 859
	optTimingMark byte = 6  // RFC 860
	optTType      byte = 24 // RFC 1091, terminal type
	optNAWS       byte = 31 // RFC 1073, window size
	optTSpeed     byte = 32 // RFC 1079, terminal speed
	optLFlow      byte = 33 // RFC 1372, remote flow control
	optLinemode   byte = 34 // RFC 1184
	optXDispLoc   byte = 35 // RFC 1096, X display location
	optOldEnviron byte = 36 // RFC 1408
	optAuth       byte = 37 // RFC 2941
	optEncrypt    byte = 38 // RFC 2946
	optNewEnviron byte = 39 // RFC 1572
)

// Subnegotiation verbs shared by TTYPE, TSPEED, XDISPLOC and the ENVIRON
// options.
const (
	sbIS   byte = 0
	sbSEND byte = 1
	sbINFO byte = 2
)

var optNames = map[byte]string{
	optBinary: "BINARY", optEcho: "ECHO", optSGA: "SGA", optStatus: "STATUS",
	optTimingMark: "TIMING-MARK", optTType: "TTYPE", optNAWS: "NAWS", optTSpeed: "TSPEED",
	optLFlow: "LFLOW", optLinemode: "LINEMODE", optXDispLoc: "XDISPLOC",
	optOldEnviron: "OLD-ENVIRON", optAuth: "AUTHENTICATION", optEncrypt: "ENCRYPT",
	optNewEnviron: "NEW-ENVIRON",
}

// optName names an option for events: its RFC name, or its number.
func optName(o byte) string {
	if n, ok := optNames[o]; ok {
		return n
	}
	return strconv.Itoa(int(o))
}

var verbNames = map[byte]string{cmdWILL: "WILL", cmdWONT: "WONT", cmdDO: "DO", cmdDONT: "DONT"}

// maxSubneg caps the bytes kept of one subnegotiation; the rest, up to
// IAC SE, is read and dropped. 512 holds any honest terminal type, speed,
// display or environment (inetutils keeps 512 too).
const maxSubneg = 512

// command is one telnet command read from the client: a negotiation verb
// (WILL, WONT, DO, DONT) with its option, a subnegotiation (SB) with its
// unescaped payload, or a bare command (AYT, IP, EC, …).
type command struct {
	verb      byte   // cmdWILL, cmdWONT, cmdDO, cmdDONT, cmdSB or a bare command
	opt       byte   // the option of a verb or of SB
	data      []byte // SB payload after the option, IAC IAC undone, at most maxSubneg bytes
	truncated bool   // the SB payload was longer than maxSubneg
}

// parser state.
const (
	stData  = iota
	stCR    // data, after a CR
	stIAC   // after IAC
	stVerb  // after WILL/WONT/DO/DONT, waiting for the option
	stSBOpt // after IAC SB, waiting for the option
	stSB    // inside SB
	stSBIAC // inside SB, after IAC
)

// parser splits the byte stream from a telnet client into data and
// commands (RFC 854). It keeps its state between calls, so a command split
// across reads is still seen whole. It never fails: whatever the input, it
// yields some data and some commands, with memory bounded by maxSubneg.
type parser struct {
	state int
	verb  byte
	cmd   command
}

// feed parses p. It appends the data bytes to data (IAC IAC made one 0xFF,
// the NUL of CR NUL dropped) and returns it with the commands found.
func (ps *parser) feed(p []byte, data []byte, cmds []command) ([]byte, []command) {
	for _, c := range p {
		switch ps.state {
		case stData, stCR:
			wasCR := ps.state == stCR
			ps.state = stData
			switch {
			case c == cmdIAC:
				ps.state = stIAC
			case c == 0 && wasCR:
				// CR NUL is a bare carriage return (RFC 854).
			case c == '\r':
				data = append(data, c)
				ps.state = stCR
			default:
				data = append(data, c)
			}
		case stIAC:
			switch c {
			case cmdIAC:
				data = append(data, cmdIAC)
				ps.state = stData
			case cmdWILL, cmdWONT, cmdDO, cmdDONT:
				ps.verb = c
				ps.state = stVerb
			case cmdSB:
				ps.state = stSBOpt
			default: // NOP, DM, BRK, IP, AO, AYT, EC, EL, GA, a stray SE, or garbage
				cmds = append(cmds, command{verb: c})
				ps.state = stData
			}
		case stVerb:
			cmds = append(cmds, command{verb: ps.verb, opt: c})
			ps.state = stData
		case stSBOpt:
			ps.cmd = command{verb: cmdSB, opt: c}
			ps.state = stSB
		case stSB:
			if c == cmdIAC {
				ps.state = stSBIAC
				continue
			}
			ps.sbByte(c)
		case stSBIAC:
			switch c {
			case cmdSE:
				cmds = append(cmds, ps.cmd)
				ps.cmd = command{}
				ps.state = stData
			case cmdIAC:
				ps.sbByte(cmdIAC)
				ps.state = stSB
			default:
				// IAC followed by anything else inside SB ends it, as BSD
				// telnetd does: the subnegotiation is kept and the byte is
				// read again as a command.
				cmds = append(cmds, ps.cmd)
				ps.cmd = command{}
				ps.state = stIAC
				data, cmds = ps.feed([]byte{c}, data, cmds)
			}
		}
	}
	return data, cmds
}

func (ps *parser) sbByte(c byte) {
	if len(ps.cmd.data) >= maxSubneg {
		ps.cmd.truncated = true
		return
	}
	ps.cmd.data = append(ps.cmd.data, c)
}

// escape doubles every IAC in data sent to the client.
func escape(dst, data []byte) []byte {
	for _, c := range data {
		if c == cmdIAC {
			dst = append(dst, cmdIAC)
		}
		dst = append(dst, c)
	}
	return dst
}

// verb builds IAC <verb> <opt>.
func verb(v, opt byte) []byte { return []byte{cmdIAC, v, opt} }

// subneg builds IAC SB <opt> <data, IAC escaped> IAC SE.
func subneg(opt byte, data ...byte) []byte {
	b := []byte{cmdIAC, cmdSB, opt}
	b = escape(b, data)
	return append(b, cmdIAC, cmdSE)
}
