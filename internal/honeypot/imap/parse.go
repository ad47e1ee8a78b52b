package imap

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"
)

// Limits of one command, as Dovecot's login process sets them: a longer
// command (literals included) ends the connection.
const (
	maxCommand = 8192
	maxArgs    = 256 // atoms, strings and lists in one command
	maxDepth   = 8   // nesting of parenthesised lists
)

var (
	errTooLong        = errors.New("imap: input buffer full")
	errLiteralTooLong = errors.New("imap: literal size too large")
)

// readCommand reads one command, literals included, as the bytes of its
// lines: a synchronising literal {n} is announced with "+ OK" on w (as
// Dovecot does) before its bytes are read; a non-synchronising one {n+}
// (LITERAL+) is read at once. The result keeps the "{n}\r\n" markers so
// ParseCommand can take the literals out; the final line ending is dropped.
func readCommand(br *bufio.Reader, w *bufio.Writer) ([]byte, error) {
	var buf []byte
	for {
		line, err := readLine(br, maxCommand-len(buf))
		if err != nil {
			return nil, err
		}
		buf = append(buf, line...)
		n, sync, ok := literalAtEnd(line)
		if !ok {
			return buf, nil
		}
		if n > int64(maxCommand-len(buf)-2) {
			return nil, errLiteralTooLong
		}
		if sync {
			w.WriteString("+ OK\r\n")
			if err := w.Flush(); err != nil {
				return nil, err
			}
		}
		buf = append(buf, '\r', '\n')
		start := len(buf)
		buf = append(buf, make([]byte, n)...)
		if _, err := io.ReadFull(br, buf[start:]); err != nil {
			return nil, err
		}
	}
}

// readLine reads up to a LF, at most max bytes, without the line ending.
func readLine(br *bufio.Reader, max int) ([]byte, error) {
	var buf []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(buf)+len(chunk) > max+2 {
			return nil, errTooLong
		}
		buf = append(buf, chunk...)
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			return nil, err
		}
		return bytes.TrimSuffix(buf[:len(buf)-1], []byte{'\r'}), nil
	}
}

// literalAtEnd reports whether line ends with a literal's length, {n} or
// {n+}.
func literalAtEnd(line []byte) (n int64, sync, ok bool) {
	if len(line) < 3 || line[len(line)-1] != '}' {
		return 0, false, false
	}
	open := bytes.LastIndexByte(line, '{')
	if open < 0 {
		return 0, false, false
	}
	digits := line[open+1 : len(line)-1]
	sync = true
	if len(digits) > 0 && digits[len(digits)-1] == '+' {
		digits, sync = digits[:len(digits)-1], false
	}
	if len(digits) == 0 {
		return 0, false, false
	}
	if len(digits) > 10 {
		return 1 << 62, sync, true // absurd: "too large"
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false, false
		}
	}
	n, _ = strconv.ParseInt(string(digits), 10, 64)
	return n, sync, true
}

// Arg is one argument of a command: an atom, a string (quoted or
// literal), NIL, or a parenthesised list.
type Arg struct {
	Kind  ArgKind
	Value string // atom text (with any [section]<partial>) or string contents
	List  []Arg
}

// ArgKind tells what an Arg is.
type ArgKind uint8

// The kinds of Arg.
const (
	Atom ArgKind = iota
	String
	Nil
	List
)

// Command is one parsed IMAP command.
type Command struct {
	Tag  string
	Name string // upper-cased
	Args []Arg
	// Raw is the text after the command name, literals inline.
	Raw string
}

// Parse errors of ParseCommand.
var (
	ErrNoTag         = errors.New("invalid tag")
	ErrNoCommand     = errors.New("invalid command name")
	ErrMissingQuote  = errors.New(`missing '"'`)
	ErrBadArguments  = errors.New("invalid arguments")
	ErrTooManyNested = errors.New("too deeply nested")
)

// ParseCommand parses a command as readCommand returns it.
func ParseCommand(b []byte) (Command, error) {
	p := &parser{b: b}
	tag := p.word()
	if tag == "" || !validTag(tag) {
		return Command{}, ErrNoTag
	}
	cmd := Command{Tag: tag}
	if !p.space() {
		return cmd, ErrNoCommand
	}
	name := p.word()
	if name == "" || !isAtom(name) {
		return cmd, ErrNoCommand
	}
	cmd.Name = strings.ToUpper(name)
	if cmd.Name == "UID" && p.space() {
		sub := p.word()
		if sub == "" {
			return cmd, ErrNoCommand
		}
		cmd.Name += " " + strings.ToUpper(sub)
	}
	if p.i < len(p.b) && p.b[p.i] == ' ' {
		cmd.Raw = string(p.b[p.i+1:])
	}
	args, err := p.args(0, false)
	cmd.Args = args
	return cmd, err
}

type parser struct {
	b     []byte
	i     int
	count int
}

func (p *parser) space() bool {
	if p.i < len(p.b) && p.b[p.i] == ' ' {
		p.i++
		return true
	}
	return false
}

// word reads up to a space or the end.
func (p *parser) word() string {
	start := p.i
	for p.i < len(p.b) && p.b[p.i] != ' ' {
		p.i++
	}
	return string(p.b[start:p.i])
}

// args reads arguments up to the end, or to ')' inside a list.
func (p *parser) args(depth int, inList bool) ([]Arg, error) {
	if depth > maxDepth {
		return nil, ErrTooManyNested
	}
	var out []Arg
	for {
		for p.i < len(p.b) && p.b[p.i] == ' ' {
			p.i++
		}
		if p.i >= len(p.b) {
			if inList {
				return out, ErrBadArguments
			}
			return out, nil
		}
		if p.count++; p.count > maxArgs {
			return out, ErrBadArguments
		}
		switch c := p.b[p.i]; {
		case c == ')':
			if !inList {
				return out, ErrBadArguments
			}
			p.i++
			return out, nil
		case c == '(':
			p.i++
			l, err := p.args(depth+1, true)
			if err != nil {
				return out, err
			}
			out = append(out, Arg{Kind: List, List: l})
		case c == '"':
			s, err := p.quoted()
			if err != nil {
				return out, err
			}
			out = append(out, Arg{Kind: String, Value: s})
		case c == '{':
			s, err := p.literal()
			if err != nil {
				return out, err
			}
			out = append(out, Arg{Kind: String, Value: s})
		default:
			a := p.atom()
			if a == "" {
				return out, ErrBadArguments
			}
			if strings.EqualFold(a, "NIL") {
				out = append(out, Arg{Kind: Nil})
			} else {
				out = append(out, Arg{Kind: Atom, Value: a})
			}
		}
	}
}

func (p *parser) quoted() (string, error) {
	p.i++ // opening quote
	var sb strings.Builder
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			return sb.String(), nil
		case c == '\\' && p.i+1 < len(p.b):
			p.i++
			c = p.b[p.i]
		case c == '\r' || c == '\n':
			return "", ErrMissingQuote
		}
		sb.WriteByte(c)
		p.i++
	}
	return "", ErrMissingQuote
}

func (p *parser) literal() (string, error) {
	end := bytes.IndexByte(p.b[p.i:], '}')
	if end < 0 {
		return "", ErrBadArguments
	}
	digits := strings.TrimSuffix(string(p.b[p.i+1:p.i+end]), "+")
	n, err := strconv.Atoi(digits)
	if err != nil || n < 0 {
		return "", ErrBadArguments
	}
	p.i += end + 1
	if p.i+2 > len(p.b) || p.b[p.i] != '\r' || p.b[p.i+1] != '\n' || p.i+2+n > len(p.b) {
		return "", ErrBadArguments
	}
	p.i += 2
	s := string(p.b[p.i : p.i+n])
	p.i += n
	return s, nil
}

// atom reads an atom; a '[' starts a section that runs to its ']' (spaces
// and parentheses included) and a '<' a partial range, so fetch items like
// BODY.PEEK[HEADER.FIELDS (From)]<0.100> are one atom.
func (p *parser) atom() string {
	start := p.i
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '[':
			end := bytes.IndexByte(p.b[p.i:], ']')
			if end < 0 {
				p.i = len(p.b)
				return string(p.b[start:p.i])
			}
			p.i += end + 1
			continue
		case c == ' ' || c == '(' || c == ')' || c == '"' || c == '{' || c < 0x20 || c == 0x7f:
			return string(p.b[start:p.i])
		}
		p.i++
	}
	return string(p.b[start:p.i])
}

// validTag: any atom character but '+' (RFC 3501 tag).
func validTag(s string) bool { return isAtom(s) && !strings.ContainsRune(s, '+') }

func isAtom(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c <= 0x20, c >= 0x7f, c == '(', c == ')', c == '{', c == '%', c == '*', c == '"', c == '\\', c == ']':
			return false
		}
	}
	return s != ""
}

// seqRange is one range of a sequence set; 0 stands for '*'.
type seqRange struct{ lo, hi uint32 }

// SeqSet is a parsed sequence set (RFC 3501 sequence-set).
type SeqSet []seqRange

// ParseSeqSet parses "1", "1:4", "2,5:*", "*". It refuses zero and empty
// parts.
func ParseSeqSet(s string) (SeqSet, bool) {
	if s == "" || len(s) > 1024 {
		return nil, false
	}
	var out SeqSet
	for part := range strings.SplitSeq(s, ",") {
		lo, hi, isRange := strings.Cut(part, ":")
		a, ok := seqNum(lo)
		if !ok {
			return nil, false
		}
		b := a
		if isRange {
			if b, ok = seqNum(hi); !ok {
				return nil, false
			}
		}
		out = append(out, seqRange{a, b})
	}
	return out, true
}

func seqNum(s string) (uint32, bool) {
	if s == "*" {
		return 0, true
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n == 0 || s[0] == '+' {
		return 0, false
	}
	return uint32(n), true
}

// Contains reports whether n is in the set, with '*' meaning max.
func (s SeqSet) Contains(n, max uint32) bool {
	for _, r := range s {
		lo, hi := r.lo, r.hi
		if lo == 0 {
			lo = max
		}
		if hi == 0 {
			hi = max
		}
		if lo > hi {
			lo, hi = hi, lo
		}
		if n >= lo && n <= hi {
			return true
		}
	}
	return false
}

// Max is the largest number the set names explicitly (ignoring '*').
func (s SeqSet) Max() uint32 {
	var m uint32
	for _, r := range s {
		m = max(m, r.lo, r.hi)
	}
	return m
}
