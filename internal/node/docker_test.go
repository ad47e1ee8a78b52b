package node_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/decnet-go/decnet/internal/decky"
	"github.com/decnet-go/decnet/internal/engine/docker"
	"github.com/decnet-go/decnet/internal/node"
	"github.com/decnet-go/decnet/internal/store"
	"github.com/decnet-go/decnet/internal/testkit"
	"github.com/decnet-go/decnet/internal/testkit/gate"
)

// dockerFleetDriver returns a docker driver on a network of its own that
// the test tears down (containers and network) when it ends.
func dockerFleetDriver(t *testing.T) *docker.Driver {
	t.Helper()
	if os.Getenv("DECNET_TEST_DOCKER") != "1" {
		gate.Missing(t, "set DECNET_TEST_DOCKER=1 and run dockerd")
	}
	d, err := docker.New()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Ping(context.Background()); err != nil {
		t.Fatalf("DECNET_TEST_DOCKER=1 but %v", err)
	}
	b := make([]byte, 4)
	rand.Read(b)
	d.NetworkName = "decnet_cp_" + hex.EncodeToString(b)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := d.Teardown(ctx, nil); err != nil {
			t.Errorf("teardown: %v", err)
		}
		d.Close()
	})
	return d
}

// staticDecnet builds decnet with CGO_ENABLED=0 for the decky image.
func staticDecnet(t *testing.T) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "decnet")
	cmd := exec.Command("go", "build", "-o", out, "github.com/decnet-go/decnet/cmd/decnet")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build static decnet: %v\n%s", err, b)
	}
	return out
}

func deckyRows(t *testing.T, s *testkit.System) map[string]store.DeckyRow {
	t.Helper()
	var rows []store.DeckyRow
	if code := s.Get("/api/v1/deckies", &rows); code != 200 {
		t.Fatalf("GET /deckies: %d", code)
	}
	out := map[string]store.DeckyRow{}
	for _, r := range rows {
		out[r.Name] = r
	}
	return out
}

// TestDockerControlPlane runs `decnet up --driver docker` as an operator
// would: the fleet runs as containers, an attack on a decky's own address
// reaches the store through the control plane's bus, the API deploys and
// deletes deckies as containers, the reconciler repairs a container killed
// behind its back, and a restart keeps the fleet.
func TestDockerControlPlane(t *testing.T) {
	drv := dockerFleetDriver(t)
	pfx := drv.NetworkName[len("decnet_cp_"):][:4]
	first := "cp" + pfx + "-01"
	cfg := node.Config{
		DataDir: t.TempDir(), Driver: "docker",
		Docker: node.DockerConfig{NetworkName: drv.NetworkName, Binary: staticDecnet(t), ReconcileEvery: time.Second},
		Fleet:  []decky.Decky{{Name: first, Services: []string{"ssh"}}},
	}
	s := testkit.StartConfig(t, cfg)
	s.Login()

	// The decky has an address on the fleet network and answers there.
	addr := bindingAddr(t, s, first, "ssh")
	host, _, _ := net.SplitHostPort(addr)
	if strings.HasPrefix(host, "127.") || host == "" {
		t.Fatalf("%s ssh at %q; want an address on the docker network", first, addr)
	}
	waitDial(t, addr)

	// An attacker's login attempt reaches the store.
	sshAttempt(t, addr, "root", "hunter2")
	s.Eventually(30*time.Second, "login attempt on "+first+" in the store", func() bool {
		var out struct{ Data []store.EventRow }
		s.Get("/api/v1/logs?limit=50", &out)
		return slices.ContainsFunc(out.Data, func(e store.EventRow) bool {
			return e.Decky == first && e.Type == "login_attempt"
		})
	})

	// A canary token planted through the API lands in the container's
	// filesystem, where a logged-in attacker reads it; revoked, it goes.
	tok := plant(t, s, first, "git_config")
	slug := "/c/" + lastSegment(tok.CallbackURL)
	if out := sshRunOn(t, s, first, addr, "cat "+tok.PlacementPath); !strings.Contains(out, slug) {
		t.Fatalf("cat %s on docker decky %s: %q lacks %s", tok.PlacementPath, first, out, slug)
	}
	if code := s.Do("DELETE", "/api/v1/canary/tokens/"+tok.UUID, nil, nil); code != 200 {
		t.Fatalf("revoke: %d", code)
	}
	if out := sshRunOn(t, s, first, addr, "cat "+tok.PlacementPath); strings.Contains(out, slug) {
		t.Fatalf("after revoke, cat %s on %s: %q", tok.PlacementPath, first, out)
	}

	// Deploy a second decky through the API; it becomes containers, one of
	// them an operator's image ([custom-*]; here the decky image itself,
	// idling, as no registry is reachable).
	second := "cp" + pfx + "-02"
	var resp struct {
		LifecycleIDs []string `json:"lifecycle_ids"`
	}
	img, err := docker.ImageTag(cfg.Docker.Binary)
	if err != nil {
		t.Fatal(err)
	}
	ini := "[custom-idle]\nbinary = " + img + "\nexec = decky run --idle\nports = 9999\n\n" +
		"[" + second + "]\nservices=ssh, idle\narchetype=windows-workstation\n"
	if code := s.Do("POST", "/api/v1/deckies/deploy", map[string]any{"ini_content": ini}, &resp); code != 202 {
		t.Fatalf("deploy: %d", code)
	}
	s.Eventually(2*time.Minute, "deploy of "+second+" finished", func() bool {
		var out struct{ Rows []store.Lifecycle }
		s.Get("/api/v1/deckies/lifecycle?ids="+resp.LifecycleIDs[0], &out)
		if len(out.Rows) == 1 && out.Rows[0].Status == store.LifecycleFailed {
			t.Fatalf("deploy failed: %s", *out.Rows[0].Error)
		}
		return len(out.Rows) == 1 && out.Rows[0].Status == store.LifecycleSucceeded
	})
	if r := deckyRows(t, s)[second]; r.Status != docker.StateRunning {
		t.Fatalf("%s is %q after deploy; want running", second, r.Status)
	}
	waitDial(t, bindingAddr(t, s, second, "ssh"))
	st, err := drv.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(st, func(ds docker.DeckyStatus) bool { return ds.Name == second })
	if i < 0 || len(st[i].Services) != 2 || st[i].State != docker.StateRunning {
		t.Fatalf("%s after deploy: %+v; want ssh and idle running", second, st)
	}

	// Kill a service container behind the control plane's back: the
	// reconciler brings it back.
	var victim string
	for _, ds := range st {
		if ds.Name == first && len(ds.Services) == 1 {
			victim = ds.Services[0].Container
		}
	}
	if victim == "" {
		t.Fatalf("no ssh container of %s in %+v", first, st)
	}
	if out, err := exec.Command("docker", "rm", "-f", victim).CombinedOutput(); err != nil {
		t.Fatalf("docker rm: %v %s", err, out)
	}
	s.Eventually(time.Minute, "reconciler recreated "+victim, func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil && deckyRows(t, s)[first].Status == docker.StateRunning
	})

	// Delete the second decky: its containers go.
	if code := s.Do("DELETE", "/api/v1/deckies/"+second, nil, nil); code != 204 {
		t.Fatalf("delete: %d", code)
	}
	if _, ok := deckyRows(t, s)[second]; ok {
		t.Fatalf("%s still listed after delete", second)
	}
	st, _ = drv.Status(context.Background())
	if slices.ContainsFunc(st, func(ds docker.DeckyStatus) bool { return ds.Name == second }) {
		t.Fatalf("%s still has containers after delete", second)
	}

	// The control plane stops; the deckies go on and are attacked meanwhile.
	// Then the attacked service dies, and with it whatever it held for the
	// bus: only its stdout still has the event.
	s.Stop()
	sshAttempt(t, addr, "while-down", "hunter3")
	time.Sleep(500 * time.Millisecond)
	if out, err := exec.Command("docker", "kill", victim).CombinedOutput(); err != nil {
		t.Fatalf("docker kill: %v %s", err, out)
	}

	// A restart without a fleet keeps the desired one, and what happened
	// while it was down reaches the store (the deckies' stdout is read back).
	cfg.Fleet = nil
	s = testkit.StartConfig(t, cfg)
	s.Login()
	rows := deckyRows(t, s)
	if _, ok := rows[first]; !ok || len(rows) != 1 {
		t.Fatalf("after restart the deckies are %v; want only %s", rows, first)
	}
	s.Eventually(30*time.Second, "the attempt made while the control plane was down, in the store", func() bool {
		creds, _, err := s.Node.Store.Credentials(context.Background(), store.Page{Limit: 50, Decky: first})
		if err != nil {
			t.Fatal(err)
		}
		return slices.ContainsFunc(creds, func(c store.Credential) bool { return c.Principal == "while-down" })
	})
}

func waitDial(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never answered: %v", addr, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// sshAttempt tries one password login, expecting it to fail.
func sshAttempt(t *testing.T, addr, user, pass string) {
	t.Helper()
	cfg := &ssh.ClientConfig{User: user, Auth: []ssh.AuthMethod{ssh.Password(pass)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second}
	if c, err := ssh.Dial("tcp", addr, cfg); err == nil {
		c.Close()
		t.Fatalf("login %s/%s succeeded", user, pass)
	}
}
