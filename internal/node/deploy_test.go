package node_test

import (
	"bufio"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/decnet-go/decnet/internal/store"
	"github.com/decnet-go/decnet/internal/testkit"
)

// sshBanner reads the identification line a decky's ssh sends first.
func sshBanner(t *testing.T, addr string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("read banner from %s: %v", addr, err)
	}
	return strings.TrimSpace(line)
}

// TestDeployAndDelete deploys a new decky through the API as an operator
// would, checks it from the attacker's side and across a restart, then
// deletes it.
func TestDeployAndDelete(t *testing.T) {
	fleet := testkit.Fleet(1)
	fleet[0].Services = []string{"ssh"}
	// testkit.Fleet hands out odd last octets only; the even one below
	// this fleet's first address is this test's alone.
	a := fleet[0].IP.As4()
	a[3] &^= 1
	ip := netip.AddrFrom4(a)
	s := testkit.StartWith(t, fleet)
	s.Login()

	ini := fmt.Sprintf("[decky-new]\nip=%s\nservices=ssh\n", ip)
	var resp struct {
		Message      string   `json:"message"`
		Mode         string   `json:"mode"`
		LifecycleIDs []string `json:"lifecycle_ids"`
	}
	if code := s.Do("POST", "/api/v1/deckies/deploy", map[string]any{"ini_content": ini}, &resp); code != 202 {
		t.Fatalf("deploy: %d", code)
	}
	if resp.Mode != "unihost" || len(resp.LifecycleIDs) != 1 {
		t.Fatalf("deploy answer = %+v", resp)
	}
	var row store.Lifecycle
	s.Eventually(10*time.Second, "deploy lifecycle succeeded", func() bool {
		var out struct{ Rows []store.Lifecycle }
		if code := s.Get("/api/v1/deckies/lifecycle?ids="+resp.LifecycleIDs[0], &out); code != 200 || len(out.Rows) != 1 {
			t.Fatalf("lifecycle: %d %+v", code, out)
		}
		row = out.Rows[0]
		return store.Terminal(row.Status)
	})
	if row.Status != store.LifecycleSucceeded || row.DeckyName != "decky-new" || row.Operation != "deploy" {
		t.Fatalf("lifecycle row = %+v", row)
	}

	addr := bindingAddr(t, s, "decky-new", "ssh")
	if host, _, _ := net.SplitHostPort(addr); host != ip.String() {
		t.Fatalf("decky-new ssh on %s; want %s", addr, ip)
	}
	want := "SSH-2.0-" + s.Persona("decky-new").SSHVersion
	if got := sshBanner(t, addr); got != want {
		t.Fatalf("banner %q; want %q", got, want)
	}
	// The same INI again collides with the running decky.
	if code := s.Do("POST", "/api/v1/deckies/deploy", map[string]any{"ini_content": ini}, nil); code != 409 {
		t.Fatalf("second deploy: %d; want 409", code)
	}

	// A restart (no --config) runs the deployed decky again.
	s = s.Restart()
	s.Login()
	addr = bindingAddr(t, s, "decky-new", "ssh")
	if addr == "" {
		t.Fatal("decky-new is gone after restart")
	}
	if got := sshBanner(t, addr); got != want {
		t.Fatalf("banner after restart %q; want %q", got, want)
	}
	if bindingAddr(t, s, fleet[0].Name, "ssh") == "" {
		t.Fatalf("%s is gone after restart", fleet[0].Name)
	}

	if code := s.Do("DELETE", "/api/v1/deckies/decky-new", nil, nil); code != 204 {
		t.Fatalf("delete: %d", code)
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatalf("%s still open after delete", addr)
	}
	if bindingAddr(t, s, "decky-new", "ssh") != "" {
		t.Fatal("GET /deckies still lists decky-new after delete")
	}
	if code := s.Do("DELETE", "/api/v1/deckies/decky-new", nil, nil); code != 404 {
		t.Fatalf("second delete: %d; want 404", code)
	}
	// Deleted stays deleted across a restart.
	s = s.Restart()
	s.Login()
	if bindingAddr(t, s, "decky-new", "ssh") != "" {
		t.Fatal("decky-new is back after restart")
	}
}
