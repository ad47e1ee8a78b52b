package pop3

import (
	"bufio"
	"crypto/tls"
	"encoding/base64"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

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

// multi reads a multi-line answer up to the lone dot, unstuffed.
func (c *client) multi() []string {
	c.T.Helper()
	var out []string
	for {
		l := c.line()
		if l == "." {
			return out
		}
		out = append(out, strings.TrimPrefix(l, "."))
	}
}

func (c *client) send(line string) {
	c.T.Helper()
	if _, err := io.WriteString(c.Conn, line+"\r\n"); err != nil {
		c.T.Fatal(err)
	}
}

// cmd sends a line and returns the first answer line.
func (c *client) cmd(line string) string {
	c.T.Helper()
	c.send(line)
	return c.line()
}

func TestGreetingFollowsPersona(t *testing.T) {
	for _, tc := range []struct{ distro, want string }{
		{"debian", "+OK Dovecot (Debian) ready."},
		{"ubuntu22", "+OK Dovecot (Ubuntu) ready."},
		{"rocky9", "+OK Dovecot ready."},
	} {
		t.Run(tc.distro, func(t *testing.T) {
			p, _ := persona.NewWithDistro([]byte("secret"), "decky-test", tc.distro)
			addr, _ := start(t, p, nil)
			if got := dial(t, addr).line(); got != tc.want {
				t.Errorf("greeting %q, want %q", got, tc.want)
			}
		})
	}
	addr, _ := start(t, testPersona(), map[string]string{"banner": "POP3 server ready"})
	if got := dial(t, addr).line(); got != "+OK POP3 server ready" {
		t.Errorf("banner override: greeting %q", got)
	}
}

func TestSchemaRejectsBadConfig(t *testing.T) {
	for _, cfg := range []map[string]string{
		{"banner": ""}, {"banner": "a\r\nb"}, {"starttls": "maybe"}, {"auth_fail_delay_ms": "-5"}, {"colour": "blue"},
	} {
		env := honeypot.Env{Decky: decky.Identity{Name: "decky-test"}, Persona: testPersona(), Config: cfg}
		if _, err := (Service{}).configure(env); err == nil {
			t.Errorf("config %v accepted", cfg)
		}
	}
}

func TestLoginAndMailbox(t *testing.T) {
	p := testPersona()
	addr, rec := start(t, p, nil)
	acct := p.Logins[1]
	box := mailbox.For(p, acct.User)

	c := dial(t, addr)
	c.line()
	for _, step := range []struct{ send, want string }{
		{"STAT", "-ERR Unknown command."},
		{"USER " + acct.User, "+OK"},
		{"PASS wrong-" + acct.Password, "-ERR [AUTH] Authentication failed."},
		{"PASS x", "-ERR No username given."},
		{"USER " + acct.User, "+OK"},
		{"PASS " + acct.Password, "+OK Logged in."},
		{"USER x", "-ERR Unknown command: USER"},
		{"LIST 0", "-ERR There's no message 0."},
		{"LIST x", "-ERR Invalid message number: x"},
		{"TOP 1", "-ERR Noise after message number: "},
		{"DELE 1", "+OK Marked to be deleted."},
		{"RETR 1", "-ERR Message is deleted."},
		{"RSET", "+OK"},
	} {
		if got := c.cmd(step.send); got != step.want {
			t.Errorf("%s: got %q, want %q", step.send, got, step.want)
		}
	}
	total := 0
	for _, m := range box.Messages {
		total += m.Size()
	}
	if got, want := c.cmd("STAT"), "+OK "+strconv.Itoa(len(box.Messages))+" "+strconv.Itoa(total); got != want {
		t.Errorf("STAT %q, want %q", got, want)
	}
	last := len(box.Messages)
	if got := c.cmd("RETR " + strconv.Itoa(last)); got != "+OK "+strconv.Itoa(box.Messages[last-1].Size())+" octets" {
		t.Errorf("RETR answer %q", got)
	}
	body := strings.Join(c.multi(), "\r\n") + "\r\n"
	if body != string(box.Messages[last-1].Raw) {
		t.Errorf("RETR text differs from the bait message:\n%s", body)
	}
	if !strings.Contains(body, "Subject: VPN access") {
		t.Errorf("newest message is not the VPN bait:\n%s", body)
	}
	c.send("UIDL")
	if c.line() != "+OK" || len(c.multi()) != len(box.Messages) {
		t.Error("UIDL listing")
	}
	if got := c.cmd("QUIT"); got != "+OK Logging out." {
		t.Errorf("QUIT %q", got)
	}

	logins := rec.WaitFor(t, event.TypeLoginAttempt, 2)
	for i, want := range []struct{ secret, outcome string }{
		{"wrong-" + acct.Password, event.OutcomeFailure}, {acct.Password, event.OutcomeSuccess},
	} {
		e := logins[i]
		if e.Decky != "decky-test" || e.Service != "pop3" || e.SrcIP != "127.0.0.1" {
			t.Errorf("envelope %s/%s/%s", e.Decky, e.Service, e.SrcIP)
		}
		if cr := e.Credential; cr == nil || cr.Principal != acct.User || cr.SecretPrintable != want.secret || cr.Outcome != want.outcome {
			t.Errorf("login %d credential %+v", i, cr)
		}
	}
	reads := rec.WaitFor(t, "mail_read", 1)
	if reads[0].Fields["subject"] != "VPN access" {
		t.Errorf("mail_read %v", reads[0].Fields)
	}
	for _, e := range rec.OfType(event.TypeCommand) {
		if e.Fields["cmd"] == "PASS" && e.Fields["args"] != "" {
			t.Errorf("command event leaks the password: %v", e.Fields)
		}
	}
	rec.WaitFor(t, event.TypeDisconnect, 1)
}

func TestAuthPlain(t *testing.T) {
	p := testPersona()
	addr, rec := start(t, p, nil)
	root := p.Logins[0]
	c := dial(t, addr)
	c.line()
	if got := c.cmd("AUTH LOGIN"); got != "-ERR [AUTH] Unsupported authentication mechanism." {
		t.Errorf("AUTH LOGIN: %q", got)
	}
	if got := c.cmd("AUTH PLAIN"); got != "+ " {
		t.Fatalf("AUTH PLAIN: %q", got)
	}
	if got := c.cmd("*"); got != "-ERR Authentication aborted by client." {
		t.Errorf("abort: %q", got)
	}
	c.cmd("AUTH PLAIN")
	if got := c.cmd("!!"); got != "-ERR [AUTH] Invalid base64 in response" {
		t.Errorf("bad base64: %q", got)
	}
	ir := base64.StdEncoding.EncodeToString([]byte("\x00root\x00" + root.Password))
	if got := c.cmd("AUTH PLAIN " + ir); got != "+OK Logged in." {
		t.Fatalf("AUTH PLAIN with the root password: %q", got)
	}
	e := rec.WaitFor(t, event.TypeLoginAttempt, 1)[0]
	if e.Fields["method"] != "PLAIN" || e.Credential.Principal != "root" || e.Credential.Outcome != event.OutcomeSuccess {
		t.Errorf("login event %v %+v", e.Fields, e.Credential)
	}
}

func TestTooManyBadCommands(t *testing.T) {
	addr, _ := start(t, testPersona(), nil)
	c := dial(t, addr)
	c.line()
	c.cmd("FOO")
	c.cmd("USER a") // a good command resets the count
	c.cmd("BAR")
	c.cmd("BAZ")
	if got := c.cmd("QUX"); got != "-ERR Unknown command." {
		t.Errorf("third bad command: %q", got)
	}
	if got := c.line(); got != "-ERR Too many invalid bad commands." {
		t.Errorf("after third: %q", got)
	}
	if _, err := c.R.ReadString('\n'); err != io.EOF {
		t.Errorf("connection not closed: %v", err)
	}
}

func TestLongLineEndsConnection(t *testing.T) {
	addr, _ := start(t, testPersona(), nil)
	c := dial(t, addr)
	c.line()
	c.send("USER " + strings.Repeat("A", 10000))
	if got := c.line(); got != "-ERR Input buffer full, aborting" {
		t.Errorf("long line: %q", got)
	}
}

func TestSTLS(t *testing.T) {
	p := testPersona()
	addr, rec := start(t, p, nil)
	c := dial(t, addr)
	c.line()
	c.send("CAPA")
	c.line()
	if capa := strings.Join(c.multi(), " "); !strings.Contains(capa, "STLS") {
		t.Fatalf("CAPA lacks STLS: %s", capa)
	}
	if got := c.cmd("STLS"); got != "+OK Begin TLS negotiation now." {
		t.Fatalf("STLS: %q", got)
	}
	tc := tls.Client(c.Conn, &tls.Config{InsecureSkipVerify: true, ServerName: "mail"})
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	if cn := tc.ConnectionState().PeerCertificates[0].Subject.CommonName; cn != p.Hostname {
		t.Errorf("certificate CN %q, want the persona's hostname %q", cn, p.Hostname)
	}
	tcl := &client{&hptest.Client{T: t, Conn: tc, R: bufio.NewReader(tc)}}
	tcl.send("CAPA")
	tcl.line()
	if capa := strings.Join(tcl.multi(), " "); strings.Contains(capa, "STLS") {
		t.Errorf("CAPA over TLS still offers STLS: %s", capa)
	}
	tcl.cmd("USER root")
	tcl.cmd("PASS guess")
	e := rec.WaitFor(t, event.TypeLoginAttempt, 1)[0]
	if e.Fields["tls"] != true || e.Credential.SecretPrintable != "guess" {
		t.Errorf("login over TLS: %v %+v", e.Fields, e.Credential)
	}
	rec.WaitFor(t, "starttls", 1)

	off, _ := start(t, p, map[string]string{"starttls": "false"})
	c2 := dial(t, off)
	c2.line()
	if got := c2.cmd("STLS"); got != "-ERR TLS support isn't enabled." {
		t.Errorf("STLS when disabled: %q", got)
	}
}

func TestFailDelay(t *testing.T) {
	addr, _ := start(t, testPersona(), map[string]string{"auth_fail_delay_ms": "300"})
	c := dial(t, addr)
	c.line()
	c.cmd("USER root")
	t0 := time.Now()
	c.cmd("PASS nope")
	if d := time.Since(t0); d < 250*time.Millisecond {
		t.Errorf("failed login answered after %v, want about 300ms", d)
	}
}
