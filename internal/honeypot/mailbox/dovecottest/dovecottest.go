// Package dovecottest runs the pop3 and imap honeypots in their tests, and
// a real Dovecot on loopback for their differential tests: the same probes
// go to it and to the emulation, and the answers are compared.
//
// The daemon runs as root (it drops to nobody for mail) with a throw-away
// configuration shaped like Debian's stock one plus what a small mail host
// sets: plaintext logins allowed, PLAIN only, a self-signed certificate, a
// passwd-file of accounts and the special-use folders of 15-mailboxes.conf.
package dovecottest

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/decnet-go/decnet/internal/honeypot"
	"github.com/decnet-go/decnet/internal/honeypot/hptest"
	"github.com/decnet-go/decnet/internal/honeypot/mailbox"
	"github.com/decnet-go/decnet/internal/persona"
	"github.com/decnet-go/decnet/internal/testkit/gate"
)

// Server is a running Dovecot.
type Server struct {
	POP3, IMAP string // host:port of each listener
}

// Account is a login of the test server and the messages of its INBOX,
// oldest first; each is stored with its \Seen flag and its Date as the
// file time, which Dovecot reports as INTERNALDATE.
type Account struct {
	User, Password string
	Messages       []*mailbox.Message
}

// Start runs Dovecot until the test ends. It skips (or fails under
// DECNET_REQUIRE_ALL=1) without DECNET_TEST_REALSERVERS=1 or the binary.
func Start(t *testing.T, p *persona.Persona, accounts ...Account) *Server {
	t.Helper()
	gate.RealServers(t)
	bin := gate.Tool(t, "dovecot")
	if os.Geteuid() != 0 {
		gate.Missing(t, "the Dovecot differential test runs as root (Dovecot switches to nobody for mail)")
	}
	dir := t.TempDir()
	for d := dir; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	cfg, err := mailbox.TLSConfig("", p)
	if err != nil {
		t.Fatal(err)
	}
	writeCert(t, dir, cfg.Certificates[0])

	var pw strings.Builder
	for _, a := range accounts {
		fmt.Fprintf(&pw, "%s:{PLAIN}%s::::::\n", a.User, a.Password)
		md := filepath.Join(dir, "mail", a.User)
		for _, sub := range []string{"cur", "new", "tmp"} {
			if err := os.MkdirAll(filepath.Join(md, sub), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		for i, m := range a.Messages {
			// Read messages live in cur with the S flag; the rest in new.
			name := filepath.Join(md, "new", fmt.Sprintf("%d.M%dP1.%s", m.Date.Unix(), i, p.ShortHostname()))
			if m.Seen {
				name = filepath.Join(md, "cur", fmt.Sprintf("%d.M%dP1.%s:2,S", m.Date.Unix(), i, p.ShortHostname()))
			}
			if err := os.WriteFile(name, bytes.ReplaceAll(m.Raw, []byte("\r\n"), []byte("\n")), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(name, m.Date, m.Date); err != nil {
				t.Fatal(err)
			}
		}
		for _, f := range []string{".Drafts", ".Junk", ".Sent", ".Trash"} {
			for _, sub := range []string{"cur", "new", "tmp"} {
				if err := os.MkdirAll(filepath.Join(md, f, sub), 0o755); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "passwd"), []byte(pw.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	chownTree(t, filepath.Join(dir, "mail"))

	s := &Server{POP3: freePort(t), IMAP: freePort(t)}
	conf := fmt.Sprintf(config, dir, port(s.IMAP), port(s.POP3))
	cf := filepath.Join(dir, "dovecot.conf")
	if err := os.WriteFile(cf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-c", cf, "-F")
	// INTERNALDATE is shown in the server's zone: make it the persona's.
	if len(accounts) > 0 && len(accounts[0].Messages) > 0 {
		_, off := accounts[0].Messages[0].Date.Zone()
		cmd.Env = append(os.Environ(), fmt.Sprintf("TZ=<%+03d>%d", off/3600, -off/3600))
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatalf("start dovecot: %v", err)
	}
	logs := func() string {
		b, _ := os.ReadFile(filepath.Join(dir, "dovecot.log"))
		return out.String() + string(b)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		if t.Failed() {
			t.Logf("dovecot output:\n%s", logs())
		}
	})
	for _, addr := range []string{s.POP3, s.IMAP} {
		deadline := time.Now().Add(10 * time.Second)
		for {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				c.Close()
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("dovecot never listened on %s: %v\n%s", addr, err, logs())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return s
}

const config = `base_dir = %[1]s/run
state_dir = %[1]s/state
protocols = imap pop3
listen = 127.0.0.1
log_path = %[1]s/dovecot.log
ssl = yes
ssl_cert = <%[1]s/cert.pem
ssl_key = <%[1]s/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain
auth_failure_delay = 0
mail_location = maildir:%[1]s/mail/%%u
default_internal_user = nobody
default_login_user = nobody
passdb {
  driver = passwd-file
  args = %[1]s/passwd
}
userdb {
  driver = static
  args = uid=65534 gid=65534 home=%[1]s/mail/%%u
}
namespace inbox {
  inbox = yes
  mailbox Drafts {
    special_use = \Drafts
  }
  mailbox Junk {
    special_use = \Junk
  }
  mailbox Trash {
    special_use = \Trash
  }
  mailbox Sent {
    special_use = \Sent
  }
}
service anvil {
  chroot =
}
service imap-login {
  chroot =
  inet_listener imap {
    address = 127.0.0.1
    port = %[2]d
  }
  inet_listener imaps {
    port = 0
  }
}
service pop3-login {
  chroot =
  inet_listener pop3 {
    address = 127.0.0.1
    port = %[3]d
  }
  inet_listener pop3s {
    port = 0
  }
}
`

func writeCert(t *testing.T, dir string, c tls.Certificate) {
	t.Helper()
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate[0]})
	keyDER, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	if err := os.WriteFile(filepath.Join(dir, "cert.pem"), certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "key.pem"), keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
}

func chownTree(t *testing.T, root string) {
	t.Helper()
	filepath.Walk(root, func(path string, _ os.FileInfo, err error) error {
		if err == nil {
			err = os.Chown(path, 65534, 65534)
		}
		if err != nil {
			t.Fatal(err)
		}
		return nil
	})
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func port(addr string) int {
	_, p, _ := net.SplitHostPort(addr)
	n, _ := strconv.Atoi(p)
	return n
}

// Persona is the Debian persona the mail services' tests run as.
func Persona() *persona.Persona {
	p, err := persona.NewWithDistro([]byte("secret"), "decky-test", "debian")
	if err != nil {
		panic(err)
	}
	return p
}

// StartService runs a mail service (pop3, imap) as persona p with cfg on
// 127.0.0.1:0 until the test ends; failed logins are answered at once
// unless cfg sets auth_fail_delay_ms.
func StartService(t testing.TB, svc honeypot.Service, p *persona.Persona, cfg map[string]string) (string, *hptest.Recorder) {
	t.Helper()
	if cfg == nil {
		cfg = map[string]string{}
	}
	if _, ok := cfg["auth_fail_delay_ms"]; !ok {
		cfg["auth_fail_delay_ms"] = "0"
	}
	rec := &hptest.Recorder{}
	addr, _ := hptest.Serve(t, svc, hptest.Env(t, p, cfg, rec))
	return addr, rec
}
