package smtp

// Differential test: the same probe sessions against a real Postfix (the
// Debian package, started on a loopback port from a throw-away
// configuration) and against the smtp service, replies compared line by
// line after the queue id, which differs by nature, is masked.
//
// Postfix is configured as a Debian install looks to an attacker: the
// persona's host name and banner, mydestination = $myhostname,
// localhost.localdomain, localhost; the attacker outside mynetworks; Cyrus
// SASL offering PLAIN and LOGIN with an empty user database (every login
// fails); STARTTLS with a self-signed certificate.
//
// Known differences, not probed here:
//   - Local users: Postfix looks users up in the host's /etc/passwd, the
//     service in the persona's. The corpus only uses root and an unknown name.
//   - Timing: Postfix sleeps one second before every error reply after the
//     tenth error and (on failed AUTH) adds Cyrus's delay; the service
//     copies the first, not the second.
//   - TLS: the handshake is Go's crypto/tls, not OpenSSL; a JA3S/JARM
//     fingerprint tells them apart. The certificate is a self-signed RSA
//     2048 one like Debian's snakeoil.
//   - BDAT byte counts: Postfix counts the bytes it queued after its own
//     header rewriting; the service counts the bytes received (they agree
//     for messages without a bare CR or LF).
//   - Replies that depend on real queue state (ETRN with fast_flush_domains,
//     mailbox delivery) and XCLIENT/XFORWARD from authorized hosts.

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/decnet-go/decnet/internal/honeypot/hptest"
	"github.com/decnet-go/decnet/internal/honeypot/tlsfp"
	"github.com/decnet-go/decnet/internal/testkit/gate"
)

const compareHost = "mail.example.com"

// startPostfix runs Postfix's master in the foreground from a temporary
// configuration directory, smtpd on a free loopback port; it is stopped
// when the test ends.
func startPostfix(t *testing.T) string {
	t.Helper()
	gate.RealServers(t)
	bin := gate.Tool(t, "postfix")
	if os.Geteuid() != 0 {
		gate.Missing(t, "starting postfix needs root")
	}
	pf, err := user.Lookup("postfix")
	if err != nil {
		gate.Missing(t, "no postfix user: "+err.Error())
	}
	uid, _ := strconv.Atoi(pf.Uid)
	dir := t.TempDir()
	for d := dir; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		os.Chmod(d, 0o755) // the postfix user must reach the queue
	}
	conf, queue, data := filepath.Join(dir, "conf"), filepath.Join(dir, "queue"), filepath.Join(dir, "data")
	for _, d := range []string{conf, queue, data} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chown(data, uid, -1); err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := tlsfp.SelfSigned(compareHost, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(conf, "cert.pem"), certPEM, 0o644)
	os.WriteFile(filepath.Join(conf, "key.pem"), keyPEM, 0o600)
	os.WriteFile(filepath.Join(conf, "smtpd.conf"), []byte("pwcheck_method: auxprop\nauxprop_plugin: sasldb\nsasldb_path: "+filepath.Join(dir, "sasldb2")+"\n"), 0o644)
	addr := hptest.FreeAddr(t)
	main := fmt.Sprintf(`compatibility_level = 3.6
queue_directory = %[1]s
data_directory = %[2]s
maillog_file = %[3]s/maillog
maillog_file_prefixes = %[3]s
myhostname = %[4]s
mydestination = $myhostname, localhost.localdomain, localhost
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 192.0.2.0/24
smtpd_banner = $myhostname ESMTP $mail_name%[5]s
smtpd_relay_restrictions = permit_mynetworks permit_sasl_authenticated defer_unauth_destination
biff = no
append_dot_mydomain = no
recipient_delimiter = +
alias_maps =
alias_database =
local_transport = discard
default_transport = discard
relay_transport = discard
smtpd_tls_cert_file = %[6]s/cert.pem
smtpd_tls_key_file = %[6]s/key.pem
smtpd_tls_security_level = may
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = cyrus
smtpd_sasl_path = smtpd
cyrus_sasl_config_path = %[6]s
smtpd_sasl_mechanism_filter = plain, login
`, queue, data, dir, compareHost, bannerFlavour(testPersona().Distro), conf)
	if err := os.WriteFile(filepath.Join(conf, "main.cf"), []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	// Debian's master.cf, with smtpd on our port and nothing chrooted.
	stock, err := os.ReadFile("/etc/postfix/master.cf")
	if err != nil {
		gate.Missing(t, "no /etc/postfix/master.cf: "+err.Error())
	}
	var master strings.Builder
	for line := range strings.Lines(string(stock)) {
		f := strings.Fields(line)
		if len(f) < 8 || strings.HasPrefix(line, "#") || line[0] == ' ' || line[0] == '\t' {
			continue
		}
		if f[0] == "smtp" && f[1] == "inet" {
			f[0] = addr
		}
		if f[1] == "inet" && f[0] != addr {
			continue // submission and others stay off
		}
		f[4] = "n"
		master.WriteString(strings.Join(f, " ") + "\n")
	}
	if err := os.WriteFile(filepath.Join(conf, "master.cf"), []byte(master.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd := exec.Command(bin, "-c", conf, "start-fg")
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	logs := func() string {
		b, _ := os.ReadFile(filepath.Join(dir, "maillog"))
		return out.String() + string(b)
	}
	t.Cleanup(func() {
		exec.Command(bin, "-c", conf, "stop").Run()
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
		if t.Failed() {
			t.Logf("postfix output:\n%s", logs())
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("postfix never listened on %s: %v\n%s", addr, err, logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// probeSessions are the corpus: each is one connection, one command at a
// time.
var probeSessions = map[string][]string{
	"greeting and ehlo":    {"EHLO probe.example", "HELO probe.example", "EHLO", "HELO", "QUIT"},
	"unknown commands":     {"HELP", "EXPN root", "TURN", "", "XYZZY plugh", "NOOP x", "QUIT"},
	"bad sequence":         {"EHLO p", "RCPT TO:<root@localhost>", "DATA", "MAIL FROM:<a@b.example>", "MAIL FROM:<a@b.example>", "DATA", "ETRN x", "AUTH PLAIN AGEAYg==", "RSET x", "RSET", "QUIT"},
	"malformed mail from":  {"EHLO p", "MAIL TO:<x>", "MAIL FROM:", "MAIL", "MAIL FROM:<a@b", "MAIL FROM:<a b@c.com>", "MAIL FROM:<a@b.com> x", "MAIL FROM:<a@b.com> BODY=9BIT", "MAIL FROM:<a@b.com> SIZE=abc", "MAIL FROM:<a@b.com> SIZE=99999999", "MAIL FROM:<a@b.com>", "RSET", "MAIL FROM: <a@b.com> SIZE=10 BODY=8BITMIME SMTPUTF8", "QUIT"},
	"rcpt without mail":    {"RCPT TO:<root@localhost>", "RCPT TO:", "EHLO p", "RCPT TO:<x@y.com>", "QUIT"},
	"recipients":           {"EHLO p", "MAIL FROM:<>", "RCPT TO:", "RCPT FROM:<x>", "RCPT TO:<>", "RCPT TO:<x@y.com>", "RCPT TO:<a@b@c>", "RCPT TO:<nosuchuser@" + compareHost + ">", "RCPT TO:<nosuchuser>", "RCPT TO:<root@localhost> FOO=1", "RCPT TO:<Root@MAIL.EXAMPLE.COM>", "RCPT TO:<postmaster>", "RCPT TO:<root+tag@localhost> NOTIFY=NEVER", "DATA x", "QUIT"},
	"vrfy and etrn":        {"VRFY", "VRFY root", "VRFY nosuchuser", "VRFY x@y.com", "VRFY a b", "ETRN x", "EHLO p", "ETRN", "QUIT"},
	"auth":                 {"EHLO p", "AUTH", "AUTH FOO", "AUTH PLAIN AGFkbWluAHNlY3JldA==", "AUTH PLAIN =", "AUTH PLAIN", "AGFkbWluAHNlY3JldA==", "AUTH LOGIN", "YWRtaW4=", "c2VjcmV0", "AUTH LOGIN YWRtaW4=", "*", "QUIT"},
	"data":                 {"EHLO p", "MAIL FROM:<a@b.example>", "RCPT TO:<root@localhost>", "DATA", "Subject: probe\r\n\r\n..dot\r\n.", "RCPT TO:<root@localhost>", "QUIT"},
	"bdat":                 {"EHLO p", "BDAT 4\r\nab", "MAIL FROM:<a@b.example>", "RSET", "MAIL FROM:<a@b.example>", "RCPT TO:<root@localhost>", "BDAT 4\r\nab", "MAIL FROM:<x@y.example>", "RCPT TO:<root@localhost>", "DATA", "NOOP", "BDAT 2 LAST\r\n", "QUIT"},
	"bdat error":           {"EHLO p", "MAIL FROM:<a@b.example>", "BDAT 4\r\nab", "BDAT 3 LAST\r\nx", "NOOP", "QUIT"},
	"cram-md5":             {"AUTH CRAM-MD5", "YWRtaW4gMDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", "AUTH CRAM-MD5", "!!", "AUTH CRAM-MD5", "YWRtaW4=", "QUIT"},
	"starttls syntax":      {"EHLO p", "STARTTLS x", "QUIT"},
	"bdat syntax":          {"EHLO p", "BDAT x"},
	"starttls before ehlo": {"STARTTLS"},
}

var (
	queueID   = regexp.MustCompile(`queued as [0-9A-F]+$`)
	challenge = regexp.MustCompile(`^334 [A-Za-z0-9+/]{20,}=*$`)
)

// transcript runs one probe session and returns the replies.
func transcript(t *testing.T, addr string, cmds []string) []string {
	cl := dial(t, addr)
	out := []string{cl.reply()}
	for _, c := range cmds {
		r := queueID.ReplaceAllString(cl.cmd(c), "queued as QUEUEID")
		r = challenge.ReplaceAllString(r, "334 CHALLENGE")
		out = append(out, fmt.Sprintf("%q -> %s", c, r))
	}
	return out
}

func TestComparePostfix(t *testing.T) {
	real := startPostfix(t)
	ours := start(t, false, map[string]string{"hostname": compareHost})
	for name, cmds := range probeSessions {
		t.Run(name, func(t *testing.T) {
			want := transcript(t, real, cmds)
			got := transcript(t, ours.addr, cmds)
			for i := range max(len(want), len(got)) {
				var w, g string
				if i < len(want) {
					w = want[i]
				}
				if i < len(got) {
					g = got[i]
				}
				if w != g {
					t.Errorf("reply %d differs\npostfix: %s\nsmtp:    %s", i, w, g)
				}
			}
		})
	}
}
