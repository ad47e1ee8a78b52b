package smtp

import (
	"context"
	"crypto/hmac"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/honeypot"
)

// exchange is one command (sent with CRLF) and the reply it must get.
type exchange struct{ send, want string }

// ehloReply is the EHLO answer of the default configuration.
func ehloReply(host string, tls bool) string {
	lines := []string{"250-" + host, "250-PIPELINING", "250-SIZE 10240000", "250-VRFY", "250-ETRN"}
	if tls {
		lines = append(lines, "250-STARTTLS")
	}
	lines = append(lines, "250-AUTH PLAIN LOGIN", "250-ENHANCEDSTATUSCODES", "250-8BITMIME", "250-DSN", "250-SMTPUTF8", "250 CHUNKING")
	return strings.Join(lines, "\n")
}

// TestStateMachine drives the command state machine of the smtp service
// through Postfix's answers (recorded from Postfix 3.7 on Debian 12).
func TestStateMachine(t *testing.T) {
	host := testPersona().Hostname
	user := testPersona().User
	tests := []struct {
		name  string
		relay bool
		steps []exchange
	}{
		{"ehlo and quit", false, []exchange{{"EHLO client.example", ehloReply(host, true)}, {"QUIT", "221 2.0.0 Bye"}}},
		{"helo", false, []exchange{{"HELO client.example", "250 " + host}, {"HELO", "501 Syntax: HELO hostname"}, {"EHLO", "501 Syntax: EHLO hostname"}}},
		{"unknown and empty commands", false, []exchange{
			{"HELP", "500 5.5.2 Error: command not recognized"}, {"EXPN root", "500 5.5.2 Error: command not recognized"},
			{"", "500 5.5.2 Error: bad syntax"}, {"noop", "250 2.0.0 Ok"}, {"NOOP x", "250 2.0.0 Ok"},
		}},
		{"bad sequence", false, []exchange{
			{"EHLO c", ehloReply(host, true)},
			{"RCPT TO:<root@localhost>", "503 5.5.1 Error: need MAIL command"},
			{"DATA", "503 5.5.1 Error: need RCPT command"},
			{"MAIL FROM:<a@b.example>", "250 2.1.0 Ok"},
			{"MAIL FROM:<a@b.example>", "503 5.5.1 Error: nested MAIL command"},
			{"DATA", "554 5.5.1 Error: no valid recipients"},
			{"AUTH PLAIN AGEAYg==", "503 5.5.1 Error: MAIL transaction in progress"},
			{"ETRN example.com", "503 Error: MAIL transaction in progress"},
			{"RSET x", "501 5.5.4 Syntax: RSET"},
			{"RSET", "250 2.0.0 Ok"},
			{"MAIL FROM:<a@b.example>", "250 2.1.0 Ok"},
		}},
		{"malformed MAIL", false, []exchange{
			{"MAIL TO:<x>", "501 5.5.4 Syntax: MAIL FROM:<address>"},
			{"MAIL FROM:", "501 5.5.4 Syntax: MAIL FROM:<address>"},
			{"MAIL", "501 5.5.4 Syntax: MAIL FROM:<address>"},
			{"MAIL FROM:<a@b", "501 5.1.7 Bad sender address syntax"},
			{"MAIL FROM:<a b@c.com>", "501 5.1.7 Bad sender address syntax"},
			{"MAIL FROM:<a@b.com> x", "555 5.5.4 Unsupported option: x"},
			{"MAIL FROM:<a@b.com> BODY=9BIT", "555 5.5.4 Unsupported option: BODY=9BIT"},
			{"MAIL FROM:<a@b.com> SIZE=abc", "501 5.5.4 Bad message size syntax"},
			{"MAIL FROM:<\"a b\"@c.com>", "250 2.1.0 Ok"},
		}},
		{"declared size is remembered until reset", false, []exchange{
			{"MAIL FROM:<a@b.com> SIZE=99999999", "552 5.3.4 Message size exceeds fixed limit"},
			{"MAIL FROM:<a@b.com>", "552 5.3.4 Message size exceeds fixed limit"},
			{"RSET", "250 2.0.0 Ok"},
			{"MAIL FROM: <a@b.com> SIZE=100 BODY=8BITMIME SMTPUTF8", "250 2.1.0 Ok"},
		}},
		{"null sender and bare address", false, []exchange{
			{"MAIL FROM:<>", "250 2.1.0 Ok"}, {"RSET", "250 2.0.0 Ok"}, {"MAIL FROM:bogus", "250 2.1.0 Ok"},
		}},
		{"recipients of the plain server", false, []exchange{
			{"MAIL FROM:<a@b.com>", "250 2.1.0 Ok"},
			{"RCPT TO:", "501 5.5.4 Syntax: RCPT TO:<address>"},
			{"RCPT FROM:<x>", "501 5.5.4 Syntax: RCPT TO:<address>"},
			{"RCPT TO:<>", "501 5.1.3 Bad recipient address syntax"},
			{"RCPT TO:<x@y.com>", "454 4.7.1 <x@y.com>: Relay access denied"},
			{"RCPT TO:<a@b@c>", "454 4.7.1 <a@b@c>: Relay access denied"},
			{"RCPT TO:<nosuchuser@" + host + ">", "550 5.1.1 <nosuchuser@" + host + ">: Recipient address rejected: User unknown in local recipient table"},
			{"RCPT TO:<nosuchuser>", "550 5.1.1 <nosuchuser>: Recipient address rejected: User unknown in local recipient table"},
			{"RCPT TO:<root@localhost> FOO=1", "555 5.5.4 Unsupported option: FOO=1"},
			{"RCPT TO:<Root@" + strings.ToUpper(host) + ">", "250 2.1.5 Ok"},
			{"RCPT TO:<postmaster>", "250 2.1.5 Ok"},
			{"RCPT TO:<" + user + "+tag@localhost> NOTIFY=NEVER ORCPT=rfc822;x@y", "250 2.1.5 Ok"},
			{"RCPT TO:<x@[127.0.0.1]>", "550 5.1.1 <x@[127.0.0.1]>: Recipient address rejected: User unknown in local recipient table"},
			{"DATA x", "501 5.5.4 Syntax: DATA"},
			{"DATA", "354 End data with <CR><LF>.<CR><LF>"},
		}},
		{"open relay accepts anyone", true, []exchange{
			{"EHLO c", ehloReply(host, true)},
			{"AUTH PLAIN AGFkbWluAHNlY3JldA==", "235 2.7.0 Authentication successful"},
			{"AUTH LOGIN", "503 5.5.1 Error: already authenticated"},
			{"MAIL FROM:<a@b.com>", "250 2.1.0 Ok"},
			{"RCPT TO:<x@y.com>", "250 2.1.5 Ok"},
			{"VRFY x@y.com", "252 2.0.0 x@y.com"},
		}},
		{"vrfy", false, []exchange{
			{"VRFY", "501 5.5.4 Syntax: VRFY address [SMTPUTF8]"},
			{"VRFY root", "252 2.0.0 root"},
			{"VRFY <postmaster@" + host + ">", "252 2.0.0 <postmaster@" + host + ">"},
			{"VRFY nosuchuser", "550 5.1.1 <nosuchuser>: Recipient address rejected: User unknown in local recipient table"},
			{"VRFY x@y.com", "454 4.7.1 <x@y.com>: Relay access denied"},
			{"VRFY a b", "501 5.1.3 Bad recipient address syntax"},
		}},
		{"etrn", false, []exchange{
			{"ETRN", "500 Syntax: ETRN domain"},
			{"ETRN x", "459 <x>: service unavailable"}, // no HELO needed
			{"EHLO c", ehloReply(host, true)},
			{"ETRN", "500 Syntax: ETRN domain"},
			{"ETRN #example.com", "459 <example.com>: service unavailable"},
		}},
		{"auth exchanges", false, []exchange{
			{"AUTH", "501 5.5.4 Syntax: AUTH mechanism"},
			{"AUTH FOO", "535 5.7.8 Error: authentication failed: no mechanism available"},
			{"AUTH CRAM-MD5", "~334 "}, {"YWRtaW4=", "535 5.7.8 Error: authentication failed: bad protocol / cancel"},
			{"AUTH PLAIN AGFkbWluAHNlY3JldA==", "535 5.7.8 Error: authentication failed: authentication failure"},
			{"AUTH PLAIN =", "535 5.7.8 Error: authentication failed: another step is needed in authentication"},
			{"AUTH PLAIN", "334 "}, {"AGFkbWluAHNlY3JldA==", "535 5.7.8 Error: authentication failed: authentication failure"},
			{"AUTH LOGIN", "334 VXNlcm5hbWU6"}, {"YWRtaW4=", "334 UGFzc3dvcmQ6"}, {"c2VjcmV0", "535 5.7.8 Error: authentication failed: authentication failure"},
			{"AUTH LOGIN YWRtaW4=", "334 UGFzc3dvcmQ6"}, {"*", "501 5.7.0 Authentication aborted"},
		}},
		{"starttls syntax", false, []exchange{{"STARTTLS x", "501 5.5.4 Syntax: STARTTLS"}}},
		{"bdat", false, []exchange{
			{"MAIL FROM:<a@b.com>", "250 2.1.0 Ok"},
			{"RCPT TO:<root@localhost>", "250 2.1.5 Ok"},
			{"BDAT 4\r\nab", "250 2.0.0 Ok: 4 bytes"},                // the chunk is "ab\r\n"
			{"BDAT 2 LAST\r\n", "~250 2.0.0 Ok: 6 bytes queued as "}, // the chunk is the CRLF cmd adds
			{"BDAT 3\r\na", "503 5.5.1 Error: need RCPT command"},
			{"BDAT x", "521 5.5.4 Syntax: BDAT count [LAST]"},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := start(t, tc.relay, nil)
			cl := dial(t, in.addr)
			if got, want := cl.reply(), "220 "+host+" ESMTP Postfix"+bannerFlavour(testPersona().Distro); got != want {
				t.Fatalf("greeting %q, want %q", got, want)
			}
			for _, x := range tc.steps {
				got := cl.cmd(x.send)
				if prefix, ok := strings.CutPrefix(x.want, "~"); ok {
					if !strings.HasPrefix(got, prefix) {
						t.Errorf("%q: got %q, want prefix %q", x.send, got, prefix)
					}
					continue
				}
				if got != x.want {
					t.Errorf("%q: got %q, want %q", x.send, got, x.want)
				}
			}
		})
	}
}

// TestPipelining sends a whole transaction in one write and gets every
// reply in order, as a PIPELINING client expects.
func TestPipelining(t *testing.T) {
	in := start(t, true, nil)
	cl := dial(t, in.addr)
	cl.reply()
	cl.send("EHLO c\r\nMAIL FROM:<a@b.com>\r\nRCPT TO:<x@y.com>\r\nRCPT TO:<z@w.org>\r\nDATA\r\n")
	want := []string{ehloReply(testPersona().Hostname, true), "250 2.1.0 Ok", "250 2.1.5 Ok", "250 2.1.5 Ok", "354 End data with <CR><LF>.<CR><LF>"}
	for _, w := range want {
		if got := cl.reply(); got != w {
			t.Fatalf("got %q, want %q", got, w)
		}
	}
	cl.send("Subject: hi\r\n\r\n..dot-stuffed\r\n.\r\nQUIT\r\n")
	if got := cl.reply(); !strings.HasPrefix(got, "250 2.0.0 Ok: queued as ") {
		t.Fatalf("after DATA: %q", got)
	}
	if got := cl.reply(); got != "221 2.0.0 Bye" {
		t.Fatalf("QUIT: %q", got)
	}
	e := in.rec.WaitFor(t, "message_stored", 1)[0]
	b, err := os.ReadFile(filepath.Join(in.stateDir, "artifacts", e.Fields["stored_as"].(string)))
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != "Subject: hi\r\n\r\n.dot-stuffed\r\n" {
		t.Errorf("stored %q: dot-stuffing not undone", b)
	}
	if e.Fields["rcpt_count"] != 2 || e.Fields["rcpt_domains"] != "y.com,w.org" {
		t.Errorf("rcpt fields %v %v", e.Fields["rcpt_count"], e.Fields["rcpt_domains"])
	}
	for k, v := range e.Fields {
		if s, ok := v.(string); ok && (strings.Contains(s, "x@y.com") || strings.Contains(s, "z@w.org")) {
			t.Errorf("message_stored field %s carries a recipient address: %q", k, s)
		}
	}
}

// TestErrorLimit ends the session with Postfix's 421 after 20 errors.
func TestErrorLimit(t *testing.T) {
	in := start(t, false, nil)
	cl := dial(t, in.addr)
	cl.reply()
	for i := range hardErrorLimit {
		if got := cl.cmd("FOO"); got != "500 5.5.2 Error: command not recognized" {
			t.Fatalf("error %d: %q", i, got)
		}
	}
	if got := cl.reply(); got != "421 4.7.0 "+testPersona().Hostname+" Error: too many errors" {
		t.Fatalf("after %d errors: %q", hardErrorLimit, got)
	}
	if got := cl.reply(); got != "<EOF>" {
		t.Fatalf("connection still open: %q", got)
	}
	if n := len(in.rec.OfType("unknown_command")); n != hardErrorLimit {
		t.Errorf("%d unknown_command events, want %d", n, hardErrorLimit)
	}

	// Delivering mail clears the count, as in Postfix (checked against 3.7).
	cl = dial(t, in.addr)
	cl.reply()
	for range hardErrorLimit - 1 {
		cl.cmd("FOO")
	}
	cl.cmd("MAIL FROM:<a@b.com>")
	cl.cmd("RCPT TO:<root@localhost>")
	cl.cmd("DATA")
	if got := cl.cmd("Subject: x\r\n\r\nx\r\n."); !strings.HasPrefix(got, "250 2.0.0 Ok: queued as ") {
		t.Fatalf("DATA: %q", got)
	}
	for range 3 {
		if got := cl.cmd("FOO"); got != "500 5.5.2 Error: command not recognized" {
			t.Fatalf("after delivery: %q", got)
		}
	}
}

// TestLimits checks that an over-long command line is cut and answered
// once, and that a message over the size limit is refused and not kept.
func TestLimits(t *testing.T) {
	in := start(t, true, map[string]string{"max_message_size": "2048"})
	cl := dial(t, in.addr)
	cl.reply()
	if got := cl.cmd("NOOP " + strings.Repeat("x", 10000)); got != "250 2.0.0 Ok" {
		t.Fatalf("long line: %q", got)
	}
	if got := cl.cmd("NOOP"); got != "250 2.0.0 Ok" {
		t.Fatalf("after long line: %q", got)
	}
	if got := cl.cmd("EHLO c"); !strings.Contains(got, "250-SIZE 2048\n") {
		t.Fatalf("EHLO does not advertise the configured size: %q", got)
	}
	cl.cmd("MAIL FROM:<a@b.com>")
	cl.cmd("RCPT TO:<x@y.com>")
	cl.cmd("DATA")
	cl.send(strings.Repeat("0123456789abcdef\r\n", 200) + ".\r\n")
	if got := cl.reply(); got != "552 5.3.4 Message size exceeds fixed limit" {
		t.Fatalf("oversize message: %q", got)
	}
	if got := cl.cmd("RCPT TO:<x@y.com>"); got != "503 5.5.1 Error: need MAIL command" {
		t.Fatalf("transaction not reset: %q", got)
	}
	if n := len(in.rec.OfType("message_stored")); n != 0 {
		t.Errorf("%d messages stored, want none", n)
	}
	cl.cmd("MAIL FROM:<a@b.com>")
	for i := range recipientLimit {
		if got := cl.cmd(fmt.Sprintf("RCPT TO:<r%d@y.com>", i)); got != "250 2.1.5 Ok" {
			t.Fatalf("rcpt %d: %q", i, got)
		}
	}
	if got := cl.cmd("RCPT TO:<one-too-many@y.com>"); got != "452 4.5.3 Error: too many recipients" {
		t.Fatalf("recipient limit: %q", got)
	}
}

// TestEvents checks the envelope and fields of the command events.
func TestEvents(t *testing.T) {
	in := start(t, false, nil)
	cl := dial(t, in.addr)
	cl.reply()
	cl.cmd("EHLO attacker.example")
	cl.cmd("AUTH LOGIN YWRtaW4=")
	cl.cmd("UEBzcw==")
	cl.cmd("MAIL FROM:<Spam@Evil.Example>")
	cl.cmd("RCPT TO:<victim@elsewhere.example>")
	cl.cmd("RCPT TO:<root@localhost>")
	cl.cmd("VRFY admin")
	cl.cmd("XYZZY plugh")
	cl.cmd("QUIT")
	in.rec.WaitFor(t, event.TypeDisconnect, 1)
	for _, e := range in.rec.Events() {
		if e.Decky != testDecky || e.Service != "smtp" || e.SrcIP != "127.0.0.1" || e.Session == "" {
			t.Errorf("%s envelope: decky %q service %q src %q session %q", e.Type, e.Decky, e.Service, e.SrcIP, e.Session)
		}
		if err := e.Validate(); err != nil {
			t.Errorf("%s: %v", e.Type, err)
		}
	}
	check := func(typ string, want map[string]any) {
		t.Helper()
		evs := in.rec.OfType(typ)
		if len(evs) != 1 {
			t.Fatalf("%d %s events, want 1", len(evs), typ)
		}
		for k, v := range want {
			if got := evs[0].Fields[k]; got != v {
				t.Errorf("%s.%s = %#v, want %#v", typ, k, got, v)
			}
		}
	}
	check("ehlo", map[string]any{"domain": "attacker.example", "verb": "EHLO"})
	check(event.TypeLoginAttempt, map[string]any{"mechanism": "LOGIN", "username": "admin"})
	check("mail_from", map[string]any{"value": "<Spam@Evil.Example>", "mail_from": "Spam@Evil.Example", "domain": "evil.example"})
	check("rcpt_denied", map[string]any{"value": "<victim@elsewhere.example>", "reply": "454 4.7.1 <victim@elsewhere.example>: Relay access denied"})
	check("rcpt_to", map[string]any{"value": "<root@localhost>"})
	check("vrfy", map[string]any{"value": "admin"})
	check("unknown_command", map[string]any{"command": "XYZZY plugh"})
	c := in.rec.OfType(event.TypeLoginAttempt)[0].Credential
	if c == nil || c.Principal != "admin" || c.SecretPrintable != "P@ss" || c.SecretB64 != "UEBzcw==" || c.Kind() != event.SecretPlaintext || c.Outcome != event.OutcomeFailure {
		t.Errorf("credential %+v", c)
	}
}

// TestConfig checks the operator's keys and their validation.
func TestConfig(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cfg     map[string]string
		wantErr string
	}{
		{"unknown key", map[string]string{"banenr": "x"}, `unknown key "banenr"`},
		{"size not a number", map[string]string{"max_message_size": "big"}, "not a whole number"},
		{"size too big", map[string]string{"max_message_size": "20000000"}, "not between"},
		{"bad hostname", map[string]string{"hostname": "a b"}, "not a host name"},
		{"two-line banner", map[string]string{"banner": "a\r\n250 b"}, "one line"},
		{"starttls not bool", map[string]string{"starttls": "maybe"}, "not true or false"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New().(*Service).newServer(testEnv(t, tc.cfg))
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err %v, want %q", err, tc.wantErr)
			}
		})
	}
	in := start(t, false, map[string]string{
		"hostname": "mx1.corp.example", "mail_domain": "corp.example", "banner": "mx1.corp.example ESMTP Postfix (Ubuntu)", "starttls": "false",
	})
	cl := dial(t, in.addr)
	if got := cl.reply(); got != "220 mx1.corp.example ESMTP Postfix (Ubuntu)" {
		t.Errorf("greeting %q", got)
	}
	if got := cl.cmd("EHLO c"); got != ehloReply("mx1.corp.example", false) {
		t.Errorf("EHLO %q", got)
	}
	if got := cl.cmd("STARTTLS"); got != "502 5.5.1 Error: command not implemented" {
		t.Errorf("STARTTLS without TLS: %q", got)
	}
	cl.cmd("MAIL FROM:<a@b.com>")
	if got := cl.cmd("RCPT TO:<root@corp.example>"); got != "250 2.1.5 Ok" {
		t.Errorf("mail_domain not local: %q", got)
	}
}

// TestBannerFlavour checks the greeting each distro's Postfix package shows.
func TestBannerFlavour(t *testing.T) {
	for slug, want := range map[string]string{
		"debian": " (Debian/GNU)", "debian11": " (Debian/GNU)", "ubuntu22": " (Ubuntu)", "ubuntu20": " (Ubuntu)",
		"rocky9": "", "centos7": "", "alpine": "", "kali": " (Debian/GNU)",
	} {
		p, err := personaWithDistro(slug)
		if err != nil {
			t.Fatal(err)
		}
		if got := bannerFlavour(p.Distro); got != want {
			t.Errorf("%s: %q, want %q", slug, got, want)
		}
	}
}

// TestBDATEndsLastLine checks that a BDAT message without a final line
// ending gets one, as Postfix adds it, and is stored whole.
func TestBDATEndsLastLine(t *testing.T) {
	in := start(t, true, nil)
	cl := dial(t, in.addr)
	cl.reply()
	cl.send("EHLO c\r\nMAIL FROM:<a@b.com>\r\nRCPT TO:<x@y.com>\r\nBDAT 7 LAST\r\nSubject")
	for range 3 {
		cl.reply()
	}
	if got := cl.reply(); !strings.HasPrefix(got, "250 2.0.0 Ok: 9 bytes queued as ") {
		t.Fatalf("BDAT LAST: %q", got)
	}
	e := in.rec.WaitFor(t, "message_stored", 1)[0]
	if e.Fields["size"] != int64(9) {
		t.Errorf("stored size %v, want 9", e.Fields["size"])
	}
}

// TestCRAMMD5 captures a CRAM-MD5 response with the challenge it answers,
// so the password can be cracked offline.
func TestCRAMMD5(t *testing.T) {
	in := start(t, false, nil)
	cl := dial(t, in.addr)
	cl.reply()
	got := cl.cmd("AUTH CRAM-MD5")
	b64, ok := strings.CutPrefix(got, "334 ")
	if !ok {
		t.Fatalf("AUTH CRAM-MD5: %q", got)
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || !regexp.MustCompile(`^<\d+\.\d+@`+regexp.QuoteMeta(testPersona().Hostname)+`>$`).Match(raw) {
		t.Fatalf("challenge %q (%v)", raw, err)
	}
	mac := hmac.New(md5.New, []byte("hunter2"))
	mac.Write(raw)
	digest := hex.EncodeToString(mac.Sum(nil))
	if got := cl.cmd(base64.StdEncoding.EncodeToString([]byte("admin " + digest))); got != "535 5.7.8 Error: authentication failed: authentication failure" {
		t.Fatalf("response: %q", got)
	}
	e := in.rec.WaitFor(t, event.TypeLoginAttempt, 1)[0]
	if e.Fields["challenge"] != string(raw) || e.Credential == nil || e.Credential.Principal != "admin" ||
		e.Credential.SecretPrintable != digest || e.Credential.SecretKind != secretCRAMMD5 {
		t.Errorf("event %v credential %+v", e.Fields, e.Credential)
	}
}

// TestIdleTimeout ends a silent session with Postfix's timeout reply.
func TestIdleTimeout(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	env := testEnv(t, map[string]string{"starttls": "false"})
	srv, err := New().(*Service).newServer(env)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- honeypot.Serve(ctx, l, env, "smtp", honeypot.Limits{IdleTimeout: 200 * time.Millisecond}, srv.handle)
	}()
	t.Cleanup(func() { cancel(); <-done })
	cl := dial(t, l.Addr().String())
	cl.reply()
	cl.cmd("EHLO c")
	if got := cl.reply(); got != "421 4.4.2 "+testPersona().Hostname+" Error: timeout exceeded" {
		t.Fatalf("idle client: %q", got)
	}
	if got := cl.reply(); got != "<EOF>" {
		t.Fatalf("connection still open: %q", got)
	}
}
