package main

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/decnet-go/decnet/internal/testkit"
)

// TestCommandsThroughAPI: deploy, status and teardown with --api act
// through a running control plane, as an operator's script would.
func TestCommandsThroughAPI(t *testing.T) {
	fleet := testkit.Fleet(1)
	fleet[0].Services = []string{"http"}
	a := fleet[0].IP.As4()
	a[3] &^= 1 // the even address below the fleet's is this test's alone
	s := testkit.StartWith(t, fleet)
	s.Login()
	api := "http://" + s.Node.APIAddr
	t.Setenv("DECNET_API_TOKEN", "")
	t.Setenv("DECNET_API_PASSWORD", testkit.NewAdminPassword)

	ini := filepath.Join(t.TempDir(), "more.ini")
	if err := os.WriteFile(ini, []byte("[decky-cli]\nip="+netip.AddrFrom4(a).String()+"\nservices=ssh\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, "deploy", "--api", api, "--config", ini)
	if err != nil {
		t.Fatalf("deploy --api: %v\n%s", err, out)
	}
	for _, want := range []string{"decky-cli: deploy succeeded", "decky-cli", fleet[0].Name} {
		if !strings.Contains(out, want) {
			t.Errorf("deploy output lacks %q:\n%s", want, out)
		}
	}
	if out, err = run(t, "status", "--api", api); err != nil || !strings.Contains(out, "decky-cli") || !strings.Contains(out, "ssh:listening") {
		t.Fatalf("status --api: %v\n%s", err, out)
	}
	// The same file again collides: the API's reason reaches the operator.
	if out, err = run(t, "deploy", "--api", api, "--config", ini); err == nil || !strings.Contains(err.Error(), "409") {
		t.Fatalf("second deploy: %v\n%s", err, out)
	}
	if out, err = run(t, "teardown", "--api", api, "--id", "decky-cli"); err != nil || !strings.Contains(out, "removed decky-cli") {
		t.Fatalf("teardown --api: %v\n%s", err, out)
	}
	if out, _ = run(t, "status", "--api", api); strings.Contains(out, "decky-cli") {
		t.Fatalf("decky-cli still listed after teardown:\n%s", out)
	}
	// Wrong credentials are refused with the API's answer.
	t.Setenv("DECNET_API_PASSWORD", "wrong")
	if _, err = run(t, "status", "--api", api); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("status with a wrong password: %v", err)
	}
}
