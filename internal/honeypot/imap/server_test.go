package imap

import (
	"bufio"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/decnet-go/decnet/internal/decky"
	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/honeypot"
	"github.com/decnet-go/decnet/internal/honeypot/hptest"
	"github.com/decnet-go/decnet/internal/honeypot/mailbox"
	"github.com/decnet-go/decnet/internal/honeypot/mailbox/dovecottest"
	"github.com/decnet-go/decnet/internal/persona"
)

var testPersona = dovecottest.Persona

// start runs the service until the test ends (see dovecottest.StartService).
func start(t testing.TB, p *persona.Persona, cfg map[string]string) (string, *hptest.Recorder) {
	t.Helper()
	return dovecottest.StartService(t, New(), p, cfg)
}

type client struct{ *hptest.Client }

func dial(t testing.TB, addr string) *client { return &client{hptest.DialClient(t, addr)} }

func (c *client) line() string { c.T.Helper(); return c.Line() }

// cmd sends a tagged command and returns every line up to the tagged reply,
// literal contents included.
func (c *client) cmd(tag, line string) []string {
	c.T.Helper()
	if _, err := io.WriteString(c.Conn, tag+" "+line+"\r\n"); err != nil {
		c.T.Fatal(err)
	}
	var out []string
	for {
		l := c.line()
		out = append(out, l)
		if strings.HasPrefix(l, tag+" ") || strings.HasPrefix(l, "* BYE") {
			return out
		}
		var n int
		if i := strings.LastIndexByte(l, '{'); i >= 0 && strings.HasSuffix(l, "}") {
			fmt.Sscanf(l[i:], "{%d}", &n)
			b := make([]byte, n)
			if _, err := io.ReadFull(c.R, b); err != nil {
				c.T.Fatal(err)
			}
			out = append(out, string(b))
		}
	}
}

func last(lines []string) string { return lines[len(lines)-1] }

// timed strips Dovecot's "(0.001 + 0.000 secs)" from a tagged reply.
func timed(s string) string {
	if i := strings.Index(s, " (0.0"); i >= 0 && strings.HasSuffix(s, " secs).") {
		return s[:i] + "."
	}
	return s
}

func TestGreetingFollowsPersona(t *testing.T) {
	for _, tc := range []struct{ distro, want string }{
		{"debian", "Dovecot (Debian) ready."},
		{"ubuntu22", "Dovecot (Ubuntu) ready."},
		{"alpine", "Dovecot ready."},
	} {
		t.Run(tc.distro, func(t *testing.T) {
			p, _ := persona.NewWithDistro([]byte("secret"), "decky-test", tc.distro)
			addr, _ := start(t, p, nil)
			want := "* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS AUTH=PLAIN] " + tc.want
			if got := dial(t, addr).line(); got != want {
				t.Errorf("greeting %q, want %q", got, want)
			}
		})
	}
	addr, _ := start(t, testPersona(), map[string]string{"banner": "IMAP ready", "starttls": "false"})
	if got := dial(t, addr).line(); got != "* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ AUTH=PLAIN] IMAP ready" {
		t.Errorf("configured greeting %q", got)
	}
}

func TestSchemaRejectsBadConfig(t *testing.T) {
	for _, cfg := range []map[string]string{
		{"banner": ""}, {"banner": "a\nb"}, {"starttls": "perhaps"}, {"auth_fail_delay_ms": "x"}, {"users": "a:b"},
	} {
		env := honeypot.Env{Decky: decky.Identity{Name: "decky-test"}, Persona: testPersona(), Config: cfg}
		if _, err := (Service{}).configure(env); err == nil {
			t.Errorf("config %v accepted", cfg)
		}
	}
}

func TestLoginSelectFetch(t *testing.T) {
	p := testPersona()
	addr, rec := start(t, p, nil)
	acct := p.Logins[1]
	box := mailbox.For(p, acct.User)
	n := len(box.Messages)
	c := dial(t, addr)
	c.line()

	if got := last(c.cmd("a1", "LOGIN "+acct.User+" wrong")); got != "a1 NO [AUTHENTICATIONFAILED] Authentication failed." {
		t.Errorf("bad login: %q", got)
	}
	if got := last(c.cmd("a2", "SELECT INBOX")); got != "a2 BAD Error in IMAP command received by server." {
		t.Errorf("SELECT before login: %q", got)
	}
	// LOGIN with a literal password, as clients send passwords with specials.
	if _, err := io.WriteString(c.Conn, fmt.Sprintf("a3 LOGIN \"%s\" {%d}\r\n", acct.User, len(acct.Password))); err != nil {
		t.Fatal(err)
	}
	if got := c.line(); got != "+ OK" {
		t.Fatalf("literal continuation %q", got)
	}
	io.WriteString(c.Conn, acct.Password+"\r\n")
	if got := c.line(); !strings.HasPrefix(got, "a3 OK [CAPABILITY IMAP4rev1 ") || !strings.HasSuffix(got, "] Logged in") {
		t.Fatalf("login: %q", got)
	}

	sel := c.cmd("a4", "SELECT INBOX")
	if !strings.Contains(strings.Join(sel, "\n"), fmt.Sprintf("* %d EXISTS", n)) || timed(last(sel)) != "a4 OK [READ-WRITE] Select completed." {
		t.Errorf("SELECT:\n%s", strings.Join(sel, "\n"))
	}
	f := c.cmd("a5", fmt.Sprintf("FETCH %d BODY[]", n))
	if len(f) != 4 || f[0] != fmt.Sprintf("* %d FETCH (FLAGS (\\Seen) BODY[] {%d}", n, box.Messages[n-1].Size()) || f[1] != string(box.Messages[n-1].Raw) {
		t.Errorf("FETCH BODY[]:\n%q", f)
	}
	f = c.cmd("a6", "UID FETCH 1:* (FLAGS RFC822.SIZE)")
	if len(f) != n+1 || !strings.HasPrefix(f[0], fmt.Sprintf("* 1 FETCH (UID %d FLAGS (", box.Messages[0].UID)) {
		t.Errorf("UID FETCH:\n%s", strings.Join(f, "\n"))
	}
	f = c.cmd("a7", "SEARCH SUBJECT \"VPN access\"")
	if f[0] != fmt.Sprintf("* SEARCH %d", n) {
		t.Errorf("SEARCH: %q", f)
	}
	f = c.cmd("a8", "FETCH 1 ENVELOPE")
	if !strings.Contains(f[0], `"`+box.Messages[0].Subject+`"`) || !strings.Contains(f[0], box.Messages[0].MessageID) {
		t.Errorf("ENVELOPE: %q", f[0])
	}
	if got := timed(last(c.cmd("a9", "FOO"))); got != "a9 BAD Error in IMAP command FOO: Unknown command." {
		t.Errorf("unknown: %q", got)
	}
	if got := timed(last(c.cmd("b1", "FETCH 99 FLAGS"))); got != "b1 BAD Error in IMAP command FETCH: Invalid messageset." {
		t.Errorf("bad set: %q", got)
	}
	if got := c.cmd("b2", "LOGOUT"); got[0] != "* BYE Logging out" {
		t.Errorf("LOGOUT %q", got)
	}

	logins := rec.WaitFor(t, event.TypeLoginAttempt, 2)
	for i, w := range []struct{ secret, outcome string }{{"wrong", event.OutcomeFailure}, {acct.Password, event.OutcomeSuccess}} {
		e := logins[i]
		if cr := e.Credential; cr == nil || cr.Principal != acct.User || cr.SecretPrintable != w.secret || cr.Outcome != w.outcome {
			t.Errorf("login %d: %+v", i, e.Credential)
		}
		if e.Decky != "decky-test" || e.Service != "imap" || e.SrcIP != "127.0.0.1" {
			t.Errorf("envelope %s/%s/%s", e.Decky, e.Service, e.SrcIP)
		}
	}
	if r := rec.WaitFor(t, "mail_read", 1); r[0].Fields["subject"] != "VPN access" {
		t.Errorf("mail_read %v", r[0].Fields)
	}
	var states []string
	for _, e := range rec.OfType(event.TypeCommand) {
		if e.Fields["cmd"] == "LOGIN" && e.Fields["args"] != "" {
			t.Errorf("command event leaks the password: %v", e.Fields)
		}
		states = append(states, fmt.Sprint(e.Fields["cmd"], "/", e.Fields["state"]))
	}
	if s := strings.Join(states, " "); !strings.Contains(s, "LOGIN/not_authenticated") || !strings.Contains(s, "FETCH/selected") {
		t.Errorf("command states: %s", s)
	}
}

func TestAuthenticatePlain(t *testing.T) {
	p := testPersona()
	addr, rec := start(t, p, nil)
	c := dial(t, addr)
	c.line()
	if got := last(c.cmd("a", "AUTHENTICATE CRAM-MD5")); got != "a NO [ALERT] Unsupported authentication mechanism." {
		t.Errorf("CRAM-MD5: %q", got)
	}
	io.WriteString(c.Conn, "b AUTHENTICATE PLAIN\r\n")
	if got := c.line(); got != "+ " {
		t.Fatalf("continuation %q", got)
	}
	io.WriteString(c.Conn, "*\r\n")
	if got := c.line(); got != "b BAD Authentication aborted by client." {
		t.Errorf("abort: %q", got)
	}
	ir := base64.StdEncoding.EncodeToString([]byte("\x00root\x00" + p.Logins[0].Password))
	if got := last(c.cmd("c", "AUTHENTICATE PLAIN "+ir)); !strings.HasSuffix(got, "] Logged in") {
		t.Errorf("SASL-IR login: %q", got)
	}
	e := rec.WaitFor(t, event.TypeLoginAttempt, 1)[0]
	if e.Fields["method"] != "PLAIN" || e.Credential.Principal != "root" || e.Credential.Outcome != event.OutcomeSuccess {
		t.Errorf("login event %v %+v", e.Fields, e.Credential)
	}
}

func TestBadCommandsAndLimits(t *testing.T) {
	addr, _ := start(t, testPersona(), nil)
	c := dial(t, addr)
	c.line()
	c.cmd("a", "FOO")
	c.cmd("b", "NOOP") // valid commands do not forgive earlier ones
	c.cmd("c", "BAR")
	if got := c.cmd("d", "BAZ"); got[0] != "* BYE Too many invalid IMAP commands." {
		t.Errorf("third bad command: %q", got)
	}

	c = dial(t, addr)
	c.line()
	if got := c.cmd("a", "LOGIN {99999999}"); got[0] != "* BYE Literal size too large" {
		t.Errorf("huge literal: %q", got)
	}
	c = dial(t, addr)
	c.line()
	if got := c.cmd("a", "LOGIN "+strings.Repeat("x", 10000)+" y"); got[0] != "* BYE Input buffer full, aborting" {
		t.Errorf("long line: %q", got)
	}
}

func TestSTARTTLS(t *testing.T) {
	p := testPersona()
	addr, rec := start(t, p, nil)
	c := dial(t, addr)
	c.line()
	if got := c.cmd("a", "STARTTLS"); got[0] != "a OK Begin TLS negotiation now." {
		t.Fatalf("STARTTLS %q", got)
	}
	tc := tls.Client(c.Conn, &tls.Config{InsecureSkipVerify: true})
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	if cn := tc.ConnectionState().PeerCertificates[0].Subject.CommonName; cn != p.Hostname {
		t.Errorf("certificate CN %q, want %q", cn, p.Hostname)
	}
	c2 := &client{&hptest.Client{T: t, Conn: tc, R: bufio.NewReader(tc)}}
	if got := c2.cmd("b", "CAPABILITY"); strings.Contains(got[0], "STARTTLS") {
		t.Errorf("capabilities over TLS offer STARTTLS: %q", got[0])
	}
	c2.cmd("c", "LOGIN root hunter2")
	if e := rec.WaitFor(t, event.TypeLoginAttempt, 1)[0]; e.Fields["tls"] != true || e.Credential.SecretPrintable != "hunter2" {
		t.Errorf("login over TLS %v %+v", e.Fields, e.Credential)
	}
}
