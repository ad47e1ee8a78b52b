package ssh

import (
	"io"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"

	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/persona"
)

// maxCommands bounds the command lines of one session; the shell logs out
// after that many.
const maxCommands = 2000

// maxEnv bounds the env requests kept for one session.
const maxEnv = 64

// session is one "session" channel: a shell or an exec request, with the
// pty and environment the client asked for first.
type session struct {
	cn      *conn
	ch      ssh.Channel
	login   persona.Login
	pty     bool
	env     map[string]string
	started bool
}

func newSession(cn *conn, ch ssh.Channel, login persona.Login) *session {
	return &session{cn: cn, ch: ch, login: login, env: map[string]string{}}
}

// serve answers the channel's requests until the channel closes. The shell
// or command runs in its own goroutine, so window changes and signals are
// still answered while it runs; serve waits for it.
func (s *session) serve(reqs <-chan *ssh.Request) {
	var wg sync.WaitGroup
	defer wg.Wait()
	for req := range reqs {
		ok := false
		switch req.Type {
		case "pty-req":
			var p struct {
				Term                string
				Cols, Rows, Wpx, Hp uint32
				Modes               string
			}
			if !s.started && ssh.Unmarshal(req.Payload, &p) == nil {
				s.pty, ok = true, true
				s.env["TERM"] = p.Term
			}
		case "env":
			// Debian's sshd_config has "AcceptEnv LANG LC_*"; others are refused.
			var kv struct{ Name, Value string }
			if !s.started && ssh.Unmarshal(req.Payload, &kv) == nil && len(s.env) < maxEnv &&
				(kv.Name == "LANG" || strings.HasPrefix(kv.Name, "LC_")) {
				s.env[kv.Name], ok = kv.Value, true
			}
		case "window-change":
			ok = true
		case "shell", "exec":
			var cmd struct{ Command string }
			if s.started || req.Type == "exec" && ssh.Unmarshal(req.Payload, &cmd) != nil {
				break
			}
			s.started = true
			if req.WantReply {
				req.Reply(true, nil)
			}
			exec := req.Type == "exec"
			wg.Go(func() { s.run(exec, cmd.Command) })
			continue
		case "subsystem":
			var sub struct{ Name string }
			ssh.Unmarshal(req.Payload, &sub)
			e := s.cn.c.Event(typeSubsystem)
			e.Fields = map[string]any{"name": sub.Name, "username": s.login.User}
			s.cn.c.Emit(e)
		}
		if req.WantReply {
			req.Reply(ok, nil)
		}
	}
}

// run runs the login shell or the exec'd command, then reports the exit
// status and closes the channel.
func (s *session) run(exec bool, command string) {
	mode := modeInteractive
	switch {
	case exec:
		mode = modeExec
	case !s.pty:
		mode = modeStdin
	}
	if exec && isBareShell(command) {
		mode = modeStdin // "ssh host sh" reads its script from stdin
	}
	sh := newShell(shellConfig{
		persona: s.cn.p, drops: s.cn.srv.env.Drops, login: s.login, mode: mode, tty: s.pty, env: s.env,
		srcIP: s.cn.c.Src.Addr().Unmap().String(), dstIP: s.cn.c.Dst.Addr().Unmap().String(),
	})
	var out io.Writer = s.ch
	if s.pty {
		out = crlfWriter{s.ch}
	}
	if mode == modeExec {
		s.execScript(sh, command, out)
	} else {
		s.interactive(sh, out)
	}
	status := struct{ Status uint32 }{uint32(sh.Status())}
	s.ch.SendRequest("exit-status", false, ssh.Marshal(&status))
	s.ch.CloseWrite()
	s.ch.Close()
}

func isBareShell(cmd string) bool {
	switch strings.TrimSpace(cmd) {
	case "sh", "bash", "/bin/sh", "/bin/bash", "/usr/bin/bash", "sh -i", "bash -i", "sh -s", "bash -s":
		return true
	}
	return false
}

// execScript runs the lines of an exec request, one command event each.
func (s *session) execScript(sh *Shell, command string, out io.Writer) {
	pending := ""
	lines := strings.Split(command, "\n")
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
		s.emitCommand(sh, full)
		sh.Run(full, out)
		if sh.Exited() {
			return
		}
	}
}

// interactive is the read-eval-print loop of a login shell.
func (s *session) interactive(sh *Shell, out io.Writer) {
	ed := &lineEditor{r: s.ch}
	if s.pty {
		ed.echo = s.ch // the editor writes its own \r\n
		io.WriteString(out, motd(s.cn.p, sh.cfg.now(), sh.cfg.dstIP))
	}
	pending := ""
	for n := 0; n < maxCommands; {
		if s.pty {
			prompt := sh.Prompt()
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
			if s.pty && err == nil {
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
		s.emitCommand(sh, full)
		sh.Run(full, out)
		if sh.Exited() {
			if s.pty {
				io.WriteString(out, "logout\n")
			}
			return
		}
	}
}

func (s *session) emitCommand(sh *Shell, line string) {
	e := s.cn.c.Event(event.TypeCommand)
	e.Fields = map[string]any{"command": line, "cwd": sh.Cwd(), "username": s.login.User}
	s.cn.c.Emit(e)
}

// crlfWriter turns \n into \r\n, as a pty's onlcr does.
type crlfWriter struct{ w io.Writer }

func (c crlfWriter) Write(p []byte) (int, error) {
	if _, err := c.w.Write([]byte(strings.ReplaceAll(string(p), "\n", "\r\n"))); err != nil {
		return 0, err
	}
	return len(p), nil
}
