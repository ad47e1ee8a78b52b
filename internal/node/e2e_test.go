package node_test

import (
	"bytes"
	"net"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/decnet-go/decnet/internal/store"
	"github.com/decnet-go/decnet/internal/testkit"
	"github.com/decnet-go/decnet/internal/testkit/gate"
)

type attackerDetail struct {
	store.Attacker
	Sessions    []store.Session    `json:"sessions"`
	Credentials []store.Credential `json:"credentials"`
	Commands    []store.Command    `json:"commands"`
}

// attackerWith finds the attacker that touched service, with its detail.
func attackerWith(s *testkit.System, service string) (attackerDetail, bool) {
	var list testkit.Page[store.Attacker]
	if s.Get("/api/v1/attackers?limit=100", &list) != 200 {
		return attackerDetail{}, false
	}
	for _, a := range list.Data {
		if slices.Contains(a.Services, service) {
			var d attackerDetail
			if s.Get("/api/v1/attackers/"+a.UUID, &d) == 200 {
				return d, true
			}
		}
	}
	return attackerDetail{}, false
}

func hasCommand(cmds []store.Command, want string) bool {
	for _, c := range cmds {
		if strings.Contains(c.Command, want) {
			return true
		}
	}
	return false
}

// TestSSHAttackEndToEnd drives a decky with the real OpenSSH client, as an
// attacker would, and reads the result back through the API.
func TestSSHAttackEndToEnd(t *testing.T) {
	sshBin, sshpass := gate.Tool(t, "ssh"), gate.Tool(t, "sshpass")
	s := testkit.Start(t)
	s.Login()
	addr := s.Addr("decky-01", "ssh")
	host, port, _ := net.SplitHostPort(addr)
	root, _ := s.Persona("decky-01").Account("root")

	// One wrong guess, then the weak password the persona accepts.
	_ = exec.Command(sshpass, sshArgs("not-the-password", sshBin, port, "root@"+host, "id")...).Run()
	cmd := exec.Command(sshpass, sshArgs(root.Password, sshBin, port, "root@"+host, "uname -a; cat /etc/passwd")...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("ssh: %v\n%s", err, stderr.String())
	}
	out := stdout.String()
	if !strings.Contains(out, "Linux "+s.Persona("decky-01").Hostname) || !strings.Contains(out, "root:x:0:0:root:/root:/bin/bash") {
		t.Fatalf("unexpected output of uname/cat:\n%s", out)
	}
	// -v names the server software: it must be the persona's OpenSSH, no Go.
	verbose := stderr.String()
	if !strings.Contains(verbose, "remote software version "+s.Persona("decky-01").SSHVersion) || strings.Contains(verbose, "SSH-2.0-Go") {
		t.Errorf("ssh -v shows a wrong server version:\n%s", grepLines(verbose, "remote software"))
	}
	// The host key OpenSSH picks is the decky's persistent ed25519 key.
	wantKey := "Server host key: ssh-ed25519 " + ssh.FingerprintSHA256(hostKey(t, addr))
	if !strings.Contains(verbose, wantKey) {
		t.Errorf("ssh -v: want %q, got:\n%s", wantKey, grepLines(verbose, "host key"))
	}

	var got attackerDetail
	s.Eventually(2*time.Second, "attacker, credential, session and both commands in the API", func() bool {
		d, ok := attackerWith(s, "ssh")
		got = d
		return ok && len(d.Credentials) >= 2 && len(d.Sessions) >= 2 &&
			hasCommand(d.Commands, "uname -a") && hasCommand(d.Commands, "cat /etc/passwd")
	})
	var success, failure bool
	for _, c := range got.Credentials {
		if c.Principal == "root" && c.SecretPrintable == root.Password && c.Outcome == "success" {
			success = true
		}
		if c.SecretPrintable == "not-the-password" && c.Outcome == "failure" {
			failure = true
		}
	}
	if !success || !failure {
		t.Errorf("credentials = %+v; want the accepted and the refused password", got.Credentials)
	}
	var logged bool
	for _, x := range got.Sessions {
		logged = logged || (x.Service == "ssh" && x.LoggedIn && x.Username == "root" && x.CommandCount >= 1)
	}
	if !logged {
		t.Errorf("sessions = %+v; want a logged-in ssh session with commands", got.Sessions)
	}
	var creds testkit.Page[store.Credential]
	if s.Get("/api/v1/credentials?search=root", &creds) != 200 || creds.Total < 1 {
		t.Errorf("GET /credentials: %+v", creds)
	}
}

// sshArgs are the arguments of sshpass running ssh -v with a password.
func sshArgs(password, sshBin, port, target, command string) []string {
	return []string{"-p", password, sshBin, "-v", "-p", port,
		"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "PreferredAuthentications=password,keyboard-interactive", "-o", "PubkeyAuthentication=no",
		"-o", "NumberOfPasswordPrompts=1", "-o", "ConnectTimeout=10",
		target, command}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestHTTPAttackEndToEnd sends credentials with curl, the way scanners and
// brute-forcers do, and finds them in the API.
func TestHTTPAttackEndToEnd(t *testing.T) {
	curl := gate.Tool(t, "curl")
	s := testkit.Start(t)
	s.Login()
	base := "http://" + s.Addr("decky-02", "http")
	for _, args := range [][]string{
		{"-s", "-u", "admin:hunter2", base + "/admin"},
		{"-s", "-A", "sqlmap/1.7", "-d", "username=bob&password=s3cret", base + "/login"},
	} {
		if out, err := exec.Command(curl, args...).CombinedOutput(); err != nil {
			t.Fatalf("curl %v: %v\n%s", args, err, out)
		}
	}
	var got attackerDetail
	s.Eventually(2*time.Second, "both http credentials in the API", func() bool {
		d, ok := attackerWith(s, "http")
		got = d
		return ok && len(d.Credentials) >= 2
	})
	want := map[string]string{"admin": "hunter2", "bob": "s3cret"}
	for _, c := range got.Credentials {
		if want[c.Principal] == c.SecretPrintable && c.Service == "http" && c.Decky == "decky-02" {
			delete(want, c.Principal)
		}
	}
	if len(want) > 0 {
		t.Errorf("missing credentials %v in %+v", want, got.Credentials)
	}
	var logs testkit.Page[store.EventRow]
	if s.Get("/api/v1/logs?search=sqlmap", &logs) != 200 || logs.Total < 1 {
		t.Errorf("request event with the sqlmap user agent not found: %+v", logs)
	}
}

// TestRestartKeepsDataAndHostKeys restarts on the same data directory: the
// captured data is still there and every decky keeps its SSH host key.
func TestRestartKeepsDataAndHostKeys(t *testing.T) {
	s := testkit.Start(t)
	s.Login()
	before := hostKey(t, s.Addr("decky-01", "ssh"))
	// An attack through the Go client, so the test needs no external tool.
	attempt(t, s.Addr("decky-01", "ssh"), "root", "guess-1")
	s.Eventually(2*time.Second, "credential stored", func() bool {
		var p testkit.Page[store.Credential]
		return s.Get("/api/v1/credentials?search=guess-1", &p) == 200 && p.Total == 1
	})
	persona := s.Persona("decky-01").Hostname

	s = s.Restart()
	s.Login()
	var p testkit.Page[store.Credential]
	if s.Get("/api/v1/credentials?search=guess-1", &p) != 200 || p.Total != 1 || p.Data[0].SecretPrintable != "guess-1" {
		t.Fatalf("after restart credentials = %+v", p)
	}
	if after := hostKey(t, s.Addr("decky-01", "ssh")); !bytes.Equal(before.Marshal(), after.Marshal()) {
		t.Errorf("host key changed across restart: %s → %s", ssh.FingerprintSHA256(before), ssh.FingerprintSHA256(after))
	}
	if got := s.Persona("decky-01").Hostname; got != persona {
		t.Errorf("persona hostname changed across restart: %s → %s", persona, got)
	}
	var deckies []store.DeckyRow
	if s.Get("/api/v1/deckies", &deckies) != 200 || len(deckies) != 2 {
		t.Fatalf("deckies = %+v", deckies)
	}
	for _, d := range deckies {
		if d.Status != "running" || len(d.Services) != 2 || d.Services[0].Port == 0 || d.IP == "" {
			t.Errorf("decky row %+v", d)
		}
	}
}

func hostKey(t *testing.T, addr string) ssh.PublicKey {
	t.Helper()
	var key ssh.PublicKey
	cfg := &ssh.ClientConfig{
		User: "probe",
		Auth: []ssh.AuthMethod{ssh.Password("x")},
		HostKeyCallback: func(_ string, _ net.Addr, k ssh.PublicKey) error {
			key = k
			return nil
		},
		HostKeyAlgorithms: []string{ssh.KeyAlgoED25519},
		Timeout:           10 * time.Second,
	}
	if c, err := ssh.Dial("tcp", addr, cfg); err == nil {
		c.Close()
	}
	if key == nil {
		t.Fatalf("no host key from %s", addr)
	}
	return key
}

func attempt(t *testing.T, addr, user, pw string) {
	t.Helper()
	cfg := &ssh.ClientConfig{User: user, Auth: []ssh.AuthMethod{ssh.Password(pw)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second}
	if c, err := ssh.Dial("tcp", addr, cfg); err == nil {
		c.Close()
	}
}
