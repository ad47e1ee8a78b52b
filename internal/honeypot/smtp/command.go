package smtp

import (
	"strings"
)

// command is one command line split the way Postfix's smtpd splits it: a
// verb, then blank-separated arguments in which a <...> group or a quoted
// string stays whole.
type command struct {
	verb string   // upper-cased
	args []string // after the verb
}

// parseCommand splits a command line (without its line ending).
func parseCommand(line string) command {
	toks := tokens(line)
	if len(toks) == 0 {
		return command{}
	}
	return command{verb: strings.ToUpper(toks[0]), args: toks[1:]}
}

// isBlank reports whether b separates tokens of a command line.
func isBlank(b byte) bool { return b == ' ' || b == '\t' }

// tokens splits s on blanks, keeping "..." and <...> groups whole.
func tokens(s string) []string {
	var out []string
	for i := 0; i < len(s); {
		for i < len(s) && isBlank(s[i]) {
			i++
		}
		if i == len(s) {
			break
		}
		start := i
		quoted, angle := false, 0
		for ; i < len(s); i++ {
			c := s[i]
			switch {
			case quoted && c == '\\' && i+1 < len(s):
				i++
			case c == '"':
				quoted = !quoted
			case quoted:
			case c == '<':
				angle++
			case c == '>' && angle > 0:
				angle--
			case isBlank(c) && angle == 0:
				goto end
			}
		}
	end:
		out = append(out, s[start:i])
	}
	return out
}

// pathArgs splits the arguments of MAIL or RCPT: the keyword ("FROM:" or
// "TO:"), the path and its ESMTP parameters. Postfix accepts the path glued
// to the keyword or after blanks ("MAIL FROM: <a@b>"). ok is false when the
// keyword is missing or no path follows it.
func pathArgs(args []string, keyword string) (path string, params []string, ok bool) {
	if len(args) == 0 {
		return "", nil, false
	}
	first := args[0]
	if len(first) < len(keyword) || !strings.EqualFold(first[:len(keyword)], keyword) {
		return "", nil, false
	}
	rest := append([]string{}, args[1:]...)
	if tail := first[len(keyword):]; tail != "" {
		rest = append([]string{tail}, rest...)
	}
	if len(rest) == 0 {
		return "", nil, false
	}
	return rest[0], rest[1:], true
}

// extractAddr takes the address out of a MAIL or RCPT path as Postfix's
// extract_addr does: the <...> brackets and a source route are dropped, and
// an address with blanks, controls or stray brackets outside quotes is bad
// syntax. An empty address (the null sender "<>") is valid here; RCPT
// refuses it itself.
func extractAddr(path string) (string, bool) {
	a := path
	if strings.HasPrefix(a, "<") {
		if !strings.HasSuffix(a, ">") || len(a) < 2 {
			return "", false
		}
		a = a[1 : len(a)-1]
	}
	// A source route (@relay1,@relay2:user@host) is ignored, as RFC 5321 says.
	if strings.HasPrefix(a, "@") {
		if i := strings.IndexByte(a, ':'); i >= 0 {
			a = a[i+1:]
		} else {
			return "", false
		}
	}
	quoted := false
	for i := 0; i < len(a); i++ {
		c := a[i]
		switch {
		case quoted && c == '\\' && i+1 < len(a):
			i++
		case c == '"':
			quoted = !quoted
		case quoted:
		case c <= ' ' || c == 0x7f, c == '<', c == '>', c == '(', c == ')', c == ',', c == ';', c == '\\':
			return "", false
		}
	}
	if quoted {
		return "", false
	}
	return a, true
}

// splitAddr splits an address into its local part and domain at the last
// @ outside quotes; the domain is empty for an unqualified address.
func splitAddr(addr string) (local, domain string) {
	quoted, at := false, -1
	for i := 0; i < len(addr); i++ {
		switch c := addr[i]; {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case c == '@' && !quoted:
			at = i
		}
	}
	if at < 0 {
		return addr, ""
	}
	return addr[:at], addr[at+1:]
}

// param splits an ESMTP parameter into its upper-cased keyword and value.
func param(p string) (key, value string) {
	k, v, _ := strings.Cut(p, "=")
	return strings.ToUpper(k), v
}

// validXtext reports whether s is an RFC 3461 xtext (ENVID, ORCPT values).
func validXtext(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '!' || c > '~' || c == '=' {
			return false
		}
		if c == '+' {
			if i+2 >= len(s) || !isUpperHex(s[i+1]) || !isUpperHex(s[i+2]) {
				return false
			}
			i += 2
		}
	}
	return true
}

func isUpperHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'A' && c <= 'F' }
