package node_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/decnet-go/decnet/internal/node"
	"github.com/decnet-go/decnet/internal/testkit"
)

// TestDashboardBesideAPI: `decnet up` serves the dashboard at the API's
// address; the bootstrap admin signs in there and is sent to the forced
// password change, and the API's routes answer as before.
func TestDashboardBesideAPI(t *testing.T) {
	s := testkit.StartConfig(t, node.Config{Fleet: testkit.Fleet(1)})
	base := "http://" + s.Node.APIAddr
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	get := func(path string) (*http.Response, string) {
		t.Helper()
		resp, err := c.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}

	resp, body := get("/")
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/ui/login" || !strings.Contains(body, `action="/ui/login"`) {
		t.Fatalf("GET / ended at %s with %d", resp.Request.URL, resp.StatusCode)
	}
	token := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(body)
	if token == nil {
		t.Fatal("no CSRF token in the login form")
	}
	resp, err := c.PostForm(base+"/ui/login", url.Values{"csrf": {token[1]}, "username": {"admin"}, "password": {testkit.AdminPassword}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/ui/password" {
		t.Fatalf("admin login ended at %s with %d, want the forced password change", resp.Request.URL, resp.StatusCode)
	}

	resp, body = get("/api/v1/health")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("API health beside the dashboard: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	if resp, _ = get("/api/v1/no-such-route"); resp.StatusCode != http.StatusNotFound || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("unknown API route: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}
