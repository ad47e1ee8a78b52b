package telnet

import (
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/honeypot"
	"github.com/decnet-go/decnet/internal/honeypot/asciicast"
	"github.com/decnet-go/decnet/internal/honeypot/hptest"
	"github.com/decnet-go/decnet/internal/persona"
)

func TestMain(m *testing.M) {
	failDelay = 20 * time.Millisecond
	negotiateTimeout = 500 * time.Millisecond
	os.Exit(m.Run())
}

// debianPersona and alpinePersona are the machines of most tests.
var (
	debianPersona = mustPersona("debian")
	alpinePersona = mustPersona("alpine")
)

func mustPersona(distro string) *persona.Persona {
	p, err := persona.NewWithDistro([]byte("secret"), "decky-test", distro)
	if err != nil {
		panic(err)
	}
	return p
}

type testServer struct {
	addr     string
	p        *persona.Persona
	rec      *hptest.Recorder
	stop     func()
	stateDir string
}

// startServer runs the telnet service on a loopback port until the test
// ends.
func startServer(t testing.TB, p *persona.Persona, cfg map[string]string) *testServer {
	t.Helper()
	rec := &hptest.Recorder{}
	env := hptest.Env(t, p, cfg, rec)
	addr, stop := hptest.Serve(t, New(), env)
	return &testServer{addr: addr, p: p, rec: rec, stop: stop, stateDir: env.StateDir}
}

// The option sequences below were captured from inetutils-telnetd 2.4
// (Debian 12) and BusyBox 1.35 telnetd answering the same scripted clients
// (see compare_test.go, which checks them against the real daemons).
var (
	debianOpening = []string{"WILL AUTHENTICATION", "WILL ENCRYPT", "DO TTYPE", "DO TSPEED", "DO XDISPLOC", "DO NEW-ENVIRON", "DO OLD-ENVIRON"}
	debianModes   = []string{"WILL SGA", "DO ECHO", "DO LINEMODE", "DO NAWS", "WILL STATUS", "DO LFLOW"}
	busyboxAll    = []string{"DO ECHO", "DO NAWS", "WILL ECHO", "WILL SGA"}
)

func concat(parts ...[]string) []string { return slices.Concat(parts...) }

func TestNegotiation(t *testing.T) {
	tests := []struct {
		name   string
		p      *persona.Persona
		cfg    map[string]string
		pol    policy
		want   []string
		before string // the text before the login prompt
	}{
		{
			name: "debian/refusing client", p: debianPersona, pol: policyRefuse,
			want: concat(debianOpening, debianModes,
				[]string{"WILL ECHO", "DO TIMING-MARK", "DO BINARY", "WILL SGA", "WILL ECHO"}),
			before: hostInfo(debianPersona, 0),
		},
		{
			name: "debian/mirai", p: debianPersona, pol: policyMirai,
			want:   concat(debianOpening, debianModes, []string{"WILL ECHO", "DO TIMING-MARK", "DO BINARY"}),
			before: hostInfo(debianPersona, 0),
		},
		{
			name: "debian/full client", p: debianPersona, pol: policyAccept,
			want: concat(debianOpening,
				[]string{"SB TSPEED 01", "SB NEW-ENVIRON 01", "SB TTYPE 01"},
				debianModes,
				[]string{"SB LINEMODE 01 03", "SB LFLOW 03", "WILL ECHO", "DO BINARY", "DONT LINEMODE", "SB LINEMODE 03"}),
			before: "\x00\x00" + hostInfo(debianPersona, 0),
		},
		{
			name: "busybox/refusing client", p: alpinePersona, pol: policyRefuse, want: busyboxAll,
			before: "\r\r\nWelcome to Alpine Linux 3.19\r\n\rKernel " + alpinePersona.KernelRelease + " on an x86_64 (pts/0)\r\n\r",
		},
		{
			name: "busybox/on a debian persona", p: debianPersona, cfg: map[string]string{"flavor": "busybox"},
			pol: policyMirai, want: busyboxAll, before: "\r\r\nDebian GNU/Linux 12\r\n\r",
		},
		{
			name: "debian/operator banner", p: alpinePersona, cfg: map[string]string{"flavor": "debian", "banner": `Authorized use only\n`},
			pol: policyMirai, want: concat(debianOpening, debianModes, []string{"WILL ECHO", "DO TIMING-MARK", "DO BINARY"}),
			before: "Authorized use only\r\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := startServer(t, tc.p, tc.cfg)
			c := dialClient(t, srv.addr, tc.pol)
			text := c.readUntil(" login: ", 5*time.Second)
			if got := commandList(c.cmds); !slices.Equal(got, tc.want) {
				t.Errorf("options:\n got %q\nwant %q", got, tc.want)
			}
			if want := tc.before + tc.p.Hostname + " login: "; text != want {
				t.Errorf("text before the prompt:\n got %q\nwant %q", text, want)
			}
		})
	}
}

// TestNegotiationSilentClient: a client that never answers still meets the
// login prompt once the negotiation times out.
func TestNegotiationSilentClient(t *testing.T) {
	srv := startServer(t, debianPersona, nil)
	c := dialClient(t, srv.addr, "")
	start := time.Now()
	c.readUntil(" login: ", negotiateTimeout+3*time.Second)
	if d := time.Since(start); d < negotiateTimeout/2 {
		t.Errorf("prompt after %v: the server did not wait for the client's answers", d)
	}
}

// TestNegotiationEvent: what the client said about its terminal is
// recorded.
func TestNegotiationEvent(t *testing.T) {
	srv := startServer(t, debianPersona, nil)
	c := dialClient(t, srv.addr, policyAccept)
	c.readUntil(" login: ", 5*time.Second)
	e := srv.rec.WaitFor(t, typeNegotiation, 1)[0]
	for k, want := range map[string]any{"term": "XTERM", "cols": 80, "rows": 24, "tspeed": "38400,38400"} {
		if e.Fields[k] != want {
			t.Errorf("%s = %v, want %v", k, e.Fields[k], want)
		}
	}
	if opts, _ := e.Fields["client_options"].(string); !strings.HasPrefix(opts, "DO AUTHENTICATION,DO ENCRYPT,WILL TTYPE,WILL TSPEED,WONT XDISPLOC") {
		t.Errorf("client_options = %q", opts)
	}
}

func TestLoginAndCommands(t *testing.T) {
	srv := startServer(t, debianPersona, nil)
	root := debianPersona.Logins[0]
	c := dialClient(t, srv.addr, policyAccept)
	c.readUntil(" login: ", 5*time.Second)
	c.send("root\r\n")
	c.readUntil("Password: ", 5*time.Second)
	c.send("wrong\r\n")
	got := c.readUntil(" login: ", 5*time.Second)
	if want := "\r\n\r\nLogin incorrect\r\n" + debianPersona.Hostname + " login: "; got != want {
		t.Errorf("after a wrong password: %q, want %q", got, want)
	}
	if strings.Contains(got, "wrong") {
		t.Error("the password was echoed")
	}
	c.send("root\r\n")
	c.readUntil("Password: ", 5*time.Second)
	c.send(root.Password + "\r\x00")
	motd := c.readUntil("root@"+debianPersona.Hostname+":~# ", 5*time.Second)
	if !strings.Contains(motd, "The programs included with the Debian GNU/Linux system are free software;\r\n") {
		t.Errorf("no Debian motd after login: %q", motd)
	}
	c.send("uname -a\r\n")
	out := c.readUntil("# ", 5*time.Second)
	if !strings.Contains(out, debianPersona.Uname()+"\r\n") {
		t.Errorf("uname -a printed %q", out)
	}
	c.send("cat /etc/hostname\r\x00")
	out = c.readUntil("# ", 5*time.Second)
	if !strings.Contains(out, "\r\n"+debianPersona.Hostname+"\r\n") {
		t.Errorf("cat /etc/hostname printed %q", out)
	}
	c.send("exit\r\n")
	c.readUntil("logout\r\n", 5*time.Second)
	c.readFor(time.Second) // the server closes

	attempts := srv.rec.WaitFor(t, event.TypeLoginAttempt, 2)
	for i, want := range []struct{ secret, outcome string }{{"wrong", event.OutcomeFailure}, {root.Password, event.OutcomeSuccess}} {
		cr := attempts[i].Credential
		if cr == nil || cr.Principal != "root" || cr.SecretPrintable != want.secret || cr.Outcome != want.outcome || cr.SecretKind != event.SecretPlaintext {
			t.Errorf("attempt %d: credential %+v, want root/%s %s", i, cr, want.secret, want.outcome)
		}
		if attempts[i].Fields["term"] != "XTERM" {
			t.Errorf("attempt %d: term %v", i, attempts[i].Fields["term"])
		}
	}
	cmds := srv.rec.WaitFor(t, event.TypeCommand, 3)
	for i, want := range []string{"uname -a", "cat /etc/hostname", "exit"} {
		f := cmds[i].Fields
		if f["command"] != want || f["cwd"] != "/root" || f["username"] != "root" {
			t.Errorf("command event %d: %v, want %q in /root by root", i, f, want)
		}
		if cmds[i].Session != attempts[0].Session || cmds[i].SrcIP != "127.0.0.1" {
			t.Errorf("command event %d: session %q src %q", i, cmds[i].Session, cmds[i].SrcIP)
		}
	}
	srv.rec.WaitFor(t, event.TypeDisconnect, 1)

	// The shell was recorded: what was typed, timestamped, and what it printed.
	f := srv.rec.WaitFor(t, asciicast.TypeSessionRecorded, 1)[0].Fields
	if f["service"] != "telnet" || f["username"] != "root" || f["commands"] != 3 || f["truncated"] != false {
		t.Errorf("session_recorded fields %v", f)
	}
	cast, err := os.Open(filepath.Join(srv.stateDir, f["stored_as"].(string)))
	if err != nil {
		t.Fatal(err)
	}
	defer cast.Close()
	_, evs, err := asciicast.Parse(cast)
	if err != nil {
		t.Fatal(err)
	}
	var typed, printed strings.Builder
	for _, e := range evs {
		switch e.Code {
		case asciicast.Input:
			typed.WriteString(e.Data)
		case asciicast.Output:
			printed.WriteString(e.Data)
		}
	}
	if !strings.Contains(typed.String(), "uname -a") || !strings.Contains(printed.String(), debianPersona.Uname()) {
		t.Errorf("recording: typed %q, printed %q", typed.String(), printed.String())
	}
}

func TestLoginTries(t *testing.T) {
	tests := []struct {
		name   string
		p      *persona.Persona
		tries  int
		ending string
	}{
		{"debian gives up after 5", debianPersona, 5, "\r\nLogin incorrect\r\nMaximum number of tries exceeded (5)\r\n"},
		{"busybox gives up after 3", alpinePersona, 3, "\r\nLogin incorrect\r\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := startServer(t, tc.p, nil)
			c := dialClient(t, srv.addr, policyMirai)
			for i := range tc.tries {
				c.readUntil(" login: ", 5*time.Second)
				c.send("admin\r\n")
				c.readUntil("Password: ", 5*time.Second)
				c.send("guess" + string(rune('0'+i)) + "\r\n")
			}
			start := len(c.text)
			c.readFor(2 * time.Second)
			if got := string(c.text[start:]); got != "\r\n"+tc.ending {
				t.Errorf("after the last try: %q, want %q and the connection closed", got, "\r\n"+tc.ending)
			}
			if n := len(srv.rec.WaitFor(t, event.TypeLoginAttempt, tc.tries)); n != tc.tries {
				t.Errorf("%d login_attempt events, want %d", n, tc.tries)
			}
			srv.rec.WaitFor(t, event.TypeDisconnect, 1)
		})
	}
}

// TestLoginUserFromEnviron: "telnet -l root" sends USER in NEW-ENVIRON and
// inetutils passes it to login, which asks only for the password.
func TestLoginUserFromEnviron(t *testing.T) {
	srv := startServer(t, debianPersona, nil)
	c, err := net.Dial("tcp", srv.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	var reply []byte
	reply = append(reply, verb(cmdWONT, optTType)...)
	reply = append(reply, verb(cmdWONT, optTSpeed)...)
	reply = append(reply, verb(cmdWONT, optXDispLoc)...)
	reply = append(reply, verb(cmdWILL, optNewEnviron)...)
	reply = append(reply, verb(cmdWONT, optOldEnviron)...)
	reply = append(reply, subneg(optNewEnviron, sbIS, 0, 'U', 'S', 'E', 'R', 1, 'r', 'o', 'o', 't')...)
	c.Write(reply)
	buf := make([]byte, 4096)
	var all []byte
	for !strings.Contains(string(all), "Password: ") {
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("no password prompt: %v; got %q", err, all)
		}
		all = append(all, buf[:n]...)
	}
	if strings.Contains(string(all), "login: ") {
		t.Errorf("asked for the user name although USER was sent: %q", all)
	}
	c.Write([]byte("toor\r\n"))
	e := srv.rec.WaitFor(t, event.TypeLoginAttempt, 1)[0]
	if e.Credential.Principal != "root" || e.Credential.SecretPrintable != "toor" {
		t.Errorf("credential %+v", e.Credential)
	}
	n := srv.rec.WaitFor(t, typeNegotiation, 1)[0]
	if n.Fields["environ"] != "USER=root" {
		t.Errorf("environ = %v", n.Fields["environ"])
	}
}

// TestLoginLineEditing: backspace and a 0xFF byte (IAC IAC) reach the
// password as a terminal would deliver them.
func TestLoginLineEditing(t *testing.T) {
	srv := startServer(t, debianPersona, nil)
	c := dialClient(t, srv.addr, policyMirai)
	c.readUntil(" login: ", 5*time.Second)
	c.send("rooX\x7ft\r\n")
	echo := c.readUntil("Password: ", 5*time.Second)
	if echo != "rooX\b \bt\r\nPassword: " {
		t.Errorf("echo of the user name: %q", echo)
	}
	c.send("p\xffw\r\n")
	e := srv.rec.WaitFor(t, event.TypeLoginAttempt, 1)[0]
	if sec, _ := e.Credential.Secret(); string(sec) != "p\xffw" || e.Credential.Principal != "root" {
		t.Errorf("credential %q / %q", e.Credential.Principal, sec)
	}
}

func TestSchema(t *testing.T) {
	tests := []struct {
		name    string
		cfg     map[string]string
		wantErr string
	}{
		{"empty", nil, ""},
		{"busybox", map[string]string{"flavor": "busybox"}, ""},
		{"banner", map[string]string{"banner": `Welcome\nto the plant`}, ""},
		{"bad flavor", map[string]string{"flavor": "cisco"}, `key "flavor": "cisco" is not one of [debian busybox]`},
		{"unknown key", map[string]string{"flavour": "debian"}, `unknown key "flavour"`},
		{"control character", map[string]string{"banner": "a\x1b[2Jb"}, `key "banner"`},
		{"huge banner", map[string]string{"banner": strings.Repeat("x", maxBanner+1)}, "at most"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := honeypot.Env{Persona: debianPersona, Config: tc.cfg}
			_, err := newServer(env, New().Schema())
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

// TestHostileInput: garbage, endless subnegotiations and lone IACs leave the
// service answering.
func TestHostileInput(t *testing.T) {
	srv := startServer(t, debianPersona, nil)
	inputs := map[string][]byte{
		"endless SB": append([]byte{cmdIAC, cmdSB, optTType, sbIS}, make([]byte, 64<<10)...),
		"IAC storm":  []byte(strings.Repeat("\xff", 10000)),
		"verbs on all": func() []byte {
			var b []byte
			for o := range 256 {
				b = append(b, verb(cmdDO, byte(o))...)
				b = append(b, verb(cmdWILL, byte(o))...)
			}
			return b
		}(),
		"huge NAWS":       subneg(optNAWS, 0xff, 0xff, 0xff, 0xff, 1, 2, 3),
		"env flood":       subneg(optNewEnviron, append([]byte{sbIS}, []byte(strings.Repeat("\x00A\x01B", 5000))...)...),
		"long user name":  []byte(strings.Repeat("a", 100000) + "\r\n"),
		"SB then garbage": {cmdIAC, cmdSB, optNAWS, cmdIAC, 7, 'x', cmdIAC, cmdSE, cmdSE},
	}
	for name, in := range inputs {
		t.Run(name, func(t *testing.T) {
			c := dialClient(t, srv.addr, "")
			c.c.Write(in)
			c.readUntil(" login: ", 5*time.Second)
		})
	}
	// Still serving.
	c := dialClient(t, srv.addr, policyMirai)
	c.readUntil(" login: ", 5*time.Second)
}

// BenchmarkLoginSession measures one whole session: negotiation, one wrong
// and one right password, a command, logout.
func BenchmarkLoginSession(b *testing.B) {
	old := failDelay
	failDelay = 0
	defer func() { failDelay = old }()
	srv := startServer(b, debianPersona, nil)
	pw := debianPersona.Logins[0].Password
	b.ResetTimer()
	for range b.N {
		c := dialClient(b, srv.addr, policyAccept)
		c.readUntil(" login: ", 5*time.Second)
		c.send("root\r\n")
		c.readUntil("Password: ", 5*time.Second)
		c.send("nope\r\n")
		c.readUntil(" login: ", 5*time.Second)
		c.send("root\r\n")
		c.readUntil("Password: ", 5*time.Second)
		c.send(pw + "\r\n")
		c.readUntil("# ", 5*time.Second)
		c.send("uname -a\r\n")
		c.readUntil("# ", 5*time.Second)
		c.send("exit\r\n")
		c.readUntil("logout", 5*time.Second)
		c.c.Close()
	}
}
