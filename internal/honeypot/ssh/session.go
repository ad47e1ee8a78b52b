package ssh

import (
	"fmt"
	"io"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"

	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/honeypot/shell"
	"github.com/decnet-go/decnet/internal/persona"
)

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
	mode := shell.Interactive
	switch {
	case exec:
		mode = shell.Exec
	case !s.pty:
		mode = shell.Stdin
	}
	if exec && isBareShell(command) {
		mode = shell.Stdin // "ssh host sh" reads its script from stdin
	}
	src, dst := s.cn.c.Src, s.cn.c.Dst
	env := map[string]string{
		"SSH_CLIENT":     fmt.Sprintf("%s %d %d", src.Addr().Unmap(), src.Port(), dst.Port()),
		"SSH_CONNECTION": fmt.Sprintf("%s %d %s %d", src.Addr().Unmap(), src.Port(), dst.Addr().Unmap(), dst.Port()),
	}
	if s.pty {
		env["SSH_TTY"] = "/dev/pts/0"
	}
	for k, v := range s.env {
		env[k] = v
	}
	sh := shell.New(shell.Config{
		Persona: s.cn.p, Drops: s.cn.srv.env.Drops, Login: s.login, Mode: mode, TTY: s.pty, Env: env,
		SrcIP: src.Addr().Unmap().String(), DstIP: dst.Addr().Unmap().String(),
	})
	var out io.Writer = s.ch
	if s.pty {
		out = shell.CRLF(s.ch)
	}
	onCommand := func(line string) { s.emitCommand(sh, line) }
	if mode == shell.Exec {
		sh.RunLines(command, out, onCommand)
	} else {
		sh.Interact(s.ch, out, s.ch, onCommand)
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

func (s *session) emitCommand(sh *shell.Shell, line string) {
	e := s.cn.c.Event(event.TypeCommand)
	e.Fields = map[string]any{"command": line, "cwd": sh.Cwd(), "username": s.login.User}
	s.cn.c.Emit(e)
}
