package shell

import (
	"bytes"
	"errors"
	"io/fs"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/decnet-go/decnet/internal/honeypot"
)

func TestFileSystemPermissions(t *testing.T) {
	f := NewFileSystem(testPersona, nil)
	user := testPersona.User
	home := "/home/" + user
	tests := []struct {
		name string
		op   func() error
		want error // nil, or an errno
	}{
		{"root reads shadow", func() error { _, err := f.ReadFile("root", "/etc/shadow"); return err }, nil},
		{"user cannot read shadow", func() error { _, err := f.ReadFile(user, "/etc/shadow"); return err }, syscall.EACCES},
		{"user cannot list /root", func() error { _, err := f.List(user, "/root"); return err }, syscall.EACCES},
		{"user cannot reach /root files", func() error { _, err := f.Stat(user, "/root/.bashrc"); return err }, syscall.EACCES},
		{"missing file", func() error { _, err := f.ReadFile(user, "/etc/nope"); return err }, syscall.ENOENT},
		{"missing parent", func() error { _, err := f.Stat(user, "/nope/x"); return err }, syscall.ENOENT},
		{"file as directory", func() error { _, err := f.Stat(user, "/etc/passwd/x"); return err }, syscall.ENOTDIR},
		{"read a directory", func() error { _, err := f.ReadFile(user, "/etc"); return err }, syscall.EISDIR},
		{"user cannot write /etc", func() error { return f.WriteFile(user, "/etc/evil", []byte("x"), 0o644, false) }, syscall.EACCES},
		{"user writes home", func() error { return f.WriteFile(user, home+"/up.sh", []byte("#!/bin/sh\n"), 0o600, false) }, nil},
		{"mkdir exists", func() error { return f.Mkdir(user, home, 0o755) }, syscall.EEXIST},
		{"rmdir not empty", func() error { return f.Rmdir("root", "/etc") }, syscall.ENOTEMPTY},
		{"remove a directory", func() error { return f.Remove("root", "/tmp") }, syscall.EISDIR},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.op()
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			var pe *fs.PathError
			if err != nil && !errors.As(err, &pe) {
				t.Errorf("%v is not a *fs.PathError", err)
			}
		})
	}
	if _, err := f.ReadFile(user, "/etc/nope"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ENOENT does not match fs.ErrNotExist: %v", err)
	}
}

// A session's writes show in its own listings with the owner and mode
// given; drops show and read; renames and removals stay in the session.
func TestFileSystemSession(t *testing.T) {
	drops := &honeypot.Drops{Root: filepath.Join(t.TempDir(), "drops")}
	if err := drops.Write("/srv/ftp/prices.xlsx", []byte("PK\x03\x04"), 0o644); err != nil {
		t.Fatal(err)
	}
	f := NewFileSystem(testPersona, drops)
	user := testPersona.User
	home := "/home/" + user

	if b, err := f.ReadFile(user, "/srv/ftp/prices.xlsx"); err != nil || string(b) != "PK\x03\x04" {
		t.Fatalf("dropped file = %q, %v", b, err)
	}
	if err := f.WriteFile(user, home+"/a.txt", []byte("one"), 0o600, false); err != nil {
		t.Fatal(err)
	}
	if err := f.WriteFile(user, home+"/a.txt", []byte("two"), 0o644, true); err != nil {
		t.Fatal(err)
	}
	fi, err := f.Stat(user, home+"/a.txt")
	if err != nil || fi.Size != 6 || fi.Owner != user || fi.ModeString() != "-rw-------" {
		t.Fatalf("Stat = %+v, %v", fi, err)
	}
	if err := f.Mkdir(user, home+"/d", 0o700); err != nil {
		t.Fatal(err)
	}
	if err := f.Rename(user, home+"/a.txt", home+"/d/b.txt"); err != nil {
		t.Fatal(err)
	}
	list, err := f.List(user, home+"/d")
	if err != nil || len(list) != 1 || list[0].Name != "b.txt" {
		t.Fatalf("List = %+v, %v", list, err)
	}
	if fi, _ := f.Stat(user, home); fi.Links != 3 {
		t.Errorf("home links = %d, want 3 (one subdirectory)", fi.Links)
	}
	if err := f.Rename(user, home+"/d", home+"/e"); err != nil {
		t.Fatal(err)
	}
	if b, err := f.ReadFile(user, home+"/e/b.txt"); err != nil || string(b) != "onetwo" {
		t.Fatalf("after directory rename: %q, %v", b, err)
	}
	if err := f.Remove(user, home+"/e/b.txt"); err != nil {
		t.Fatal(err)
	}
	if err := f.Rmdir(user, home+"/e"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Stat(user, home+"/e"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("removed directory still there: %v", err)
	}
	if err := f.Remove("root", "/srv/ftp/prices.xlsx"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Stat("root", "/srv/ftp/prices.xlsx"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("removed drop still shows: %v", err)
	}
	if _, err := drops.Read("/srv/ftp/prices.xlsx"); err != nil {
		t.Errorf("the session's removal reached the operator's drop: %v", err)
	}
	if _, err := NewFileSystem(testPersona, drops).Stat("root", home+"/e"); err == nil {
		t.Error("one session's writes leaked into another")
	}
}

// A write larger than the session budget lists at its full size and keeps
// the head of the content.
func TestFileSystemBudget(t *testing.T) {
	f := NewFileSystem(testPersona, nil)
	big := bytes.Repeat([]byte("A"), maxWrite+1000)
	if err := f.WriteFile("root", "/tmp/big", big, 0o644, false); err != nil {
		t.Fatal(err)
	}
	fi, _ := f.Stat("root", "/tmp/big")
	b, _ := f.ReadFile("root", "/tmp/big")
	if fi.Size != int64(len(big)) || len(b) != maxWrite {
		t.Errorf("size %d (want %d), content %d bytes (want %d)", fi.Size, len(big), len(b), maxWrite)
	}
}
