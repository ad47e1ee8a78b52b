package node_test

import (
	"encoding/base64"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/decnet-go/decnet/internal/store"
	"github.com/decnet-go/decnet/internal/testkit"
)

// bindingAddr is where GET /deckies says a service of a decky listens; ""
// when the decky does not run it.
func bindingAddr(t *testing.T, s *testkit.System, deckyName, service string) string {
	t.Helper()
	var deckies []store.DeckyRow
	if code := s.Get("/api/v1/deckies", &deckies); code != 200 {
		t.Fatalf("GET /deckies: %d", code)
	}
	for _, d := range deckies {
		if d.Name != deckyName {
			continue
		}
		for _, b := range d.Services {
			if b.Name == service {
				if b.Status != "listening" {
					t.Fatalf("%s/%s is %s: %s", deckyName, service, b.Status, b.Error)
				}
				return b.Address
			}
		}
	}
	return ""
}

func serverHeader(t *testing.T, addr string) string {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + addr + "/")
	if err != nil {
		t.Fatalf("GET http://%s/: %v", addr, err)
	}
	resp.Body.Close()
	return resp.Header.Get("Server")
}

// sshExec runs command on the decky's ssh as root with the persona's password.
func sshExec(t *testing.T, s *testkit.System, deckyName, command string) string {
	t.Helper()
	root, _ := s.Persona(deckyName).Account("root")
	cfg := &ssh.ClientConfig{User: "root", Auth: []ssh.AuthMethod{ssh.Password(root.Password)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 5 * time.Second}
	c, err := ssh.Dial("tcp", s.Addr(deckyName, "ssh"), cfg)
	if err != nil {
		t.Fatalf("ssh: %v", err)
	}
	defer c.Close()
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	out, _ := sess.Output(command)
	return string(out)
}

// TestLiveOperations changes a running decky through the API as an
// operator would, and checks each change from the attacker's side and
// across restarts.
func TestLiveOperations(t *testing.T) {
	fleet := testkit.Fleet(1)
	fleet[0].Services = []string{"ssh"}
	s := testkit.StartWith(t, fleet)
	s.Login()
	const d = "decky-01"
	base := "/api/v1/deckies/" + d + "/services"

	// Add http to a decky that runs only ssh: it answers at once.
	var added struct {
		DeckyName string   `json:"decky_name"`
		Services  []string `json:"services"`
	}
	if code := s.Do("POST", base, map[string]any{"name": "http", "config": map[string]string{}}, &added); code != 201 ||
		!slices.Equal(added.Services, []string{"ssh", "http"}) {
		t.Fatalf("add http = %d %+v", code, added)
	}
	addr := bindingAddr(t, s, d, "http")
	if addr == "" {
		t.Fatal("GET /deckies does not show the added http")
	}
	if h := serverHeader(t, addr); h == "" {
		t.Fatal("added http answers without a Server header")
	}
	if code := s.Do("POST", base, map[string]any{"name": "http"}, nil); code != 409 {
		t.Errorf("adding http twice = %d; want 409", code)
	}

	// Apply a configuration: the service restarts with it.
	var applied struct {
		Recreated bool `json:"recreated"`
	}
	body := map[string]any{"config": map[string]string{"server_header": "nginx/1.22.1"}}
	if code := s.Do("POST", base+"/http/apply", body, &applied); code != 201 || !applied.Recreated {
		t.Fatalf("apply = %d %+v", code, applied)
	}
	if h := serverHeader(t, bindingAddr(t, s, d, "http")); h != "nginx/1.22.1" {
		t.Fatalf("Server after apply = %q", h)
	}

	// Drop a file and read it as an attacker would.
	drop := map[string]any{"decky_name": d, "path": "/root/notes.txt", "mode": 0o600,
		"content_b64": base64.StdEncoding.EncodeToString([]byte("vpn: admin / Winter2026!\n"))}
	if code := s.Do("POST", "/api/v1/deckies/files", drop, nil); code != 201 {
		t.Fatalf("drop = %d", code)
	}
	if out := sshExec(t, s, d, "cat /root/notes.txt"); out != "vpn: admin / Winter2026!\n" {
		t.Fatalf("cat /root/notes.txt = %q", out)
	}
	if code := s.Do("POST", "/api/v1/deckies/files", map[string]any{"decky_name": d, "path": "/root/../etc/x", "content_b64": ""}, nil); code != 422 {
		t.Errorf("drop with .. = %d; want 422", code)
	}

	// Restart: http runs again with its configuration, the drop is there.
	s = s.Restart()
	s.Login()
	if h := serverHeader(t, bindingAddr(t, s, d, "http")); h != "nginx/1.22.1" {
		t.Fatalf("Server after restart = %q", h)
	}
	if out := sshExec(t, s, d, "ls /root"); !strings.Contains(out, "notes.txt") {
		t.Errorf("ls /root after restart = %q", out)
	}

	// Remove http: its port closes, ssh goes on.
	addr = bindingAddr(t, s, d, "http")
	var removed struct {
		Services []string `json:"services"`
	}
	if code := s.Do("DELETE", base+"/http", nil, &removed); code != 200 || !slices.Equal(removed.Services, []string{"ssh"}) {
		t.Fatalf("remove http = %d %+v", code, removed)
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatalf("http port %s still open after remove", addr)
	}
	if bindingAddr(t, s, d, "http") != "" {
		t.Error("GET /deckies still shows the removed http")
	}
	if code := s.Do("DELETE", "/api/v1/deckies/files", map[string]any{"decky_name": d, "path": "/root/notes.txt"}, nil); code != 200 {
		t.Errorf("remove drop = %d", code)
	}
	if out := sshExec(t, s, d, "cat /root/notes.txt"); !strings.Contains(out, "No such file") {
		t.Errorf("cat after removing the drop = %q", out)
	}

	// And the removal persists.
	s = s.Restart()
	s.Login()
	if bindingAddr(t, s, d, "http") != "" {
		t.Fatal("removed http came back after restart")
	}
	if bindingAddr(t, s, d, "ssh") == "" {
		t.Fatal("ssh missing after restart")
	}
}
