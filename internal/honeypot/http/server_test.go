package http

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"io"
	"net"
	nethttp "net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/honeypot"
	"github.com/decnet-go/decnet/internal/honeypot/hptest"
	"github.com/decnet-go/decnet/internal/persona"
)

var update = flag.Bool("update", false, "rewrite golden files")

type recorder = hptest.Recorder

// lastRequest waits for n request events and returns the last one.
func lastRequest(t *testing.T, rec *recorder, n int) event.Event {
	t.Helper()
	evs := rec.WaitFor(t, event.TypeRequest, n)
	return evs[len(evs)-1]
}

// lastLogin waits for n login_attempt events and returns the last one.
func lastLogin(t *testing.T, rec *recorder, n int) event.Event {
	t.Helper()
	evs := rec.WaitFor(t, event.TypeLoginAttempt, n)
	return evs[len(evs)-1]
}

// testPersona is the persona of every test decky.
func testPersona() *persona.Persona { return persona.New([]byte("secret"), "decky-test") }

// start runs the http service on 127.0.0.1:0 until the test ends.
func start(t testing.TB, cfg map[string]string) (addr string, rec *recorder) {
	t.Helper()
	return startService(t, New(), cfg)
}

// startHTTPS runs the https service, its state in a fresh directory.
func startHTTPS(t testing.TB, cfg map[string]string) (addr string, rec *recorder) {
	t.Helper()
	return startService(t, NewHTTPS(), cfg)
}

func startService(t testing.TB, svc honeypot.Service, cfg map[string]string) (addr string, rec *recorder) {
	t.Helper()
	rec = &recorder{}
	addr, _ = hptest.Serve(t, svc, hptest.Env(t, testPersona(), cfg, rec))
	return addr, rec
}

// raw sends bytes on a fresh connection and returns all the server sent
// until it closed the connection.
func raw(t *testing.T, addr, req string) string {
	t.Helper()
	c := hptest.Dial(t, addr)
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	c.(*net.TCPConn).CloseWrite() // the peer sees the end of the request stream
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read: %v (got %q)", err, b)
	}
	return string(b)
}

// splitResponse splits a raw response into status line, header lines and body.
func splitResponse(t *testing.T, resp string) (status string, headers []string, body string) {
	t.Helper()
	head, body, ok := strings.Cut(resp, "\r\n\r\n")
	if !ok {
		t.Fatalf("no end of headers in %q", resp)
	}
	lines := strings.Split(head, "\r\n")
	return lines[0], lines[1:], body
}

func headerValue(headers []string, name string) string {
	for _, h := range headers {
		if n, v, ok := strings.Cut(h, ": "); ok && n == name {
			return v
		}
	}
	return ""
}

var flavors = []struct{ name, banner, marker string }{
	{"apache", "Apache/2.4.62 (Debian)", "<address>Apache/2.4.62 (Debian) Server at "},
	{"nginx", "nginx/1.22.1", "<hr><center>nginx/1.22.1</center>\r\n"},
}

func TestGetLoginPage(t *testing.T) {
	addr, rec := start(t, nil)
	p := testPersona()
	resp, err := nethttp.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if got := resp.Header.Get("Server"); got != p.HTTPServer {
		t.Errorf("Server = %q, want the persona's %q", got, p.HTTPServer)
	}
	if resp.Header.Get("Date") == "" || resp.Header.Get("Content-Type") != "text/html; charset=UTF-8" {
		t.Errorf("Date/Content-Type missing: %v", resp.Header)
	}
	for _, want := range []string{`<form method="post"`, `type="password"`, "<title>"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("login page lacks %q", want)
		}
	}
	e := lastRequest(t, rec, 1)
	if e.Fields["method"] != "GET" || e.Fields["path"] != "/" || e.Fields["status"] != 200 || e.Fields["version"] != "HTTP/1.1" {
		t.Errorf("event fields %v", e.Fields)
	}
	var order []string
	if err := json.Unmarshal([]byte(e.Fields["headers_ordered"].(string)), &order); err != nil || len(order) == 0 || order[0] != "host" {
		t.Errorf("headers_ordered = %v (%v)", e.Fields["headers_ordered"], err)
	}
	var hdrs map[string]string
	if err := json.Unmarshal([]byte(e.Fields["headers"].(string)), &hdrs); err != nil || hdrs["User-Agent"] != e.Fields["user_agent"] {
		t.Errorf("headers = %v (%v)", e.Fields["headers"], err)
	}
	if err := e.Validate(); err != nil {
		t.Errorf("event invalid: %v", err)
	}
}

func TestLoginPageDiffersPerDecky(t *testing.T) {
	a := genericLogin(persona.New([]byte("secret"), "decky-a")).render("/", "", false)
	b := genericLogin(persona.New([]byte("other-install"), "decky-a")).render("/", "", false)
	strip := regexp.MustCompile(`value="[0-9a-f]{32}"`)
	if strip.ReplaceAllString(string(a), "") == strip.ReplaceAllString(string(b), "") {
		t.Error("two installs serve the same login page")
	}
}

func TestBasicAuthCaptured(t *testing.T) {
	addr, rec := start(t, nil)
	req, _ := nethttp.NewRequest("GET", "http://"+addr+"/admin", nil)
	req.SetBasicAuth("admin", "hunter2")
	resp, err := nethttp.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if lastRequest(t, rec, 1).Credential != nil {
		t.Error("the request event carries the credential too: it would be counted twice")
	}
	c := lastLogin(t, rec, 1).Credential
	if c == nil || c.Principal != "admin" || c.SecretPrintable != "hunter2" || c.SecretKind != "plaintext" || c.Outcome != "failure" {
		t.Fatalf("credential %+v", c)
	}
}

func TestFormPostCaptured(t *testing.T) {
	for _, tc := range []struct{ app, path, form, user, pass, message string }{
		{"login", "/login", "username=bob&password=s3cret", "bob", "s3cret", "Invalid username or password"},
		{"wordpress", "/wp-login.php", "log=admin&pwd=P%40ss&wp-submit=Log+In", "admin", "P@ss", "is incorrect."},
		{"phpmyadmin", "/index.php", "pma_username=root&pma_password=toor&server=1", "root", "toor", "Access denied for user &#39;root&#39;@&#39;localhost&#39;"},
	} {
		t.Run(tc.app, func(t *testing.T) {
			addr, rec := start(t, map[string]string{"fake_app": tc.app})
			v, _ := url.ParseQuery(tc.form)
			resp, err := nethttp.PostForm("http://"+addr+tc.path, v)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !strings.Contains(string(body), tc.message) {
				t.Errorf("status %d, body lacks %q", resp.StatusCode, tc.message)
			}
			e := lastRequest(t, rec, 1)
			if c := lastLogin(t, rec, 1).Credential; c == nil || c.Principal != tc.user || c.SecretPrintable != tc.pass {
				t.Fatalf("credential %+v", c)
			}
			if e.Fields["method"] != "POST" || e.Fields["body_size"] != int64(len(tc.form)) {
				t.Errorf("fields %v", e.Fields)
			}
		})
	}
}

func TestMalformedGetsServerPage(t *testing.T) {
	probes := []struct{ name, req, reason, only string }{
		{"bad version", "GET / HTTP/1.x\r\n\r\n", "unrecognized protocol", ""},
		{"tls hello", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n", "control character in request line", ""},
		// nginx keeps such a line as a field with an empty value
		{"header without colon", "GET / HTTP/1.1\r\nHost: x\r\nBroken\r\n\r\n", "header line without ':'", "apache"},
		{"missing host", "GET / HTTP/1.1\r\n\r\n", "HTTP/1.1 request without Host", ""},
	}
	for _, fl := range flavors {
		addr, rec := start(t, map[string]string{"server_header": fl.banner})
		seen := 0
		for _, pr := range probes {
			if pr.only != "" && pr.only != fl.name {
				continue
			}
			seen++
			i := seen - 1
			t.Run(fl.name+"/"+pr.name, func(t *testing.T) {
				out := raw(t, addr, pr.req)
				status, headers, body := splitResponse(t, out)
				if status != "HTTP/1.1 400 Bad Request" {
					t.Errorf("status line %q", status)
				}
				if body == "400 Bad Request" || strings.Contains(out, "text/plain; charset=utf-8") {
					t.Errorf("Go's canned 400 leaked: %q", out)
				}
				if !strings.Contains(body, fl.marker) || !strings.Contains(body, "<title>400 Bad Request</title>") {
					t.Errorf("body is not %s's 400 page: %q", fl.name, body)
				}
				if headerValue(headers, "Server") != fl.banner || headerValue(headers, "Connection") != "close" {
					t.Errorf("headers %v", headers)
				}
				if headerValue(headers, "Content-Length") != itoa(len(body)) {
					t.Errorf("Content-Length %s for %d bytes", headerValue(headers, "Content-Length"), len(body))
				}
				e := lastRequest(t, rec, i+1)
				if e.Fields["error"] != pr.reason || e.Fields["status"] != 400 {
					t.Errorf("event fields %v", e.Fields)
				}
			})
		}
	}
}

func TestNotFoundIsServerPage(t *testing.T) {
	for _, fl := range flavors {
		t.Run(fl.name, func(t *testing.T) {
			addr, _ := start(t, map[string]string{"server_header": fl.banner})
			resp, err := nethttp.Get("http://" + addr + "/nope")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 404 || strings.Contains(string(body), "404 page not found") {
				t.Fatalf("status %d body %q", resp.StatusCode, body)
			}
			if !strings.Contains(string(body), fl.marker) {
				t.Errorf("not %s's 404: %q", fl.name, body)
			}
		})
	}
}

// TestWireGolden pins the exact bytes of the persona servers' answers
// (Date, random cookies and the listener's port masked). Refresh with go test -run TestWireGolden -update.
func TestWireGolden(t *testing.T) {
	date := regexp.MustCompile(`(?m)^Date: .*\r$`)
	cookie := regexp.MustCompile(`PHPSESSID=[0-9a-v]{26}|value="[0-9a-f]{32}"| Port [0-9]+</address>`)
	cases := []struct{ name, req string }{
		{"400-bad-version", "GET / HTTP/1337\r\n\r\n"},
		{"404", "GET /nope HTTP/1.1\r\nHost: www.example.org\r\nConnection: close\r\n\r\n"},
		{"404-keepalive-then-close", "GET /nope HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /nope HTTP/1.0\r\n\r\n"},
		{"405-put", "PUT / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"},
		{"unknown-method", "FOO / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"},
		{"head-login", "HEAD / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"},
		{"http09", "GET /nope\r\n"},
		{"version-2", "GET / HTTP/2.0\r\nHost: h\r\nConnection: close\r\n\r\n"},
	}
	for _, fl := range flavors {
		addr, _ := start(t, map[string]string{"server_header": fl.banner})
		for _, tc := range cases {
			t.Run(fl.name+"/"+tc.name, func(t *testing.T) {
				out := cookie.ReplaceAllString(date.ReplaceAllString(raw(t, addr, tc.req), "Date: <date>\r"), "<random>")
				path := filepath.Join("testdata", "golden", fl.name+"-"+tc.name+".txt")
				if *update {
					os.MkdirAll(filepath.Dir(path), 0o755)
					if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run with -update)", err)
				}
				if out != string(want) {
					t.Errorf("response differs from %s:\n got %q\nwant %q", path, out, want)
				}
			})
		}
	}
}

func TestKeepAlive(t *testing.T) {
	addr, rec := start(t, map[string]string{"server_header": "Apache/2.4.62 (Debian)"})
	c := hptest.Dial(t, addr)
	br := bufio.NewReader(c)
	for i, path := range []string{"/", "/nope", "/login"} {
		io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\n\r\n")
		resp, err := nethttp.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if want := "timeout=5, max=" + itoa(99-i); resp.Header.Get("Keep-Alive") != want {
			t.Errorf("request %d: Keep-Alive %q, want %q", i, resp.Header.Get("Keep-Alive"), want)
		}
	}
	if evs := rec.WaitFor(t, event.TypeRequest, 3); evs[0].Session != evs[2].Session {
		t.Error("requests of one connection carry different sessions")
	}
}

func TestConnectDisconnect(t *testing.T) {
	addr, rec := start(t, nil)
	raw(t, addr, "GET / HTTP/1.0\r\n\r\n")
	rec.WaitFor(t, event.TypeRequest, 1)
	deadline := time.Now().Add(5 * time.Second)
	for {
		types := []string{}
		for _, e := range rec.Events() {
			types = append(types, e.Type)
		}
		if strings.Join(types, ",") == "connect,request,disconnect" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("events %v", types)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestBadConfig(t *testing.T) {
	for _, cfg := range []map[string]string{
		{"fake_app": "drupal"},
		{"auth": "ntlm"},
		{"tls_cert": "x"}, // an https key on the http service
		{"response_code": "42"},
		{"response_code": "abc"},
		{"sever_header": "x"},
	} {
		_, err := Service{}.newServer(honeypot.Env{Persona: testPersona(), Config: cfg})
		if err == nil {
			t.Errorf("config %v accepted", cfg)
		}
	}
	if err := New().Serve(context.Background(), nil, honeypot.Env{}); err == nil || !strings.Contains(err.Error(), "persona") {
		t.Errorf("Serve without persona: %v", err)
	}
}

func TestIncompleteRequestEvent(t *testing.T) {
	addr, rec := start(t, nil)
	if out := raw(t, addr, "GET / HTTP/1.1\r\nHost: x\r\n"); out != "" {
		t.Errorf("answered a cut request: %q", out)
	}
	if e := lastRequest(t, rec, 1); !strings.HasPrefix(e.Fields["error"].(string), "incomplete request") {
		t.Errorf("event %v", e.Fields)
	}
}
