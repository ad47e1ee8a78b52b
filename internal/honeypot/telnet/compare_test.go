package telnet

import (
	"net"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/decnet-go/decnet/internal/honeypot/hptest"
	"github.com/decnet-go/decnet/internal/testkit/gate"
)

// Differential tests: the same scripted clients talk to a real telnetd on
// loopback and to the decky, and what each server sends up to the login
// prompt must match: the same options in the same order, the same text
// shape (host names, kernels and pts numbers differ), and the same answer
// to a wrong password.
//
// Known differences, kept on purpose:
//   - A client that never answers: inetutils-telnetd waits for ever before
//     the prompt; the decky gives up after negotiateTimeout, so bots that
//     ignore options still get to type credentials.
//   - inetutils-telnetd keeps negotiating during the session (LINEMODE SLC
//     updates when the shell changes termios, STATUS replies); the decky
//     answers requests but starts no negotiation after the prompt.
//   - The SLC table is the one a stock Linux pty gives; a real host with
//     custom stty settings would send other values (the comparison ignores
//     the table).
//   - In binary mode a client's CR LF reaches inetutils' pty unchanged, so
//     login(1) reads an extra empty line; the decky takes CR LF as one Enter
//     in every mode.
//   - AYT: the decky answers "[Yes]", as BSD telnetd; not compared.
//   - Debian's pam_lastlog prints "Last login: … from … on pts/N" after a
//     telnet login; the decky prints the sshd form without " on pts/N".
//   - Debian's inetutils-telnetd prints its host line, not /etc/issue.net
//     (it has no issue file support); BusyBox telnetd prints issue.net. An
//     operator's "banner" replaces either.

// realTelnetd starts a real daemon for flavour fl on a loopback port and
// returns its address, or skips.
func realTelnetd(t *testing.T, fl flavor) string {
	t.Helper()
	gate.RealServers(t)
	if os.Geteuid() != 0 {
		gate.Missing(t, "a real telnetd runs login(1) on a pty and needs root")
	}
	if fl == flavorBusyBox {
		bb := gate.Tool(t, "busybox")
		list, _ := exec.Command(bb, "--list").Output()
		if !slices.Contains(strings.Fields(string(list)), "telnetd") {
			gate.Missing(t, bb+" has no telnetd applet (install busybox-static)")
		}
		addr := hptest.FreeAddr(t)
		host, port, _ := net.SplitHostPort(addr)
		cmd := exec.Command(bb, "telnetd", "-F", "-b", host, "-p", port, "-l", "/bin/login")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		waitListening(t, addr)
		return addr
	}
	// inetutils-telnetd is started by inetd with the connection on fds
	// 0-2: do the same for each accepted connection.
	telnetd := gate.Tool(t, "telnetd")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var procs []*exec.Cmd
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			f, err := c.(*net.TCPConn).File()
			c.Close()
			if err != nil {
				continue
			}
			cmd := exec.Command(telnetd)
			cmd.Stdin, cmd.Stdout, cmd.Stderr = f, f, f
			if cmd.Start() == nil {
				mu.Lock()
				procs = append(procs, cmd)
				mu.Unlock()
			}
			f.Close()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, p := range procs {
			p.Process.Kill()
			p.Wait()
		}
	})
	return l.Addr().String()
}

func waitListening(t *testing.T, addr string) {
	t.Helper()
	for range 100 {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("nothing listens on %s", addr)
}

// Shapes of the text before the first prompt.
var (
	debianBefore  = regexp.MustCompile(`^\x00*\r\nLinux \S+ \(\S+\) \(pts/\d+\)\r\n\r\n\S+ login: $`)
	busyboxBefore = regexp.MustCompile(`^\r\r\n[^\r\n]+\r\n\r\S+ login: $`)
	wrongPassword = regexp.MustCompile(`^root\r\nPassword: \r\n\r\nLogin incorrect\r\n\S+ login: $`)
)

func TestCompareRealTelnetd(t *testing.T) {
	for _, fl := range []flavor{flavorDebian, flavorBusyBox} {
		t.Run(fl.String(), func(t *testing.T) {
			real := realTelnetd(t, fl)
			ours := startServer(t, debianPersona, map[string]string{"flavor": fl.String()})
			shape := debianBefore
			if fl == flavorBusyBox {
				shape = busyboxBefore
			}
			for _, pol := range []policy{policyRefuse, policyMirai, policyAccept} {
				t.Run(string(pol), func(t *testing.T) {
					rc := dialClient(t, real, pol)
					rtext := rc.readUntil(" login: ", 10*time.Second)
					oc := dialClient(t, ours.addr, pol)
					otext := oc.readUntil(" login: ", 10*time.Second)
					if r, o := commandList(rc.cmds), commandList(oc.cmds); !slices.Equal(r, o) {
						t.Errorf("options differ:\nreal %q\nours %q", r, o)
					}
					if rc.cmds != nil && oc.cmds != nil && pol == policyRefuse {
						// The opening burst, byte for byte.
						n := len(verb(0, 0)) * len(busyboxAll)
						if fl == flavorDebian {
							n = len(verb(0, 0)) * len(debianOpening)
						}
						if string(rc.raw[:n]) != string(oc.raw[:n]) {
							t.Errorf("opening bytes differ:\nreal %q\nours %q", rc.raw[:n], oc.raw[:n])
						}
					}
					if !shape.MatchString(rtext) {
						t.Errorf("the real server's text %q no longer matches %v: update the test", rtext, shape)
					}
					if !shape.MatchString(otext) {
						t.Errorf("our text %q does not match %v (real: %q)", otext, shape, rtext)
					}
					if pol != policyAccept {
						return
					}
					// Enter is a bare CR in binary mode, as the Linux client sends it
					// (a CR LF there reaches the real pty as two lines).
					rstart, ostart := len(rc.text), len(oc.text)
					for _, c := range []*testClient{rc, oc} {
						c.send("root\r")
						c.readUntil("Password: ", 10*time.Second)
						c.send("not-the-password\r")
					}
					rc.readUntil(" login: ", 10*time.Second)
					oc.readUntil(" login: ", 10*time.Second)
					r, o := string(rc.text[rstart:]), string(oc.text[ostart:])
					if !wrongPassword.MatchString(r) || !wrongPassword.MatchString(o) {
						t.Errorf("wrong password answer:\nreal %q\nours %q", r, o)
					}
				})
			}
		})
	}
}
