package shell

import (
	"io/fs"
	"path"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/decnet-go/decnet/internal/honeypot"
	"github.com/decnet-go/decnet/internal/persona"
)

// FileSystem is the fake filesystem of a decky as one file-transfer session
// (ftp, tftp, …) sees it: the persona's files, the operator's drops read on
// every access, and a private copy-on-write overlay for what the session
// writes, within the same byte budget a shell session has. It is the same
// view the shell shows, so a file an operator drops reaches every service.
//
// Every method takes the acting user (a persona login name; "root" may do
// anything) and an absolute path, and checks permissions as the shell does:
// the user must be able to search every directory on the way, read a file to
// read it, write a directory to change its entries. Errors are
// *fs.PathError wrapping a syscall.Errno (ENOENT, EACCES, EEXIST, ENOTDIR,
// EISDIR, ENOTEMPTY), so errors.Is works with fs.ErrNotExist and friends.
// A FileSystem is safe for concurrent use.
type FileSystem struct {
	mu sync.Mutex
	fs *fileSystem
}

// FileInfo describes one entry of a FileSystem.
type FileInfo struct {
	Name    string // base name
	Dir     bool
	Mode    uint32 // permission bits (and the sticky bit)
	Owner   string
	Size    int64
	ModTime time.Time
	// Links is the hard-link count ls -l shows: 2 plus the subdirectories
	// of a directory, 1 for a file.
	Links int
}

// ModeString renders the mode as ls -l does ("drwxr-xr-x").
func (fi FileInfo) ModeString() string { return modeString(&node{dir: fi.Dir, mode: fi.Mode}) }

// NewFileSystem returns a fresh session view of p's filesystem with the
// operator's drops (nil for none) on top.
func NewFileSystem(p *persona.Persona, drops *honeypot.Drops) *FileSystem {
	return &FileSystem{fs: newFileSystem(p, drops)}
}

func pathErr(op, name string, errno syscall.Errno) error {
	return &fs.PathError{Op: op, Path: name, Err: errno}
}

// clean makes name absolute and clean; a relative name is taken from "/".
func clean(name string) string { return path.Clean("/" + name) }

// lookup finds name after checking that user may reach it, walking down
// from the root as the kernel does.
func (f *FileSystem) lookup(op, user, name string) (*node, error) {
	cur := "/"
	n, ok := f.fs.get(cur)
	for _, elem := range strings.Split(strings.TrimPrefix(name, "/"), "/") {
		if elem == "" {
			break
		}
		switch {
		case ok && !n.dir:
			return nil, pathErr(op, name, syscall.ENOTDIR)
		case ok && !canExec(user, n):
			return nil, pathErr(op, name, syscall.EACCES)
		}
		cur = path.Join(cur, elem)
		if n, ok = f.fs.get(cur); !ok {
			return nil, pathErr(op, name, syscall.ENOENT)
		}
	}
	if !ok {
		return nil, pathErr(op, name, syscall.ENOENT)
	}
	return n, nil
}

func (f *FileSystem) info(name string, n *node) FileInfo {
	fi := FileInfo{Name: path.Base(name), Dir: n.dir, Mode: n.mode, Owner: n.owner, Size: n.length(), ModTime: n.mtime, Links: 1}
	if n.dir {
		fi.Links = 2 + f.fs.subdirs(name)
	}
	return fi
}

// Stat describes the entry at name.
func (f *FileSystem) Stat(user, name string) (FileInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	name = clean(name)
	n, err := f.lookup("stat", user, name)
	if err != nil {
		return FileInfo{}, err
	}
	return f.info(name, n), nil
}

// List describes the entries of directory dir, sorted by name, without "."
// and "..". The user needs read and search permission on dir.
func (f *FileSystem) List(user, dir string) ([]FileInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	dir = clean(dir)
	n, err := f.lookup("open", user, dir)
	switch {
	case err != nil:
		return nil, err
	case !n.dir:
		return nil, pathErr("open", dir, syscall.ENOTDIR)
	case !canRead(user, n) || !canExec(user, n):
		return nil, pathErr("open", dir, syscall.EACCES)
	}
	names := f.fs.list(dir)
	out := make([]FileInfo, 0, len(names))
	for _, name := range names {
		full := path.Join(dir, name)
		if c, ok := f.fs.get(full); ok {
			out = append(out, f.info(full, c))
		}
	}
	return out, nil
}

// ReadFile returns the content of the file at name.
func (f *FileSystem) ReadFile(user, name string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	name = clean(name)
	n, err := f.lookup("open", user, name)
	switch {
	case err != nil:
		return nil, err
	case n.dir:
		return nil, pathErr("read", name, syscall.EISDIR)
	case !canRead(user, n):
		return nil, pathErr("open", name, syscall.EACCES)
	}
	return []byte(n.content()), nil
}

// WriteFile creates or replaces (or, with appendData, extends) the file at
// name with mode's permission bits for a new file, owned by user. Content
// beyond the session's write budget is not kept: the file then lists at its
// full size but reads back cut short, which is all a decoy needs.
func (f *FileSystem) WriteFile(user, name string, data []byte, mode uint32, appendData bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	name = clean(name)
	if err := f.writable("open", user, name); err != nil {
		return err
	}
	old, exists := f.fs.get(name)
	switch {
	case exists && old.dir:
		return pathErr("open", name, syscall.EISDIR)
	case exists && !canWrite(user, old):
		return pathErr("open", name, syscall.EACCES)
	}
	var prev int64
	if exists && appendData {
		prev = old.length()
	}
	kept := data[:min(len(data), max(f.fs.budget, 0))]
	f.fs.write(name, user, string(kept), appendData)
	n, _ := f.fs.mutable(name) // write made it the session's
	if !exists {
		n.mode, n.owner = mode&0o7777, user
	}
	if len(kept) < len(data) {
		n.size = prev + int64(len(data))
	}
	return nil
}

// writable checks that user may create or remove entries in the parent
// directory of name.
func (f *FileSystem) writable(op, user, name string) error {
	if name == "/" {
		return pathErr(op, name, syscall.EACCES)
	}
	parent, err := f.lookup(op, user, path.Dir(name))
	switch {
	case err != nil:
		return err
	case !parent.dir:
		return pathErr(op, name, syscall.ENOTDIR)
	case !canWrite(user, parent) || !canExec(user, parent):
		return pathErr(op, name, syscall.EACCES)
	}
	return nil
}

// Mkdir creates the directory name with mode's permission bits.
func (f *FileSystem) Mkdir(user, name string, mode uint32) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	name = clean(name)
	if _, err := f.lookup("mkdir", user, name); err == nil {
		return pathErr("mkdir", name, syscall.EEXIST) // before the write check, as Linux does
	}
	if err := f.writable("mkdir", user, name); err != nil {
		return err
	}
	f.fs.nodes[name] = &node{dir: true, mode: mode & 0o7777, owner: user, mtime: time.Now().Truncate(time.Second)}
	return nil
}

// Remove deletes the file at name.
func (f *FileSystem) Remove(user, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	name = clean(name)
	if err := f.writable("unlink", user, name); err != nil {
		return err
	}
	n, ok := f.fs.get(name)
	switch {
	case !ok:
		return pathErr("unlink", name, syscall.ENOENT)
	case n.dir:
		return pathErr("unlink", name, syscall.EISDIR)
	}
	f.fs.remove(name)
	return nil
}

// Rmdir deletes the empty directory name.
func (f *FileSystem) Rmdir(user, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	name = clean(name)
	if err := f.writable("rmdir", user, name); err != nil {
		return err
	}
	n, ok := f.fs.get(name)
	switch {
	case !ok:
		return pathErr("rmdir", name, syscall.ENOENT)
	case !n.dir:
		return pathErr("rmdir", name, syscall.ENOTDIR)
	case len(f.fs.list(name)) > 0:
		return pathErr("rmdir", name, syscall.ENOTEMPTY)
	}
	f.fs.remove(name)
	return nil
}

// maxRenameEntries bounds the subtree a directory rename copies.
const maxRenameEntries = 4096

// Rename moves the entry at from to to, replacing a file there; a directory
// moves with what the session sees inside it.
func (f *FileSystem) Rename(user, from, to string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	from, to = clean(from), clean(to)
	if err := f.writable("rename", user, from); err != nil {
		return err
	}
	if err := f.writable("rename", user, to); err != nil {
		return err
	}
	src, ok := f.fs.get(from)
	if !ok {
		return pathErr("rename", from, syscall.ENOENT)
	}
	if from == to {
		return nil
	}
	if src.dir && strings.HasPrefix(to, from+"/") {
		return pathErr("rename", to, syscall.EINVAL)
	}
	if dst, exists := f.fs.get(to); exists {
		switch {
		case dst.dir && !src.dir:
			return pathErr("rename", to, syscall.EISDIR)
		case !dst.dir && src.dir:
			return pathErr("rename", to, syscall.ENOTDIR)
		case dst.dir && len(f.fs.list(to)) > 0:
			return pathErr("rename", to, syscall.ENOTEMPTY)
		}
	}
	// Collect the subtree as the session sees it (drops included), then
	// re-root it.
	moved := map[string]*node{}
	var walk func(name string, n *node) bool
	walk = func(name string, n *node) bool {
		if len(moved) >= maxRenameEntries {
			return false
		}
		c := *n
		if c.gen != nil {
			c.data, c.gen = c.gen(), nil
		}
		moved[to+strings.TrimPrefix(name, from)] = &c
		if n.dir {
			for _, child := range f.fs.list(name) {
				full := path.Join(name, child)
				if cn, ok := f.fs.get(full); ok && !walk(full, cn) {
					return false
				}
			}
		}
		return true
	}
	if !walk(from, src) {
		return pathErr("rename", from, syscall.ENOSPC)
	}
	f.fs.remove(from)
	f.fs.remove(to)
	for name, n := range moved {
		f.fs.nodes[name] = n
	}
	return nil
}
