package shell

import (
	"io"
	"unicode/utf8"
)

// lineEvent is how reading a line ended.
type lineEvent uint8

const (
	lineEnter     lineEvent = iota // Enter: the line is complete
	lineInterrupt                  // Ctrl-C: the line is discarded
	lineEOF                        // Ctrl-D on an empty line, or end of input
)

// lineEditor reads command lines from a session. On a pty it behaves like
// readline in its simplest form: echo, backspace, Ctrl-C, Ctrl-D, Ctrl-U;
// escape sequences (arrow keys) are swallowed. Without a pty it splits the
// input on newlines and echoes nothing.
type lineEditor struct {
	r    io.Reader
	echo io.Writer // nil without a pty
	buf  [1024]byte
	in   []byte // read but not yet consumed
	esc  int    // 0: none, 1: after ESC, 2: inside a CSI/SS3 sequence
	cr   bool   // last byte was CR: a following LF is part of it
}

// readLine returns the next line, without its terminator. The line never
// exceeds maxLine bytes; further input on it is dropped.
func (e *lineEditor) readLine() (string, lineEvent, error) {
	var line []byte
	for {
		if len(e.in) == 0 {
			n, err := e.r.Read(e.buf[:])
			if n == 0 && err != nil {
				if len(line) > 0 && e.echo == nil {
					return string(line), lineEnter, nil
				}
				return "", lineEOF, err
			}
			e.in = e.buf[:n]
		}
		c := e.in[0]
		e.in = e.in[1:]
		if e.echo == nil {
			switch {
			case c == '\n':
				if n := len(line); n > 0 && line[n-1] == '\r' {
					line = line[:n-1]
				}
				return string(line), lineEnter, nil
			case len(line) < maxLine:
				line = append(line, c)
			}
			continue
		}
		wasCR := e.cr
		e.cr = false
		switch {
		case e.esc == 1:
			e.esc = 0
			if c == '[' || c == 'O' {
				e.esc = 2
			}
		case e.esc == 2:
			if c >= 0x40 && c <= 0x7e {
				e.esc = 0
			}
		case c == 0x1b:
			e.esc = 1
		case c == '\r' || c == '\n':
			if c == '\n' && wasCR {
				continue
			}
			e.cr = c == '\r'
			e.write("\r\n")
			return string(line), lineEnter, nil
		case c == 0x03:
			e.write("^C\r\n")
			return "", lineInterrupt, nil
		case c == 0x04:
			if len(line) == 0 {
				return "", lineEOF, nil
			}
		case c == 0x7f || c == 0x08:
			if len(line) > 0 {
				_, size := utf8.DecodeLastRune(line)
				line = line[:len(line)-size]
				e.write("\b \b")
			}
		case c == 0x15: // Ctrl-U: kill the line
			for range utf8.RuneCount(line) {
				e.write("\b \b")
			}
			line = line[:0]
		case c == '\t':
			e.write("\a")
		case c < 0x20:
			// other control characters do nothing
		case len(line) < maxLine:
			line = append(line, c)
			e.echo.Write([]byte{c})
		}
	}
}

func (e *lineEditor) write(s string) {
	if e.echo != nil {
		io.WriteString(e.echo, s)
	}
}
