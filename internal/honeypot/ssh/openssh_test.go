package ssh

import (
	"bytes"
	"context"
	"net"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/decnet-go/decnet/internal/testkit/gate"
)

// openSSH runs the real OpenSSH client against srv through sshpass.
func openSSH(t *testing.T, srv *testServer, stdin string, args ...string) (stdout, stderr string) {
	t.Helper()
	_, port, _ := net.SplitHostPort(srv.addr)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	argv := append([]string{"-p", rootPassword(srv.persona), "ssh", "-F", "/dev/null",
		"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=10",
		"-p", port}, args...)
	cmd := exec.CommandContext(ctx, "sshpass", argv...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("sshpass ssh %v: %v\nstdout:\n%s\nstderr:\n%s", args, err, out.String(), errb.String())
	}
	return out.String(), errb.String()
}

var remoteVersion = regexp.MustCompile(`Remote protocol version 2\.0, remote software version (\S+.*)`)

func TestOpenSSHClientExec(t *testing.T) {
	gate.Tool(t, "ssh")
	gate.Tool(t, "sshpass")
	srv := startServer(t, sharedKeys, nil)
	out, stderr := openSSH(t, srv, "", "-v", "root@127.0.0.1", "uname -a; cat /etc/passwd")
	if want := srv.persona.Uname() + "\n" + srv.persona.Files()["/etc/passwd"].Content; out != want {
		t.Errorf("output:\n%s\nwant:\n%s", out, want)
	}
	m := remoteVersion.FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("ssh -v never showed the remote version:\n%s", stderr)
	}
	if v := strings.TrimSpace(m[1]); v != srv.persona.SSHVersion || strings.Contains(v, "Go") {
		t.Errorf("remote software version %q, want %q", v, srv.persona.SSHVersion)
	}
	if strings.Contains(stderr, "SSH-2.0-Go") {
		t.Errorf("ssh -v output mentions SSH-2.0-Go:\n%s", stderr)
	}
	if e := srv.rec.WaitFor(t, "command", 1)[0]; e.Fields["command"] != "uname -a; cat /etc/passwd" {
		t.Errorf("command event %v", e.Fields)
	}
	login := srv.rec.WaitFor(t, "login_attempt", 1)[0]
	if login.Credential.Outcome != "success" || !strings.HasPrefix(login.Fields["client_version"].(string), "SSH-2.0-OpenSSH_") {
		t.Errorf("login event %v %+v", login.Fields, login.Credential)
	}
}

func TestOpenSSHClientInteractive(t *testing.T) {
	gate.Tool(t, "ssh")
	gate.Tool(t, "sshpass")
	srv := startServer(t, sharedKeys, nil)
	script := "cd /tmp\necho hello > f; cat f\nnosuch\nexit 0\n"
	out, _ := openSSH(t, srv, script, "-tt", "root@127.0.0.1")
	host := srv.persona.Hostname
	for _, want := range []string{
		"Last login: ",
		"root@" + host + ":~# cd /tmp\r\n",
		"root@" + host + ":/tmp# echo hello > f; cat f\r\nhello\r\n",
		"-bash: nosuch: command not found\r\n",
		"logout\r\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("transcript lacks %q:\n%q", want, out)
		}
	}
	cmds := srv.rec.WaitFor(t, "command", 4)
	if cmds[1].Fields["command"] != "echo hello > f; cat f" || cmds[1].Fields["cwd"] != "/tmp" {
		t.Errorf("second command event %v", cmds[1].Fields)
	}
}
