package telnet

import (
	"context"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/testkit/gate"
)

// loginScript drives the telnet program through expect (which gives it a
// pty): a wrong password, the right one, two commands, logout.
const loginScript = `
set timeout 10
spawn $env(TELNET) $env(HOST) $env(PORT)
expect "login: "
send "root\r"
expect "Password: "
send "wrong\r"
expect "Login incorrect"
expect "login: "
send "root\r"
expect "Password: "
send "$env(PW)\r"
expect "# "
send "uname -a\r"
expect "# "
send "cat /etc/hostname\r"
expect "# "
send "exit\r"
expect eof
`

// TestRealTelnetClient logs in with the Linux telnet program, against both
// flavours.
func TestRealTelnetClient(t *testing.T) {
	telnet := gate.Tool(t, "telnet")
	expect := gate.Tool(t, "expect")
	for _, tc := range []struct {
		name string
		cfg  map[string]string
	}{{"debian", nil}, {"busybox", map[string]string{"flavor": "busybox"}}} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startServer(t, debianPersona, tc.cfg)
			host, port, _ := net.SplitHostPort(srv.addr)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, expect, "-c", loginScript)
			cmd.Env = append(os.Environ(), "TELNET="+telnet, "HOST="+host, "PORT="+port, "PW="+debianPersona.Logins[0].Password)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("expect: %v\n%s", err, out)
			}
			t.Logf("transcript:\n%s", out)
			got := string(out)
			for _, want := range []string{"Login incorrect", debianPersona.Uname(), "\n" + debianPersona.Hostname + "\r\n", "logout"} {
				if !strings.Contains(got, want) {
					t.Errorf("session lacks %q:\n%s", want, got)
				}
			}
			if strings.Contains(got, "wrong") || strings.Contains(got, debianPersona.Logins[0].Password+"\r") {
				t.Errorf("a password was echoed:\n%s", got)
			}
			attempts := srv.rec.WaitFor(t, event.TypeLoginAttempt, 2)
			if c := attempts[0].Credential; c.Principal != "root" || c.SecretPrintable != "wrong" || c.Outcome != event.OutcomeFailure {
				t.Errorf("first attempt %+v", c)
			}
			if c := attempts[1].Credential; c.SecretPrintable != debianPersona.Logins[0].Password || c.Outcome != event.OutcomeSuccess {
				t.Errorf("second attempt %+v", c)
			}
			cmds := srv.rec.WaitFor(t, event.TypeCommand, 3)
			for i, want := range []string{"uname -a", "cat /etc/hostname", "exit"} {
				if cmds[i].Fields["command"] != want || cmds[i].Fields["username"] != "root" {
					t.Errorf("command %d: %v, want %q", i, cmds[i].Fields, want)
				}
			}
		})
	}
}
