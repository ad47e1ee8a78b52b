package telnet

import (
	"bytes"
	"net"
	"strings"
	"testing"
	"time"
)

// policy is how a scripted test client answers a server's options.
type policy string

const (
	// policyRefuse answers WONT to every DO and DONT to every WILL.
	policyRefuse policy = "refuse"
	// policyMirai answers like the Mirai bot: WONT to every DO but NAWS
	// (80x24), DO to every WILL.
	policyMirai policy = "mirai"
	// policyAccept answers like a full client (the Linux telnet program):
	// terminal type XTERM, speed, an empty environment, NAWS 80x24 and
	// LINEMODE, and agrees to the server's ECHO, SGA, STATUS and BINARY.
	policyAccept policy = "accept"
)

// testClient is a scripted telnet client that records everything the
// server sends.
type testClient struct {
	t      testing.TB
	c      net.Conn
	pol    policy
	ps     parser
	raw    []byte    // every byte the server sent
	text   []byte    // the data part of it
	cmds   []command // the commands of it, in order
	asked  map[string]bool
	answer bool // answer negotiation (false: stay silent)
}

func dialClient(t testing.TB, addr string, pol policy) *testClient {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &testClient{t: t, c: c, pol: pol, asked: map[string]bool{}, answer: pol != ""}
}

// readUntil reads until the server's text contains want (after what was
// already read), or fails the test after wait.
func (tc *testClient) readUntil(want string, wait time.Duration) string {
	tc.t.Helper()
	start := len(tc.text)
	deadline := time.Now().Add(wait)
	buf := make([]byte, 4096)
	for !strings.Contains(string(tc.text[start:]), want) {
		tc.c.SetReadDeadline(deadline)
		n, err := tc.c.Read(buf)
		tc.take(buf[:n])
		if err != nil {
			tc.t.Fatalf("waiting for %q: %v; got text %q", want, err, tc.text[start:])
		}
	}
	return string(tc.text[start:])
}

// readFor reads whatever comes during d.
func (tc *testClient) readFor(d time.Duration) {
	deadline := time.Now().Add(d)
	buf := make([]byte, 4096)
	for {
		tc.c.SetReadDeadline(deadline)
		n, err := tc.c.Read(buf)
		tc.take(buf[:n])
		if err != nil {
			return
		}
	}
}

func (tc *testClient) take(p []byte) {
	if len(p) == 0 {
		return
	}
	tc.raw = append(tc.raw, p...)
	var cmds []command
	tc.text, cmds = tc.ps.feed(p, tc.text, nil)
	tc.cmds = append(tc.cmds, cmds...)
	if !tc.answer {
		return
	}
	var out []byte
	for _, c := range cmds {
		out = append(out, tc.reply(c)...)
	}
	if len(out) > 0 {
		tc.c.Write(out)
	}
}

func (tc *testClient) reply(c command) []byte {
	key := verbNames[c.verb] + optName(c.opt)
	if c.verb != cmdSB {
		if tc.asked[key] {
			return nil // answered once already: no loops
		}
		tc.asked[key] = true
	}
	naws := append(verb(cmdWILL, optNAWS), subneg(optNAWS, 0, 80, 0, 24)...)
	switch tc.pol {
	case policyRefuse:
		switch c.verb {
		case cmdDO:
			return verb(cmdWONT, c.opt)
		case cmdWILL:
			return verb(cmdDONT, c.opt)
		}
	case policyMirai:
		switch {
		case c.verb == cmdDO && c.opt == optNAWS:
			return naws
		case c.verb == cmdDO:
			return verb(cmdWONT, c.opt)
		case c.verb == cmdWILL:
			return verb(cmdDO, c.opt)
		case c.verb == cmdSB && c.opt == optTType:
			return subneg(optTType, append([]byte{sbIS}, "vt100"...)...)
		}
	case policyAccept:
		switch c.verb {
		case cmdDO:
			switch c.opt {
			case optNAWS:
				return naws
			case optLinemode:
				// As the Linux client: its SLC table right after (IP is ^C).
				return append(verb(cmdWILL, c.opt), subneg(optLinemode, 3, 3, 0x62, 0x03)...)
			case optTType, optTSpeed, optNewEnviron, optLFlow, optBinary:
				return verb(cmdWILL, c.opt)
			}
			return verb(cmdWONT, c.opt)
		case cmdWILL:
			return verb(cmdDO, c.opt)
		case cmdDONT:
			return verb(cmdWONT, c.opt)
		case cmdSB:
			switch {
			case c.opt == optTType:
				return subneg(optTType, append([]byte{sbIS}, "XTERM"...)...)
			case c.opt == optTSpeed:
				return subneg(optTSpeed, append([]byte{sbIS}, "38400,38400"...)...)
			case c.opt == optNewEnviron:
				return subneg(optNewEnviron, sbIS)
			case c.opt == optLinemode && len(c.data) == 2 && c.data[0] == 1:
				return subneg(optLinemode, 1, c.data[1]|4)
			}
		}
	}
	return nil
}

// send types s (as data, IAC doubled).
func (tc *testClient) send(s string) {
	tc.t.Helper()
	if _, err := tc.c.Write(escape(nil, []byte(s))); err != nil {
		tc.t.Fatal(err)
	}
}

// commandList renders the commands seen so far, for comparisons.
func commandList(cmds []command) []string {
	out := make([]string, 0, len(cmds))
	for _, c := range cmds {
		switch c.verb {
		case cmdWILL, cmdWONT, cmdDO, cmdDONT:
			out = append(out, verbNames[c.verb]+" "+optName(c.opt))
		case cmdSB:
			d := c.data
			if len(d) > 1 && c.opt == optLinemode && d[0] == 3 {
				d = d[:1] // an SLC table depends on the host's termios
			}
			out = append(out, "SB "+optName(c.opt)+" "+string(bytes.ToUpper([]byte(strings.TrimSpace(string(hexBytes(d)))))))
		default:
			out = append(out, "CMD "+optName(c.verb))
		}
	}
	return out
}

func hexBytes(b []byte) []byte {
	const digits = "0123456789abcdef"
	var out []byte
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15], ' ')
	}
	return out
}
