package ftp

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/netip"
	"path"
	"strings"
	"syscall"
	"time"

	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/honeypot"
	"github.com/decnet-go/decnet/internal/honeypot/shell"
)

// server holds what every connection of one decky shares.
type server struct {
	env honeypot.Env
	cfg config
}

// session is one control connection.
type session struct {
	srv *server
	fl  *flavor
	c   *honeypot.Conn
	ctx context.Context
	r   *bufio.Reader

	user    string // the name USER gave; "" before it
	login   string // the account acting on files once logged in
	anon    bool
	root    string // the directory the session is locked into ("" for none)
	cwd     string // as the client sees it
	fs      *shell.FileSystem
	binary  bool
	rest    int64
	rnfr    string // path RNFR named, awaiting RNTO
	fails   int
	data    dataChannel
	lastCmd struct {
		code  int
		path  string
		extra map[string]any
	}
	quit bool
}

// handle serves one control connection until it closes.
func (srv *server) handle(ctx context.Context, c *honeypot.Conn) {
	c.EmitConnect()
	defer c.EmitDisconnect()
	s := &session{srv: srv, fl: srv.cfg.fl, c: c, ctx: ctx, r: bufio.NewReaderSize(c, 1024), cwd: "/"}
	defer s.data.close()
	banner := srv.cfg.banner
	if banner == "" {
		banner = s.fl.greeting(srv.env.Persona, "::ffff:"+c.Dst.Addr().Unmap().String())
		if c.Dst.Addr().Unmap().Is6() {
			banner = s.fl.greeting(srv.env.Persona, c.Dst.Addr().String())
		}
	}
	s.reply("220 " + banner)
	for !s.quit {
		line, err := s.readLine()
		if errors.Is(err, errLineTooLong) {
			s.reply(s.fl.lineTooLong)
			continue
		}
		if err != nil {
			var ne interface{ Timeout() bool }
			if errors.As(err, &ne) && ne.Timeout() && ctx.Err() == nil {
				s.reply(s.fl.idleTimeout)
			}
			return
		}
		s.command(line)
	}
}

var errLineTooLong = errors.New("ftp: command line too long")

// readLine reads one control line, without its CR LF, at most maxLine
// bytes; a longer line is read to its end and refused.
func (s *session) readLine() (string, error) {
	var b []byte
	for {
		chunk, err := s.r.ReadSlice('\n')
		if len(b)+len(chunk) <= maxLine {
			b = append(b, chunk...)
		} else {
			b = b[:maxLine+1]
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			return "", err
		}
		if len(b) > maxLine {
			return "", errLineTooLong
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
}

// reply sends one answer line and remembers its code for the command event.
func (s *session) reply(line string) {
	if len(line) >= 3 {
		code := 0
		fmt.Sscanf(line[:3], "%d", &code)
		s.lastCmd.code = code
	}
	io.WriteString(s.c, line+"\r\n")
}

// msg formats a flavor's text; texts without verbs are used as they are.
func msg(format string, args ...any) string {
	if !strings.Contains(format, "%") {
		return format
	}
	return fmt.Sprintf(format, args...)
}

// command runs one control line and reports it.
func (s *session) command(line string) {
	verb, arg := parseCommand(line)
	s.lastCmd.code, s.lastCmd.path, s.lastCmd.extra = 0, "", nil
	if verb == "" && arg == "" && s.login == "" && s.fl.name == "vsftpd" {
		return // vsftpd ignores empty lines before login, "to avoid NAT device bugs"
	}
	if s.login == "" {
		s.preLogin(verb, arg)
	} else {
		s.postLogin(verb, arg)
	}
	if verb == "PASS" {
		return // the login_attempt event carries it
	}
	e := s.c.Event(event.TypeCommand)
	e.Fields = map[string]any{"command": verb, "arg": arg, "code": s.lastCmd.code, "logged_in": s.login != ""}
	if s.lastCmd.path != "" {
		e.Fields["path"] = s.lastCmd.path
	}
	if s.login != "" {
		e.Fields["username"] = s.login
	}
	for k, v := range s.lastCmd.extra {
		e.Fields[k] = v
	}
	s.c.Emit(e)
}

func (s *session) preLogin(verb, arg string) {
	switch verb {
	case "USER":
		s.user = arg
		if s.isAnonymous(arg) && s.srv.cfg.anonymous {
			s.reply(s.fl.anonUserOK)
			return
		}
		s.reply(msg(s.fl.userOK, arg))
	case "PASS":
		s.pass(arg)
	case "QUIT":
		s.reply(s.fl.goodbye)
		s.quit = true
	case "FEAT":
		s.feat()
	case "OPTS":
		s.opts(arg)
	default:
		s.reply(s.fl.needLogin)
	}
}

func (s *session) isAnonymous(user string) bool {
	u := strings.ToUpper(user)
	return u == "FTP" || u == "ANONYMOUS"
}

// pass checks a login: anonymous when allowed, else the persona's weak
// passwords. A failure waits like PAM does, and the third ends the
// connection, as vsftpd's max_login_fails.
func (s *session) pass(pw string) {
	if s.user == "" {
		s.reply(s.fl.passNoUser)
		return
	}
	user := s.user
	s.user = ""
	anon := s.isAnonymous(user) && s.srv.cfg.anonymous
	p := s.srv.env.Persona
	l, ok := p.Accepts(user, pw)
	if anon {
		ok = true
	}
	outcome := event.OutcomeFailure
	if ok {
		outcome = event.OutcomeSuccess
	}
	e := s.c.Event(event.TypeLoginAttempt)
	e.Fields = map[string]any{"username": user, "anonymous": anon}
	e.Credential = event.NewCredential(user, event.SecretPlaintext, []byte(pw), outcome)
	s.c.Emit(e)
	if !ok {
		s.sleep(failDelay(s.fl.failDelay, s.fl.pamDelay))
		s.reply(s.fl.loginFailed)
		if s.fails++; s.fails >= s.fl.maxLoginFails {
			s.quit = true
		}
		return
	}
	s.fs = shell.NewFileSystem(p, s.srv.env.Drops)
	if anon {
		s.anon, s.login, s.root = true, s.fl.anonUser, s.fl.anonRoot
		// The package creates the anonymous root; an operator's drops may
		// fill it.
		if _, err := s.fs.Stat("root", s.root); err != nil {
			s.fs.Mkdir("root", s.root, 0o755)
		}
		s.reply(s.fl.anonPassOK)
		return
	}
	s.login = l.User
	s.cwd = l.Home
	if _, err := s.fs.Stat(l.User, l.Home); err != nil {
		s.cwd = "/"
	}
	s.reply(msg(s.fl.passOK, l.User))
}

// failDelay is fixed plus jittered with ±25 %, both scaled by
// failDelayScale (tests set it to 0).
func failDelay(fixed, jittered time.Duration) time.Duration {
	fixed = time.Duration(float64(fixed) * failDelayScale)
	jittered = time.Duration(float64(jittered) * failDelayScale)
	if jittered > 0 {
		jittered = jittered*3/4 + rand.N(jittered/2+1)
	}
	return fixed + jittered
}

var failDelayScale = 1.0

func (s *session) sleep(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-s.ctx.Done():
	case <-t.C:
	}
}

func (s *session) feat() {
	io.WriteString(s.c, "211-Features:\r\n")
	for _, f := range s.fl.feat {
		io.WriteString(s.c, " "+f+"\r\n")
	}
	s.reply("211 End")
}

func (s *session) opts(arg string) {
	if strings.EqualFold(strings.TrimSpace(arg), "UTF8 ON") {
		s.reply(s.fl.optsUTF8)
		return
	}
	s.reply(s.fl.optsBad)
}

// resolve turns a client path into the client's absolute view and the
// path in the fake filesystem.
func (s *session) resolve(p string) (view, real string) {
	if p == "" {
		p = "."
	}
	if !strings.HasPrefix(p, "/") {
		p = s.cwd + "/" + p
	}
	view = path.Clean(p)
	real = view
	if s.root != "" {
		real = path.Clean(s.root + view)
	}
	s.lastCmd.path = real
	return view, real
}

// why is the errno text ProFTPD names in a 550.
func why(err error) string {
	var errno syscall.Errno
	switch {
	case errors.As(err, &errno):
		s := errno.Error()
		return strings.ToUpper(s[:1]) + s[1:]
	case errors.Is(err, fs.ErrNotExist):
		return "No such file or directory"
	}
	return "Permission denied"
}

func (s *session) postLogin(verb, arg string) {
	fl := s.fl
	switch verb {
	case "USER":
		if s.anon && fl.name == "vsftpd" {
			s.reply("530 Can't change from guest user.")
			return
		}
		s.reply(fl.changeUser)
	case "PASS":
		s.reply(fl.alreadyIn)
	case "QUIT":
		s.reply(fl.goodbye)
		s.quit = true
	case "SYST":
		s.reply("215 UNIX Type: L8")
	case "FEAT":
		s.feat()
	case "OPTS":
		s.opts(arg)
	case "HELP":
		io.WriteString(s.c, fl.helpStart+"\r\n")
		for _, l := range fl.help {
			io.WriteString(s.c, l+"\r\n")
		}
		s.reply(msg(fl.helpEnd, s.srv.env.Persona.Hostname))
	case "NOOP":
		s.reply(fl.noop)
	case "PWD", "XPWD":
		s.reply(msg(fl.pwd, quote(s.cwd)))
	case "CWD", "XCWD":
		s.cwdTo(arg, fl.cwdOK)
	case "CDUP", "XCUP":
		s.cwdTo("..", fl.cdupOK)
	case "TYPE":
		switch strings.ToUpper(arg) {
		case "A", "A N":
			s.binary = false
			s.reply(fl.typeA)
		case "I", "L 8", "L8":
			s.binary = true
			s.reply(fl.typeI)
		default:
			s.reply(msg(fl.badType, arg))
		}
	case "MODE":
		if strings.EqualFold(arg, "S") {
			s.reply(fl.modeOK)
		} else {
			s.reply(fl.badMode)
		}
	case "STRU":
		if strings.EqualFold(arg, "F") {
			s.reply(fl.struOK)
		} else {
			s.reply(fl.badStru)
		}
	case "PASV":
		s.pasv(false, "")
	case "EPSV":
		s.pasv(true, arg)
	case "PORT":
		s.port(arg)
	case "EPRT":
		s.eprt(arg)
	case "LIST", "NLST":
		s.list(verb == "NLST", arg)
	case "RETR":
		s.retr(arg)
	case "STOR", "APPE":
		s.stor(arg, verb == "APPE")
	case "SIZE":
		_, real := s.resolve(arg)
		fi, err := s.fs.Stat(s.login, real)
		if err != nil || fi.Dir {
			s.reply(fl.fail("550 Could not get file size.", arg, notRegular(err)))
			return
		}
		s.reply(msg(fl.sizeOK, fi.Size))
	case "MDTM":
		_, real := s.resolve(arg)
		fi, err := s.fs.Stat(s.login, real)
		if err != nil || fi.Dir {
			s.reply(fl.fail("550 Could not get file modification time.", arg, notRegular(err)))
			return
		}
		s.reply(msg(fl.mdtmOK, fi.ModTime.UTC().Format("20060102150405")))
	case "DELE":
		_, real := s.resolve(arg)
		if err := s.writeCheck(); err != nil {
			s.reply(fl.fail("550 Permission denied.", arg, why(err)))
			return
		}
		if err := s.fs.Remove(s.login, real); err != nil {
			s.reply(fl.fail("550 Delete operation failed.", arg, why(err)))
			return
		}
		s.reply(fl.dele)
	case "MKD", "XMKD":
		view, real := s.resolve(arg)
		if err := s.writeCheck(); err != nil {
			s.reply(fl.fail("550 Permission denied.", arg, why(err)))
			return
		}
		if err := s.fs.Mkdir(s.login, real, 0o777&^fl.umask); err != nil {
			s.reply(fl.fail("550 Create directory operation failed.", arg, why(err)))
			return
		}
		s.reply(msg(fl.mkd, quote(view)))
	case "RMD", "XRMD":
		_, real := s.resolve(arg)
		if err := s.writeCheck(); err != nil {
			s.reply(fl.fail("550 Permission denied.", arg, why(err)))
			return
		}
		if err := s.fs.Rmdir(s.login, real); err != nil {
			s.reply(fl.fail("550 Remove directory operation failed.", arg, why(err)))
			return
		}
		s.reply(fl.rmd)
	case "RNFR":
		_, real := s.resolve(arg)
		if err := s.writeCheck(); err != nil {
			s.reply(fl.fail("550 Permission denied.", arg, why(err)))
			return
		}
		if _, err := s.fs.Stat(s.login, real); err != nil {
			s.reply(fl.fail("550 RNFR command failed.", arg, why(err)))
			return
		}
		s.rnfr = real
		s.reply(fl.rnfr)
		return // keep rnfr for RNTO
	case "RNTO":
		from := s.rnfr
		s.rnfr = ""
		if err := s.writeCheck(); err != nil {
			s.reply(fl.fail("550 Permission denied.", arg, why(err)))
			return
		}
		if from == "" {
			s.reply(fl.rntoNoRnfr)
			return
		}
		_, real := s.resolve(arg)
		if err := s.fs.Rename(s.login, from, real); err != nil {
			s.reply(fl.fail("550 Rename failed.", arg, why(err)))
			return
		}
		s.reply(fl.rnto)
	case "REST":
		var n int64
		if _, err := fmt.Sscanf(arg, "%d", &n); err != nil || n < 0 {
			n = 0
		}
		s.rest = n
		s.reply(msg(fl.rest, n))
		return // keep the offset for the transfer
	case "ABOR":
		s.reply(fl.abor)
	case "ALLO":
		s.reply(fl.allo)
	case "STAT":
		s.stat(arg)
	case "SITE":
		s.site(arg)
	case "SMNT", "ACCT", "REIN":
		if fl.name == "vsftpd" {
			s.reply("502 " + verb + " not implemented.")
		} else {
			s.reply("502 " + verb + " command not implemented")
		}
	default:
		s.reply(msg(fl.unknown, verb))
	}
	s.rnfr = ""
}

// notRegular is why SIZE/MDTM fail in ProFTPD's words.
func notRegular(err error) string {
	if err == nil {
		return "not a regular file"
	}
	return why(err)
}

// writeCheck refuses changes from anonymous sessions, as vsftpd with
// anon_upload_enable=NO and ProFTPD's stock <Anonymous> block do.
func (s *session) writeCheck() error {
	if s.anon {
		return fs.ErrPermission
	}
	return nil
}

// quote renders a path for a 257 reply, doubling quotes (RFC 959).
func quote(p string) string { return `"` + strings.ReplaceAll(p, `"`, `""`) + `"` }

func (s *session) cwdTo(arg, ok string) {
	view, real := s.resolve(arg)
	fi, err := s.fs.Stat(s.login, real)
	switch {
	case err != nil:
	case !fi.Dir:
		err = &fs.PathError{Op: "chdir", Path: real, Err: syscall.ENOTDIR}
	case !mayEnter(s.login, fi):
		err = &fs.PathError{Op: "chdir", Path: real, Err: syscall.EACCES}
	}
	if err != nil {
		s.reply(s.fl.fail("550 Failed to change directory.", arg, why(err)))
		return
	}
	s.cwd = view
	s.reply(ok)
}

// mayEnter reports whether user has search permission on the directory.
func mayEnter(user string, fi shell.FileInfo) bool {
	if user == "root" {
		return true
	}
	if fi.Owner == user {
		return fi.Mode&0o100 != 0
	}
	return fi.Mode&0o001 != 0
}

func (s *session) stat(arg string) {
	if arg == "" {
		mode := "ASCII"
		if s.binary {
			mode = "BINARY"
		}
		lines := []string{"211-FTP server status:",
			"     Connected to " + s.c.Src.Addr().Unmap().String(),
			"     Logged in as " + s.login,
			"     TYPE: " + mode,
			"     No session bandwidth limit",
			"     Session timeout in seconds is 300",
			"     Control connection is plain text",
			"     Data connections will be plain text",
			"     At session startup, client count was 1",
			"     vsFTPd " + strings.TrimSuffix(strings.TrimPrefix(s.fl.greeting(s.srv.env.Persona, ""), "(vsFTPd "), ")") + " - secure, fast, stable",
		}
		if s.fl.name == "proftpd" {
			lines = []string{"211-Status of '" + s.srv.env.Persona.Hostname + "'",
				" Connected from " + s.c.Src.Addr().Unmap().String(),
				" Logged in as " + s.login,
				" TYPE: " + mode + ", STRUcture: File, Mode: Stream",
				" No data connection"}
		}
		for _, l := range lines {
			io.WriteString(s.c, l+"\r\n")
		}
		s.reply("211 End of status")
		return
	}
	out := s.listing(arg, false, false)
	io.WriteString(s.c, "213-Status follows:\r\n")
	io.WriteString(s.c, out)
	s.reply("213 End of status")
}

func (s *session) site(arg string) {
	cmd, rest, _ := strings.Cut(arg, " ")
	if s.anon && s.fl.name == "vsftpd" {
		s.reply("550 Permission denied.")
		return
	}
	switch strings.ToUpper(cmd) {
	case "HELP":
		if s.fl.name == "vsftpd" {
			s.reply("214 CHMOD UMASK HELP")
		} else {
			s.reply("214 CHMOD CHGRP HELP")
		}
	case "CHMOD":
		if _, _, ok := strings.Cut(strings.TrimSpace(rest), " "); !ok {
			s.reply("501 SITE CHMOD needs 2 arguments.")
			return
		}
		s.reply("200 SITE CHMOD command ok.")
	case "UMASK":
		if s.fl.name == "vsftpd" {
			s.reply(fmt.Sprintf("200 Your current UMASK is %04o", s.fl.umask))
			return
		}
		fallthrough
	default:
		if s.fl.name == "vsftpd" {
			s.reply("500 Unknown SITE command.")
		} else {
			s.reply("500 'SITE " + strings.ToUpper(cmd) + "' not understood")
		}
	}
}

// srcAddr is the control connection's peer, the only address data
// connections may involve.
func (s *session) srcAddr() netip.Addr { return s.c.Src.Addr().Unmap() }
