package honeypot

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDropPath(t *testing.T) {
	tests := []struct {
		name, in, want string
		ok             bool
	}{
		{"file", "/root/notes.txt", "root/notes.txt", true},
		{"root", "/", ".", true},
		{"relative", "root/notes.txt", "", false},
		{"dotdot", "/root/../etc/passwd", "", false},
		{"trailing dotdot", "/root/..", "", false},
		{"not clean", "/root//notes.txt", "", false},
		{"trailing slash", "/root/", "", false},
		{"dot", "/root/./x", "", false},
		{"nul", "/root/a\x00b", "", false},
		{"empty", "", "", false},
		{"too long", "/" + strings.Repeat("a", 5000), "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DropPath(tc.in)
			if tc.ok != (err == nil) || got != tc.want {
				t.Fatalf("DropPath(%q) = %q, %v; want %q ok=%v", tc.in, got, err, tc.want, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrDropPath) {
				t.Errorf("error %v is not ErrDropPath", err)
			}
		})
	}
}

func TestDropsWriteReadListRemove(t *testing.T) {
	d := &Drops{Root: filepath.Join(t.TempDir(), "drops")}
	if _, err := d.Read("/root/notes.txt"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("read before any drop: %v", err)
	}
	if err := d.Write("/root/notes.txt", []byte("db password: hunter2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := d.Read("/root/notes.txt")
	if err != nil || string(f.Content) != "db password: hunter2\n" || f.Mode != 0o600 || f.Dir {
		t.Fatalf("read = %+v, %v", f, err)
	}
	if err := d.Write("/root/notes.txt", []byte("v2"), 0o644); err != nil {
		t.Fatal(err)
	}
	if f, _ := d.Read("/root/notes.txt"); string(f.Content) != "v2" || f.Mode != 0o644 {
		t.Fatalf("rewrite = %+v", f)
	}
	ls, err := d.List("/root")
	if err != nil || len(ls) != 1 || ls[0].Name != "notes.txt" || ls[0].Size != 2 {
		t.Fatalf("list = %+v, %v", ls, err)
	}
	if ls, _ := d.List("/"); len(ls) != 1 || !ls[0].Dir || ls[0].Name != "root" {
		t.Fatalf("list / = %+v", ls)
	}
	if err := d.Remove("/root/notes.txt"); err != nil {
		t.Fatal(err)
	}
	if err := d.Remove("/root/notes.txt"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("second remove: %v", err)
	}
	for _, bad := range []string{"/", "relative", "/a/../b"} {
		if err := d.Write(bad, nil, 0o644); !errors.Is(err, ErrDropPath) {
			t.Errorf("Write(%q) = %v; want ErrDropPath", bad, err)
		}
	}
}

// A symlink under Root that points outside must not be followed.
func TestDropsSymlinkEscape(t *testing.T) {
	dir := t.TempDir()
	outside := filepath.Join(dir, "outside")
	os.MkdirAll(outside, 0o755)
	os.WriteFile(filepath.Join(outside, "secret"), []byte("host secret"), 0o644)
	root := filepath.Join(dir, "drops")
	os.MkdirAll(root, 0o755)
	if err := os.Symlink(outside, filepath.Join(root, "etc")); err != nil {
		t.Skip("symlinks not supported:", err)
	}
	d := &Drops{Root: root}
	if f, err := d.Read("/etc/secret"); err == nil {
		t.Fatalf("read through symlink escaped Root: %q", f.Content)
	}
	if err := d.Write("/etc/planted", []byte("x"), 0o644); err == nil {
		t.Fatal("write through symlink escaped Root")
	}
	if _, err := os.Stat(filepath.Join(outside, "planted")); err == nil {
		t.Fatal("file planted outside Root")
	}
}

func FuzzDropPath(f *testing.F) {
	for _, s := range []string{"/root/notes.txt", "/", "../x", "/a/../../b", "/a\x00", "//a", "/a/./b", "/.hidden", "/a/.."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		rel, err := DropPath(p)
		if err != nil {
			return
		}
		// What passes is local to Root: no escape, whatever the OS joins.
		if !filepath.IsLocal(rel) {
			t.Fatalf("DropPath(%q) = %q escapes Root", p, rel)
		}
		if strings.ContainsRune(rel, 0) || filepath.Join("/r", rel) != filepath.Clean("/r/"+rel) {
			t.Fatalf("DropPath(%q) = %q is not clean", p, rel)
		}
	})
}
