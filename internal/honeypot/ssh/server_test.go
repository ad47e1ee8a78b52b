package ssh

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/decnet-go/decnet/internal/decky"
	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/honeypot"
	"github.com/decnet-go/decnet/internal/honeypot/hptest"
	"github.com/decnet-go/decnet/internal/persona"
)

// sharedKeys is a state directory with host keys made once, so tests do
// not each wait for an RSA-3072 key.
var sharedKeys string

func TestMain(m *testing.M) {
	authFailDelay = 20 * time.Millisecond
	dir, err := os.MkdirTemp("", "ssh-hostkeys")
	if err != nil {
		panic(err)
	}
	if _, err := loadHostKeys(dir); err != nil {
		panic(err)
	}
	sharedKeys = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type recorder = hptest.Recorder

// testServer is a running ssh service on a loopback port.
type testServer struct {
	addr    string
	persona *persona.Persona
	rec     *recorder
	stop    func()
}

var testPersona = persona.New([]byte("secret"), "decky-test")

// startServer runs the service until the test ends (or stop is called).
func startServer(t testing.TB, stateDir string, cfg map[string]string) *testServer {
	t.Helper()
	rec := &recorder{}
	env := hptest.Env(t, testPersona, cfg, rec)
	env.StateDir = stateDir
	addr, stop := hptest.Serve(t, New(), env)
	return &testServer{addr: addr, persona: testPersona, rec: rec, stop: stop}
}

func clientConfig(user, pw string, hostKey *ssh.PublicKey) *ssh.ClientConfig {
	return &ssh.ClientConfig{
		User: user,
		Auth: []ssh.AuthMethod{ssh.Password(pw)},
		HostKeyCallback: func(_ string, _ net.Addr, k ssh.PublicKey) error {
			if hostKey != nil {
				*hostKey = k
			}
			return nil
		},
		Timeout: 5 * time.Second,
	}
}

func rootPassword(p *persona.Persona) string { return p.Logins[0].Password }

func TestBannerIsOpenSSH(t *testing.T) {
	srv := startServer(t, sharedKeys, nil)
	c, err := net.Dial("tcp", srv.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 256)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	line := string(buf[:n])
	want := "SSH-2.0-" + srv.persona.SSHVersion + "\r\n"
	if !strings.HasPrefix(line, want) {
		t.Errorf("banner %q, want %q", line, want)
	}
	if strings.Contains(line, "Go") {
		t.Errorf("banner %q names Go", line)
	}
}

func TestBannerOverride(t *testing.T) {
	srv := startServer(t, sharedKeys, map[string]string{"banner": "OpenSSH_8.4p1 Debian-5+deb11u3"})
	var hk ssh.PublicKey
	cl, err := ssh.Dial("tcp", srv.addr, clientConfig("root", rootPassword(srv.persona), &hk))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if got := string(cl.ServerVersion()); got != "SSH-2.0-OpenSSH_8.4p1 Debian-5+deb11u3" {
		t.Errorf("server version %q", got)
	}
}

func TestBadBannerIsAnError(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	env := honeypot.Env{Decky: decky.Identity{Name: "decky-test"}, Persona: testPersona,
		Config: map[string]string{"banner": "OpenSSH\r\nx"}}
	err = New().Serve(context.Background(), l, env)
	if err == nil || !strings.Contains(err.Error(), `"banner"`) {
		t.Fatalf("Serve with a bad banner: %v, want an error naming the key", err)
	}
}

// TestLoginExecAndShell is the end-to-end path of an attacker: a wrong
// password, the right one, an exec request and an interactive command.
func TestLoginExecAndShell(t *testing.T) {
	srv := startServer(t, sharedKeys, nil)
	pw := rootPassword(srv.persona)

	if _, err := ssh.Dial("tcp", srv.addr, clientConfig("root", "definitely-wrong", nil)); err == nil {
		t.Fatal("login with a wrong password succeeded")
	}
	cl, err := ssh.Dial("tcp", srv.addr, clientConfig("root", pw, nil))
	if err != nil {
		t.Fatalf("login with the persona's password: %v", err)
	}
	defer cl.Close()

	// exec
	sess, err := cl.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	out, err := sess.CombinedOutput("uname -a; cat /etc/passwd")
	if err != nil {
		t.Fatalf("exec: %v\n%s", err, out)
	}
	if !strings.HasPrefix(string(out), srv.persona.Uname()+"\n") || !strings.Contains(string(out), "root:x:0:0:root:/root:/bin/bash\n") {
		t.Errorf("exec output:\n%s", out)
	}

	// exec with a failing command reports bash's status and error.
	sess, err = cl.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	out, err = sess.CombinedOutput("nosuchtool")
	var exitErr *ssh.ExitError
	if !errors.As(err, &exitErr) || exitErr.ExitStatus() != 127 || !strings.Contains(string(out), "nosuchtool: command not found") {
		t.Errorf("exec nosuchtool: err %v, output %q", err, out)
	}

	// interactive shell on a pty
	sess, err = cl.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.RequestPty("xterm", 24, 80, ssh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	stdin, _ := sess.StdinPipe()
	var stdout safeBuffer
	sess.Stdout = &stdout
	if err := sess.Shell(); err != nil {
		t.Fatal(err)
	}
	prompt := "root@" + srv.persona.Hostname + ":~# "
	waitOutput(t, &stdout, prompt)
	stdin.Write([]byte("cd /tmp\r"))
	waitOutput(t, &stdout, "root@"+srv.persona.Hostname+":/tmp# ")
	stdin.Write([]byte("exit\r"))
	if err := sess.Wait(); err != nil {
		t.Errorf("shell exit: %v", err)
	}
	if got := stdout.String(); !strings.Contains(got, "Last login: ") || !strings.Contains(got, "logout\r\n") {
		t.Errorf("shell transcript:\n%q", got)
	}

	// events
	logins := srv.rec.WaitFor(t, event.TypeLoginAttempt, 2)
	var outcomes []string
	for _, e := range logins {
		if e.Credential == nil || e.Fields["username"] != "root" || e.Fields["method"] != "password" ||
			!strings.HasPrefix(e.Fields["client_version"].(string), "SSH-2.0-Go") {
			t.Errorf("login event %+v", e)
			continue
		}
		outcomes = append(outcomes, e.Credential.Outcome)
		if e.Credential.Outcome == event.OutcomeSuccess && e.Credential.SecretPrintable != pw {
			t.Errorf("successful login captured secret %q, want %q", e.Credential.SecretPrintable, pw)
		}
	}
	if strings.Join(outcomes, ",") != "failure,success" {
		t.Errorf("login outcomes %v, want failure then success", outcomes)
	}
	cmds := srv.rec.WaitFor(t, event.TypeCommand, 4)
	wantCmds := []struct{ command, cwd string }{
		{"uname -a; cat /etc/passwd", "/root"}, {"nosuchtool", "/root"}, {"cd /tmp", "/root"}, {"exit", "/tmp"},
	}
	for i, w := range wantCmds {
		e := cmds[i]
		if e.Fields["command"] != w.command || e.Fields["cwd"] != w.cwd || e.Fields["username"] != "root" {
			t.Errorf("command event %d: %v, want %q in %s", i, e.Fields, w.command, w.cwd)
		}
		if e.Session == "" || e.SrcIP != "127.0.0.1" || e.Decky != "decky-test" || e.Service != "ssh" {
			t.Errorf("command event envelope %+v", e)
		}
		if err := e.Validate(); err != nil {
			t.Errorf("command event invalid: %v", err)
		}
	}
	hs := srv.rec.WaitFor(t, typeHandshake, 2)
	if h, _ := hs[0].Fields["hassh"].(string); len(h) != 32 {
		t.Errorf("handshake event %v, want a HASSH", hs[0].Fields)
	}
	srv.rec.WaitFor(t, event.TypeConnect, 2)
	cl.Close()
	srv.stop()
	if n := len(srv.rec.OfType(event.TypeDisconnect)); n != 2 {
		t.Errorf("%d disconnect events, want 2", n)
	}
}

func TestKeyboardInteractiveAndPubkey(t *testing.T) {
	srv := startServer(t, sharedKeys, nil)
	pw := rootPassword(srv.persona)
	pem, err := os.ReadFile("testdata/client_ed25519") // made for this test with ssh-keygen
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.ParsePrivateKey(pem)
	if err != nil {
		t.Fatal(err)
	}
	var prompts []string
	cfg := clientConfig("root", "", nil)
	cfg.Auth = []ssh.AuthMethod{
		ssh.PublicKeys(signer),
		ssh.KeyboardInteractive(func(_, _ string, questions []string, _ []bool) ([]string, error) {
			prompts = append(prompts, questions...)
			return []string{pw}, nil
		}),
	}
	cl, err := ssh.Dial("tcp", srv.addr, cfg)
	if err != nil {
		t.Fatalf("keyboard-interactive login: %v", err)
	}
	cl.Close()
	if len(prompts) != 1 || prompts[0] != "Password: " {
		t.Errorf("prompts %q, want [\"Password: \"]", prompts)
	}
	e := srv.rec.WaitFor(t, event.TypeLoginAttempt, 1)[0]
	if e.Fields["method"] != "keyboard-interactive" || e.Credential.Outcome != event.OutcomeSuccess {
		t.Errorf("login event %v %+v", e.Fields, e.Credential)
	}
	pk := srv.rec.WaitFor(t, typePubkeyOffered, 1)[0]
	if pk.Fields["fingerprint"] != ssh.FingerprintSHA256(signer.PublicKey()) || pk.Fields["key_type"] != "ssh-ed25519" || pk.Credential != nil {
		t.Errorf("pubkey event %v", pk.Fields)
	}
}

// TestHostKeysPersist restarts the service on the same state directory and
// expects the same host key; a fresh directory gives another.
func TestHostKeysPersist(t *testing.T) {
	dir := t.TempDir() + "/state/ssh"
	key := func(dir string) ssh.PublicKey {
		srv := startServer(t, dir, nil)
		defer srv.stop()
		var hk ssh.PublicKey
		cl, err := ssh.Dial("tcp", srv.addr, clientConfig("root", rootPassword(srv.persona), &hk))
		if err != nil {
			t.Fatal(err)
		}
		cl.Close()
		return hk
	}
	first, second := key(dir), key(dir)
	if !bytes.Equal(first.Marshal(), second.Marshal()) {
		t.Errorf("host key changed across restarts: %s then %s", ssh.FingerprintSHA256(first), ssh.FingerprintSHA256(second))
	}
	if other := key(t.TempDir()); bytes.Equal(first.Marshal(), other.Marshal()) {
		t.Error("two state directories share a host key")
	}
	for _, f := range []string{"ssh_host_rsa_key", "ssh_host_ecdsa_key", "ssh_host_ed25519_key"} {
		st, err := os.Stat(dir + "/" + f)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", f, st.Mode().Perm())
		}
	}
	if st, _ := os.Stat(dir); st.Mode().Perm() != 0o700 {
		t.Errorf("state dir mode %v, want 0700", st.Mode().Perm())
	}
}

func TestCorruptHostKeyIsAnError(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/ssh_host_ed25519_key", []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := loadHostKeys(dir); err == nil || !strings.Contains(err.Error(), "ssh_host_ed25519_key") {
		t.Fatalf("loadHostKeys on a corrupt file: %v, want an error naming it", err)
	}
}

// safeBuffer is a bytes.Buffer written by one goroutine and read by another.
type safeBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *safeBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *safeBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func waitOutput(t *testing.T, b *safeBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(b.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("output never showed %q:\n%q", want, b.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestNoGoroutineLeak drops a client in the middle of a shell and stops
// the service: every goroutine the service started must end.
func TestNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	srv := startServer(t, sharedKeys, nil)
	cl, err := ssh.Dial("tcp", srv.addr, clientConfig("root", rootPassword(srv.persona), nil))
	if err != nil {
		t.Fatal(err)
	}
	sess, err := cl.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	sess.RequestPty("xterm", 24, 80, ssh.TerminalModes{})
	stdin, _ := sess.StdinPipe()
	if err := sess.Shell(); err != nil {
		t.Fatal(err)
	}
	stdin.Write([]byte("ls -la /\r"))
	srv.rec.WaitFor(t, event.TypeCommand, 1)
	cl.Close() // no exit, no EOF: the connection just goes away
	srv.stop()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines, %d before:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestInMemoryHostKeys(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	k, err := loadHostKeys("")
	if err != nil {
		t.Fatal(err)
	}
	if k.rsa == nil || k.ecdsa == nil || k.ed25519 == nil {
		t.Fatalf("missing keys: %+v", k)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("in-memory keys wrote %d files", len(entries))
	}
}
