package canary

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/decnet-go/decnet/internal/testkit/gate"
)

// startNginx runs the real nginx configured as the listener pretends to
// be: server_tokens off, empty_gif on /c/, no document root.
func startNginx(t *testing.T) string {
	t.Helper()
	bin := gate.Tool(t, "nginx")
	dir := t.TempDir()
	// nginx's workers run as nobody: a private temp dir would turn every
	// 404 into a 403.
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	conf := fmt.Sprintf(`worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
events { worker_connections 64; }
http {
	server_tokens off;
	access_log off;
	default_type application/octet-stream;
	client_body_temp_path %[1]s/body;
	proxy_temp_path %[1]s/proxy;
	fastcgi_temp_path %[1]s/fastcgi;
	uwsgi_temp_path %[1]s/uwsgi;
	scgi_temp_path %[1]s/scgi;
	server {
		listen %[2]s default_server;
		root %[1]s/nonexistent;
		location /c/ { empty_gif; }
	}
}
`, dir, addr)
	cf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(cf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-c", cf, "-p", dir, "-g", "daemon off;")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// SIGTERM: the master stops its workers (a SIGKILL would orphan
		// them, still holding the port).
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx did not start: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestCompareNginx sends the same requests to nginx and to the listener:
// status, body and the headers a client sees must match.
func TestCompareNginx(t *testing.T) {
	gate.RealServers(t)
	real := "http://" + startNginx(t)
	r := newRig()
	ours := httptest.NewServer(r.l.Handler())
	t.Cleanup(ours.Close)
	show := func(base, method, path string) string {
		// A connection per request: nginx may close a kept-alive one just
		// as the next request goes out on it, and the client does not
		// retry a PUT or POST (an EOF once in CI).
		tr := &http.Transport{}
		defer tr.CloseIdleConnections()
		client := &http.Client{Timeout: 5 * time.Second, Transport: tr}
		req, _ := http.NewRequest(method, base+path, strings.NewReader(""))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		var b strings.Builder
		fmt.Fprintf(&b, "%s\n", resp.Status)
		for _, h := range []string{"Server", "Content-Type", "Content-Length", "Last-Modified", "Connection", "Allow"} {
			fmt.Fprintf(&b, "%s: %s\n", h, resp.Header.Get(h))
		}
		b.Write(body)
		return b.String()
	}
	for _, rq := range []struct{ method, path string }{
		{"GET", "/c/k3j4h5g6f7d8s9a0q1w2"}, {"GET", "/c/k3j4h5g6f7d8s9a0q1w2?o=1"}, {"HEAD", "/c/abc"},
		{"GET", "/c/abc/repo.git/info/refs?service=git-upload-pack"}, {"GET", "/"}, {"GET", "/index.html"},
		{"GET", "/c"}, {"POST", "/c/abc"}, {"PUT", "/c/abc"}, {"POST", "/x"}, {"DELETE", "/x"}, {"OPTIONS", "/c/abc"},
	} {
		t.Run(rq.method+" "+rq.path, func(t *testing.T) {
			want, got := show(real, rq.method, rq.path), show(ours.URL, rq.method, rq.path)
			if want != got {
				t.Errorf("nginx:\n%s\nours:\n%s", want, got)
			}
		})
	}
}
