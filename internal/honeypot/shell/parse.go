package shell

import (
	"errors"
	"fmt"
	"strings"
)

// The parser reads the subset of bash grammar attackers type: words with
// quotes, escapes, $VAR, ${VAR}, $(…) and `…`; redirections; pipelines;
// and lists joined by ; & && || and newlines. Compound commands (if, for,
// while, case, functions) are recognised by their keyword and skipped.

// partKind says how a piece of a word expands.
type partKind uint8

const (
	partLit   partKind = iota // literal text
	partParam                 // $NAME or ${…}: text is what is between the braces
	partSubst                 // $(…) or `…`: text is the inner script
)

type part struct {
	kind partKind
	text string
}

// word is one shell word before expansion. quoted words survive expanding
// to the empty string.
type word struct {
	parts  []part
	quoted bool
}

// redirect is one redirection of a simple command.
type redirect struct {
	fd   int    // 0 for input, 1 or 2 for output
	op   string // "<", "<<<", ">", ">>" or ">&" (dup: target is "1" or "2")
	dest word
}

// simpleCommand is a command name with its arguments and redirections.
type simpleCommand struct {
	words  []word
	redirs []redirect
}

type pipeline []simpleCommand

// listItem is a pipeline and the operator that joins it to the one before
// ("" for the first, ";", "&&" or "||").
type listItem struct {
	op   string
	pipe pipeline
}

type script []listItem

// errIncomplete means the input ends inside a quote, a substitution or
// after an operator: an interactive bash asks for more with PS2.
var errIncomplete = errors.New("incomplete command")

// syntaxError is bash's "syntax error near unexpected token".
type syntaxError struct{ token string }

func (e *syntaxError) Error() string {
	return fmt.Sprintf("syntax error near unexpected token `%s'", e.token)
}

// maxWords bounds the words of one command line, so a hostile line cannot
// make the parser allocate without limit.
const maxWords = 4096

// parseScript parses one or more command lines.
func parseScript(src string) (script, error) {
	p := parser{src: src}
	return p.parse()
}

type parser struct {
	src   string
	i     int
	words int
}

const metaChars = " \t\n;&|<>()"

func (p *parser) parse() (script, error) {
	var (
		out      script
		cur      simpleCommand
		skipCur  bool // cur belongs to a compound command we do not run
		pipe     pipeline
		op       = ""    // operator joining the pipeline being built to the previous one
		pending  = false // && || or | was read and needs a command after it
		afterGrp = false // a ) closed a group: an operator may follow
		depth    = 0     // nesting of compound commands (if … fi, for … done)
	)
	endCommand := func() bool {
		if len(cur.words) == 0 && len(cur.redirs) == 0 {
			return false
		}
		if !skipCur {
			pipe = append(pipe, cur)
		}
		cur, skipCur = simpleCommand{}, false
		return true
	}
	endPipeline := func() {
		if len(pipe) > 0 {
			out = append(out, listItem{op: op, pipe: pipe})
			op = ";"
		}
		pipe = nil
	}
	for {
		p.skipBlanks()
		if p.i >= len(p.src) {
			break
		}
		c := p.src[p.i]
		switch {
		case c == '#':
			for p.i < len(p.src) && p.src[p.i] != '\n' {
				p.i++
			}
		case c == '(' || c == ')':
			// Subshells and groups run in this shell, in order.
			p.i++
			endCommand()
			if !pending {
				endPipeline()
			}
			afterGrp = c == ')'
		case c == '\n' || c == ';' || c == '&' && !p.has("&&") && !p.has("&>"):
			if p.has(";;") {
				return nil, &syntaxError{";;"}
			}
			p.i++
			had := endCommand()
			if c == '\n' {
				if pending {
					continue // a newline after && || | continues the list
				}
			} else if pending || !had && len(pipe) == 0 && !afterGrp {
				return nil, &syntaxError{string(c)}
			}
			endPipeline()
			afterGrp = false
		case p.has("&&") || p.has("||"):
			tok := p.src[p.i : p.i+2]
			p.i += 2
			if !endCommand() && (pending || len(pipe) == 0 && !afterGrp) {
				return nil, &syntaxError{tok}
			}
			endPipeline()
			op, pending, afterGrp = tok, true, false
		case c == '|':
			p.i++
			if p.i < len(p.src) && p.src[p.i] == '&' {
				p.i++
			}
			if !endCommand() && !afterGrp {
				return nil, &syntaxError{"|"}
			}
			pending, afterGrp = true, false
		case p.redirectAhead():
			r, err := p.redirect()
			if err != nil {
				return nil, err
			}
			cur.redirs = append(cur.redirs, r)
			pending = false
		default:
			w, err := p.word()
			if err != nil {
				return nil, err
			}
			if p.words++; p.words > maxWords {
				return nil, &syntaxError{"newline"}
			}
			if len(cur.words) == 0 && !w.quoted {
				switch literalText(w) {
				case "if", "for", "while", "until", "case", "select", "function", "{":
					depth++
				case "fi", "done", "esac", "}":
					if depth > 0 {
						depth--
						skipCur = true
					}
				}
			}
			if depth > 0 {
				skipCur = true
			}
			cur.words = append(cur.words, w)
			pending, afterGrp = false, false
		}
	}
	if pending {
		return nil, errIncomplete
	}
	endCommand()
	endPipeline()
	return out, nil
}

func (p *parser) has(s string) bool { return strings.HasPrefix(p.src[p.i:], s) }

func (p *parser) skipBlanks() {
	for p.i < len(p.src) {
		switch {
		case p.src[p.i] == ' ' || p.src[p.i] == '\t':
			p.i++
		case p.has("\\\n"):
			p.i += 2
		default:
			return
		}
	}
}

// redirectAhead reports whether a redirection operator starts here,
// optionally after a file descriptor digit or &.
func (p *parser) redirectAhead() bool {
	s := p.src[p.i:]
	if len(s) >= 2 && (s[0] >= '0' && s[0] <= '9' || s[0] == '&') && (s[1] == '>' || s[1] == '<') {
		return true
	}
	return len(s) > 0 && (s[0] == '>' || s[0] == '<')
}

func (p *parser) redirect() (redirect, error) {
	r := redirect{fd: 1}
	both := false
	switch c := p.src[p.i]; {
	case c == '&':
		both = true
		p.i++
	case c >= '0' && c <= '9':
		r.fd = int(c - '0')
		p.i++
	}
	switch {
	case p.has("<<<"):
		r.op, r.fd = "<<<", 0
		p.i += 3
	case p.has("<<"):
		// Here-documents are not read; the delimiter is consumed as a file name.
		r.op, r.fd = "<", 0
		p.i += 2
	case p.has("<"):
		r.op, r.fd = "<", 0
		p.i++
	case p.has(">>"):
		r.op = ">>"
		p.i += 2
	case p.has(">&"):
		r.op = ">&"
		p.i += 2
	default: // ">" or ">|"
		r.op = ">"
		p.i++
		if p.has("|") {
			p.i++
		}
	}
	if both {
		r.fd = 3 // stdout and stderr
	}
	p.skipBlanks()
	if p.i >= len(p.src) {
		return r, &syntaxError{"newline"}
	}
	if strings.IndexByte(metaChars, p.src[p.i]) >= 0 {
		tok := string(p.src[p.i])
		if p.src[p.i] == '\n' {
			tok = "newline"
		}
		return r, &syntaxError{tok}
	}
	w, err := p.word()
	if err != nil {
		return r, err
	}
	r.dest = w
	if r.op == ">&" {
		if t := literalText(w); t != "1" && t != "2" {
			// >&file is &>file
			r.op, r.fd = ">", 3
		}
	}
	return r, nil
}

// literalText is the text of a word made of literal parts only.
func literalText(w word) string {
	var b strings.Builder
	for _, pt := range w.parts {
		if pt.kind != partLit {
			return ""
		}
		b.WriteString(pt.text)
	}
	return b.String()
}

// word reads one word at p.i.
func (p *parser) word() (word, error) {
	var (
		w   word
		lit strings.Builder
	)
	flush := func() {
		if lit.Len() > 0 {
			w.parts = append(w.parts, part{partLit, lit.String()})
			lit.Reset()
		}
	}
	for p.i < len(p.src) {
		c := p.src[p.i]
		switch {
		case strings.IndexByte(metaChars, c) >= 0:
			flush()
			return w, nil
		case c == '\\':
			if p.i+1 >= len(p.src) {
				return w, errIncomplete
			}
			if p.src[p.i+1] != '\n' {
				lit.WriteByte(p.src[p.i+1])
			}
			p.i += 2
		case c == '\'':
			end := strings.IndexByte(p.src[p.i+1:], '\'')
			if end < 0 {
				return w, errIncomplete
			}
			lit.WriteString(p.src[p.i+1 : p.i+1+end])
			p.i += end + 2
			w.quoted = true
		case c == '"':
			w.quoted = true
			p.i++
			if err := p.doubleQuoted(&w, &lit, flush); err != nil {
				return w, err
			}
		case c == '$' || c == '`':
			if err := p.expandAt(&w, &lit, flush, c); err != nil {
				return w, err
			}
		default:
			lit.WriteByte(c)
			p.i++
		}
	}
	flush()
	return w, nil
}

// expandAt reads the expansion ($VAR, ${…}, $(…), `…`) at p.i into w, or
// takes c literally when none starts there.
func (p *parser) expandAt(w *word, lit *strings.Builder, flush func(), c byte) error {
	pt, ok, err := p.expansion()
	if err != nil {
		return err
	}
	if !ok {
		lit.WriteByte(c)
		p.i++
		return nil
	}
	flush()
	w.parts = append(w.parts, pt)
	return nil
}

// doubleQuoted reads up to the closing quote; p.i is after the opening one.
func (p *parser) doubleQuoted(w *word, lit *strings.Builder, flush func()) error {
	for p.i < len(p.src) {
		c := p.src[p.i]
		switch c {
		case '"':
			p.i++
			return nil
		case '\\':
			if p.i+1 < len(p.src) && strings.IndexByte("$`\"\\\n", p.src[p.i+1]) >= 0 {
				if p.src[p.i+1] != '\n' {
					lit.WriteByte(p.src[p.i+1])
				}
				p.i += 2
				continue
			}
			lit.WriteByte(c)
			p.i++
		case '$', '`':
			if err := p.expandAt(w, lit, flush, c); err != nil {
				return err
			}
		default:
			lit.WriteByte(c)
			p.i++
		}
	}
	return errIncomplete
}

// expansion reads $NAME, ${…}, $(…), $((…)) or `…` at p.i. ok is false
// when the $ is a literal dollar sign.
func (p *parser) expansion() (part, bool, error) {
	s := p.src[p.i:]
	if s[0] == '`' {
		end := strings.IndexByte(s[1:], '`')
		if end < 0 {
			return part{}, false, errIncomplete
		}
		p.i += end + 2
		return part{partSubst, s[1 : 1+end]}, true, nil
	}
	if len(s) < 2 {
		return part{}, false, nil
	}
	switch c := s[1]; {
	case c == '(':
		end, err := matchParen(s[2:])
		if err != nil {
			return part{}, false, err
		}
		p.i += end + 3
		inner := s[2 : 2+end]
		if strings.HasPrefix(inner, "(") && strings.HasSuffix(inner, ")") {
			// $((arithmetic)) is not evaluated; it expands to 0.
			return part{partLit, "0"}, true, nil
		}
		return part{partSubst, inner}, true, nil
	case c == '{':
		end := strings.IndexByte(s, '}')
		if end < 0 {
			return part{}, false, errIncomplete
		}
		p.i += end + 1
		return part{partParam, s[2:end]}, true, nil
	case isNameStart(c):
		n := 2
		for n < len(s) && isNameChar(s[n]) {
			n++
		}
		p.i += n
		return part{partParam, s[1:n]}, true, nil
	case strings.IndexByte("?$#!@*-0123456789", c) >= 0:
		p.i += 2
		return part{partParam, s[1:2]}, true, nil
	}
	return part{}, false, nil
}

// matchParen finds the ) closing a $( whose body starts s, skipping quotes
// and nested parentheses.
func matchParen(s string) (int, error) {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '\'':
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				return 0, errIncomplete
			}
			i += end + 1
		case '"':
			for i++; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' {
					i++
				}
			}
			if i >= len(s) {
				return 0, errIncomplete
			}
		case '(':
			depth++
		case ')':
			if depth == 0 {
				return i, nil
			}
			depth--
		}
	}
	return 0, errIncomplete
}

func isNameStart(c byte) bool { return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isNameChar(c byte) bool  { return isNameStart(c) || c >= '0' && c <= '9' }
