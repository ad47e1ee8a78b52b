package recording

import (
	"strings"
	"unicode/utf8"

	"github.com/decnet-go/decnet/internal/honeypot/asciicast"
)

// maxTextLines bounds the text Text keeps: the newest lines win, as on a
// terminal's scroll-back.
const maxTextLines = 20000

// Text renders the output of a recording as the lines a reader of the
// terminal would have seen, for a page without JavaScript and for search.
// It interprets what a shell session mostly uses: carriage return, line
// feed, backspace, tab, erase-in-line (ESC[K), cursor left and right
// (ESC[D, ESC[C), delete characters (ESC[P); other escape sequences, colour
// among them, are dropped. A clear screen (ESC[2J) keeps what was shown
// before it, as scroll-back does. The dashboard's player (static/replay.js)
// applies the same rules.
func Text(evs []asciicast.Event) string {
	var t Screen
	for _, e := range evs {
		if e.Code == asciicast.Output {
			t.Write(e.Data)
		}
	}
	return t.String()
}

// Screen is a line-oriented terminal: enough of one for a shell session to
// read correctly. The zero value is ready.
type Screen struct {
	lines [][]rune
	row   int
	col   int
	esc   []byte // an escape sequence in progress
}

// Write interprets s.
func (t *Screen) Write(s string) {
	if t.lines == nil {
		t.lines = [][]rune{nil}
	}
	for _, r := range s {
		if t.esc != nil {
			t.escape(r)
			continue
		}
		switch r {
		case '\x1b':
			t.esc = []byte{}
		case '\r':
			t.col = 0
		case '\n':
			t.row++
			t.col = 0
			if t.row == len(t.lines) {
				t.lines = append(t.lines, nil)
			}
			if len(t.lines) > maxTextLines {
				drop := len(t.lines) - maxTextLines
				t.lines = t.lines[drop:]
				t.row -= drop
			}
		case '\b':
			if t.col > 0 {
				t.col--
			}
		case '\t':
			n := 8 - t.col%8
			for range n {
				t.put(' ')
			}
		case '\a', 0, '\x7f':
		default:
			if r < ' ' || r == utf8.RuneError {
				continue
			}
			t.put(r)
		}
	}
}

func (t *Screen) put(r rune) {
	line := t.lines[t.row]
	for len(line) < t.col {
		line = append(line, ' ')
	}
	if t.col < len(line) {
		line[t.col] = r
	} else {
		line = append(line, r)
	}
	t.lines[t.row] = line
	t.col++
}

// escape consumes one rune of an escape sequence: CSI (ESC [ … final),
// OSC (ESC ] … BEL or ESC \) and two-byte escapes.
func (t *Screen) escape(r rune) {
	seq := t.esc
	switch {
	case len(seq) == 0:
		if r == '[' || r == ']' {
			t.esc = append(seq, byte(r))
			return
		}
		t.esc = nil // a two-byte escape (ESC 7, ESC =, …): dropped
	case seq[0] == ']':
		if r == '\a' || (r == '\\' && seq[len(seq)-1] == '\x1b') || len(seq) > 256 {
			t.esc = nil
			return
		}
		t.esc = append(seq, byte(r&0x7f))
	default: // CSI
		if r >= 0x40 && r <= 0x7e {
			t.csi(string(seq[1:]), r)
			t.esc = nil
			return
		}
		if len(seq) > 32 {
			t.esc = nil
			return
		}
		t.esc = append(seq, byte(r&0x7f))
	}
}

// csi applies one control sequence with parameters p and final byte f.
func (t *Screen) csi(p string, f rune) {
	n := 0
	for _, c := range p {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int(c-'0')
		if n > 1000 {
			n = 1000
		}
	}
	line := t.lines[t.row]
	switch f {
	case 'K': // erase in line
		switch n {
		case 0:
			if t.col < len(line) {
				t.lines[t.row] = line[:t.col]
			}
		case 1:
			for i := 0; i < t.col && i < len(line); i++ {
				line[i] = ' '
			}
		case 2:
			t.lines[t.row] = line[:0]
		}
	case 'D': // cursor back
		t.col = max(0, t.col-max(n, 1))
	case 'C': // cursor forward
		t.col += max(n, 1)
	case 'G': // cursor to column
		t.col = max(n, 1) - 1
	case 'P': // delete characters
		k := max(n, 1)
		if t.col < len(line) {
			k = min(k, len(line)-t.col)
			t.lines[t.row] = append(line[:t.col], line[t.col+k:]...)
		}
	case '@': // insert blanks
		k := max(n, 1)
		if t.col < len(line) {
			ins := make([]rune, k)
			for i := range ins {
				ins[i] = ' '
			}
			t.lines[t.row] = append(line[:t.col], append(ins, line[t.col:]...)...)
		}
	case 'J': // erase display: keep the scroll-back, start below it
		if n == 2 || n == 3 {
			if len(t.lines[t.row]) > 0 {
				t.lines = append(t.lines, nil)
				t.row = len(t.lines) - 1
			}
			t.col = 0
		}
	}
}

// String is the text shown so far, trailing blanks of each line removed.
func (t *Screen) String() string {
	var b strings.Builder
	for i, l := range t.lines {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(strings.TrimRight(string(l), " "))
	}
	return strings.TrimRight(b.String(), "\n")
}
