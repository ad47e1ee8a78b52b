package http

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// requireTool returns the path of an external client, skipping the test
// when it is missing — or failing it when DECNET_REQUIRE_ALL=1 demands
// every gated test run.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("DECNET_REQUIRE_ALL") == "1" {
			t.Fatalf("%s not found on PATH and DECNET_REQUIRE_ALL=1", name)
		}
		t.Skipf("%s not found on PATH", name)
	}
	return path
}

// TestCurl drives the service with the real curl binary.
func TestCurl(t *testing.T) {
	curl := requireTool(t, "curl")
	addr, rec := start(t, nil)
	base := "http://" + addr

	out, err := exec.Command(curl, "-s", "-i", "-u", "admin:hunter2", base+"/admin").CombinedOutput()
	if err != nil {
		t.Fatalf("curl: %v\n%s", err, out)
	}
	if !strings.HasPrefix(string(out), "HTTP/1.1 200 OK\r\n") || !strings.Contains(string(out), "\r\nServer: "+testPersona().HTTPServer+"\r\n") {
		t.Errorf("curl saw %q", out)
	}
	e := rec.last(t, 1)
	if c := e.Credential; c == nil || c.Principal != "admin" || c.SecretPrintable != "hunter2" {
		t.Fatalf("basic credential %+v", c)
	}
	if ua, _ := e.Fields["user_agent"].(string); !strings.HasPrefix(ua, "curl/") {
		t.Errorf("user_agent %q", ua)
	}

	out, err = exec.Command(curl, "-s", "-d", "username=bob&password=s3cret", base+"/login").CombinedOutput()
	if err != nil {
		t.Fatalf("curl: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "Invalid username or password") {
		t.Errorf("POST answer lacks the failure message: %q", out)
	}
	if c := rec.last(t, 2).Credential; c == nil || c.Principal != "bob" || c.SecretPrintable != "s3cret" {
		t.Fatalf("form credential %+v", c)
	}
}
