package ssh

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"

	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/honeypot"
	"github.com/decnet-go/decnet/internal/honeypot/asciicast"
	"github.com/decnet-go/decnet/internal/honeypot/shell"
	"github.com/decnet-go/decnet/internal/persona"
)

// maxEnv bounds the env requests kept for one session.
const maxEnv = 64

// maxKeepInShell is how much of one upload the session's filesystem keeps
// (the artifact keeps it all, up to honeypot.DefaultMaxArtifact).
const maxKeepInShell = 1 << 20

// Event types of sessions.
const ()

// session is one "session" channel: a shell, an exec request or a
// subsystem, with the pty and environment the client asked for first.
type session struct {
	cn      *conn
	ch      ssh.Channel
	login   persona.Login
	pty     bool
	term    string
	cols    int
	rows    int
	env     map[string]string
	started bool

	mu  sync.Mutex
	rec *asciicast.Session // the recording, once the shell runs
}

func newSession(cn *conn, ch ssh.Channel, login persona.Login) *session {
	return &session{cn: cn, ch: ch, login: login, env: map[string]string{}, cols: 80, rows: 24}
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
				s.term = p.Term
				s.cols, s.rows = termSize(p.Cols, 80), termSize(p.Rows, 24)
			}
		case "env":
			// Debian's sshd_config has "AcceptEnv LANG LC_*"; others are refused.
			var kv struct{ Name, Value string }
			if !s.started && ssh.Unmarshal(req.Payload, &kv) == nil && len(s.env) < maxEnv &&
				(kv.Name == "LANG" || strings.HasPrefix(kv.Name, "LC_")) {
				s.env[kv.Name], ok = kv.Value, true
			}
		case "window-change":
			var w struct{ Cols, Rows, Wpx, Hpx uint32 }
			if ssh.Unmarshal(req.Payload, &w) == nil {
				s.mu.Lock()
				if s.rec != nil {
					s.rec.Resize(termSize(w.Cols, 80), termSize(w.Rows, 24))
				}
				s.mu.Unlock()
			}
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
			if sub.Name == "sftp" && !s.started {
				s.started, ok = true, true
				if req.WantReply {
					req.Reply(true, nil)
				}
				wg.Go(s.runSFTP)
				continue
			}
		}
		if req.WantReply {
			req.Reply(ok, nil)
		}
	}
}

// termSize is a terminal dimension from the client, or def when it gave
// none or an absurd one.
func termSize(v uint32, def int) int {
	if v == 0 || v > 1000 {
		return def
	}
	return int(v)
}

// newShell starts the emulated bash of this session.
func (s *session) newShell(mode shell.Mode) *shell.Shell {
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
	return shell.New(shell.Config{
		Persona: s.cn.p, Drops: s.cn.srv.env.Drops, Login: s.login, Mode: mode, TTY: s.pty, Env: env,
		SrcIP: src.Addr().Unmap().String(), DstIP: dst.Addr().Unmap().String(),
		OnDownload: func(d shell.Download) (shell.Fetched, error) { return s.cn.download(d, s.login.User) },
	})
}

// run runs the login shell or the exec'd command, then reports the exit
// status and closes the channel.
func (s *session) run(exec bool, command string) {
	if exec {
		if c, ok := parseSCPCommand(command); ok {
			s.emitCommandLine(command, s.login.Home)
			s.exit(s.runSCP(c))
			return
		}
	}
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
	sh := s.newShell(mode)
	var in io.Reader = s.ch
	var raw io.Writer = s.ch
	rec := s.startRecording(exec, command)
	if rec != nil {
		in, raw = rec.Reader(s.ch), rec.Writer(s.ch)
	}
	out := raw
	if s.pty {
		out = shell.CRLF(raw)
	}
	commands := 0
	onCommand := func(line string) { commands++; s.emitCommand(sh, line) }
	if mode == shell.Exec {
		sh.RunLines(command, out, onCommand)
	} else {
		sh.Interact(in, out, raw, onCommand)
	}
	s.stopRecording(rec, commands)
	s.exit(sh.Status())
}

// exit reports the exit status and closes the channel.
func (s *session) exit(code int) {
	status := struct{ Status uint32 }{uint32(code)}
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

func (s *session) emitCommand(sh *shell.Shell, line string) { s.emitCommandLine(line, sh.Cwd()) }

func (s *session) emitCommandLine(line, cwd string) {
	e := s.cn.c.Event(event.TypeCommand)
	e.Fields = map[string]any{"command": line, "cwd": cwd, "username": s.login.User}
	s.cn.c.Emit(e)
}

// Recording.

// startRecording opens this shell's recording under StateDir/transcripts,
// or returns nil (with a session_skipped event when it could not).
func (s *session) startRecording(exec bool, command string) *asciicast.Session {
	dir := s.cn.srv.env.StateDir
	if dir == "" {
		return nil
	}
	rec, err := asciicast.StartSession(dir, s.term, s.cols, s.rows)
	if err != nil {
		e := s.cn.c.Event(asciicast.TypeSessionSkipped)
		e.Fields = map[string]any{"reason": "shard_open_failed", "error": err.Error(), "username": s.login.User}
		s.cn.c.Emit(e)
		return nil
	}
	if exec {
		rec.Mark("exec: " + command)
	}
	s.mu.Lock()
	s.rec = rec
	s.mu.Unlock()
	return rec
}

// stopRecording closes the recording and emits session_recorded, with
// what the pipeline needs to publish attacker.session.ended.
func (s *session) stopRecording(rec *asciicast.Session, commands int) {
	if rec == nil {
		return
	}
	s.mu.Lock()
	s.rec = nil
	s.mu.Unlock()
	e := s.cn.c.Event(asciicast.TypeSessionRecorded)
	e.Fields = rec.Finish("ssh")
	e.Fields["username"], e.Fields["commands"], e.Fields["tty"] = s.login.User, commands, s.pty
	e.Fields["width"], e.Fields["height"] = s.cols, s.rows
	s.cn.c.Emit(e)
}

// File transfer.

// runSCP runs "scp -t" or "scp -f" over the channel and returns its exit
// status.
func (s *session) runSCP(c scpCommand) int {
	tr := s.newShell(shell.Exec).Transfer()
	sc := &scpSession{
		r: bufio.NewReaderSize(s.ch, 4096), w: s.ch, fs: tr,
		store: func(orig string, r io.Reader, size int64, mode uint32) error {
			return s.cn.keepUpload(tr, s.login.User, "scp", orig, r, size, mode)
		},
		sent: func(orig string, size int64) { s.cn.emitSent(s.login.User, "scp", orig, size) },
	}
	if c.sink {
		return sc.sink(c)
	}
	return sc.source(c)
}

// runSFTP serves the sftp subsystem, then closes the channel.
func (s *session) runSFTP() {
	tr := s.newShell(shell.Exec).Transfer()
	srv := &sftpServer{
		r: s.ch, w: s.ch, fs: tr, maxUpload: honeypot.DefaultMaxArtifact,
		tmpDir: s.cn.srv.env.Artifacts().Root,
		upload: func(orig string, f *os.File, size int64, mode uint32) error {
			return s.cn.keepUpload(tr, s.login.User, "sftp", orig, io.LimitReader(f, size), size, mode)
		},
		sent: func(orig string, size int64) { s.cn.emitSent(s.login.User, "sftp", orig, size) },
	}
	if s.cn.srv.env.StateDir == "" {
		srv.tmpDir = os.TempDir()
	}
	srv.serve()
	s.exit(0)
}

// keepUpload stores an uploaded file as an artifact, emits file_captured
// and puts the file (its first maxKeepInShell bytes) in the session's
// filesystem. r is drained whatever happens.
func (cn *conn) keepUpload(tr *shell.Transfer, user, method, orig string, r io.Reader, size int64, mode uint32) error {
	keep := &cappedBuffer{max: maxKeepInShell}
	tee := io.TeeReader(r, keep)
	received := size
	if cn.srv.env.StateDir != "" {
		art, err := cn.srv.env.Artifacts().Store(orig, tee)
		if err != nil {
			cn.log().Warn("ssh: keeping an upload failed", "error", err, "path", orig)
			io.Copy(io.Discard, tee)
		} else {
			received = art.Received
			e := cn.c.Event(event.TypeFileCaptured)
			e.Fields = art.Fields(tr.Abs(orig))
			e.Fields["username"] = user
			e.Fields["method"] = method
			cn.c.Emit(e)
		}
	} else {
		io.Copy(io.Discard, tee)
	}
	return tr.WriteFile(orig, keep.Bytes(), received, mode)
}

func (cn *conn) emitSent(user, method, orig string, size int64) {
	e := cn.c.Event(typeFileSent)
	e.Fields = map[string]any{"path": orig, "size": size, "method": method, "username": user}
	cn.c.Emit(e)
}

func (cn *conn) log() *slog.Logger {
	if cn.srv.env.Log != nil {
		return cn.srv.env.Log
	}
	return slog.New(slog.DiscardHandler)
}

// cappedBuffer keeps the first max bytes written to it and counts the rest.
type cappedBuffer struct {
	max int
	b   bytes.Buffer
}

func (c *cappedBuffer) Write(p []byte) (int, error) {
	if room := c.max - c.b.Len(); room > 0 {
		c.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (c *cappedBuffer) Bytes() []byte { return c.b.Bytes() }

// Downloads.

var errDownloadsOff = errors.New("downloads are disabled")

// download reports a download tool's request and, when the operator
// allows it, fetches the URL and keeps the payload.
func (cn *conn) download(d shell.Download, user string) (shell.Fetched, error) {
	f := cn.srv.fetch
	e := cn.c.Event(typeDownload)
	e.Fields = map[string]any{"url": d.URL, "tool": d.Tool, "username": user, "cwd": d.Cwd}
	defer func() { cn.c.Emit(e) }()
	if f == nil || !f.enabled {
		e.Fields["outcome"] = "blocked"
		return shell.Fetched{}, errDownloadsOff
	}
	res, err := f.fetch(cn.ctx, d.URL, d.Tool, cn.p.Distro.Slug)
	if err != nil {
		e.Fields["outcome"] = "failed"
		e.Fields["error"] = err.Error()
		return shell.Fetched{}, err
	}
	e.Fields["outcome"] = "fetched"
	e.Fields["http_status"] = res.Status
	if res.Status/100 == 2 && cn.srv.env.StateDir != "" {
		arts := cn.srv.env.Artifacts()
		arts.MaxSize = f.max
		art, err := arts.Store(d.URL, bytes.NewReader(res.Body))
		if err != nil {
			cn.log().Warn("ssh: keeping a download failed", "error", err, "url", d.URL)
			return res, nil
		}
		e.Fields["stored_as"] = art.StoredAs
		e.Fields["sha256"] = art.SHA256
		fc := cn.c.Event(event.TypeFileCaptured)
		fc.Fields = art.Fields(d.URL)
		fc.Fields["username"] = user
		fc.Fields["method"] = d.Tool
		fc.Fields["url"] = d.URL
		cn.c.Emit(fc)
	}
	return res, nil
}
