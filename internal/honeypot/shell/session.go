package shell

import (
	"io"
	"strings"
)

// MaxCommands bounds the command lines of one session; the shell logs out
// after that many.
const MaxCommands = 2000

// Interact is the read-eval-print loop of a login shell, shared by every
// transport (ssh, telnet). It reads lines from in; with a terminal
// (Config.TTY) it prints the message of the day and prompts to out and
// echoes what is typed to echo. onCommand sees each complete command line
// before it runs. It returns when the user logs out or in ends.
func (s *Shell) Interact(in io.Reader, out, echo io.Writer, onCommand func(line string)) {
	ed := &lineEditor{r: in}
	tty := s.cfg.TTY
	if tty {
		ed.echo = echo // the editor writes its own \r\n
		io.WriteString(out, Motd(s.p, s.cfg.Now(), s.cfg.DstIP))
	}
	pending := ""
	for n := 0; n < MaxCommands; {
		if tty {
			prompt := s.Prompt()
			if pending != "" {
				prompt = "> "
			}
			io.WriteString(out, prompt)
		}
		line, ev, err := ed.readLine()
		switch {
		case ev == lineInterrupt:
			pending = ""
			continue
		case ev == lineEOF || err != nil:
			if tty && err == nil {
				io.WriteString(out, "logout\n")
			}
			return
		}
		full := pending + line
		if len(full) < maxLine && Incomplete(full) {
			pending = full + "\n"
			continue
		}
		pending = ""
		if strings.TrimSpace(full) == "" {
			continue
		}
		n++
		onCommand(full)
		s.Run(full, out)
		if s.Exited() {
			if tty {
				io.WriteString(out, "logout\n")
			}
			return
		}
	}
}

// RunLines runs a script given at once (an ssh exec request), one
// onCommand call per complete command line.
func (s *Shell) RunLines(script string, out io.Writer, onCommand func(line string)) {
	pending := ""
	lines := strings.Split(script, "\n")
	for i, line := range lines {
		full := pending + line
		if i < len(lines)-1 && Incomplete(full) {
			pending = full + "\n"
			continue
		}
		pending = ""
		if strings.TrimSpace(full) == "" {
			continue
		}
		onCommand(full)
		s.Run(full, out)
		if s.Exited() {
			return
		}
	}
}

// CRLF turns \n into \r\n on the way to w, as a terminal's onlcr does.
func CRLF(w io.Writer) io.Writer { return crlfWriter{w} }

type crlfWriter struct{ w io.Writer }

func (c crlfWriter) Write(p []byte) (int, error) {
	if _, err := c.w.Write([]byte(strings.ReplaceAll(string(p), "\n", "\r\n"))); err != nil {
		return 0, err
	}
	return len(p), nil
}
