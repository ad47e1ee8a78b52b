package behave

import (
	"math"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/decnet-go/decnet/internal/honeypot/asciicast"
)

// command is one line the attacker entered. Only what the primitives need
// is kept: timings, counters, the first token (bounded, never emitted) and
// labels derived from the line, which is then dropped.
type command struct {
	start, end float64
	first      string // basename of the first token, lower-cased
	tabs       int
	shortcuts  int
	pipes      int
	errored    bool
	scanned    int // output bytes scanned for errors
	carry      string
	help       bool // the line asks for documentation
}

// session is the one-pass digest of a recording (the original's
// SessionContext).
type session struct {
	first, last float64 // relative times of the first and last events
	timed       bool
	exec        bool // an ssh exec request: a marker, no typing
	term        string
	geometry    string

	inputs       int // input chunks
	pasteEvents  int
	pasteBursts  int
	lastPasteEnd float64
	havePaste    bool
	prevInputT   float64
	prevKey      bool // the previous input chunk was a keystroke
	haveInput    bool

	burst      []float64 // intervals of the typing burst being read
	burstCVs   []float64
	burstMeans []float64
	burstIATs  []float64 // every interval inside a kept burst
	tremors    int

	digraphs  map[string][]float64
	digraphN  int
	prevRune  rune
	prevRuneT float64
	haveRune  bool

	// Line editing.
	line        []rune
	lineStart   float64
	inLine      bool
	cur         command
	esc         int // 0 none, 1 after ESC, 2 in CSI, 3 after ESC O
	lastCR      bool
	typed       int // printable characters typed in keystroke-sized chunks
	corrections int
	eof         bool // Ctrl-D on an empty line

	commands []command
	owner    int // index of the command output is attributed to, or -1

	// Labels from command lines.
	tokens    map[string]struct{} // first tokens of every segment
	dialects  map[string]int
	objective int // rank of the strongest objective seen
	cleanup   int // rank of the strongest cleanup seen
	landing   string
	selfKill  bool
	locale    string
	scripts   map[string]int // non-Latin letters typed, by script
}

func newSession() *session {
	return &session{
		digraphs: map[string][]float64{}, tokens: map[string]struct{}{}, dialects: map[string]int{},
		scripts: map[string]int{}, owner: -1,
	}
}

// digest reads the recording once.
func digest(h asciicast.Header, events []asciicast.Event) *session {
	s := newSession()
	s.term = h.Env["TERM"]
	if h.Width > 0 && h.Height > 0 {
		s.geometry = itoa(h.Width) + "x" + itoa(h.Height)
	}
	if loc := localeFromEnv(h.Env); loc != "" {
		s.locale = loc
	}
	if len(events) > maxEvents {
		events = events[:maxEvents]
	}
	t := 0.0
	for _, ev := range events {
		// Trust no clock: a time that is not a finite, non-negative number
		// keeps the previous one.
		if !math.IsNaN(ev.Time) && !math.IsInf(ev.Time, 0) && ev.Time >= 0 {
			t = ev.Time
		}
		if !s.timed {
			s.first, s.timed = t, true
		}
		s.last = t
		switch ev.Code {
		case asciicast.Input:
			s.input(t, ev.Data)
		case asciicast.Output:
			s.output(ev.Data)
		case asciicast.Resize:
			if g, ok := parseGeometry(ev.Data); ok {
				s.geometry = g
			}
		case asciicast.Marker:
			if cmd, ok := strings.CutPrefix(ev.Data, "exec: "); ok && !s.exec {
				s.exec = true
				s.execCommand(t, cmd)
			}
		}
	}
	s.closeBurst()
	return s
}

// input folds one input chunk: its timing, then its characters.
func (s *session) input(t float64, data string) {
	if data == "" {
		return
	}
	s.inputs++
	s.owner = -1
	n := utf8.RuneCountInString(data)
	key := n <= 3 || isKeySequence(data)
	paste := !key && n >= pasteMinChars

	if s.haveInput {
		iat := math.Max(0, t-s.prevInputT)
		switch {
		case !key || !s.prevKey || iat > thinkPauseS:
			s.closeBurst()
		case len(s.burst) < maxIATs:
			s.burst = append(s.burst, iat)
		}
	}
	s.prevInputT, s.prevKey, s.haveInput = t, key, true

	if paste {
		s.pasteEvents++
		if !s.havePaste || t-s.lastPasteEnd > pasteMergeGapS {
			s.pasteBursts++
		}
		s.lastPasteEnd, s.havePaste = t, true
	}

	// Digraph flight times: consecutive single-character chunks only.
	if n == 1 {
		r, _ := utf8.DecodeRuneInString(data)
		if s.haveRune {
			if dt := t - s.prevRuneT; dt > 0 && dt <= digraphMaxDT {
				s.addDigraph(s.prevRune, r, dt)
			}
		}
		s.prevRune, s.prevRuneT, s.haveRune = r, t, true
	} else {
		s.haveRune = false
	}

	for _, r := range data {
		s.char(t, r, !paste)
	}
}

func (s *session) addDigraph(a, b rune, dt float64) {
	k := string(a) + string(b)
	v, ok := s.digraphs[k]
	if !ok && len(s.digraphs) >= 4096 {
		return
	}
	if len(v) < 256 {
		s.digraphs[k] = append(v, dt)
		s.digraphN++
	}
}

// closeBurst ends the typing burst being read, keeping it when it is long
// enough.
func (s *session) closeBurst() {
	b := s.burst
	s.burst = s.burst[:0]
	if len(b) < minBurstIATs {
		return
	}
	mean, sd := meanStdev(b)
	if mean <= 0 {
		s.burstCVs = append(s.burstCVs, 0)
	} else {
		s.burstCVs = append(s.burstCVs, sd/mean)
	}
	s.burstMeans = append(s.burstMeans, mean)
	for _, x := range b {
		if x < tremorIATS {
			s.tremors++
		}
		if len(s.burstIATs) < maxIATs {
			s.burstIATs = append(s.burstIATs, x)
		}
	}
}

// char applies one typed character to the line being edited, the way
// readline would.
func (s *session) char(t float64, r rune, typedByHand bool) {
	switch s.esc {
	case 1:
		switch r {
		case '[':
			s.esc = 2
		case 'O':
			s.esc = 3
		default: // Alt-key
			s.esc = 0
			s.cur.shortcuts++
		}
		return
	case 2:
		if r >= 0x40 && r <= 0x7e {
			s.esc = 0
			s.cur.shortcuts++ // arrows, Home/End, Delete…
		} else if r < 0x20 || r > 0x7e {
			s.esc = 0
		}
		return
	case 3:
		s.esc = 0
		s.cur.shortcuts++
		return
	}
	cr := s.lastCR
	s.lastCR = r == '\r'
	if r == '\n' && cr {
		return // CRLF is one Enter
	}
	if !s.inLine && r != '\r' && r != '\n' {
		s.inLine, s.lineStart = true, t
	}
	switch r {
	case '\r', '\n':
		s.endLine(t)
	case 0x7f, 0x08: // backspace
		s.corrections++
		if len(s.line) > 0 {
			s.line = s.line[:len(s.line)-1]
		}
	case 0x15: // Ctrl-U: kill the line
		s.corrections++
		s.cur.shortcuts++
		s.line = s.line[:0]
	case 0x17: // Ctrl-W: rub out a word
		s.corrections++
		s.cur.shortcuts++
		s.line = rubWord(s.line)
	case 0x0b: // Ctrl-K
		s.corrections++
		s.cur.shortcuts++
	case 0x01, 0x05, 0x02, 0x06, 0x0c, 0x0e, 0x10, 0x12, 0x19: // ^A ^E ^B ^F ^L ^N ^P ^R ^Y
		s.cur.shortcuts++
	case 0x03: // Ctrl-C abandons the line
		s.line = s.line[:0]
		s.inLine = false
		s.cur = command{}
	case 0x04:
		if len(s.line) == 0 {
			s.eof = true
		}
	case 0x1b:
		s.esc = 1
	case '\t':
		s.cur.tabs++
	default:
		if r < 0x20 {
			return
		}
		if typedByHand {
			s.typed++
		}
		if len(s.line) < maxLineRunes {
			s.line = append(s.line, r)
		}
		if unicode.IsLetter(r) && r >= 0x250 {
			for _, sc := range scriptTables {
				if unicode.Is(sc.table, r) {
					s.scripts[sc.tag]++
					break
				}
			}
		}
	}
}

// endLine closes the line being edited into a command.
func (s *session) endLine(t float64) {
	line := strings.TrimSpace(string(s.line))
	start := s.lineStart
	cur := s.cur
	s.line, s.inLine, s.cur = s.line[:0], false, command{}
	if line == "" {
		return
	}
	s.eof = false
	cur.start, cur.end = start, t
	s.addCommand(cur, line)
	s.owner = len(s.commands) - 1
}

// execCommand records the command of an exec request.
func (s *session) execCommand(t float64, line string) {
	if len(line) > maxLineRunes*4 {
		line = line[:maxLineRunes*4]
	}
	line = strings.TrimSpace(strings.ToValidUTF8(line, "\uFFFD"))
	if line == "" {
		return
	}
	s.addCommand(command{start: t, end: t}, line)
	s.owner = len(s.commands) - 1
}

func (s *session) addCommand(c command, line string) {
	if len(s.commands) >= maxCommands {
		return
	}
	c.first = firstToken(line)
	c.pipes = pipeDepth(line)
	c.help = c.first == "man" || c.first == "help" || c.first == "info" || strings.Contains(line, "--help")
	s.classify(line, c.first, len(s.commands) == 0)
	s.commands = append(s.commands, c)
}

// output scans what the shell printed after a command for the signs of
// an error.
func (s *session) output(data string) {
	if s.owner < 0 {
		return
	}
	c := &s.commands[s.owner]
	if c.errored || c.scanned >= maxOutputScan {
		return
	}
	if room := maxOutputScan - c.scanned; len(data) > room {
		data = data[:room]
	}
	c.scanned += len(data)
	text := c.carry + data
	for _, m := range errorMarkers {
		if strings.Contains(text, m) {
			c.errored = true
			c.carry = ""
			return
		}
	}
	if len(text) > 48 {
		text = text[len(text)-48:]
	}
	c.carry = text
}

// errorMarkers are the shell messages that mark a failed command (spec
// §3.4).
var errorMarkers = []string{
	"command not found", "No such file or directory", "Permission denied", ": cannot ",
	"Operation not permitted", "syntax error near unexpected token",
}

// isKeySequence reports whether data is exactly one escape sequence: a
// single key press (arrow, Home, F-key, Alt-letter), not a paste.
func isKeySequence(data string) bool {
	if len(data) < 2 || len(data) > 8 || data[0] != 0x1b {
		return false
	}
	switch data[1] {
	case '[':
		for i := 2; i < len(data); i++ {
			c := data[i]
			if c >= 0x40 && c <= 0x7e {
				return i == len(data)-1
			}
			if c < 0x20 || c > 0x3f {
				return false
			}
		}
		return false
	case 'O':
		return len(data) == 3
	default:
		return len(data) == 2
	}
}

func rubWord(line []rune) []rune {
	i := len(line)
	for i > 0 && line[i-1] == ' ' {
		i--
	}
	for i > 0 && line[i-1] != ' ' {
		i--
	}
	return line[:i]
}

// firstToken is the base name of a line's first word, lower-cased and
// bounded.
func firstToken(line string) string {
	f := line
	if i := strings.IndexAny(f, " \t;|&"); i >= 0 {
		f = f[:i]
	}
	f = strings.Trim(path.Base(f), "\"'`()")
	if len(f) > maxTokenBytes {
		f = f[:maxTokenBytes]
	}
	return strings.ToLower(f)
}

// segments splits a line into its simple commands (on ; & | and
// newlines), ignoring quoting: good enough for a first token each.
func segments(line string) []string {
	return strings.FieldsFunc(line, func(r rune) bool { return r == ';' || r == '&' || r == '|' || r == '\n' })
}

// pipeDepth counts the pipes (|, not ||) in a line outside quotes.
func pipeDepth(line string) int {
	n := 0
	var quote byte
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '|':
			if i+1 < len(line) && line[i+1] == '|' {
				i++
				continue
			}
			n++
		}
	}
	return n
}

func parseGeometry(d string) (string, bool) {
	c, r, ok := strings.Cut(d, "x")
	if !ok || len(c) == 0 || len(r) == 0 || len(c) > 5 || len(r) > 5 {
		return "", false
	}
	for _, x := range c + r {
		if x < '0' || x > '9' {
			return "", false
		}
	}
	return d, true
}

var scriptTables = []struct {
	tag   string
	table *unicode.RangeTable
}{
	{"Cyrl", unicode.Cyrillic}, {"Arab", unicode.Arabic}, {"Grek", unicode.Greek}, {"Hani", unicode.Han},
	{"Hang", unicode.Hangul}, {"Hebr", unicode.Hebrew}, {"Thai", unicode.Thai}, {"Deva", unicode.Devanagari},
	{"Jpan", unicode.Hiragana}, {"Jpan", unicode.Katakana},
}

func itoa(n int) string {
	if n < 0 || n > 1<<20 {
		return "0"
	}
	var b [8]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}
