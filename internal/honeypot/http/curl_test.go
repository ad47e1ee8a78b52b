package http

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/testkit/gate"
)

// curl runs the real curl binary and returns what it printed (-i: the
// response head and body); https is reached with -k, as an attacker does
// with a self-signed certificate.
func curl(t *testing.T, args ...string) string {
	t.Helper()
	bin := gate.Tool(t, "curl")
	out, err := exec.Command(bin, append([]string{"-s", "-k", "-i", "--max-time", "10"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("curl %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// schemes runs a test against the http and the https service.
var schemes = []struct {
	name  string
	start func(testing.TB, map[string]string) (string, *recorder)
}{
	{"http", start},
	{"https", startHTTPS},
}

// checkTLSFields fails unless e carries the client's fingerprints (https)
// or none (http).
func checkTLSFields(t *testing.T, scheme string, e event.Event) {
	t.Helper()
	ja4, _ := e.Fields["ja4"].(string)
	ja3, _ := e.Fields["ja3"].(string)
	hash, _ := e.Fields["ja3_hash"].(string)
	if scheme == "http" {
		if ja4 != "" || ja3 != "" {
			t.Errorf("plain http event has TLS fingerprints: %v", e.Fields)
		}
		return
	}
	if !strings.HasPrefix(ja4, "t1") || len(ja4) != 36 || !strings.HasPrefix(ja3, "77") || len(hash) != 32 {
		t.Errorf("%s event lacks fingerprints: ja3=%q ja3_hash=%q ja4=%q", e.Type, ja3, hash, ja4)
	}
}

// TestCurl drives both services with curl: a page, Basic, Digest and
// Bearer credentials, each a login_attempt with its secret kind.
func TestCurl(t *testing.T) {
	for _, sc := range schemes {
		t.Run(sc.name, func(t *testing.T) {
			t.Run("basic", func(t *testing.T) {
				addr, rec := sc.start(t, nil)
				out := curl(t, "-u", "admin:hunter2", sc.name+"://"+addr+"/admin")
				if !strings.HasPrefix(out, "HTTP/1.1 200 OK\r\n") || !strings.Contains(out, "\r\nServer: "+testPersona().HTTPServer+"\r\n") {
					t.Errorf("curl saw %q", out)
				}
				e := lastLogin(t, rec, 1)
				if c := e.Credential; c == nil || c.Principal != "admin" || c.SecretPrintable != "hunter2" || c.SecretKind != "plaintext" {
					t.Fatalf("basic credential %+v", c)
				}
				if e.Fields["auth"] != "basic" {
					t.Errorf("fields %v", e.Fields)
				}
				req := lastRequest(t, rec, 1)
				if ua, _ := req.Fields["user_agent"].(string); !strings.HasPrefix(ua, "curl/") {
					t.Errorf("user_agent %q", ua)
				}
				checkTLSFields(t, sc.name, e)
				checkTLSFields(t, sc.name, req)
			})
			t.Run("digest", func(t *testing.T) {
				addr, rec := sc.start(t, map[string]string{"auth": "digest", "auth_realm": "Intranet"})
				out := curl(t, "--digest", "-u", "bob:s3cret", sc.name+"://"+addr+"/private/")
				if !strings.Contains(out, "WWW-Authenticate: Digest realm=\"Intranet\", nonce=") || !strings.Contains(out, "401 Unauthorized") {
					t.Errorf("no Digest challenge: %q", out)
				}
				e := lastLogin(t, rec, 1)
				c := e.Credential
				if c == nil || c.Principal != "bob" || c.SecretKind != "http_digest_md5" || len(c.SecretPrintable) != 32 {
					t.Fatalf("digest credential %+v", c)
				}
				// The captured fields are enough to test a guess: RFC 7616's
				// response for the real password matches.
				f := func(k string) string { s, _ := e.Fields["digest_"+k].(string); return s }
				ha1 := md5hex("bob:" + f("realm") + ":s3cret")
				ha2 := md5hex(f("method") + ":" + f("uri"))
				want := md5hex(fmt.Sprintf("%s:%s:%s:%s:%s:%s", ha1, f("nonce"), f("nc"), f("cnonce"), f("qop"), ha2))
				if f("realm") != "Intranet" || f("uri") != "/private/" || c.SecretPrintable != want {
					t.Errorf("digest fields %v do not reproduce the response %s (want %s)", e.Fields, c.SecretPrintable, want)
				}
				checkTLSFields(t, sc.name, e)
			})
			t.Run("bearer", func(t *testing.T) {
				addr, rec := sc.start(t, nil)
				curl(t, "-H", "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.c2ln", sc.name+"://"+addr+"/api/v1/users")
				e := lastLogin(t, rec, 1)
				if c := e.Credential; c == nil || c.Principal != "" || c.SecretKind != "http_bearer" || c.SecretPrintable != "eyJhbGciOiJIUzI1NiJ9.e30.c2ln" {
					t.Fatalf("bearer credential %+v", c)
				}
				if r := lastRequest(t, rec, 1); r.Fields["status"] != 404 || r.Fields["auth_scheme"] != "bearer" {
					t.Errorf("request %v", r.Fields)
				}
			})
		})
	}
}

func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// TestCurlFakeApps posts to each fake application's login with curl and
// checks the answer and the captured credential.
func TestCurlFakeApps(t *testing.T) {
	tests := []struct {
		app, path  string
		args       []string
		user, pass string
		via        string
		answer     []string // substrings of curl's output
	}{
		{"login", "/login", []string{"-d", "username=bob&password=s3cret"}, "bob", "s3cret", "form",
			[]string{"200 OK", "Invalid username or password"}},
		{"wordpress", "/wp-login.php", []string{"-d", "log=admin&pwd=P%40ss&wp-submit=Log+In&testcookie=1"}, "admin", "P@ss", "form",
			[]string{"200 OK", "The password you entered for the username admin is incorrect.", "wordpress_test_cookie"}},
		{"wordpress", "/xmlrpc.php", []string{"-H", "Content-Type: text/xml", "-d",
			"<?xml version=\"1.0\"?><methodCall><methodName>wp.getUsersBlogs</methodName><params>" +
				"<param><value><string>editor</string></value></param><param><value><string>letmein</string></value></param></params></methodCall>"},
			"editor", "letmein", "xmlrpc", []string{"<int>403</int>", "Incorrect username or password."}},
		{"phpmyadmin", "/index.php", []string{"-d", "pma_username=root&pma_password=toor&server=1&token=x"}, "root", "toor", "form",
			[]string{"200 OK", "Access denied for user &#39;root&#39;@&#39;localhost&#39;"}},
		{"tomcat", "/manager/html", []string{"-u", "tomcat:s3cret"}, "tomcat", "s3cret", "basic",
			[]string{"401 Unauthorized", "WWW-Authenticate: Basic realm=\"Tomcat Manager Application\"", "conf/tomcat-users.xml"}},
		{"jenkins", "/j_spring_security_check", []string{"-d", "j_username=admin&j_password=jenkins&from=%2F&Submit=Sign+in"}, "admin", "jenkins", "form",
			[]string{"302 ", "/loginError\r\n", "X-Jenkins: "}},
	}
	for _, sc := range schemes {
		for _, tc := range tests {
			t.Run(sc.name+"/"+tc.app+tc.path, func(t *testing.T) {
				addr, rec := sc.start(t, map[string]string{"fake_app": tc.app})
				out := curl(t, append(tc.args, sc.name+"://"+addr+tc.path)...)
				for _, want := range tc.answer {
					if !strings.Contains(out, want) {
						t.Errorf("answer lacks %q:\n%s", want, out)
					}
				}
				e := lastLogin(t, rec, 1)
				if c := e.Credential; c == nil || c.Principal != tc.user || c.SecretPrintable != tc.pass || c.Outcome != "failure" {
					t.Fatalf("credential %+v", c)
				}
				if e.Fields["auth"] != tc.via || e.Fields["app"] != tc.app {
					t.Errorf("fields %v", e.Fields)
				}
				if err := e.Validate(); err != nil {
					t.Errorf("event invalid: %v", err)
				}
				checkTLSFields(t, sc.name, e)
			})
		}
	}
}
