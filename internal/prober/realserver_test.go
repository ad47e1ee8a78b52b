package prober

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/decnet-go/decnet/internal/testkit/gate"
)

// freeAddr returns a loopback address that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// waitListening waits until addr accepts a connection.
func waitListening(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("nothing listening on %s", addr)
}

// startDaemon runs argv until the test ends.
func startDaemon(t *testing.T, argv ...string) {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	log := filepath.Join(t.TempDir(), "daemon.log")
	f, err := os.Create(log)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		f.Close()
		if t.Failed() {
			b, _ := os.ReadFile(log)
			t.Logf("%s output:\n%s", argv[0], b)
		}
	})
}

// startNginx runs nginx with TLS on a loopback port, with a self-signed
// certificate, in the foreground, until the test ends.
func startNginx(t *testing.T) string {
	t.Helper()
	gate.RealServers(t)
	bin := gate.Tool(t, "nginx")
	dir := t.TempDir()
	cert, key := writeCertPEM(t, dir)
	addr := freeAddr(t)
	conf := fmt.Sprintf(`daemon off;
master_process off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  server {
    listen %[2]s ssl;
    ssl_certificate %[3]s;
    ssl_certificate_key %[4]s;
    location / { return 200 "ok\n"; }
  }
}
`, dir, addr, cert, key)
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	startDaemon(t, bin, "-p", dir, "-c", path, "-e", filepath.Join(dir, "error.log"))
	waitListening(t, addr)
	return addr
}

// TestJARMNginx probes a real nginx/OpenSSL. Its hash depends on the
// distribution's nginx and OpenSSL, so it is not pinned; the test checks
// it is a real, repeatable JARM, distinct from Go's, and equal to the
// reference's when DECNET_JARM_REFERENCE is set.
func TestJARMNginx(t *testing.T) {
	addr := startNginx(t)
	p := &Prober{Timeout: 3 * time.Second}
	r1, err := p.JARMDetail(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := p.JARMDetail(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("nginx JARM %s\nraw %s", r1.Hash, r1.Raw)
	if r1.Hash == ZeroJARM || len(r1.Hash) != 62 {
		t.Fatalf("nginx JARM %q", r1.Hash)
	}
	if r1.Hash != r2.Hash {
		t.Errorf("two probes disagree: %s, %s", r1.Hash, r2.Hash)
	}
	for _, tc := range tlsConfigs {
		if tc.want == r1.Hash {
			t.Errorf("nginx has the JARM of Go's %s", tc.name)
		}
	}
	if os.Getenv("DECNET_JARM_REFERENCE") != "" {
		wantHash, wantRaw := referenceJARM(t, addr)
		if r1.Raw != wantRaw || r1.Hash != wantHash {
			t.Errorf("ours:\n  %s\n  %s\nreference:\n  %s\n  %s", r1.Hash, r1.Raw, wantHash, wantRaw)
		}
	}
}
