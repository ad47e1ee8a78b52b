package ftp

// Differential tests: the same probes against the real vsftpd from
// Debian's package (started on a loopback port with Debian's stock
// settings) and against the service, replies compared byte for byte.
// Known differences are listed with the reason; any other fails.

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/decnet-go/decnet/internal/honeypot/hptest"
	"github.com/decnet-go/decnet/internal/testkit/gate"
)

// startVsftpd runs vsftpd in the foreground on a loopback port, as
// Debian's vsftpd.conf configures it (local logins through PAM, anonymous
// off, write_enable as an admin who allows uploads sets it).
func startVsftpd(t *testing.T, extra ...string) string {
	t.Helper()
	gate.RealServers(t)
	bin := gate.Tool(t, "vsftpd")
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	addr := hptest.FreeAddr(t)
	host, port, _ := net.SplitHostPort(addr)
	conf := fmt.Sprintf(`listen=YES
listen_address=%s
listen_port=%s
background=NO
anonymous_enable=NO
local_enable=YES
write_enable=YES
dirmessage_enable=YES
use_localtime=YES
xferlog_enable=NO
connect_from_port_20=NO
secure_chroot_dir=%s
pam_service_name=vsftpd
seccomp_sandbox=NO
`, host, port, empty)
	for _, e := range extra {
		conf = strings.Replace(conf, strings.SplitN(e, "=", 2)[0]+"=NO\n", "", 1) + strings.ReplaceAll(e, "$DIR", dir) + "\n"
	}
	cfg := filepath.Join(dir, "vsftpd.conf")
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	cmd := exec.Command(bin, cfg)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatalf("start vsftpd: %v", err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
		if t.Failed() {
			t.Logf("vsftpd log:\n%s", logs.String())
		}
	})
	for deadline := time.Now().Add(5 * time.Second); ; {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("vsftpd did not listen on %s: %v\n%s", addr, err, logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestCompareVsftpd sends the same probes to both servers. Logins use
// accounts neither server accepts; the service's failure delay is real
// here, as vsftpd's PAM delay is, so both refuse in about 3 s.
func TestCompareVsftpd(t *testing.T) {
	real := startVsftpd(t)
	ours := startServer(t, nil).addr
	probes := []struct {
		name  string
		lines []string
	}{
		{"banner", nil},
		{"before login", []string{"SYST", "HELP", "FOO", "LIST", "PWD", "PASV", "EPSV", "CWD /", "RETR x", "NOOP", "STAT", "SITE HELP", "MKD x"}},
		{"features before login", []string{"FEAT", "OPTS UTF8 ON", "OPTS FOO"}},
		{"pass without user", []string{"PASS secret"}},
		{"wrong password", []string{"USER nosuchuser", "PASS hunter2"}},
		{"anonymous refused", []string{"USER anonymous", "PASS guest@", "USER ftp", "PASS x"}},
		{"malformed port before login", []string{"PORT 1,2,3", "PORT 10,0,0,1,0,21", "EPRT |1|x|", "EPRT junk"}},
		{"lower case and empty", []string{"syst", "uSeR bob", ""}},
		{"quit", []string{"QUIT"}},
	}
	for _, p := range probes {
		t.Run(p.name, func(t *testing.T) {
			want := converse(t, real, p.lines)
			got := converse(t, ours, p.lines)
			if got != want {
				t.Errorf("replies differ\nvsftpd:  %q\nservice: %q", want, got)
			}
		})
	}
}

// converse connects, reads the banner, sends each line and collects every
// reply line; an unanswered line (vsftpd ignores empty lines before
// login) shows as "(none)".
func converse(t *testing.T, addr string, lines []string) string {
	t.Helper()
	c := dial(t, addr)
	var b strings.Builder
	b.WriteString(c.read())
	for _, l := range lines {
		c.c.Write([]byte(l + "\r\n"))
		c.c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if l == "" {
			c.c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		}
		r := c.read()
		if strings.HasPrefix(r, "<") {
			r = "(none)\n"
		}
		b.WriteString(l + " -> " + r)
	}
	return b.String()
}

// TestFailDelayLikeVsftpd checks that a refused password takes as long as
// vsftpd's (delay_failed_login plus pam_unix), within the ±25 % PAM
// jitter both have (1 s apart at worst) and some slack.
func TestFailDelayLikeVsftpd(t *testing.T) {
	real := startVsftpd(t)
	measure := func(addr string) time.Duration {
		c := dial(t, addr)
		c.read()
		c.cmd("USER nosuchuser")
		start := time.Now()
		c.cmd("PASS wrong")
		return time.Since(start)
	}
	failDelayScale = 1
	t.Cleanup(func() { failDelayScale = 0 })
	want := measure(real)
	got := measure(startServer(t, nil).addr)
	if d := got - want; d > 1300*time.Millisecond || d < -1300*time.Millisecond {
		t.Errorf("refusal after %v; vsftpd takes %v", got, want)
	}
}

// TestCompareVsftpdAnonymous compares the answers after login, through
// the anonymous account both servers let in when anonymous logins are on
// (vsftpd's anon_root an empty directory, ours an empty /srv/ftp).
func TestCompareVsftpdAnonymous(t *testing.T) {
	real := startVsftpd(t, "anonymous_enable=YES", "anon_root=$DIR/empty")
	ours := startServer(t, map[string]string{"anonymous": "true"}).addr
	lines := []string{"USER anonymous", "PASS guest@example.com",
		"SYST", "PWD", "FOO", "TYPE I", "TYPE A", "TYPE L 8", "TYPE X", "MODE S", "MODE B", "STRU F", "STRU R",
		"CWD /nope", "CDUP", "XPWD", "SIZE nope", "MDTM nope", "LIST", "NLST", "RETR nope", "STOR x",
		"PORT 10,0,0,1,200,1", "PORT 127,0,0,1,0,21", "PORT garbage", "PORT 127,0,0,1,300,1",
		"EPRT |1|10.0.0.1|5555|", "EPRT |2|::1|5555|", "EPRT |3|x|1|", "EPRT junk", "EPSV 2", "EPSV ALL",
		"REST 5", "NOOP", "HELP", "MKD x", "RMD x", "DELE x", "RNTO x", "RNFR x", "ABOR", "ALLO 5",
		"SMNT x", "ACCT x", "REIN", "MLSD", "SITE HELP", "OPTS UTF8 ON", "USER root", "PASS x", "QUIT"}
	want := strings.Split(converse(t, real, lines), "\n")
	got := strings.Split(converse(t, ours, lines), "\n")
	for i := range max(len(want), len(got)) {
		w, g := "", ""
		if i < len(want) {
			w = want[i]
		}
		if i < len(got) {
			g = got[i]
		}
		if w != g {
			t.Errorf("line %d\nvsftpd:  %q\nservice: %q", i, w, g)
		}
	}
}
