package telnet

import (
	"io"
	"log/slog"
	"maps"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/decnet-go/decnet/internal/honeypot"
)

// Bounds of one connection's option state.
const (
	maxEnvVars      = 32  // NEW-ENVIRON variables kept
	maxOptionTrail  = 64  // client negotiation replies kept for the fingerprint
	maxReadChunk    = 512 // bytes read from the socket at once
	dataQueue       = 16  // chunks of data the reader may hold for the session
	maxValueLen     = 128 // bytes kept of a terminal type, speed or display
	maxEnvKeyValLen = 256 // bytes kept of one environment name or value
)

// qState is the state of one side of one option, after RFC 1143's
// Q method reduced to what a server needs.
type qState uint8

const (
	qNo      qState = iota // disabled
	qYes                   // enabled
	qWantYes               // we asked to enable it and wait for the answer
	qWantNo                // we asked to disable it and wait for the answer
)

// clientInfo is what the client told about itself during negotiation.
type clientInfo struct {
	Term       string // TERMINAL-TYPE IS, as sent
	Speed      string // TSPEED IS, "38400,38400"
	Display    string // XDISPLOC IS
	Cols, Rows int    // last NAWS
	Env        map[string]string
	Trail      []string // the client's verbs in order: "WILL TTYPE", "WONT XDISPLOC", …
	got        map[byte]bool
	modeAck    bool // LINEMODE MODE with the ACK bit
	slc        bool // the client sent its LINEMODE SLC table
}

// tconn is a telnet connection: a reader goroutine parses what the client
// sends, answers option negotiation under the flavour's policy and queues
// the data for the login dialogue and the shell.
type tconn struct {
	c   *honeypot.Conn
	fl  flavor
	log *slog.Logger

	wmu sync.Mutex // serialises writes

	mu      sync.Mutex // guards us, him, info
	us, him [256]qState
	info    clientInfo
	changed chan struct{} // signalled (never blocking) on every option change or data

	data   chan []byte // data chunks from the reader; closed when the client is gone
	rest   []byte      // the unread part of the current chunk
	dropLF bool        // the last line ended in CR: a following LF belongs to it
	gone   bool
	quit   chan struct{} // closed by close: the reader stops queueing data

	wg sync.WaitGroup
}

func newConn(c *honeypot.Conn, fl flavor, log *slog.Logger) *tconn {
	t := &tconn{
		c: c, fl: fl, log: log,
		changed: make(chan struct{}, 1),
		data:    make(chan []byte, dataQueue),
		quit:    make(chan struct{}),
	}
	t.info.got = map[byte]bool{}
	t.wg.Go(t.readLoop)
	return t
}

// close ends the connection and waits for the reader.
func (t *tconn) close() {
	close(t.quit)
	t.c.Close()
	t.wg.Wait()
}

// readLoop reads and parses until the connection fails.
func (t *tconn) readLoop() {
	defer close(t.data)
	defer func() {
		// This goroutine is outside honeypot.Serve's recovery: a panic here
		// must end this connection only.
		if r := recover(); r != nil {
			t.c.Close()
			if t.log != nil {
				t.log.Error("telnet reader panic", "src", t.c.Src.String(), "panic", r, "stack", string(debug.Stack()))
			}
		}
	}()
	var ps parser
	buf := make([]byte, maxReadChunk)
	var cmds []command
	for {
		n, err := t.c.Read(buf)
		if n > 0 {
			var data []byte
			data, cmds = ps.feed(buf[:n], nil, cmds[:0])
			for _, cmd := range cmds {
				data = t.handle(cmd, data)
			}
			if len(data) > 0 {
				select {
				case t.data <- data:
				case <-t.quit:
					return
				}
				t.notify()
			}
		}
		if err != nil {
			return
		}
	}
}

func (t *tconn) notify() {
	select {
	case t.changed <- struct{}{}:
	default:
	}
}

// handle applies one command from the client; bare commands may turn into
// data (an interrupt becomes ^C), which handle appends to data.
func (t *tconn) handle(cmd command, data []byte) []byte {
	defer t.notify()
	switch cmd.verb {
	case cmdWILL, cmdWONT, cmdDO, cmdDONT:
		t.negotiate(cmd.verb, cmd.opt)
	case cmdSB:
		t.subnegotiation(cmd)
	default:
		if t.fl == flavorBusyBox {
			return data // busybox telnetd ignores the other commands
		}
		switch cmd.verb {
		case cmdIP, cmdBRK:
			data = append(data, 0x03)
		case cmdEC:
			data = append(data, 0x7f)
		case cmdEL:
			data = append(data, 0x15)
		case cmdAYT:
			t.writeRaw([]byte("\r\n[Yes]\r\n"))
		}
	}
	return data
}

// negotiate answers WILL, WONT, DO or DONT. A reply is sent only when the
// request changes the option's state, so two peers can never loop
// (RFC 854, "rules to prevent acknowledgment loops").
func (t *tconn) negotiate(v, opt byte) {
	t.mu.Lock()
	if len(t.info.Trail) < maxOptionTrail {
		t.info.Trail = append(t.info.Trail, verbNames[v]+" "+optName(opt))
	}
	var reply []byte
	busybox := t.fl == flavorBusyBox
	switch v {
	case cmdWILL:
		switch t.him[opt] {
		case qWantYes, qYes:
			t.him[opt] = qYes
		case qWantNo:
			t.him[opt] = qNo // answered our DONT with WILL: give up, as BSD does
		default:
			if busybox {
				break // busybox telnetd answers nothing it did not ask
			}
			if acceptHim[opt] {
				t.him[opt] = qYes
				reply = verb(cmdDO, opt)
			} else {
				reply = verb(cmdDONT, opt)
			}
		}
	case cmdWONT:
		was := t.him[opt]
		t.him[opt] = qNo
		if was == qYes && !busybox {
			reply = verb(cmdDONT, opt)
		}
	case cmdDO:
		switch t.us[opt] {
		case qWantYes, qYes:
			t.us[opt] = qYes
		case qWantNo:
			t.us[opt] = qNo
		default:
			if busybox {
				break
			}
			if acceptUs[opt] {
				t.us[opt] = qYes
				reply = verb(cmdWILL, opt)
			} else {
				reply = verb(cmdWONT, opt)
			}
			if opt == optTimingMark {
				t.us[opt] = qNo // a timing mark is answered, never kept on
			}
		}
	case cmdDONT:
		was := t.us[opt]
		t.us[opt] = qNo
		if was == qYes && !busybox {
			reply = verb(cmdWONT, opt)
		}
	}
	t.mu.Unlock()
	if reply != nil {
		t.writeRaw(reply)
	}
}

// Options a Debian telnetd lets the client enable, or enables itself, when
// the client offers or asks first.
var (
	acceptHim = map[byte]bool{optBinary: true, optTType: true, optTSpeed: true, optXDispLoc: true,
		optNewEnviron: true, optOldEnviron: true, optNAWS: true, optLFlow: true, optSGA: true}
	acceptUs = map[byte]bool{optBinary: true, optEcho: true, optSGA: true, optStatus: true, optTimingMark: true}
)

// subnegotiation records what a client said in SB … SE.
func (t *tconn) subnegotiation(cmd command) {
	t.mu.Lock()
	defer t.mu.Unlock()
	d := cmd.data
	switch cmd.opt {
	case optNAWS:
		if len(d) == 4 {
			t.info.Cols = int(d[0])<<8 | int(d[1])
			t.info.Rows = int(d[2])<<8 | int(d[3])
			t.info.got[optNAWS] = true
		}
		return
	case optLinemode:
		// MODE <mask>: the client acknowledges the mode we proposed.
		if len(d) == 2 && d[0] == 1 && d[1]&4 != 0 {
			t.info.modeAck = true
		}
		if len(d) > 0 && d[0] == 3 {
			t.info.slc = true
		}
		return
	}
	if len(d) == 0 || d[0] != sbIS && d[0] != sbINFO {
		return
	}
	val := d[1:]
	switch cmd.opt {
	case optTType:
		t.info.Term = clip(val, maxValueLen)
	case optTSpeed:
		t.info.Speed = clip(val, maxValueLen)
	case optXDispLoc:
		t.info.Display = clip(val, maxValueLen)
	case optNewEnviron, optOldEnviron:
		if t.info.Env == nil {
			t.info.Env = map[string]string{}
		}
		parseEnviron(val, cmd.opt == optOldEnviron, t.info.Env)
	default:
		return
	}
	t.info.got[cmd.opt] = true
}

// parseEnviron reads the VAR/USERVAR/VALUE list of NEW-ENVIRON IS or INFO
// (RFC 1572) into env, bounded by maxEnvVars. OLD-ENVIRON (RFC 1408) swaps
// the codes of VAR and VALUE in many BSD clients; both readings are taken.
func parseEnviron(b []byte, old bool, env map[string]string) {
	const (
		eVAR, eVALUE, eESC, eUSERVAR = 0, 1, 2, 3
	)
	varCode, valueCode := byte(eVAR), byte(eVALUE)
	if old && len(b) > 0 && b[0] == eVALUE {
		varCode, valueCode = eVALUE, eVAR
	}
	var name, value []byte
	inValue, have := false, false
	flush := func() {
		if have && len(env) < maxEnvVars && len(name) > 0 {
			env[clip(name, maxEnvKeyValLen)] = clip(value, maxEnvKeyValLen)
		}
		name, value, inValue, have = nil, nil, false, false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case c == varCode || c == eUSERVAR:
			flush()
			have = true
		case c == valueCode:
			inValue = true
		default:
			if c == eESC && i+1 < len(b) {
				i++
				c = b[i]
			}
			if !have {
				continue
			}
			if inValue {
				value = append(value, c)
			} else {
				name = append(name, c)
			}
		}
	}
	flush()
}

// clip turns a client-supplied value into a printable string of at most n
// bytes.
func clip(b []byte, n int) string {
	if len(b) > n {
		b = b[:n]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, string(b))
}

// ask sends DO/DONT/WILL for opt and records that an answer is awaited.
func (t *tconn) ask(v, opt byte) []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch v {
	case cmdDO:
		t.him[opt] = qWantYes
	case cmdDONT:
		t.him[opt] = qWantNo
	case cmdWILL:
		t.us[opt] = qWantYes
	case cmdWONT:
		t.us[opt] = qWantNo
	}
	return verb(v, opt)
}

// settled reports whether the client has answered every question we asked
// about the options him (our DO/DONT) and us (our WILL/WONT).
func (t *tconn) settled(him []byte, us []byte) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, o := range him {
		if t.him[o] == qWantYes || t.him[o] == qWantNo {
			return false
		}
	}
	for _, o := range us {
		if t.us[o] == qWantYes || t.us[o] == qWantNo {
			return false
		}
	}
	return true
}

// waitUntil waits until cond holds, the deadline passes, the client sends
// data (it is not negotiating any more) or goes away.
func (t *tconn) waitUntil(deadline time.Time, cond func() bool) {
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	for !cond() {
		if len(t.data) > 0 || len(t.rest) > 0 {
			return
		}
		select {
		case <-t.changed:
		case <-timer.C:
			return
		}
	}
}

func (t *tconn) himIs(opt byte) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.him[opt] == qYes
}

func (t *tconn) usIs(opt byte) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.us[opt] == qYes
}

func (t *tconn) snapshot() clientInfo {
	t.mu.Lock()
	defer t.mu.Unlock()
	ci := t.info // the maps and slice are the reader's: copy them
	ci.Trail = append([]string(nil), t.info.Trail...)
	ci.got = maps.Clone(t.info.got)
	ci.Env = maps.Clone(t.info.Env)
	return ci
}

// writeRaw sends bytes as they are (commands, or data already escaped).
func (t *tconn) writeRaw(b []byte) error {
	t.wmu.Lock()
	defer t.wmu.Unlock()
	_, err := t.c.Write(b)
	return err
}

// Write sends data, doubling IAC; it makes tconn the io.Writer of the shell.
func (t *tconn) Write(p []byte) (int, error) {
	if err := t.writeRaw(escape(make([]byte, 0, len(p)+8), p)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Read returns data the client typed; io.EOF once it is gone. It makes
// tconn the io.Reader of the login dialogue and the shell.
func (t *tconn) Read(p []byte) (int, error) {
	for len(t.rest) == 0 {
		if t.gone {
			return 0, io.EOF
		}
		chunk, ok := <-t.data
		if !ok {
			t.gone = true
			return 0, io.EOF
		}
		if t.dropLF && len(chunk) > 0 {
			t.dropLF = false
			if chunk[0] == '\n' {
				chunk = chunk[1:]
			}
		}
		t.rest = chunk
	}
	n := copy(p, t.rest)
	t.rest = t.rest[n:]
	return n, nil
}

// readByte is Read for one byte.
func (t *tconn) readByte() (byte, error) {
	var b [1]byte
	if _, err := t.Read(b[:]); err != nil {
		return 0, err
	}
	return b[0], nil
}

// readLine reads a line as login(1) does on a terminal in canonical mode:
// CR or LF ends it, backspace and ^U edit it, and with echo on what is typed
// is echoed. It keeps at most max bytes.
func (t *tconn) readLine(echo bool, max int) (string, error) {
	var line []byte
	for {
		c, err := t.readByte()
		if err != nil {
			return string(line), err
		}
		switch {
		case c == '\r' || c == '\n':
			if c == '\r' {
				if len(t.rest) > 0 {
					if t.rest[0] == '\n' {
						t.rest = t.rest[1:]
					}
				} else {
					t.dropLF = true
				}
			}
			if echo {
				io.WriteString(t, "\r\n")
			}
			return string(line), nil
		case c == 0x7f || c == 0x08:
			if len(line) > 0 {
				line = line[:len(line)-1]
				if echo {
					io.WriteString(t, "\b \b")
				}
			}
		case c == 0x15:
			if echo {
				io.WriteString(t, strings.Repeat("\b \b", len(line)))
			}
			line = line[:0]
		case c < 0x20:
			// other control characters: nothing, as the tty's canonical mode
		case len(line) < max:
			line = append(line, c)
			if echo {
				t.Write([]byte{c})
			}
		}
	}
}
