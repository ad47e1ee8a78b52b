package ssh

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/testkit/gate"
)

// stateWithKeys is a fresh state directory holding the shared host keys,
// so a test can look at its own artifacts and transcripts.
func stateWithKeys(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	ents, err := os.ReadDir(sharedKeys)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(sharedKeys, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// clientOpts are the options every OpenSSH tool gets in tests.
var clientOpts = []string{"-F", "/dev/null", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
	"-o", "ConnectTimeout=10"}

// runTool runs an OpenSSH tool (ssh, scp, sftp) through sshpass with the
// root password and returns its output and error.
func runTool(t *testing.T, srv *testServer, stdin string, tool string, args ...string) (string, string, error) {
	t.Helper()
	gate.Tool(t, tool)
	gate.Tool(t, "sshpass")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	argv := append([]string{"-p", rootPassword(srv.persona), tool}, clientOpts...)
	argv = append(argv, args...)
	cmd := exec.CommandContext(ctx, "sshpass", argv...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String(), errb.String(), err
}

func port(srv *testServer) string { _, p, _ := net.SplitHostPort(srv.addr); return p }

func sha(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// checkCaptured checks a file_captured event against the uploaded bytes
// and the artifact on disk.
func checkCaptured(t *testing.T, e event.Event, state, origPath, method string, data []byte) {
	t.Helper()
	f := e.Fields
	if f["sha256"] != sha(data) || f["size"] != int64(len(data)) || f["orig_path"] != origPath ||
		f["username"] != "root" || f["method"] != method {
		t.Errorf("file_captured %v, want sha256 %s size %d orig_path %s method %s", f, sha(data), len(data), origPath, method)
	}
	stored, _ := f["stored_as"].(string)
	got, err := os.ReadFile(filepath.Join(state, "artifacts", stored))
	if err != nil || !bytes.Equal(got, data) {
		t.Errorf("artifact %s: %v (%d bytes, want %d)", stored, err, len(got), len(data))
	}
	if !strings.Contains(stored, sha(data)[:12]) {
		t.Errorf("stored_as %q lacks the sha256 prefix", stored)
	}
}

func writeLocal(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestOpenSSHScpLegacyUpload(t *testing.T) {
	state := stateWithKeys(t)
	srv := startServer(t, state, nil)
	data := []byte("#!/bin/sh\necho bot\n" + strings.Repeat("x", 70000))
	local := writeLocal(t, "bot.sh", data)
	if _, stderr, err := runTool(t, srv, "", "scp", "-O", "-P", port(srv), local, "root@127.0.0.1:/tmp/x"); err != nil {
		t.Fatalf("scp -O: %v\n%s", err, stderr)
	}
	checkCaptured(t, srv.rec.WaitFor(t, event.TypeFileCaptured, 1)[0], state, "/tmp/x", "scp", data)
	if c := srv.rec.WaitFor(t, event.TypeCommand, 1)[0]; !strings.HasPrefix(c.Fields["command"].(string), "scp -t") {
		t.Errorf("command event %v", c.Fields)
	}

	// A directory, recursively, into an existing directory.
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "kit", "sub"), 0o755)
	os.WriteFile(filepath.Join(dir, "kit", "a"), []byte("A"), 0o644)
	os.WriteFile(filepath.Join(dir, "kit", "sub", "b"), []byte("BB"), 0o644)
	if _, stderr, err := runTool(t, srv, "", "scp", "-O", "-r", "-P", port(srv), filepath.Join(dir, "kit"), "root@127.0.0.1:/tmp"); err != nil {
		t.Fatalf("scp -O -r: %v\n%s", err, stderr)
	}
	evs := srv.rec.WaitFor(t, event.TypeFileCaptured, 3)
	paths := map[string]bool{}
	for _, e := range evs[1:] {
		paths[e.Fields["orig_path"].(string)] = true
	}
	if !paths["/tmp/kit/a"] || !paths["/tmp/kit/sub/b"] {
		t.Errorf("captured %v", paths)
	}

	// Into a directory that does not exist: scp's own error.
	_, stderr, err := runTool(t, srv, "", "scp", "-O", "-P", port(srv), local, "root@127.0.0.1:/nonexistent/dir/x")
	if err == nil || !strings.Contains(stderr, "scp: /nonexistent/dir/x: No such file or directory") {
		t.Errorf("upload to a missing directory: %v\n%s", err, stderr)
	}
}

func TestOpenSSHScpUpload(t *testing.T) {
	state := stateWithKeys(t)
	srv := startServer(t, state, nil)
	data := bytes.Repeat([]byte{0x7f, 'E', 'L', 'F', 0, 1, 2, 0xff}, 40000) // 320 KB, several SFTP writes
	local := writeLocal(t, "kinsing", data)
	out, stderr, err := runTool(t, srv, "", "scp", "-P", port(srv), local, "root@127.0.0.1:/tmp/y")
	if err != nil {
		if strings.Contains(stderr, "unknown option -- O") {
			t.Skip("this scp only speaks the legacy protocol")
		}
		t.Fatalf("scp: %v\n%s%s", err, out, stderr)
	}
	checkCaptured(t, srv.rec.WaitFor(t, event.TypeFileCaptured, 1)[0], state, "/tmp/y", "sftp", data)
	if sub := srv.rec.WaitFor(t, typeSubsystem, 1)[0]; sub.Fields["name"] != "sftp" {
		t.Errorf("subsystem event %v", sub.Fields)
	}
}

func TestOpenSSHScpDownload(t *testing.T) {
	srv := startServer(t, stateWithKeys(t), nil)
	want := srv.persona.Files()["/etc/passwd"].Content
	for _, mode := range []string{"-O", ""} {
		t.Run("mode"+mode, func(t *testing.T) {
			local := filepath.Join(t.TempDir(), "pw")
			args := []string{"-P", port(srv), "root@127.0.0.1:/etc/passwd", local}
			if mode != "" {
				args = append([]string{mode}, args...)
			}
			if _, stderr, err := runTool(t, srv, "", "scp", args...); err != nil {
				t.Fatalf("scp %s: %v\n%s", mode, err, stderr)
			}
			if got, _ := os.ReadFile(local); string(got) != want {
				t.Errorf("downloaded %q, want %q", got, want)
			}
			args[len(args)-2] = "root@127.0.0.1:/nonexistent"
			_, stderr, err := runTool(t, srv, "", "scp", args...)
			if err == nil || !strings.Contains(stderr, "No such file") {
				t.Errorf("download of a missing file: %v\n%s", err, stderr)
			}
		})
	}
	if e := srv.rec.WaitFor(t, typeFileSent, 2); e[0].Fields["path"] != "/etc/passwd" {
		t.Errorf("file_sent %v", e[0].Fields)
	}
}

func TestOpenSSHSftp(t *testing.T) {
	state := stateWithKeys(t)
	srv := startServer(t, state, nil)
	data := []byte("miner config\n")
	local := writeLocal(t, "config.json", data)
	back := filepath.Join(t.TempDir(), "back")
	pw := filepath.Join(t.TempDir(), "pw")
	batch := strings.Join([]string{
		"put " + local + " /tmp/config.json",
		"ls -l /tmp",
		"get /tmp/config.json " + back,
		"get /etc/passwd " + pw,
		"mkdir /tmp/.x",
		"cd /tmp/.x",
		"pwd",
		"rename /tmp/config.json /tmp/.x/c.json",
		"ls /tmp/.x",
		"-get /nonexistent " + pw + ".2",
		"-put " + local + " /proc/nope",
		"chmod 700 /tmp/.x/c.json",
		"ls -l /tmp/.x",
	}, "\n") + "\n"
	out, stderr, err := runTool(t, srv, batch, "sftp", "-oBatchMode=no", "-b", "-", "-P", port(srv), "root@127.0.0.1")
	if err != nil {
		t.Fatalf("sftp: %v\n%s\n%s", err, out, stderr)
	}
	checkCaptured(t, srv.rec.WaitFor(t, event.TypeFileCaptured, 1)[0], state, "/tmp/config.json", "sftp", data)
	if got, _ := os.ReadFile(back); !bytes.Equal(got, data) {
		t.Errorf("got back %q", got)
	}
	if got, _ := os.ReadFile(pw); string(got) != srv.persona.Files()["/etc/passwd"].Content {
		t.Errorf("/etc/passwd came back as %q", got)
	}
	for _, want := range []string{
		"-rwxr-xr-x    ? root     root           13 ", " /tmp/config.json\n",
		"Remote working directory: /tmp/.x\n",
		"/tmp/.x/c.json",
		"-rwx------    ? root     root           13 ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("sftp output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(stderr, "not found") && !strings.Contains(stderr, "No such file") {
		t.Errorf("missing file gave no error:\n%s", stderr)
	}
}

// TestSFTPVersionMatchesOpenSSH compares our VERSION answer with the
// installed sftp-server's.
func TestSFTPVersionMatchesOpenSSH(t *testing.T) {
	bin := "/usr/lib/openssh/sftp-server"
	if _, err := os.Stat(bin); err != nil {
		gate.Missing(t, bin+" is not installed (openssh-sftp-server)")
	}
	init := []byte{0, 0, 0, 5, sshFxpInit, 0, 0, 0, 3}
	cmd := exec.Command(bin)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer stdin.Close()
	stdin.Write(init)
	// sftp-server exits without flushing when its input ends: read the
	// answer before closing.
	real := make([]byte, 4)
	if _, err := io.ReadFull(stdout, real); err != nil {
		t.Fatal(err)
	}
	real = append(real, make([]byte, binary.BigEndian.Uint32(real))...)
	if _, err := io.ReadFull(stdout, real[4:]); err != nil {
		t.Fatal(err)
	}
	var ours bytes.Buffer
	(&sftpServer{r: bytes.NewReader(init), w: &ours}).serve()
	if !bytes.Equal(ours.Bytes(), real) {
		t.Errorf("VERSION differs:\nours %q\nreal %q", ours.Bytes(), real)
	}
}

func TestOpenSSHForwardingRefused(t *testing.T) {
	srv := startServer(t, sharedKeys, nil)
	// ssh -W opens a direct-tcpip channel at once.
	_, stderr, err := runTool(t, srv, "", "ssh", "-p", port(srv), "-W", "10.0.0.5:3306", "root@127.0.0.1")
	if err == nil || !strings.Contains(stderr, "administratively prohibited: open failed") {
		t.Errorf("ssh -W: %v\n%s", err, stderr)
	}
	e := srv.rec.WaitFor(t, typeTunnel, 1)[0]
	if e.Fields["kind"] != "direct-tcpip" || e.Fields["dst_host"] != "10.0.0.5" || e.Fields["dst_port"] != 3306 || e.Fields["username"] != "root" {
		t.Errorf("tunnel event %v", e.Fields)
	}

	// ssh -R asks for a tcpip-forward.
	_, stderr, err = runTool(t, srv, "", "ssh", "-o", "ExitOnForwardFailure=yes", "-p", port(srv),
		"-N", "-R", "0.0.0.0:8080:127.0.0.1:80", "root@127.0.0.1")
	if err == nil || !strings.Contains(stderr, "remote port forwarding failed for listen port 8080") {
		t.Errorf("ssh -R: %v\n%s", err, stderr)
	}
	e = srv.rec.WaitFor(t, typeTunnel, 2)[1]
	if e.Fields["kind"] != "tcpip-forward" || e.Fields["bind_host"] != "0.0.0.0" || e.Fields["bind_port"] != 8080 {
		t.Errorf("forward event %v", e.Fields)
	}

	// ssh -L: the channel opens when something connects to the local port.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lport := l.Addr().(*net.TCPAddr).Port
	l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	argv := append([]string{"-p", rootPassword(srv.persona), "ssh"}, clientOpts...)
	argv = append(argv, "-p", port(srv), "-N", "-L", net.JoinHostPort("127.0.0.1", itoa(lport))+":192.168.7.9:5432", "root@127.0.0.1")
	cmd := exec.CommandContext(ctx, "sshpass", argv...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cancel()
	var c net.Conn
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if c, err = net.Dial("tcp", net.JoinHostPort("127.0.0.1", itoa(lport))); err == nil {
			break
		}
	}
	if c == nil {
		t.Fatalf("ssh -L never listened: %v", err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, _ := c.Read(make([]byte, 1)); n != 0 {
		t.Error("the forwarded connection carried data")
	}
	c.Close()
	e = srv.rec.WaitFor(t, typeTunnel, 3)[2]
	if e.Fields["kind"] != "direct-tcpip" || e.Fields["dst_host"] != "192.168.7.9" || e.Fields["dst_port"] != 5432 {
		t.Errorf("ssh -L event %v", e.Fields)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
