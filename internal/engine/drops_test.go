package engine

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/decnet-go/decnet/internal/honeypot"
)

// TestWriteDrop: the path rules, the owner, and that a symlink planted in
// the drops directory cannot lead a write outside it.
func TestWriteDrop(t *testing.T) {
	dir, outside := t.TempDir(), t.TempDir()
	if err := os.Symlink(outside, filepath.Join(dir, "evil")); err != nil {
		t.Fatal(err)
	}
	d := &honeypot.Drops{Root: dir}
	if os.Geteuid() == 0 {
		d.Owner = &honeypot.Owner{UID: 65534, GID: 65534}
	}
	for _, bad := range []string{"", "root/x", "/root/../etc/passwd", "/", "/a//b", "/a\x00b"} {
		if err := WriteDrop(d, "decky-01", bad, []byte("x"), 0o644, time.Time{}); !errors.Is(err, ErrBadPath) {
			t.Errorf("WriteDrop(%q) = %v; want ErrBadPath", bad, err)
		}
	}
	if err := WriteDrop(d, "decky-01", "/a/b/c.txt", []byte("hi"), 0o640, time.Time{}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, "a", "b", "c.txt"))
	if err != nil || fi.Mode().Perm() != 0o640 {
		t.Fatalf("dropped file: %v %v", fi, err)
	}
	if err := WriteDrop(d, "decky-01", "/evil/x", []byte("hi"), 0o644, time.Time{}); !errors.Is(err, ErrBadPath) {
		t.Fatalf("write through a symlink leaving the root: %v; want ErrBadPath", err)
	}
	if _, err := os.Stat(filepath.Join(outside, "x")); err == nil {
		t.Fatal("file written outside the drops directory")
	}
	if err := RemoveDrop(d, "decky-01", "/a/b/c.txt"); err != nil {
		t.Fatal(err)
	}
	if err := RemoveDrop(d, "decky-01", "/a/b/c.txt"); err != nil {
		t.Errorf("removing a missing drop: %v; want nil (rm -f)", err)
	}
}
