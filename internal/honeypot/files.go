package honeypot

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"time"
)

// ErrDropPath is returned for a path a file drop may not use: relative, not
// clean, with "..", with a NUL byte, or the root itself.
var ErrDropPath = errors.New("drop path must be absolute and clean, without \"..\" or NUL")

// MaxDropSize is the largest dropped file Read returns in full; a larger
// one is cut there (attackers see the first MaxDropSize bytes).
const MaxDropSize = 4 << 20

// maxDropPath bounds a drop path, as PATH_MAX does.
const maxDropPath = 4096

// Drops is the directory of files an operator dropped into one decky: the
// file an attacker sees at /root/notes.txt lives at Root/root/notes.txt.
// Services that show a filesystem (the ssh shell, …) layer it over the
// persona's files and read it on every access, so a drop shows at once,
// even in an open session. The same layout serves the docker driver inside
// a container's state directory.
//
// Every access goes through os.Root, so a symlink planted under Root cannot
// lead outside it.
type Drops struct {
	Root string
	// Owner, when set, owns what Write creates (the docker driver's
	// containers run as an unprivileged user that must read 0600 drops).
	Owner *Owner
}

// Owner is a numeric user and group.
type Owner struct{ UID, GID int }

// DroppedFile is one entry of Drops.
type DroppedFile struct {
	Name    string // base name
	Dir     bool
	Mode    fs.FileMode // permission bits
	Size    int64
	ModTime time.Time
	Content []byte // files only, from Read; at most MaxDropSize bytes
}

// DropPath checks p as a path inside a decky and returns it relative to
// Drops.Root ("." for "/").
func DropPath(p string) (string, error) {
	switch {
	case p == "", len(p) > maxDropPath, !strings.HasPrefix(p, "/"), strings.ContainsRune(p, 0),
		path.Clean(p) != p, slices.Contains(strings.Split(p, "/"), ".."):
		return "", fmt.Errorf("%w: %q", ErrDropPath, p)
	}
	if p == "/" {
		return ".", nil
	}
	return p[1:], nil
}

// filePath is DropPath for operations on a file: "/" is refused.
func filePath(p string) (string, error) {
	rel, err := DropPath(p)
	if err == nil && rel == "." {
		err = fmt.Errorf("%w: %q is the root directory", ErrDropPath, p)
	}
	return rel, err
}

func (d *Drops) open(create bool) (*os.Root, error) {
	if d == nil || d.Root == "" {
		return nil, fs.ErrNotExist
	}
	if create {
		if err := os.MkdirAll(d.Root, 0o700); err != nil {
			return nil, err
		}
	}
	return os.OpenRoot(d.Root)
}

// Write stores content at p with mode's permission bits, creating parent
// directories.
func (d *Drops) Write(p string, content []byte, mode fs.FileMode) error {
	rel, err := filePath(p)
	if err != nil {
		return err
	}
	r, err := d.open(true)
	if err != nil {
		return err
	}
	defer r.Close()
	if dir := path.Dir(rel); dir != "." {
		if err := r.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	if err := r.WriteFile(rel, content, mode.Perm()); err != nil {
		return err
	}
	if err := r.Chmod(rel, mode.Perm()); err != nil { // WriteFile keeps the mode of a file it replaces
		return err
	}
	if d.Owner == nil {
		return nil
	}
	for dir := path.Dir(rel); dir != "."; dir = path.Dir(dir) {
		if err := r.Lchown(dir, d.Owner.UID, d.Owner.GID); err != nil {
			return err
		}
	}
	return r.Lchown(rel, d.Owner.UID, d.Owner.GID)
}

// Touch sets the modification time of the dropped file at p: what ls -l,
// stat and ftp's MDTM show attackers.
func (d *Drops) Touch(p string, mtime time.Time) error {
	return d.atFile(p, func(r *os.Root, rel string) error { return r.Chtimes(rel, mtime, mtime) })
}

// Remove deletes the dropped file (or empty directory) at p; fs.ErrNotExist
// when there is none.
func (d *Drops) Remove(p string) error {
	return d.atFile(p, func(r *os.Root, rel string) error { return r.Remove(rel) })
}

// atFile runs fn on the existing drops directory with p's path inside it.
func (d *Drops) atFile(p string, fn func(r *os.Root, rel string) error) error {
	rel, err := filePath(p)
	if err != nil {
		return err
	}
	r, err := d.open(false)
	if err != nil {
		return err
	}
	defer r.Close()
	return fn(r, rel)
}

// Read returns the entry at p, with the content of a file; fs.ErrNotExist
// when nothing was dropped there.
func (d *Drops) Read(p string) (DroppedFile, error) {
	rel, err := DropPath(p)
	if err != nil {
		return DroppedFile{}, err
	}
	r, err := d.open(false)
	if err != nil {
		return DroppedFile{}, err
	}
	defer r.Close()
	f, err := r.Open(rel)
	if err != nil {
		return DroppedFile{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return DroppedFile{}, err
	}
	out := entry(fi)
	out.Name = path.Base(p)
	if !fi.Mode().IsRegular() {
		return out, nil
	}
	out.Content, err = io.ReadAll(io.LimitReader(f, MaxDropSize))
	return out, err
}

// List returns the entries directly in the dropped directory dir, sorted by
// name, without contents; none when nothing was dropped there.
func (d *Drops) List(dir string) ([]DroppedFile, error) {
	rel, err := DropPath(dir)
	if err != nil {
		return nil, err
	}
	r, err := d.open(false)
	if err != nil {
		return nil, nil
	}
	defer r.Close()
	f, err := r.Open(rel)
	if err != nil {
		return nil, nil
	}
	defer f.Close()
	infos, err := f.Readdir(-1)
	if err != nil {
		return nil, nil // not a directory
	}
	out := make([]DroppedFile, 0, len(infos))
	for _, fi := range infos {
		if fi.Mode()&fs.ModeSymlink != 0 {
			continue // never followed out of Root; not shown either
		}
		out = append(out, entry(fi))
	}
	slices.SortFunc(out, func(a, b DroppedFile) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func entry(fi fs.FileInfo) DroppedFile {
	return DroppedFile{Name: fi.Name(), Dir: fi.IsDir(), Mode: fi.Mode().Perm(), Size: fi.Size(), ModTime: fi.ModTime()}
}
