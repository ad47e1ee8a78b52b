package pop3

import (
	"bufio"
	"bytes"
	"errors"
	"strings"
)

// maxLine is the longest command line accepted, as Dovecot's login
// process's input buffer; a longer line ends the connection.
const maxLine = 4096

// errLineTooLong is a command line longer than maxLine.
var errLineTooLong = errors.New("pop3: input line too long")

// readLine reads one command line without its line ending (CRLF or a bare
// LF, which Dovecot also accepts). It never buffers more than maxLine bytes.
func readLine(br *bufio.Reader) (string, error) {
	var buf []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(buf)+len(chunk) > maxLine+2 {
			return "", errLineTooLong
		}
		buf = append(buf, chunk...)
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			return "", err
		}
		buf = bytes.TrimSuffix(buf[:len(buf)-1], []byte{'\r'})
		return string(buf), nil
	}
}

// Command is one parsed POP3 command line.
type Command struct {
	Name string // upper-cased command word
	Args string // everything after the first space, verbatim
}

// ParseCommand splits a command line as Dovecot does: the command word up
// to the first space, case-insensitive, and the rest verbatim (a password
// may hold spaces).
func ParseCommand(line string) Command {
	name, args, _ := strings.Cut(line, " ")
	return Command{Name: strings.ToUpper(name), Args: args}
}

// msgNum parses the message number at the start of args as Dovecot's
// get_msgnum does: it returns the number, what follows it, and an error
// text for "-ERR " when args does not start with a usable number.
func msgNum(args string) (n int, rest string, errText string) {
	if args == "" || args[0] < '0' || args[0] > '9' {
		return 0, "", "Invalid message number: " + args
	}
	i := 0
	for i < len(args) && args[i] >= '0' && args[i] <= '9' {
		n = n*10 + int(args[i]-'0')
		if n > 1<<31-1 {
			// Dovecot prints what it could not parse past: nothing.
			return 0, "", "Message number too large: "
		}
		i++
	}
	return n, args[i:], ""
}
