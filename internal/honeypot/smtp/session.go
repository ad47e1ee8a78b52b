package smtp

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/honeypot"
)

// Postfix's smtpd limits, by their main.cf names.
const (
	lineLengthLimit   = 2048 // line_length_limit: longer command lines are cut
	softErrorLimit    = 10   // smtpd_soft_error_limit: replies slow down after this
	hardErrorLimit    = 20   // smtpd_hard_error_limit: the session ends
	junkCommandLimit  = 100  // smtpd_junk_command_limit: NOOP, VRFY, ETRN, RSET
	recipientLimit    = 1000 // smtpd_recipient_limit
	maxCommands       = 5000 // no client needs more; ends a session that loops
	saslLineLimit     = 12288
	maxFieldLen       = 128 // longest command recorded in an unknown_command event
	tlsHandshakeLimit = time.Minute
)

// server is the SMTP server of one decky.
type server struct {
	relay     bool
	hostname  string          // myhostname
	greeting  string          // after "220 "
	domains   map[string]bool // mydestination, lower-case
	users     map[string]bool // the local recipient table, lower-case
	maxSize   int64           // message_size_limit
	tls       *tls.Config     // nil: no STARTTLS
	artifacts *honeypot.Artifacts
	queueIDs  *queueIDs
	// errorSleep is smtpd_error_sleep_time: how long each error reply waits
	// once a client has made softErrorLimit errors.
	errorSleep time.Duration

	cramMu  sync.Mutex
	cramSeq uint64
}

// session is one SMTP connection.
type session struct {
	srv *server
	ctx context.Context
	c   *honeypot.Conn
	br  *bufio.Reader
	bw  *bufio.Writer

	helo    string // the HELO/EHLO argument; "" before one
	tls     bool
	authed  bool
	inMail  bool
	from    string
	msgSize int64         // SIZE= of the last MAIL; Postfix keeps it until a reset
	rcpts   []string      // accepted recipients
	bdat    *bytes.Buffer // the chunks of a BDAT transaction
	bdatBig bool
	// bdatErr is set when a BDAT chunk was refused: the rest of the
	// transaction is discarded until LAST or RSET.
	bdatErr bool

	errors   int
	junk     int
	commands int
	closing  bool
}

// handle serves one connection.
func (srv *server) handle(ctx context.Context, c *honeypot.Conn) {
	s := &session{srv: srv, ctx: ctx, c: c}
	s.setTransport(c)
	c.EmitConnect()
	defer c.EmitDisconnect()
	s.reply("220 " + srv.greeting)
	s.run()
	s.bw.Flush()
}

func (s *session) setTransport(rw io.ReadWriter) {
	s.br = bufio.NewReaderSize(rw, 4096)
	s.bw = bufio.NewWriterSize(rw, 4096)
}

// run reads and answers commands until the client quits or the session
// must end.
func (s *session) run() {
	for !s.closing {
		if s.errors >= hardErrorLimit || s.commands >= maxCommands {
			s.reply("421 4.7.0 %s Error: too many errors", s.srv.hostname)
			return
		}
		line, err := s.readLine(lineLengthLimit)
		if err != nil {
			s.readFailed(err)
			return
		}
		s.commands++
		s.dispatch(line)
	}
}

// readFailed answers a read error as Postfix does: a timeout gets a 421,
// a closed connection nothing.
func (s *session) readFailed(err error) {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() && s.ctx.Err() == nil {
		s.reply("421 4.4.2 %s Error: timeout exceeded", s.srv.hostname)
	}
}

// readLine reads one line of at most max bytes without its line ending;
// the rest of a longer line is read and dropped. Pending replies are sent
// first when no pipelined input is waiting, as Postfix flushes its output
// only before it would block on input.
func (s *session) readLine(max int) (string, error) {
	if s.br.Buffered() == 0 {
		if err := s.bw.Flush(); err != nil {
			return "", err
		}
	}
	var line []byte
	for {
		frag, err := s.br.ReadSlice('\n')
		if room := max - len(line); room > 0 {
			line = append(line, frag[:min(len(frag), room)]...)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			return "", err
		}
		break
	}
	line = bytes.TrimSuffix(line, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	return string(line), nil
}

// reply queues one reply line. An error reply counts against the client
// and, past the soft limit, is delayed as Postfix delays it.
func (s *session) reply(format string, args ...any) {
	if len(args) > 0 {
		format = fmt.Sprintf(format, args...)
	}
	if format != "" && (format[0] == '4' || format[0] == '5') {
		if s.errors >= softErrorLimit && s.srv.errorSleep > 0 {
			s.bw.Flush()
			select {
			case <-s.ctx.Done():
			case <-time.After(s.srv.errorSleep):
			}
		}
		s.errors++
	}
	s.bw.WriteString(format)
	s.bw.WriteString("\r\n")
}

// emit sends an event of the session with fields.
func (s *session) emit(typ string, fields map[string]any) {
	e := s.c.Event(typ)
	e.Fields = fields
	s.c.Emit(e)
}

// dispatch answers one command line.
func (s *session) dispatch(line string) {
	cmd := parseCommand(line)
	switch cmd.verb {
	case "":
		s.reply("500 5.5.2 Error: bad syntax")
	case "HELO":
		s.heloCmd(cmd, false)
	case "EHLO":
		s.heloCmd(cmd, true)
	case "MAIL":
		s.mailCmd(cmd)
	case "RCPT":
		s.rcptCmd(cmd)
	case "DATA":
		s.dataCmd(cmd)
	case "BDAT":
		s.bdatCmd(cmd)
	case "RSET":
		s.junkCommand()
		if len(cmd.args) > 0 {
			s.reply("501 5.5.4 Syntax: RSET")
			return
		}
		s.resetMail()
		s.reply("250 2.0.0 Ok")
	case "NOOP":
		s.junkCommand()
		s.reply("250 2.0.0 Ok")
	case "VRFY":
		s.junkCommand()
		s.vrfyCmd(cmd)
	case "ETRN":
		s.junkCommand()
		s.etrnCmd(cmd)
	case "AUTH":
		s.authCmd(cmd)
	case "STARTTLS":
		s.starttlsCmd(cmd)
	case "QUIT":
		s.reply("221 2.0.0 Bye")
		s.closing = true
	default:
		s.emit("unknown_command", map[string]any{"command": clip(line, maxFieldLen)})
		s.reply("500 5.5.2 Error: command not recognized")
	}
}

// junkCommand counts a command that moves no mail; past the junk limit
// each one counts as an error, as in Postfix.
func (s *session) junkCommand() {
	s.junk++
	if s.junk > junkCommandLimit {
		s.errors++
	}
}

// resetMail ends the mail transaction.
func (s *session) resetMail() {
	s.inMail, s.from, s.msgSize = false, "", 0
	s.rcpts = nil
	s.bdat, s.bdatBig, s.bdatErr = nil, false, false
}

// inBDAT reports whether a BDAT transaction is under way: MAIL, RCPT and
// DATA are then out of sequence.
func (s *session) inBDAT() bool { return s.bdat != nil || s.bdatErr }

func (s *session) heloCmd(cmd command, extended bool) {
	if len(cmd.args) == 0 {
		s.reply("501 Syntax: %s hostname", cmd.verb)
		return
	}
	s.resetMail()
	s.helo = strings.Join(cmd.args, " ")
	s.emit("ehlo", map[string]any{"domain": clip(s.helo, 255), "verb": cmd.verb})
	if !extended {
		s.reply("250 %s", s.srv.hostname)
		return
	}
	lines := []string{s.srv.hostname, "PIPELINING", fmt.Sprintf("SIZE %d", s.srv.maxSize), "VRFY", "ETRN"}
	if s.srv.tls != nil && !s.tls {
		lines = append(lines, "STARTTLS")
	}
	lines = append(lines, "AUTH PLAIN LOGIN", "ENHANCEDSTATUSCODES", "8BITMIME", "DSN", "SMTPUTF8", "CHUNKING")
	for i, l := range lines {
		sep := "-"
		if i == len(lines)-1 {
			sep = " "
		}
		s.reply("250%s%s", sep, l)
	}
}

func (s *session) mailCmd(cmd command) {
	if s.inMail {
		s.reply("503 5.5.1 Error: nested MAIL command")
		return
	}
	if s.inBDAT() {
		s.reply("503 5.5.1 Error: MAIL after BDAT")
		return
	}
	path, params, ok := pathArgs(cmd.args, "FROM:")
	if !ok {
		s.reply("501 5.5.4 Syntax: MAIL FROM:<address>")
		return
	}
	addr, ok := extractAddr(path)
	if !ok {
		s.reply("501 5.1.7 Bad sender address syntax")
		return
	}
	for _, p := range params {
		key, val := param(p)
		switch key {
		case "BODY":
			if v := strings.ToUpper(val); v != "8BITMIME" && v != "7BIT" && v != "BINARYMIME" {
				s.reply("555 5.5.4 Unsupported option: %s", p)
				return
			}
		case "SIZE":
			n, err := strconv.ParseInt(val, 10, 64)
			if err != nil || n < 0 || val == "" || val[0] == '+' {
				s.reply("501 5.5.4 Bad message size syntax")
				return
			}
			s.msgSize = n
		case "SMTPUTF8":
			if val != "" {
				s.reply("555 5.5.4 Unsupported option: %s", p)
				return
			}
		case "RET":
			if v := strings.ToUpper(val); v != "FULL" && v != "HDRS" {
				s.reply("501 5.5.4 Bad RET parameter syntax")
				return
			}
		case "ENVID":
			if !validXtext(val) {
				s.reply("501 5.5.4 Bad ENVID parameter syntax")
				return
			}
		case "AUTH":
		default:
			s.reply("555 5.5.4 Unsupported option: %s", p)
			return
		}
	}
	// Postfix keeps a declared SIZE until the transaction is reset, so a
	// too-large SIZE also refuses the next MAIL commands.
	if s.msgSize > s.srv.maxSize {
		s.reply("552 5.3.4 Message size exceeds fixed limit")
		return
	}
	_, domain := splitAddr(addr)
	s.emit("mail_from", map[string]any{"value": clip(path, 512), "mail_from": clip(addr, 512), "domain": strings.ToLower(clip(domain, 255))})
	s.inMail, s.from = true, addr
	s.reply("250 2.1.0 Ok")
}

func (s *session) rcptCmd(cmd command) {
	if !s.inMail {
		s.reply("503 5.5.1 Error: need MAIL command")
		return
	}
	if s.inBDAT() {
		s.reply("503 5.5.1 Error: RCPT after BDAT")
		return
	}
	path, params, ok := pathArgs(cmd.args, "TO:")
	if !ok {
		s.reply("501 5.5.4 Syntax: RCPT TO:<address>")
		return
	}
	addr, ok := extractAddr(path)
	if !ok || addr == "" {
		s.reply("501 5.1.3 Bad recipient address syntax")
		return
	}
	for _, p := range params {
		key, val := param(p)
		switch key {
		case "NOTIFY", "ORCPT":
			if val == "" {
				s.reply("501 5.5.4 Bad %s parameter syntax", key)
				return
			}
		default:
			s.reply("555 5.5.4 Unsupported option: %s", p)
			return
		}
	}
	if len(s.rcpts) >= recipientLimit {
		s.reply("452 4.5.3 Error: too many recipients")
		return
	}
	if reject := s.checkRecipient(addr); reject != "" {
		s.emit("rcpt_denied", map[string]any{"value": clip(path, 512), "reply": reject})
		s.reply("%s", reject)
		return
	}
	s.emit("rcpt_to", map[string]any{"value": clip(path, 512)})
	s.rcpts = append(s.rcpts, addr)
	s.reply("250 2.1.5 Ok")
}

// checkRecipient applies Debian's default restrictions to an address:
// relaying is refused for anyone outside mynetworks (every attacker), and a
// local address needs a known user. The open relay accepts everything. It
// returns the rejection, or "" to accept.
func (s *session) checkRecipient(addr string) string {
	if s.srv.relay {
		return ""
	}
	local, domain := splitAddr(addr)
	if domain != "" && !s.isLocalDomain(domain) {
		return fmt.Sprintf("454 4.7.1 <%s>: Relay access denied", addr)
	}
	user := strings.ToLower(strings.Trim(local, `"`))
	user, _, _ = strings.Cut(user, "+") // recipient_delimiter = +
	if !s.srv.users[user] {
		return fmt.Sprintf("550 5.1.1 <%s>: Recipient address rejected: User unknown in local recipient table", addr)
	}
	return ""
}

// isLocalDomain reports whether mail for domain is delivered here: a name
// of mydestination or an address literal of the decky.
func (s *session) isLocalDomain(domain string) bool {
	d := strings.ToLower(strings.TrimSuffix(domain, "."))
	if s.srv.domains[d] {
		return true
	}
	if strings.HasPrefix(d, "[") && strings.HasSuffix(d, "]") {
		lit := strings.TrimPrefix(d[1:len(d)-1], "ipv6:")
		if ip, err := netip.ParseAddr(lit); err == nil {
			return ip == s.c.Dst.Addr().Unmap() || ip.IsLoopback()
		}
	}
	return false
}

// noRecipients answers DATA or BDAT without an accepted recipient.
func (s *session) noRecipients() {
	if !s.inMail {
		s.reply("503 5.5.1 Error: need RCPT command")
		return
	}
	s.reply("554 5.5.1 Error: no valid recipients")
}

func (s *session) dataCmd(cmd command) {
	if s.inBDAT() {
		s.reply("503 5.5.1 Error: DATA after BDAT")
		return
	}
	if len(cmd.args) > 0 {
		s.reply("501 5.5.4 Syntax: DATA")
		return
	}
	if len(s.rcpts) == 0 {
		s.noRecipients()
		return
	}
	s.reply("354 End data with <CR><LF>.<CR><LF>")
	if err := s.bw.Flush(); err != nil {
		s.closing = true
		return
	}
	msg, tooBig, err := s.readData()
	if err != nil {
		s.readFailed(err)
		s.closing = true
		return
	}
	if tooBig {
		s.reply("552 5.3.4 Message size exceeds fixed limit")
		s.resetMail()
		return
	}
	id := s.deliver(msg)
	s.reply("250 2.0.0 Ok: queued as %s", id)
}

// readData reads a DATA body up to the lone dot, undoing dot-stuffing. It
// keeps at most maxSize bytes and reports whether the message was larger.
func (s *session) readData() (msg []byte, tooBig bool, err error) {
	var buf bytes.Buffer
	atStart := true
	for {
		frag, err := s.br.ReadSlice('\n')
		if err != nil && err != bufio.ErrBufferFull {
			return nil, false, err
		}
		if atStart {
			if string(frag) == ".\r\n" || string(frag) == ".\n" {
				return buf.Bytes(), tooBig, nil
			}
			if len(frag) > 0 && frag[0] == '.' {
				frag = frag[1:]
			}
		}
		atStart = err == nil
		if int64(buf.Len()+len(frag)) > s.srv.maxSize {
			tooBig = true
			continue
		}
		buf.Write(frag)
	}
}

func (s *session) bdatCmd(cmd command) {
	last := len(cmd.args) == 2 && strings.EqualFold(cmd.args[1], "LAST")
	n, err := strconv.ParseInt(firstArg(cmd.args), 10, 64)
	if err != nil || n < 0 || len(cmd.args) == 0 || len(cmd.args) > 2 || len(cmd.args) == 2 && !last {
		s.reply("521 5.5.4 Syntax: BDAT count [LAST]")
		s.closing = true
		return
	}
	// The chunk follows the command whatever the answer; read it first.
	keep := len(s.rcpts) > 0 && !s.bdatBig && !s.bdatErr
	if keep && s.bdat == nil {
		s.bdat = &bytes.Buffer{}
	}
	if keep && int64(s.bdat.Len())+n > s.srv.maxSize {
		keep, s.bdatBig = false, true
	}
	var dst io.Writer = io.Discard
	if keep {
		dst = s.bdat
	}
	if _, err := io.CopyN(dst, s.br, n); err != nil {
		s.readFailed(err)
		s.closing = true
		return
	}
	switch {
	case s.bdatErr:
		s.reply("551 5.0.0 Discarded %d bytes after earlier error", n)
		if last {
			s.resetMail()
		}
		return
	case len(s.rcpts) == 0:
		s.noRecipients()
		s.bdatErr = !last
		return
	case s.bdatBig:
		s.reply("552 5.3.4 Message size exceeds fixed limit")
		s.bdat, s.bdatErr = nil, !last
		if last {
			s.resetMail()
		}
		return
	case !last:
		s.reply("250 2.0.0 Ok: %d bytes", s.bdat.Len())
		return
	}
	msg := s.bdat.Bytes()
	if len(msg) > 0 && msg[len(msg)-1] != '\n' || len(msg) == 0 {
		msg = append(msg, '\r', '\n') // Postfix ends the last line
	}
	id := s.deliver(msg)
	s.reply("250 2.0.0 Ok: %d bytes queued as %s", len(msg), id)
}

func firstArg(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return args[0]
}

// deliver keeps an accepted message, emits its events and ends the
// transaction; it returns the queue id.
func (s *session) deliver(msg []byte) string {
	id := s.srv.queueIDs.next()
	s.storeMessage(id, msg)
	s.resetMail()
	s.errors = 0 // Postfix forgives a client that delivered mail
	return id
}

func (s *session) vrfyCmd(cmd command) {
	if len(cmd.args) == 0 {
		s.reply("501 5.5.4 Syntax: VRFY address [SMTPUTF8]")
		return
	}
	if len(cmd.args) > 2 || len(cmd.args) == 2 && !strings.EqualFold(cmd.args[1], "SMTPUTF8") {
		s.reply("501 5.1.3 Bad recipient address syntax")
		return
	}
	arg := cmd.args[0]
	s.emit("vrfy", map[string]any{"value": clip(arg, 512)})
	addr, ok := extractAddr(arg)
	if !ok || addr == "" {
		s.reply("501 5.1.3 Bad recipient address syntax")
		return
	}
	if reject := s.checkRecipient(addr); reject != "" {
		s.reply("%s", reject)
		return
	}
	s.reply("252 2.0.0 %s", arg)
}

func (s *session) etrnCmd(cmd command) {
	switch {
	case s.inMail:
		s.reply("503 Error: MAIL transaction in progress")
	case len(cmd.args) == 0:
		s.reply("500 Syntax: ETRN domain")
	default:
		s.reply("459 <%s>: service unavailable", strings.TrimLeft(cmd.args[0], "#@"))
	}
}

func (s *session) starttlsCmd(cmd command) {
	switch {
	case len(cmd.args) > 0:
		s.reply("501 5.5.4 Syntax: STARTTLS")
		return
	case s.srv.tls == nil:
		s.reply("502 5.5.1 Error: command not implemented")
		return
	case s.tls:
		s.reply("554 5.5.1 Error: TLS already active")
		return
	}
	s.reply("220 2.0.0 Ready to start TLS")
	if err := s.bw.Flush(); err != nil {
		s.closing = true
		return
	}
	// Anything the client pipelined after STARTTLS is dropped with the old
	// reader, as Postfix does since CVE-2011-0411.
	tc := tls.Server(s.c, s.srv.tls)
	ctx, cancel := context.WithTimeout(s.ctx, tlsHandshakeLimit)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		s.emit("starttls", map[string]any{"ok": false, "error": clip(err.Error(), maxFieldLen)})
		s.closing = true
		return
	}
	st := tc.ConnectionState()
	s.emit("starttls", map[string]any{
		"ok": true, "tls_version": tls.VersionName(st.Version),
		"cipher": tls.CipherSuiteName(st.CipherSuite), "sni": clip(st.ServerName, 255),
	})
	s.tls = true
	s.setTransport(tc)
	s.helo = ""
	s.resetMail()
}

// authCmd runs an AUTH exchange and records the credential. The smtp
// service refuses every login as Postfix refuses a wrong password; the
// open relay accepts any.
func (s *session) authCmd(cmd command) {
	switch {
	case len(cmd.args) == 0:
		s.reply("501 5.5.4 Syntax: AUTH mechanism")
		return
	case s.authed:
		s.reply("503 5.5.1 Error: already authenticated")
		return
	case s.inMail:
		s.reply("503 5.5.1 Error: MAIL transaction in progress")
		return
	}
	mech := strings.ToUpper(cmd.args[0])
	var initial *string
	if len(cmd.args) > 1 {
		initial = &cmd.args[1]
	}
	var user, authz string
	var secret []byte
	switch mech {
	case "PLAIN":
		resp, ok := s.saslStep("", initial)
		if !ok {
			return
		}
		raw, err := decodeSASL(resp)
		if err != nil {
			s.reply("535 5.7.8 Error: authentication failed: another step is needed in authentication")
			return
		}
		parts := bytes.SplitN(raw, []byte{0}, 3)
		if len(parts) != 3 {
			s.emit(event.TypeLoginAttempt, map[string]any{"mechanism": mech, "malformed": true})
			s.reply("535 5.7.8 Error: authentication failed: authentication failure")
			return
		}
		authz, user, secret = string(parts[0]), string(parts[1]), parts[2]
	case "LOGIN":
		resp, ok := s.saslStep("VXNlcm5hbWU6", initial) // "Username:"
		if !ok {
			return
		}
		u, err := decodeSASL(resp)
		if err != nil {
			s.reply("535 5.7.8 Error: authentication failed: another step is needed in authentication")
			return
		}
		resp, ok = s.saslStep("UGFzc3dvcmQ6", nil) // "Password:"
		if !ok {
			return
		}
		if secret, err = decodeSASL(resp); err != nil {
			s.reply("535 5.7.8 Error: authentication failed: another step is needed in authentication")
			return
		}
		user = string(u)
	case "CRAM-MD5":
		// Not advertised, but Cyrus SASL behind Postfix still runs it.
		challenge := s.srv.cramChallenge()
		resp, ok := s.saslStep(base64.StdEncoding.EncodeToString([]byte(challenge)), initial)
		if !ok {
			return
		}
		raw, err := decodeSASL(resp)
		if err != nil {
			s.reply("535 5.7.8 Error: authentication failed: another step is needed in authentication")
			return
		}
		u, digest, ok := bytes.Cut(raw, []byte(" "))
		if !ok {
			s.reply("535 5.7.8 Error: authentication failed: bad protocol / cancel")
			return
		}
		e := s.c.Event(event.TypeLoginAttempt)
		e.Fields = map[string]any{"mechanism": mech, "username": clip(event.Printable(u), 255), "challenge": challenge}
		e.Credential = event.NewCredential(string(u), secretCRAMMD5, digest, event.OutcomeFailure)
		s.c.Emit(e)
		s.reply("535 5.7.8 Error: authentication failed: authentication failure")
		return
	default:
		s.reply("535 5.7.8 Error: authentication failed: no mechanism available")
		return
	}
	outcome := event.OutcomeFailure
	if s.srv.relay {
		outcome = event.OutcomeSuccess
	}
	e := s.c.Event(event.TypeLoginAttempt)
	e.Fields = map[string]any{"mechanism": mech, "username": clip(event.Printable([]byte(user)), 255)}
	if authz != "" {
		e.Fields["authzid"] = clip(event.Printable([]byte(authz)), 255)
	}
	e.Credential = event.NewCredential(user, event.SecretPlaintext, secret, outcome)
	s.c.Emit(e)
	if s.srv.relay {
		s.authed = true
		s.reply("235 2.7.0 Authentication successful")
		return
	}
	s.reply("535 5.7.8 Error: authentication failed: authentication failure")
}

// secretCRAMMD5 is the secret kind of a CRAM-MD5 response: the hex
// HMAC-MD5 of the challenge (in the event's challenge field) keyed with
// the password, which can be cracked offline.
const secretCRAMMD5 = "smtp_cram_md5"

// cramChallenge is a CRAM-MD5 challenge as Cyrus SASL makes it:
// <random.counter@hostname>.
func (srv *server) cramChallenge() string {
	srv.cramMu.Lock()
	defer srv.cramMu.Unlock()
	srv.cramSeq++
	return fmt.Sprintf("<%d.%d@%s>", rand.Uint32(), srv.cramSeq, srv.hostname)
}

// saslStep returns the client's response to a challenge: the initial
// response when there is one, else the next line after "334 challenge".
// A "*" aborts the exchange.
func (s *session) saslStep(challenge string, initial *string) (string, bool) {
	if initial != nil {
		if *initial == "*" {
			s.reply("501 5.7.0 Authentication aborted")
			return "", false
		}
		return *initial, true
	}
	s.reply("334 %s", challenge)
	line, err := s.readLine(saslLineLimit)
	if err != nil {
		s.readFailed(err)
		s.closing = true
		return "", false
	}
	if line == "*" {
		s.reply("501 5.7.0 Authentication aborted")
		return "", false
	}
	return line, true
}

// decodeSASL decodes a base64 SASL response. Like Cyrus SASL behind
// Postfix it takes no empty response ("=").
func decodeSASL(s string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || s == "" {
		return nil, errors.New("bad base64")
	}
	return b, nil
}

// clip cuts s to at most n bytes.
func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
