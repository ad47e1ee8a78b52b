package http

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/decnet-go/decnet/internal/testkit/gate"
)

// TestCurl drives the service with the real curl binary.
func TestCurl(t *testing.T) {
	curl := gate.Tool(t, "curl")
	addr, rec := start(t, nil)
	base := "http://" + addr

	out, err := exec.Command(curl, "-s", "-i", "-u", "admin:hunter2", base+"/admin").CombinedOutput()
	if err != nil {
		t.Fatalf("curl: %v\n%s", err, out)
	}
	if !strings.HasPrefix(string(out), "HTTP/1.1 200 OK\r\n") || !strings.Contains(string(out), "\r\nServer: "+testPersona().HTTPServer+"\r\n") {
		t.Errorf("curl saw %q", out)
	}
	e := lastRequest(t, rec, 1)
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
	if c := lastRequest(t, rec, 2).Credential; c == nil || c.Principal != "bob" || c.SecretPrintable != "s3cret" {
		t.Fatalf("form credential %+v", c)
	}
}
