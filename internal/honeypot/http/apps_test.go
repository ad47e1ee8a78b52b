package http

import (
	"bytes"
	"context"
	"crypto/tls"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/decnet-go/decnet/internal/decky"
	"github.com/decnet-go/decnet/internal/honeypot"
	"github.com/decnet-go/decnet/internal/honeypot/tlsfp"
)

// TestAppPaths checks each application's typical paths by raw request.
func TestAppPaths(t *testing.T) {
	tests := []struct {
		app, path string
		want      []string
	}{
		{"wordpress", "/", []string{"200 OK", `<meta name="generator" content="WordPress `}},
		{"wordpress", "/wp-admin/", []string{"302 ", "Location: http://victim.example/wp-login.php?redirect_to=http%3A%2F%2Fvictim.example%2Fwp-admin%2F&reauth=1\r\n"}},
		{"wordpress", "/wp-admin", []string{"301 Moved Permanently", "Location: http://victim.example/wp-admin/\r\n"}},
		{"wordpress", "/xmlrpc.php", []string{"405 ", "XML-RPC server accepts POST requests only."}},
		{"wordpress", "/robots.txt", []string{"Disallow: /wp-admin/", "Sitemap: http://victim.example/wp-sitemap.xml"}},
		{"wordpress", "/favicon.ico", []string{"200 OK", "\x00\x00\x01\x00\x01\x00\x10\x10", "\x89PNG"}},
		{"phpmyadmin", "/phpmyadmin/index.php", []string{"200 OK", `name="pma_username"`, `name="token" value="`, "theme.css?v="}},
		{"phpmyadmin", "/robots.txt", []string{"200 OK", "Disallow: /\n"}},
		{"tomcat", "/", []string{"200 OK", "<title>Apache Tomcat/"}},
		{"tomcat", "/host-manager/html", []string{"401 ", `WWW-Authenticate: Basic realm="Tomcat Host Manager Application"`}},
		{"tomcat", "/manager", []string{"302 ", "Location: /manager/html\r\n"}},
		{"jenkins", "/", []string{"403 Forbidden", "X-Jenkins: 2.", "/login?from=%2F"}},
		{"jenkins", "/login", []string{"200 OK", `action="j_spring_security_check"`, `name="j_username"`, "Sign in [Jenkins]"}},
		{"jenkins", "/loginError", []string{"401 ", "Invalid username or password"}},
		{"none", "/favicon.ico", []string{"404 Not Found"}},
		{"none", "/robots.txt", []string{"404 Not Found"}},
	}
	for _, tc := range tests {
		t.Run(tc.app+tc.path, func(t *testing.T) {
			addr, rec := start(t, map[string]string{"fake_app": tc.app, "server_header": "Apache/2.4.62 (Debian)"})
			out := raw(t, addr, "GET "+tc.path+" HTTP/1.1\r\nHost: victim.example\r\nConnection: close\r\n\r\n")
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("answer lacks %q:\n%.600s", w, out)
				}
			}
			lastRequest(t, rec, 1)
		})
	}
}

func TestJenkinsAcegi(t *testing.T) {
	addr, _ := start(t, map[string]string{"fake_app": "jenkins", "app_version": "1.651.3"})
	out := raw(t, addr, "GET /login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	if !strings.Contains(out, `action="j_acegi_security_check"`) || !strings.Contains(out, "X-Jenkins: 1.651.3\r\n") {
		t.Errorf("Jenkins 1.x login: %.800s", out)
	}
}

func TestXMLRPCMulticall(t *testing.T) {
	body := `<?xml version="1.0"?><methodCall><methodName>system.multicall</methodName><params><param><value><array><data>
<value><struct><member><name>methodName</name><value><string>wp.getUsersBlogs</string></value></member>
<member><name>params</name><value><array><data><value><string>admin</string></value><value><string>123456</string></value></data></array></value></member></struct></value>
</data></array></value></param></params></methodCall>`
	user, pass, ok := parseXMLRPC([]byte(body)).login()
	if !ok || user != "admin" || pass != "123456" {
		t.Errorf("multicall login = %q %q %v", user, pass, ok)
	}
	user, pass, ok = parseXMLRPC([]byte(`<methodCall><methodName>wp.getProfile</methodName><params><param><value><int>1</int></value></param><param><value>bob</value></param><param><value><string>pw</string></value></param></params></methodCall>`)).login()
	if !ok || user != "bob" || pass != "pw" {
		t.Errorf("wp.getProfile login = %q %q %v", user, pass, ok)
	}
}

// TestAuthChallengePages checks the 401 of each flavour names the realm
// and uses the server's own page.
func TestAuthChallengePages(t *testing.T) {
	for _, fl := range flavors {
		t.Run(fl.name, func(t *testing.T) {
			addr, _ := start(t, map[string]string{"auth": "basic", "auth_realm": "Admin Area", "server_header": fl.banner})
			out := raw(t, addr, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
			if !strings.Contains(out, "WWW-Authenticate: Basic realm=\"Admin Area\"\r\n") || !strings.Contains(out, fl.marker) {
				t.Errorf("401: %s", out)
			}
		})
	}
}

// TestHTTPSCertificate checks the persona certificate: named after the
// host, saved in the state directory and the same after a restart.
func TestHTTPSCertificate(t *testing.T) {
	dir := t.TempDir()
	serve := func() []byte {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		env := honeypot.Env{Decky: decky.Identity{Name: "decky-test"}, Persona: testPersona(), StateDir: dir, Emit: (&recorder{}).Emit}
		go func() { done <- NewHTTPS().Serve(ctx, l, env) }()
		defer func() { cancel(); <-done }()
		c, err := tls.Dial("tcp", l.Addr().String(), &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		leaf := c.ConnectionState().PeerCertificates[0]
		if leaf.Subject.CommonName != testPersona().Hostname || c.ConnectionState().NegotiatedProtocol != "" {
			t.Errorf("certificate CN %q", leaf.Subject.CommonName)
		}
		return leaf.Raw
	}
	first, second := serve(), serve()
	if !bytes.Equal(first, second) {
		t.Error("the certificate changed across restarts")
	}
	if _, err := os.Stat(filepath.Join(dir, tlsfp.CertFile)); err != nil {
		t.Errorf("certificate not saved: %v", err)
	}
}

func TestHTTPSConfigErrors(t *testing.T) {
	certPEM, keyPEM, err := tlsfp.SelfSigned("shop.example", testPersona().BootTime)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "key.pem")
	os.WriteFile(keyFile, keyPEM, 0o600)
	for _, tc := range []struct {
		name string
		cfg  map[string]string
		key  string // the key the error must name; "" for success
	}{
		{"operator pair, key from a file", map[string]string{"tls_cert": string(certPEM), "tls_key": keyFile}, ""},
		{"garbage certificate", map[string]string{"tls_cert": "-----BEGIN NOTHING-----", "tls_key": string(keyPEM)}, `"tls_cert"`},
		{"missing file", map[string]string{"tls_cert": "/nonexistent/cert.pem", "tls_key": string(keyPEM)}, `"tls_cert"`},
		{"key is a certificate", map[string]string{"tls_cert": string(certPEM), "tls_key": string(certPEM)}, `"tls_key"`},
		{"key without certificate", map[string]string{"tls_key": string(keyPEM)}, `"tls_cert"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tlsConfig(honeypot.Env{Persona: testPersona(), Config: tc.cfg})
			switch {
			case tc.key == "" && err != nil:
				t.Errorf("rejected: %v", err)
			case tc.key != "" && (err == nil || !strings.Contains(err.Error(), tc.key)):
				t.Errorf("error %v does not name %s", err, tc.key)
			}
		})
	}
}

// TestPlainHTTPOnHTTPSPort checks the event of plain HTTP on the https port.
func TestPlainHTTPOnHTTPSPort(t *testing.T) {
	addr, rec := startHTTPS(t, map[string]string{"server_header": "nginx/1.22.1"})
	out := raw(t, addr, "GET /admin HTTP/1.1\r\nHost: x\r\n\r\n")
	if !strings.HasPrefix(out, "HTTP/1.1 400 Bad Request\r\n") || !strings.Contains(out, "<title>400 The plain HTTP request was sent to HTTPS port</title>") {
		t.Errorf("answer %q", out)
	}
	e := lastRequest(t, rec, 1)
	if e.Service != "https" || e.Fields["path"] != "/admin" || e.Fields["status"] != 400 {
		t.Errorf("event %s %v", e.Service, e.Fields)
	}
}
