package pop3

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/honeypot"
	"github.com/decnet-go/decnet/internal/honeypot/mailbox"
)

const (
	// maxBadLogin is Dovecot's CLIENT_MAX_BAD_COMMANDS in the login
	// process: the third invalid command in a row ends the connection.
	maxBadLogin = 3
	// maxBadMail is the same for the mail process.
	maxBadMail = 20
	// maxCommands bounds one connection's work; a client past it is cut off.
	maxCommands = 5000
)

// Session states, as the command events name them.
const (
	stateAuthorization = "authorization"
	stateTransaction   = "transaction"
)

type session struct {
	c   *honeypot.Conn
	env honeypot.Env
	cfg mailbox.Config

	br  *bufio.Reader
	bw  *bufio.Writer
	tls bool

	user     string // from USER, until PASS
	userSeen bool
	bad      int
	login    string           // the account after a successful login
	box      *mailbox.Mailbox // its mailbox
	deleted  []bool
}

func newSession(c *honeypot.Conn, env honeypot.Env, cfg mailbox.Config) *session {
	s := &session{c: c, env: env, cfg: cfg}
	s.br = bufio.NewReaderSize(c, 1024)
	s.bw = bufio.NewWriterSize(c, 4096)
	return s
}

func (s *session) state() string {
	if s.box != nil {
		return stateTransaction
	}
	return stateAuthorization
}

func (s *session) run(ctx context.Context) {
	s.c.EmitConnect()
	defer s.c.EmitDisconnect()
	s.reply("+OK " + s.cfg.Greeting)
	for n := 0; n < maxCommands && ctx.Err() == nil; n++ {
		if s.br.Buffered() == 0 && s.bw.Flush() != nil {
			return
		}
		line, err := readLine(s.br)
		if err == errLineTooLong {
			s.reply("-ERR Input buffer full, aborting")
			s.bw.Flush()
			return
		}
		if err != nil {
			return
		}
		if !s.dispatch(ctx, line) {
			s.bw.Flush()
			return
		}
	}
	s.bw.Flush()
}

func (s *session) reply(line string) {
	s.bw.WriteString(line)
	s.bw.WriteString("\r\n")
}

// command emits the command event of a line; secrets stay out of it (they
// travel in the login_attempt event).
func (s *session) command(cmd Command) {
	e := s.c.Event(event.TypeCommand)
	args := cmd.Args
	if cmd.Name == "PASS" || cmd.Name == "AUTH" || cmd.Name == "APOP" {
		args = ""
	}
	e.Fields = map[string]any{"cmd": cmd.Name, "args": truncate(args, 256), "state": s.state()}
	if s.tls {
		e.Fields["tls"] = true
	}
	s.c.Emit(e)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// dispatch answers one line; false ends the connection.
func (s *session) dispatch(ctx context.Context, line string) bool {
	cmd := ParseCommand(line)
	s.command(cmd)
	if s.box == nil {
		return s.authorization(ctx, cmd)
	}
	return s.transaction(cmd)
}

// authorization is the login process: Dovecot's pop3-login.
func (s *session) authorization(ctx context.Context, cmd Command) bool {
	ok := true
	switch cmd.Name {
	case "CAPA":
		s.capa()
	case "USER":
		s.user, s.userSeen = cmd.Args, true
		s.reply("+OK")
	case "PASS":
		if !s.userSeen {
			s.reply("-ERR No username given.")
			ok = false
			break
		}
		user := s.user
		s.user, s.userSeen = "", false
		s.tryLogin(ctx, "USER", user, "", []byte(cmd.Args))
	case "APOP":
		s.reply("-ERR APOP not enabled.")
		ok = false
	case "AUTH":
		s.auth(ctx, cmd.Args)
	case "STLS":
		return s.startTLS()
	case "QUIT":
		s.reply("+OK Logging out")
		return false
	default:
		s.reply("-ERR Unknown command.")
		ok = false
	}
	if ok {
		s.bad = 0
		return true
	}
	if s.bad++; s.bad >= maxBadLogin {
		s.reply("-ERR Too many invalid bad commands.")
		return false
	}
	return true
}

func (s *session) capa() {
	s.reply("+OK")
	s.bw.WriteString("CAPA\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nPIPELINING\r\nAUTH-RESP-CODE\r\n")
	if s.box == nil {
		if s.cfg.TLS != nil && !s.tls {
			s.reply("STLS")
		}
		s.reply("USER")
		s.reply("SASL PLAIN")
	}
	s.reply(".")
}

// auth runs AUTH: a mechanism list without arguments, PLAIN with or
// without an initial response.
func (s *session) auth(ctx context.Context, args string) {
	mech, ir, hasIR := strings.Cut(args, " ")
	switch {
	case mech == "":
		s.reply("+OK")
		s.reply("PLAIN")
		s.reply(".")
		return
	case !strings.EqualFold(mech, "PLAIN"):
		s.reply("-ERR [AUTH] Unsupported authentication mechanism.")
		return
	}
	if !hasIR {
		s.reply("+ ")
		if s.bw.Flush() != nil {
			return
		}
		line, err := readLine(s.br)
		if err != nil {
			return
		}
		ir = line
	}
	if ir == "*" {
		s.reply("-ERR Authentication aborted by client.")
		return
	}
	raw, err := base64.StdEncoding.DecodeString(ir)
	if err != nil {
		s.reply("-ERR [AUTH] Invalid base64 in response")
		return
	}
	authz, authn, secret, ok := splitPlain(raw)
	if !ok {
		// Not three NUL-separated parts: record what was sent, refuse it.
		s.tryLogin(ctx, "PLAIN", "", "", raw)
		return
	}
	s.tryLogin(ctx, "PLAIN", authn, authz, secret)
}

// splitPlain splits a SASL PLAIN response (RFC 4616):
// authzid NUL authcid NUL passwd.
func splitPlain(raw []byte) (authz, authn string, secret []byte, ok bool) {
	parts := bytes.SplitN(raw, []byte{0}, 3)
	if len(parts) != 3 {
		return "", "", nil, false
	}
	return string(parts[0]), string(parts[1]), parts[2], true
}

// tryLogin records a login attempt and, when the persona accepts it, opens
// the mailbox.
func (s *session) tryLogin(ctx context.Context, method, user, authz string, secret []byte) {
	acct, accepted := mailbox.Login(s.c, s.env.Persona, method, user, authz, secret, s.tls)
	if !accepted {
		s.bw.Flush()
		sleep(ctx, s.cfg.FailDelay)
		s.reply("-ERR [AUTH] Authentication failed.")
		return
	}
	s.login = acct.User
	s.box = mailbox.For(s.env.Persona, acct.User)
	s.deleted = make([]bool, len(s.box.Messages))
	s.bad = 0
	s.reply("+OK Logged in.")
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

// startTLS answers STLS and runs the TLS handshake over the connection.
func (s *session) startTLS() bool {
	switch {
	case s.cfg.TLS == nil:
		s.reply("-ERR TLS support isn't enabled.")
		return true
	case s.tls:
		s.reply("-ERR TLS is already active.")
		return true
	case s.br.Buffered() > 0:
		// Bytes pipelined after STLS would be read as plaintext: Dovecot
		// refuses them too.
		s.reply("-ERR STLS command pipelined, aborting")
		return false
	}
	s.reply("+OK Begin TLS negotiation now.")
	if s.bw.Flush() != nil {
		return false
	}
	tc := tls.Server(s.c, s.cfg.TLS)
	s.c.SetDeadline(time.Now().Add(30 * time.Second))
	err := tc.Handshake()
	s.c.SetDeadline(time.Time{})
	e := s.c.Event("starttls")
	if err != nil {
		e.Fields = map[string]any{"error": truncate(err.Error(), 256)}
		s.c.Emit(e)
		return false
	}
	st := tc.ConnectionState()
	e.Fields = map[string]any{"tls_version": tls.VersionName(st.Version), "cipher": tls.CipherSuiteName(st.CipherSuite), "sni": st.ServerName}
	s.c.Emit(e)
	s.tls = true
	s.br = bufio.NewReaderSize(tc, 1024)
	s.bw = bufio.NewWriterSize(tc, 4096)
	s.user, s.userSeen = "", false
	return true
}

// transaction is the mail process after login: Dovecot's pop3.
func (s *session) transaction(cmd Command) bool {
	ok := true
	switch cmd.Name {
	case "CAPA":
		s.capa()
	case "NOOP", "RSET":
		if cmd.Name == "RSET" {
			clear(s.deleted)
		}
		s.reply("+OK")
	case "STAT":
		n, size := s.totals()
		s.reply(fmt.Sprintf("+OK %d %d", n, size))
	case "LIST":
		ok = s.list(cmd.Args)
	case "UIDL":
		ok = s.uidl(cmd.Args)
	case "RETR":
		ok = s.retr(cmd.Args)
	case "TOP":
		ok = s.top(cmd.Args)
	case "DELE":
		i, ok2 := s.message(cmd.Args)
		if ok = ok2; ok {
			s.deleted[i] = true
			s.reply("+OK Marked to be deleted.")
		}
	case "QUIT":
		for _, d := range s.deleted {
			if d {
				s.reply("+OK Logging out, messages deleted.")
				return false
			}
		}
		s.reply("+OK Logging out.")
		return false
	default:
		s.reply("-ERR Unknown command: " + cmd.Name)
		ok = false
	}
	if ok {
		s.bad = 0
		return true
	}
	if s.bad++; s.bad >= maxBadMail {
		s.reply("-ERR Too many bad commands.")
		return false
	}
	return true
}

func (s *session) totals() (n, size int) {
	for i, m := range s.box.Messages {
		if !s.deleted[i] {
			n++
			size += m.Size()
		}
	}
	return n, size
}

// message resolves a message number argument, answering the error itself.
func (s *session) message(args string) (int, bool) {
	i, rest, ok := s.messageRest(args)
	if ok && rest != "" {
		s.reply("-ERR Noise after message number: " + rest)
		return 0, false
	}
	return i, ok
}

// messageRest is message for commands that take more arguments: it
// returns the index and the text after the number.
func (s *session) messageRest(args string) (int, string, bool) {
	n, rest, errText := msgNum(args)
	switch {
	case errText != "":
		s.reply("-ERR " + errText)
		return 0, "", false
	case n == 0 || n > len(s.box.Messages):
		s.reply(fmt.Sprintf("-ERR There's no message %d.", n))
		return 0, "", false
	case s.deleted[n-1]:
		s.reply("-ERR Message is deleted.")
		return 0, "", false
	}
	return n - 1, rest, true
}

func (s *session) list(args string) bool {
	if args != "" {
		i, ok := s.message(args)
		if ok {
			s.reply(fmt.Sprintf("+OK %d %d", i+1, s.box.Messages[i].Size()))
		}
		return ok
	}
	n, _ := s.totals()
	s.reply(fmt.Sprintf("+OK %d messages:", n))
	for i, m := range s.box.Messages {
		if !s.deleted[i] {
			s.reply(fmt.Sprintf("%d %d", i+1, m.Size()))
		}
	}
	s.reply(".")
	return true
}

// uidl is Dovecot's default pop3_uidl_format, %08Xu%08Xv.
func (s *session) uidl(args string) bool {
	id := func(m *mailbox.Message) string { return fmt.Sprintf("%08x%08x", m.UID, s.box.UIDValidity) }
	if args != "" {
		i, ok := s.message(args)
		if ok {
			s.reply(fmt.Sprintf("+OK %d %s", i+1, id(s.box.Messages[i])))
		}
		return ok
	}
	s.reply("+OK")
	for i, m := range s.box.Messages {
		if !s.deleted[i] {
			s.reply(fmt.Sprintf("%d %s", i+1, id(m)))
		}
	}
	s.reply(".")
	return true
}

func (s *session) retr(args string) bool {
	i, ok := s.message(args)
	if !ok {
		return false
	}
	m := s.box.Messages[i]
	s.reply(fmt.Sprintf("+OK %d octets", m.Size()))
	writeDotted(s.bw, m.Raw)
	s.reply(".")
	s.emitFetch("RETR", i, m)
	return true
}

func (s *session) top(args string) bool {
	i, rest, ok := s.messageRest(args)
	if !ok {
		return false
	}
	if !strings.HasPrefix(rest, " ") {
		s.reply("-ERR Noise after message number: " + rest)
		return false
	}
	rest = rest[1:]
	lines, tail, errText := msgNum(rest)
	if errText != "" || tail != "" {
		s.reply("-ERR Invalid size: " + rest)
		return false
	}
	m := s.box.Messages[i]
	s.reply("+OK")
	body := m.Body()
	end := 0
	for n := 0; n < lines && end < len(body); n++ {
		nl := bytes.IndexByte(body[end:], '\n')
		if nl < 0 {
			end = len(body)
			break
		}
		end += nl + 1
	}
	writeDotted(s.bw, append(append([]byte(nil), m.Header()...), body[:end]...))
	s.reply(".")
	s.emitFetch("TOP", i, m)
	return true
}

// emitFetch records which bait message an attacker read.
func (s *session) emitFetch(cmd string, i int, m *mailbox.Message) {
	e := s.c.Event("mail_read")
	e.Fields = map[string]any{"cmd": cmd, "message_num": i + 1, "uid": int(m.UID), "subject": m.Subject, "message_id": m.MessageID, "username": s.login}
	s.c.Emit(e)
}

// writeDotted writes a message with dot-stuffing (RFC 1939 §3); raw ends
// with CRLF.
func writeDotted(w io.Writer, raw []byte) {
	for len(raw) > 0 {
		nl := bytes.IndexByte(raw, '\n')
		line := raw
		if nl >= 0 {
			line = raw[:nl+1]
		}
		if line[0] == '.' {
			w.Write([]byte{'.'})
		}
		w.Write(line)
		raw = raw[len(line):]
	}
}
