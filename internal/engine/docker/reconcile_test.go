package docker

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/decnet-go/decnet/internal/decky"
)

func TestClassify(t *testing.T) {
	const up, exited = "running", "exited"
	for _, c := range []struct {
		name     string
		states   map[string]string
		services []string
		want     string
	}{
		{"no containers", nil, []string{"ssh"}, StateTornDown},
		{"no containers, no services", map[string]string{}, nil, StateTornDown},
		{"all up", map[string]string{"": up, "ssh": up, "http": up}, []string{"ssh", "http"}, StateRunning},
		{"one service exited", map[string]string{"": up, "ssh": up, "http": exited}, []string{"ssh", "http"}, StateDegraded},
		{"one service missing", map[string]string{"": up, "ssh": up}, []string{"ssh", "http"}, StateDegraded},
		{"every service down", map[string]string{"": up, "ssh": exited, "http": "dead"}, []string{"ssh", "http"}, StateFailed},
		{"every service missing", map[string]string{"": up}, []string{"ssh"}, StateFailed},
		{"base exited", map[string]string{"": exited, "ssh": up}, []string{"ssh"}, StateFailed},
		{"base missing, service left", map[string]string{"ssh": up}, []string{"ssh"}, StateFailed},
		{"base up, no services desired", map[string]string{"": up}, nil, StateRunning},
		{"undesired service down does not count", map[string]string{"": up, "ssh": up, "ftp": exited}, []string{"ssh"}, StateRunning},
		{"restarting service", map[string]string{"": up, "ssh": "restarting", "http": up}, []string{"ssh", "http"}, StateDegraded},
	} {
		if got := classify(c.states, c.services); got != c.want {
			t.Errorf("%s: classify(%v, %v) = %s, want %s", c.name, c.states, c.services, got, c.want)
		}
	}
}

func TestDesired(t *testing.T) {
	dir := t.TempDir()
	d := &Driver{NetworkName: "net_a"}
	mk := func(name, network string, spec bool) {
		t.Helper()
		if spec {
			if err := writeSpec(dir, decky.Decky{Name: name, Services: []string{"ssh"}}); err != nil {
				t.Fatal(err)
			}
		}
		if network != "" {
			if err := writeDeployRecord(dir, name, deployRecord{Network: network}); err != nil {
				t.Fatal(err)
			}
		}
	}
	mk("here", "net_a", true)
	mk("elsewhere", "net_b", true)
	mk("never-deployed", "", true)
	mk("spec-deleted", "net_a", false)
	if err := os.MkdirAll(filepath.Join(dir, "deckies", "empty"), 0o700); err != nil {
		t.Fatal(err)
	}
	got, err := d.desired(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got["here"].Decky.Name != "here" || len(got["here"].Decky.Services) != 1 {
		t.Errorf("desired = %+v, want only \"here\"", got)
	}
	if err := forgetDecky(dir, "elsewhere", "net_a"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(deployPath(dir, "elsewhere")); err != nil {
		t.Errorf("forgetting on net_a removed net_b's record: %v", err)
	}
	if err := forgetDecky(dir, "here", "net_a"); err != nil {
		t.Fatal(err)
	}
	if got, _ := d.desired(dir); len(got) != 0 {
		t.Errorf("after forgetting: desired = %+v", got)
	}
	if got, err := (&Driver{}).desired(filepath.Join(dir, "nope")); err != nil || len(got) != 0 {
		t.Errorf("missing data dir: %v %v", got, err)
	}
}
