package docker

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/decnet-go/decnet/internal/decky"
	"github.com/decnet-go/decnet/internal/engine"
)

// The checks that need no daemon come before any docker call: a driver
// without a client answers them, and fails with ErrDriver only past them.
func TestOperatorValidation(t *testing.T) {
	d := &Driver{}
	ctx := context.Background()
	cases := []struct {
		name string
		err  error
		want error
	}{
		{"add unknown service", d.AddService(ctx, "decky-01", "gopher", nil), engine.ErrUnknownService},
		{"add bad config", d.AddService(ctx, "decky-01", "ssh", map[string]string{"no_such_key": "x"}), engine.ErrBadConfig},
		{"add bad int", d.AddService(ctx, "decky-01", "http", map[string]string{"response_code": "two"}), engine.ErrBadConfig},
		{"add valid, no daemon", d.AddService(ctx, "decky-01", "ssh", map[string]string{"banner": "OpenSSH_9.6"}), engine.ErrDriver},
		{"remove, no daemon", d.RemoveService(ctx, "decky-01", "ssh"), engine.ErrDriver},
		{"write relative", d.WriteFile(ctx, "decky-01", "etc/passwd", nil, 0o644, time.Time{}), engine.ErrBadPath},
		{"write dotdot", d.WriteFile(ctx, "decky-01", "/etc/../../x", nil, 0o644, time.Time{}), engine.ErrBadPath},
		{"write root", d.WriteFile(ctx, "decky-01", "/", nil, 0o644, time.Time{}), engine.ErrBadPath},
		{"write NUL", d.WriteFile(ctx, "decky-01", "/a\x00b", nil, 0o644, time.Time{}), engine.ErrBadPath},
		{"remove dotdot", d.RemoveFile(ctx, "decky-01", "/.."), engine.ErrBadPath},
		{"write valid, no daemon", d.WriteFile(ctx, "decky-01", "/root/x", nil, 0o644, time.Time{}), engine.ErrDriver},
	}
	for _, c := range cases {
		if !errors.Is(c.err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, c.err, c.want)
		}
	}
	_, err := d.ConfigureService(ctx, "decky-01", "gopher", nil, true)
	if !errors.Is(err, engine.ErrUnknownService) {
		t.Errorf("configure unknown service: %v", err)
	}
	_, err = d.ConfigureService(ctx, "decky-01", "ssh", map[string]string{"port": "22"}, false)
	if !errors.Is(err, engine.ErrBadConfig) {
		t.Errorf("configure bad config: %v", err)
	}
}

func TestWriteSpecRoundTrip(t *testing.T) {
	dir := t.TempDir()
	d := decky.Decky{Name: "decky-01", Services: []string{"ssh"}, Config: map[string]map[string]string{"ssh": {"banner": "x"}}}
	if err := writeSpec(dir, d); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(specPath(dir, "decky-01"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("spec file: %v %v", fi, err)
	}
}
