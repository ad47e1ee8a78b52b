package imap

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/honeypot"
	"github.com/decnet-go/decnet/internal/honeypot/mailbox"
)

// Capability lists of Dovecot 2.3.19 on Debian with plaintext logins
// allowed, PLAIN only, and the special-use folders of 15-mailboxes.conf.
const (
	preCaps  = "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+"
	postCaps = "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT SORT=DISPLAY THREAD=REFERENCES THREAD=REFS " +
		"THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE UNSELECT CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED " +
		"I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH ESORT SEARCHRES WITHIN CONTEXT=SEARCH LIST-STATUS BINARY MOVE " +
		"SNIPPET=FUZZY PREVIEW=FUZZY PREVIEW STATUS=SIZE SAVEDATE LITERAL+ NOTIFY SPECIAL-USE"
)

const (
	// maxBadLogin is imap-login's limit of invalid commands; the third
	// ends the connection. They are not forgiven by valid ones.
	maxBadLogin = 3
	// maxBadMail is the mail process's limit.
	maxBadMail = 20
	// maxCommands bounds one connection's work.
	maxCommands = 5000
)

// States, as command events name them.
const (
	stateNotAuth  = "not_authenticated"
	stateAuth     = "authenticated"
	stateSelected = "selected"
)

type session struct {
	c   *honeypot.Conn
	env honeypot.Env
	cfg mailbox.Config
	br  *bufio.Reader
	bw  *bufio.Writer
	tls bool
	bad int

	login string
	box   *mailbox.Mailbox
	// The selected folder: nil when none. Flags are per session.
	sel      *folder
	readOnly bool
	seen     []bool
	flags    []map[string]bool // other flags set by STORE
	jitter   *rand.Rand
}

func newSession(c *honeypot.Conn, env honeypot.Env, cfg mailbox.Config) *session {
	return &session{
		c: c, env: env, cfg: cfg,
		br:     bufio.NewReaderSize(c, 4096),
		bw:     bufio.NewWriterSize(c, 8192),
		jitter: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),
	}
}

func (s *session) state() string {
	switch {
	case s.sel != nil:
		return stateSelected
	case s.box != nil:
		return stateAuth
	}
	return stateNotAuth
}

func (s *session) run(ctx context.Context) {
	s.c.EmitConnect()
	defer s.c.EmitDisconnect()
	caps := preCaps
	if s.cfg.TLS != nil {
		caps += " STARTTLS"
	}
	s.writef("* OK [CAPABILITY %s AUTH=PLAIN] %s", caps, s.cfg.Greeting)
	for n := 0; n < maxCommands && ctx.Err() == nil; n++ {
		if s.br.Buffered() == 0 && s.bw.Flush() != nil {
			return
		}
		if s.box == nil {
			s.c.SetReadDeadline(time.Now().Add(loginIdle))
		}
		raw, err := readCommand(s.br, s.bw)
		switch {
		case errors.Is(err, errTooLong):
			s.writef("* BYE Input buffer full, aborting")
		case errors.Is(err, errLiteralTooLong):
			s.writef("* BYE Literal size too large")
		}
		if err != nil {
			s.bw.Flush()
			return
		}
		if !s.dispatch(ctx, raw) {
			s.bw.Flush()
			return
		}
	}
	s.bw.Flush()
}

func (s *session) writef(format string, args ...any) {
	fmt.Fprintf(s.bw, format, args...)
	s.bw.WriteString("\r\n")
}

// timing is the "(0.001 + 0.000 secs)" Dovecot appends to tagged replies
// of the mail process.
func (s *session) timing() string {
	if s.jitter.IntN(10) == 0 {
		return fmt.Sprintf("(0.%03d + 0.000 + 0.%03d secs)", 2+s.jitter.IntN(3), 1+s.jitter.IntN(2))
	}
	return "(0.001 + 0.000 secs)"
}

// ok writes a tagged OK of the mail process: "<tag> OK <text> (timing)."
func (s *session) ok(tag, text string) { s.writef("%s OK %s %s.", tag, text, s.timing()) }

func (s *session) no(tag, text string) { s.writef("%s NO %s %s.", tag, text, s.timing()) }

func (s *session) badf(tag, text string) { s.writef("%s BAD %s %s.", tag, text, s.timing()) }

// emitCommand records a tagged line; login secrets stay out of it.
func (s *session) emitCommand(cmd Command) {
	e := s.c.Event(event.TypeCommand)
	args := cmd.Raw
	if cmd.Name == "LOGIN" || cmd.Name == "AUTHENTICATE" {
		args = ""
	}
	if len(args) > 256 {
		args = args[:256]
	}
	e.Fields = map[string]any{"cmd": cmd.Name, "tag": cmd.Tag, "args": args, "state": s.state()}
	if s.tls {
		e.Fields["tls"] = true
	}
	s.c.Emit(e)
}

// dispatch answers one command; false ends the connection.
func (s *session) dispatch(ctx context.Context, raw []byte) bool {
	cmd, err := ParseCommand(raw)
	if cmd.Name != "" {
		s.emitCommand(cmd)
	}
	if s.box == nil {
		return s.notAuthenticated(ctx, cmd, err)
	}
	return s.authenticated(cmd, err)
}

// notAuthenticated is the login process: Dovecot's imap-login.
func (s *session) notAuthenticated(ctx context.Context, cmd Command, perr error) bool {
	good := perr == nil
	if good {
		switch cmd.Name {
		case "CAPABILITY":
			caps := preCaps
			if s.cfg.TLS != nil && !s.tls {
				caps += " STARTTLS"
			}
			s.writef("* CAPABILITY %s AUTH=PLAIN", caps)
			s.writef("%s OK Pre-login capabilities listed, post-login capabilities have more.", cmd.Tag)
		case "NOOP":
			s.writef("%s OK NOOP completed.", cmd.Tag)
		case "ID":
			s.writef(`* ID ("name" "Dovecot")`)
			s.writef("%s OK ID completed.", cmd.Tag)
		case "LOGOUT":
			s.writef("* BYE Logging out")
			s.writef("%s OK Logout completed.", cmd.Tag)
			return false
		case "STARTTLS":
			return s.startTLS(cmd.Tag)
		case "LOGIN":
			user, pass, ok := loginArgs(cmd.Args)
			if !ok {
				good = false
				break
			}
			s.tryLogin(ctx, cmd.Tag, "LOGIN", user, "", []byte(pass))
		case "AUTHENTICATE":
			good = s.authenticate(ctx, cmd)
		default:
			good = false
		}
	}
	if good {
		return true
	}
	if s.bad++; s.bad >= maxBadLogin {
		s.writef("* BYE Too many invalid IMAP commands.")
		return false
	}
	switch {
	case errors.Is(perr, ErrMissingQuote):
		s.writef("%s BAD Missing '\"'", cmd.Tag)
	case errors.Is(perr, ErrNoTag):
		s.writef("* BAD Error in IMAP command received by server.")
	default:
		s.writef("%s BAD Error in IMAP command received by server.", cmd.Tag)
	}
	return true
}

// loginArgs takes LOGIN's two astrings.
func loginArgs(args []Arg) (user, pass string, ok bool) {
	if len(args) != 2 || args[0].Kind == List || args[1].Kind == List {
		return "", "", false
	}
	return args[0].Value, args[1].Value, true
}

// authenticate runs AUTHENTICATE PLAIN, with or without SASL-IR; it
// reports whether the command was valid.
func (s *session) authenticate(ctx context.Context, cmd Command) bool {
	if len(cmd.Args) < 1 || len(cmd.Args) > 2 || cmd.Args[0].Kind != Atom {
		return false
	}
	if !strings.EqualFold(cmd.Args[0].Value, "PLAIN") {
		s.writef("%s NO [ALERT] Unsupported authentication mechanism.", cmd.Tag)
		return true
	}
	var resp string
	if len(cmd.Args) == 2 {
		resp = cmd.Args[1].Value
	} else {
		s.writef("+ ")
		if s.bw.Flush() != nil {
			return true
		}
		line, err := readLine(s.br, maxCommand)
		if err != nil {
			return true
		}
		resp = string(line)
	}
	if resp == "*" {
		s.writef("%s BAD Authentication aborted by client.", cmd.Tag)
		return true
	}
	if resp == "=" {
		resp = ""
	}
	raw, err := base64.StdEncoding.DecodeString(resp)
	if err != nil {
		s.writef("%s BAD Invalid base64 data in continued response", cmd.Tag)
		return true
	}
	parts := bytes.SplitN(raw, []byte{0}, 3)
	if len(parts) != 3 {
		s.tryLogin(ctx, cmd.Tag, "PLAIN", "", "", raw)
		return true
	}
	s.tryLogin(ctx, cmd.Tag, "PLAIN", string(parts[1]), string(parts[0]), parts[2])
	return true
}

// tryLogin records a login attempt and, when the persona accepts it, opens
// the mailbox.
func (s *session) tryLogin(ctx context.Context, tag, method, user, authz string, secret []byte) {
	acct, accepted := mailbox.Login(s.c, s.env.Persona, method, user, authz, secret, s.tls)
	if !accepted {
		s.bw.Flush()
		sleep(ctx, s.cfg.FailDelay)
		s.writef("%s NO [AUTHENTICATIONFAILED] Authentication failed.", tag)
		return
	}
	s.login = acct.User
	s.box = mailbox.For(s.env.Persona, acct.User)
	s.bad = 0
	s.c.SetReadDeadline(time.Time{})
	s.writef("%s OK [CAPABILITY %s] Logged in", tag, postCaps)
}

func sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func (s *session) startTLS(tag string) bool {
	switch {
	case s.cfg.TLS == nil:
		s.writef("%s BAD TLS support isn't enabled.", tag)
		return true
	case s.tls:
		s.writef("%s BAD TLS is already active.", tag)
		return true
	}
	s.writef("%s OK Begin TLS negotiation now.", tag)
	if s.bw.Flush() != nil || s.br.Buffered() > 0 {
		return false // pipelined plaintext after STARTTLS: refuse it
	}
	tc := tls.Server(s.c, s.cfg.TLS)
	s.c.SetDeadline(time.Now().Add(30 * time.Second))
	err := tc.Handshake()
	s.c.SetDeadline(time.Time{})
	e := s.c.Event("starttls")
	if err != nil {
		msg := err.Error()
		if len(msg) > 256 {
			msg = msg[:256]
		}
		e.Fields = map[string]any{"error": msg}
		s.c.Emit(e)
		return false
	}
	st := tc.ConnectionState()
	e.Fields = map[string]any{"tls_version": tls.VersionName(st.Version), "cipher": tls.CipherSuiteName(st.CipherSuite), "sni": st.ServerName}
	s.c.Emit(e)
	s.tls = true
	s.br = bufio.NewReaderSize(tc, 4096)
	s.bw = bufio.NewWriterSize(tc, 8192)
	return true
}
