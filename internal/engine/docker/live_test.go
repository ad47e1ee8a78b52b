package docker

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

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
		{"write relative", d.WriteFile(ctx, "decky-01", "etc/passwd", nil, 0o644), engine.ErrBadPath},
		{"write dotdot", d.WriteFile(ctx, "decky-01", "/etc/../../x", nil, 0o644), engine.ErrBadPath},
		{"write root", d.WriteFile(ctx, "decky-01", "/", nil, 0o644), engine.ErrBadPath},
		{"write NUL", d.WriteFile(ctx, "decky-01", "/a\x00b", nil, 0o644), engine.ErrBadPath},
		{"remove dotdot", d.RemoveFile(ctx, "decky-01", "/.."), engine.ErrBadPath},
		{"write valid, no daemon", d.WriteFile(ctx, "decky-01", "/root/x", nil, 0o644), engine.ErrDriver},
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

func TestDropPath(t *testing.T) {
	for p, want := range map[string]string{
		"/root/notes.txt": "root/notes.txt",
		"/etc//x/./y":     "etc/x/y",
		"/a/":             "a",
	} {
		got, err := dropPath(p)
		if err != nil || got != want {
			t.Errorf("dropPath(%q) = %q, %v; want %q", p, got, err, want)
		}
	}
}

// writeDrop stays inside the drops directory, even through a symlink
// planted there. It chowns to 65534, so it needs root.
func TestWriteDropStaysInRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("chown to 65534 needs root")
	}
	dir := t.TempDir()
	outside := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(dir, "evil")); err != nil {
		t.Fatal(err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	if err := writeDrop(root, "a/b/c.txt", []byte("hi"), 0o640); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, "a", "b", "c.txt"))
	if err != nil || fi.Mode().Perm() != 0o640 {
		t.Fatalf("dropped file: %v %v", fi, err)
	}
	err = writeDrop(root, "evil/x", []byte("hi"), 0o644)
	if err == nil {
		t.Fatal("write through a symlink leaving the root succeeded")
	}
	if _, err := os.Stat(filepath.Join(outside, "x")); err == nil {
		t.Fatal("file written outside the drops directory")
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
