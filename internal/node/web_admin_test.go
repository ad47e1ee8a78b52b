package node_test

import (
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/decnet-go/decnet/internal/node"
	"github.com/decnet-go/decnet/internal/testkit"
)

// TestDashboardAddsService: an admin adds a service to a running decky
// from the Deckies screen; it goes through the same engine operation as
// the API, so the service listens, the API lists it, and the dashboard
// shows it with its config form.
func TestDashboardAddsService(t *testing.T) {
	s := testkit.StartConfig(t, node.Config{Fleet: testkit.Fleet(1)})
	s.Login() // sets the admin's own password through the API
	base := "http://" + s.Node.APIAddr
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	csrfRe := regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	get := func(path string) string {
		t.Helper()
		resp, err := c.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d\n%s", path, resp.StatusCode, b)
		}
		return string(b)
	}
	post := func(path string, form url.Values) (*http.Response, string) {
		t.Helper()
		resp, err := c.PostForm(base+path, form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}

	login := csrfRe.FindStringSubmatch(get("/ui/login"))
	if resp, _ := post("/ui/login", url.Values{"csrf": {login[1]}, "username": {"admin"}, "password": {testkit.NewAdminPassword}}); resp.Request.URL.Path != "/ui/" {
		t.Fatalf("login ended at %s", resp.Request.URL)
	}
	page := get("/ui/deckies/decky-01")
	if !strings.Contains(page, `id="service-ssh"`) || !strings.Contains(page, `<option value="ftp">`) {
		t.Fatalf("decky page lacks ssh or the add form:\n%s", page)
	}
	token := csrfRe.FindStringSubmatch(page)[1]

	resp, body := post("/ui/deckies/decky-01/services", url.Values{"csrf": {token}, "service": {"ftp"}})
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/ui/deckies/decky-01" ||
		!strings.Contains(body, "Service ftp added") || !strings.Contains(body, `id="service-ftp"`) || !strings.Contains(body, `name="cfg.flavor"`) {
		t.Fatalf("add ftp: %d at %s\n%s", resp.StatusCode, resp.Request.URL, body)
	}
	conn, err := net.DialTimeout("tcp", s.Addr("decky-01", "ftp"), 5*time.Second)
	if err != nil {
		t.Fatalf("ftp added through the dashboard does not listen: %v", err)
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	banner := make([]byte, 64)
	n, _ := conn.Read(banner)
	conn.Close()
	if !strings.HasPrefix(string(banner[:n]), "220") {
		t.Fatalf("ftp banner %q", banner[:n])
	}
	var deckies []struct {
		Name     string `json:"name"`
		Services []struct {
			Name string `json:"name"`
		} `json:"services"`
	}
	if code := s.Get("/api/v1/deckies", &deckies); code != http.StatusOK {
		t.Fatalf("API deckies: %d", code)
	}
	found := false
	for _, d := range deckies {
		for _, b := range d.Services {
			found = found || (d.Name == "decky-01" && b.Name == "ftp")
		}
	}
	if !found {
		t.Fatalf("the API does not list ftp on decky-01: %+v", deckies)
	}

	// Save and apply a setting; remove the service again.
	if resp, body = post("/ui/deckies/decky-01/services/ftp/config", url.Values{"csrf": {token}, "action": {"apply"}, "cfg.flavor": {"proftpd"}}); !strings.Contains(body, "Configuration of ftp applied") {
		t.Fatalf("apply: %d\n%s", resp.StatusCode, body)
	}
	if resp, body = post("/ui/deckies/decky-01/services/ftp/remove", url.Values{"csrf": {token}}); strings.Contains(body, `id="service-ftp"`) || !strings.Contains(body, "Service ftp removed") {
		t.Fatalf("remove: %d\n%s", resp.StatusCode, body)
	}
}
