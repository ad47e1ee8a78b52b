package http

// Differential tests: the same raw requests against the real Apache httpd
// and nginx from Debian and against the service imitating each, answers
// compared byte for byte except for values that differ by nature (Date,
// validators, the listener's port). Intended differences are listed with
// the reason; any other difference fails.

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/decnet-go/decnet/internal/honeypot/hptest"
	"github.com/decnet-go/decnet/internal/honeypot/tlsfp"
	"github.com/decnet-go/decnet/internal/testkit/gate"
)

// docroot makes a document root with the page the service serves at "/",
// readable by the unprivileged worker user the daemons switch to.
func docroot(t *testing.T, index string) (dir, www string) {
	t.Helper()
	dir = t.TempDir()
	www = filepath.Join(dir, "www")
	if err := os.MkdirAll(www, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(www, index), []byte(apacheWelcomeFor("Debian")), 0o644); err != nil {
		t.Fatal(err)
	}
	for d := dir; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	return dir, www
}

func apacheWelcomeFor(dist string) string { return strings.ReplaceAll(apacheWelcome, "{{DIST}}", dist) }

// runDaemon starts cmd, stops it when the test ends, and waits for addr.
func runDaemon(t *testing.T, cmd *exec.Cmd, addr string, errorLog string) {
	t.Helper()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// The daemon's workers share its process group, so the cleanup can stop
	// them all; WaitDelay bounds the wait for a worker holding the pipe.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", cmd.Path, err)
	}
	logs := func() string {
		b, _ := os.ReadFile(errorLog)
		return out.String() + string(b)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
		if t.Failed() {
			t.Logf("%s output:\n%s", cmd.Path, logs())
		}
	})
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never listened on %s: %v\n%s", cmd.Path, addr, err, logs())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// debianApacheModules are the modules Debian's apache2 package enables.
var debianApacheModules = []string{
	"mpm_event", "access_compat", "alias", "auth_basic", "authn_core", "authn_file", "authz_core",
	"authz_host", "authz_user", "autoindex", "deflate", "dir", "env", "filter", "mime",
	"negotiation", "reqtimeout", "setenvif", "status",
}

// startApache runs Apache httpd in the foreground with Debian's stock
// settings (apache2.conf, security.conf, 000-default) on a loopback port.
func startApache(t *testing.T, serverName string) string {
	t.Helper()
	addr, _ := startApacheTLS(t, serverName, false)
	return addr
}

// startApacheTLS is startApache with, when withTLS is set, a second
// listener with mod_ssl on, as Debian's default-ssl site sets it up.
func startApacheTLS(t *testing.T, serverName string, withTLS bool) (addr, tlsAddr string) {
	t.Helper()
	bin := gate.Tool(t, "apache2")
	dir, www := docroot(t, "index.html")
	addr = hptest.FreeAddr(t)
	var conf strings.Builder
	for _, m := range debianApacheModules {
		fmt.Fprintf(&conf, "LoadModule %s_module /usr/lib/apache2/modules/mod_%s.so\n", m, m)
	}
	if withTLS {
		tlsAddr = hptest.FreeAddr(t)
		cert, key := writeSnakeoil(t, dir)
		fmt.Fprintf(&conf, `LoadModule socache_shmcb_module /usr/lib/apache2/modules/mod_socache_shmcb.so
LoadModule ssl_module /usr/lib/apache2/modules/mod_ssl.so
SSLSessionCache shmcb:%[1]s/ssl_scache(512000)
Listen %[2]s
<VirtualHost *:%[6]s>
	SSLEngine on
	SSLCertificateFile %[3]s
	SSLCertificateKeyFile %[4]s
	DocumentRoot %[5]s
</VirtualHost>
`, dir, tlsAddr, cert, key, www, tlsAddr[strings.LastIndexByte(tlsAddr, ':')+1:])
	}
	fmt.Fprintf(&conf, `ServerRoot %[1]s
Listen %[2]s
PidFile %[1]s/apache2.pid
ErrorLog %[1]s/error.log
Mutex file:%[1]s default
User www-data
Group www-data
ServerName %[3]s
TypesConfig /etc/mime.types
Timeout 300
KeepAlive On
MaxKeepAliveRequests 100
KeepAliveTimeout 5
HostnameLookups Off
AccessFileName .htaccess
ServerTokens OS
ServerSignature On
TraceEnable Off
DirectoryIndex index.html index.cgi index.pl index.php index.xhtml index.htm
<Directory />
	Options FollowSymLinks
	AllowOverride None
	Require all denied
</Directory>
<Directory %[4]s>
	Options Indexes FollowSymLinks
	AllowOverride None
	Require all granted
</Directory>
<FilesMatch "^\.ht">
	Require all denied
</FilesMatch>
ServerAdmin webmaster@localhost
DocumentRoot %[4]s
`, dir, addr, serverName, www)
	cfg := filepath.Join(dir, "apache2.conf")
	if err := os.WriteFile(cfg, []byte(conf.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	runDaemon(t, exec.Command(bin, "-X", "-f", cfg), addr, filepath.Join(dir, "error.log"))
	return addr, tlsAddr
}

// startNginx runs nginx in the foreground with Debian's stock nginx.conf
// and default site on a loopback port.
func startNginx(t *testing.T) string {
	t.Helper()
	addr, _ := startNginxTLS(t, false)
	return addr
}

// writeSnakeoil writes a self-signed pair into dir for a real server's TLS
// listener.
func writeSnakeoil(t *testing.T, dir string) (cert, key string) {
	t.Helper()
	certPEM, keyPEM, err := tlsfp.SelfSigned("localhost", time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	cert, key = filepath.Join(dir, "snakeoil.pem"), filepath.Join(dir, "snakeoil.key")
	if os.WriteFile(cert, certPEM, 0o644) != nil || os.WriteFile(key, keyPEM, 0o644) != nil {
		t.Fatal("write snakeoil pair")
	}
	return cert, key
}

// startNginxTLS is startNginx with, when withTLS is set, a second listener
// with ssl on, as Debian's default site has commented out.
func startNginxTLS(t *testing.T, withTLS bool) (addr, tlsAddr string) {
	t.Helper()
	bin := gate.Tool(t, "nginx")
	dir, www := docroot(t, "index.nginx-debian.html")
	os.WriteFile(filepath.Join(www, "index.nginx-debian.html"), []byte(nginxWelcome), 0o644)
	os.Remove(filepath.Join(www, "index.html"))
	addr = hptest.FreeAddr(t)
	tlsLines := ""
	if withTLS {
		tlsAddr = hptest.FreeAddr(t)
		cert, key := writeSnakeoil(t, dir)
		tlsLines = fmt.Sprintf("listen %s ssl default_server;\n\t\tssl_certificate %s;\n\t\tssl_certificate_key %s;", tlsAddr, cert, key)
	}
	conf := fmt.Sprintf(`worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
events { worker_connections 64; }
http {
	sendfile on;
	tcp_nopush on;
	types_hash_max_size 2048;
	include /etc/nginx/mime.types;
	default_type application/octet-stream;
	access_log off;
	gzip on;
	client_body_temp_path %[1]s/body;
	proxy_temp_path %[1]s/proxy;
	fastcgi_temp_path %[1]s/fastcgi;
	uwsgi_temp_path %[1]s/uwsgi;
	scgi_temp_path %[1]s/scgi;
	server {
		listen %[2]s default_server;
		%[4]s
		root %[3]s;
		index index.html index.htm index.nginx-debian.html;
		server_name _;
		location / {
			try_files $uri $uri/ =404;
		}
	}
}
`, dir, addr, www, tlsLines)
	cfg := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	runDaemon(t, exec.Command(bin, "-c", cfg, "-p", dir, "-g", "daemon off;"), addr, filepath.Join(dir, "error.log"))
	return addr, tlsAddr
}

// serverHeader asks a server for its Server header.
func serverHeader(t *testing.T, addr string) string {
	t.Helper()
	_, headers, _ := splitResponse(t, raw(t, addr, "HEAD / HTTP/1.0\r\n\r\n"))
	v := headerValue(headers, "Server")
	if v == "" {
		t.Fatalf("%s sends no Server header", addr)
	}
	return v
}

// answer is a response with what differs by nature masked.
type answer struct {
	status  string
	headers []string // "Name: value", values of volatileHeaders masked
	body    string
}

var volatileHeaders = map[string]bool{"Date": true, "ETag": true, "Last-Modified": true}

func parseAnswer(t *testing.T, resp string) answer {
	t.Helper()
	if !strings.HasPrefix(resp, "HTTP/") { // HTTP/0.9: the bare body
		return answer{body: resp}
	}
	status, headers, body := splitResponse(t, resp)
	a := answer{status: status, body: body}
	for _, h := range headers {
		name, _, _ := strings.Cut(h, ": ")
		switch {
		case volatileHeaders[name]:
			h = name + ": <masked>"
		case name == "Allow":
			h = "Allow: " + canonicalAllow(strings.TrimPrefix(h, "Allow: "))
		}
		a.headers = append(a.headers, h)
	}
	return a
}

func (a answer) String() string {
	return a.status + "\n" + strings.Join(a.headers, "\n") + "\n\n" + a.body
}

// probes are the requests both servers get. Each ends the connection
// (Connection: close, HTTP/1.0 or an error), so the whole answer is read.
var probes = []struct{ name, req string }{
	{"static index", "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"},
	{"index.html", "GET /index.html HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"},
	{"HEAD", "HEAD / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"},
	{"404", "GET /nonexistent HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"},
	{"404 HTTP/1.0 without Host", "GET /nonexistent HTTP/1.0\r\n\r\n"},
	{"HTTP/1.1 without Host", "GET / HTTP/1.1\r\n\r\n"},
	{"malformed request line", "GET /\x01 HTTP/1.1\r\nHost: localhost\r\n\r\n"},
	{"bad protocol", "GET / HTTP/1337\r\nHost: localhost\r\n\r\n"},
	{"HTTP/2.0 request line", "GET / HTTP/2.0\r\nHost: localhost\r\nConnection: close\r\n\r\n"},
	{"unknown method", "FOO / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"},
	{"lower-case method", "get / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"},
	{"PUT", "PUT / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"},
	{"DELETE", "DELETE / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"},
	{"TRACE", "TRACE / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"},
	{"POST /", "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\nConnection: close\r\n\r\na=b"},
	{"POST to a static page", "POST /index.html HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\nConnection: close\r\n\r\na=b"},
	{"OPTIONS *", "OPTIONS * HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"},
	{"OPTIONS /", "OPTIONS / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"},
	{"HTTP/0.9", "GET /\r\n"},
	{"HTTP/0.9 404", "GET /nonexistent\r\n"},
	{"very long URI", "GET /" + strings.Repeat("a", 9000) + " HTTP/1.1\r\nHost: localhost\r\n\r\n"},
	{"bad header line", "GET / HTTP/1.1\r\nHost: localhost\r\nBroken\r\n\r\n"},
	{"header name with space", "GET / HTTP/1.1\r\nHost: localhost\r\nBad Name: x\r\n\r\n"},
	{"header too long", "GET / HTTP/1.1\r\nHost: localhost\r\nX-Long: " + strings.Repeat("b", 9000) + "\r\n\r\n"},
	{"unsupported transfer-coding", "POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: gzip\r\nConnection: close\r\n\r\n"},
	{"404 with a port in Host", "GET /nonexistent HTTP/1.1\r\nHost: localhost:8080\r\nConnection: close\r\n\r\n"},
	{"absolute-form target", "GET http://localhost/nonexistent HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"},
	{"bare LF line ends", "GET /nonexistent HTTP/1.1\nHost: localhost\nConnection: close\n\n"},
	{"conflicting Content-Length", "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1\r\nContent-Length: 2\r\nConnection: close\r\n\r\nab"},
	{"chunked POST to 404", "POST /nonexistent HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\na=b\r\n0\r\n\r\n"},
	{"HTTP/1.0 HEAD of 404", "HEAD /nonexistent HTTP/1.0\r\n\r\n"},
	{"Expect other than 100-continue", "GET / HTTP/1.1\r\nHost: localhost\r\nExpect: foo\r\nConnection: close\r\n\r\n"},
}

// knownDiffs are answers that differ on purpose, per server and probe.
var knownDiffs = map[string]string{}

// compareServers runs every probe against the real server and the service.
func compareServers(t *testing.T, kind, realAddr, oursAddr string) {
	for _, pr := range probes {
		t.Run(pr.name, func(t *testing.T) {
			real := parseAnswer(t, raw(t, realAddr, pr.req))
			ours := parseAnswer(t, raw(t, oursAddr, pr.req))
			if real.String() == ours.String() {
				return
			}
			if why, ok := knownDiffs[kind+"/"+pr.name]; ok {
				t.Logf("known difference: %s", why)
				return
			}
			t.Errorf("%q:\n%s", pr.req[:min(len(pr.req), 80)], lineDiff(ours.String(), real.String(), kind))
		})
	}
}

func TestCompareApache(t *testing.T) {
	gate.RealServers(t)
	host := defaultServerName(testPersona())
	realAddr := startApache(t, host)
	banner := serverHeader(t, realAddr)
	oursAddr, _ := start(t, map[string]string{"server_header": banner, "fake_app": "none"})
	compareServers(t, "apache", realAddr, oursAddr)
}

func TestCompareNginx(t *testing.T) {
	gate.RealServers(t)
	realAddr := startNginx(t)
	banner := serverHeader(t, realAddr)
	oursAddr, _ := start(t, map[string]string{"server_header": banner, "fake_app": "none"})
	compareServers(t, "nginx", realAddr, oursAddr)
}

// canonicalAllow rotates a method list to start at GET: Apache's order is
// a rotation that changes with every restart (see apacheAllow).
func canonicalAllow(v string) string {
	m := strings.Split(v, ",")
	for i, x := range m {
		if x == "GET" {
			return strings.Join(append(m[i:], m[:i]...), ",") + " (rotated)"
		}
	}
	return v
}

// lineDiff shows the lines where got and want differ.
func lineDiff(got, want, name string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	var b strings.Builder
	for i := 0; i < max(len(g), len(w)); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			fmt.Fprintf(&b, "line %d:\n  ours  %q\n  %-5s %q\n", i+1, gl, name, wl)
		}
	}
	return b.String()
}

// tlsProbes are requests sent in plain text to a TLS port.
var tlsProbes = []struct{ name, req string }{
	{"plain HTTP to the HTTPS port", "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"},
	{"plain HTTP/1.0 to the HTTPS port", "GET /nonexistent HTTP/1.0\r\n\r\n"},
	{"plain HTTP without Host to the HTTPS port", "GET / HTTP/1.1\r\n\r\n"},
	{"malformed plain HTTP to the HTTPS port", "GET /\x01 HTTP/1.1\r\nHost: localhost\r\n\r\n"},
}

// listenPort masks the port Apache's signature names when the request
// gave none: the real server's is its test port, ours the scheme's 443 (on
// a decky both are 443). Content-Length follows the digits.
var listenPort = regexp.MustCompile(`( Port \d+</address>|Content-Length: \d+)`)

// compareTLS sends each tlsProbe to the real server's TLS port and to the
// https service.
func compareTLS(t *testing.T, kind, realTLS, ours string) {
	mask := func(s string) string { return listenPort.ReplaceAllString(s, "<masked>") }
	for _, pr := range tlsProbes {
		t.Run(pr.name, func(t *testing.T) {
			real := parseAnswer(t, mask(raw(t, realTLS, pr.req)))
			got := parseAnswer(t, mask(raw(t, ours, pr.req)))
			if real.String() != got.String() {
				t.Errorf("%q:\n%s", pr.req, lineDiff(got.String(), real.String(), kind))
			}
		})
	}
}

func TestCompareNginxTLS(t *testing.T) {
	gate.RealServers(t)
	realAddr, realTLS := startNginxTLS(t, true)
	banner := serverHeader(t, realAddr)
	ours, _ := startHTTPS(t, map[string]string{"server_header": banner, "fake_app": "none"})
	compareTLS(t, "nginx", realTLS, ours)
}

func TestCompareApacheTLS(t *testing.T) {
	gate.RealServers(t)
	host := defaultServerName(testPersona())
	realAddr, realTLS := startApacheTLS(t, host, true)
	banner := serverHeader(t, realAddr)
	ours, _ := startHTTPS(t, map[string]string{"server_header": banner, "fake_app": "none"})
	compareTLS(t, "apache", realTLS, ours)
}
