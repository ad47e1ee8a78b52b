package shell

import (
	"fmt"
	"path"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Transfer is the session's filesystem as file-transfer protocols (scp,
// sftp) see it: the same files, permissions and copy-on-write overlay the
// shell uses, so an upload shows in ls and a download serves the persona's
// files and the operator's drops. It is not safe for concurrent use, like
// the Shell it belongs to.
type Transfer struct{ s *Shell }

// Transfer returns the file-transfer view of the shell's filesystem.
func (s *Shell) Transfer() *Transfer { return &Transfer{s: s} }

// TransferInfo describes one file or directory.
type TransferInfo struct {
	Name    string // base name
	Dir     bool
	Mode    uint32 // permission bits (and setuid/setgid/sticky)
	Size    int64
	ModTime time.Time
	Owner   string
	UID     int
	Links   int
}

// LongName is the "ls -l" line OpenSSH's sftp-server sends with each
// directory entry.
func (i TransferInfo) LongName(now time.Time) string {
	n := &node{dir: i.Dir, mode: i.Mode}
	date := i.ModTime.Format("Jan _2 15:04")
	if now.Sub(i.ModTime) > 182*24*time.Hour || i.ModTime.After(now.Add(time.Hour)) {
		date = i.ModTime.Format("Jan _2  2006")
	}
	return fmt.Sprintf("%s %3d %-8s %-8s %8d %s %s", modeString(n), i.Links, i.Owner, i.Owner, i.Size, date, i.Name)
}

// Strerror is the C library's wording of a Transfer error ("No such file
// or directory"), for protocols that send it to the client.
func Strerror(err error) string {
	if e, ok := err.(syscall.Errno); ok {
		msg := e.Error()
		if msg != "" {
			return strings.ToUpper(msg[:1]) + msg[1:]
		}
	}
	return "Failure"
}

// Home is the login's home directory, where relative paths start.
func (t *Transfer) Home() string { return t.s.home }

// Abs resolves p against the working directory.
func (t *Transfer) Abs(p string) string {
	if p == "" {
		p = "."
	}
	return t.s.abs(p)
}

// Now is the shell's clock.
func (t *Transfer) Now() time.Time { return t.s.cfg.Now() }

// User is the login name.
func (t *Transfer) User() string { return t.s.user }

// Stat describes the file at p. Transfer's errors are syscall.Errno values
// (ENOENT, EACCES, …), which errors.Is matches against io/fs's sentinels.
func (t *Transfer) Stat(p string) (TransferInfo, error) {
	full := t.Abs(p)
	n, ok := t.s.fs.get(full)
	switch {
	case !t.s.searchable(path.Dir(full)):
		return TransferInfo{}, syscall.EACCES
	case !ok:
		return TransferInfo{}, syscall.ENOENT
	}
	return t.info(full, n), nil
}

func (t *Transfer) info(full string, n *node) TransferInfo {
	i := TransferInfo{Name: path.Base(full), Dir: n.dir, Mode: n.mode & 0o7777, Size: n.length(),
		ModTime: n.mtime, Owner: n.owner, UID: t.uid(n.owner), Links: 1}
	if n.dir {
		i.Links = 2 + t.s.fs.subdirs(full)
	}
	return i
}

// uid is the user id of name, from the persona's /etc/passwd.
func (t *Transfer) uid(name string) int {
	if name == t.s.user {
		return t.s.cfg.Login.UID
	}
	if n, ok := t.s.fs.get("/etc/passwd"); ok {
		for _, line := range strings.Split(n.content(), "\n") {
			f := strings.Split(line, ":")
			if len(f) > 2 && f[0] == name {
				if id, err := strconv.Atoi(f[2]); err == nil {
					return id
				}
			}
		}
	}
	return 0
}

// UserName is the name of user id uid in the persona's /etc/passwd, or ""
// when it has none (sftp then shows the number).
func (t *Transfer) UserName(uid int) string {
	if uid == t.s.cfg.Login.UID {
		return t.s.user
	}
	if n, ok := t.s.fs.get("/etc/passwd"); ok {
		for _, line := range strings.Split(n.content(), "\n") {
			f := strings.Split(line, ":")
			if len(f) > 2 && f[2] == strconv.Itoa(uid) {
				return f[0]
			}
		}
	}
	return ""
}

// ReadDir lists the directory at p, sorted by name, without . and ..
func (t *Transfer) ReadDir(p string) ([]TransferInfo, error) {
	full := t.Abs(p)
	n, ok := t.s.fs.get(full)
	switch {
	case !t.s.searchable(path.Dir(full)):
		return nil, syscall.EACCES
	case !ok:
		return nil, syscall.ENOENT
	case !n.dir:
		return nil, syscall.ENOTDIR
	case !canRead(t.s.user, n) || !canExec(t.s.user, n):
		return nil, syscall.EACCES
	}
	names := t.s.fs.list(full)
	out := make([]TransferInfo, 0, len(names))
	for _, name := range names {
		c := path.Join(full, name)
		if cn, ok := t.s.fs.get(c); ok {
			out = append(out, t.info(c, cn))
		}
	}
	return out, nil
}

// ReadFile returns the content of the file at p.
func (t *Transfer) ReadFile(p string) ([]byte, error) {
	full := t.Abs(p)
	n, ok := t.s.fs.get(full)
	switch {
	case !t.s.searchable(path.Dir(full)):
		return nil, syscall.EACCES
	case !ok:
		return nil, syscall.ENOENT
	case n.dir:
		return nil, syscall.EISDIR
	case !canRead(t.s.user, n):
		return nil, syscall.EACCES
	}
	return []byte(n.content()), nil
}

// CanCreate reports why a file could not be created or replaced at p, or
// nil when it can, so a protocol refuses an upload before taking it.
func (t *Transfer) CanCreate(p string) error {
	full := t.Abs(p)
	if n, ok := t.s.fs.get(full); ok {
		switch {
		case n.dir:
			return syscall.EISDIR
		case !canWrite(t.s.user, n) || n.gen != nil:
			return syscall.EACCES
		}
		return nil
	}
	d, ok := t.s.fs.get(path.Dir(full))
	switch {
	case !ok:
		return syscall.ENOENT
	case !d.dir:
		return syscall.ENOTDIR
	case !canWrite(t.s.user, d) || !t.s.searchable(path.Dir(full)):
		return syscall.EACCES
	}
	return nil
}

// WriteFile creates or replaces the file at p with mode. data is what the
// session keeps of it; size, when larger, is the file's real size (an
// upload bigger than the session's budget keeps only its start, and ls
// still shows its size).
func (t *Transfer) WriteFile(p string, data []byte, size int64, mode uint32) error {
	if err := t.CanCreate(p); err != nil {
		return err
	}
	full := t.Abs(p)
	fsys := t.s.fs
	if len(data) > fsys.budget {
		data = data[:fsys.budget]
	}
	fsys.budget -= len(data)
	n, ok := fsys.mutable(full)
	if !ok {
		n = &node{owner: t.s.user}
		fsys.nodes[full] = n
	}
	fsys.shadowed[full] = true
	n.mode, n.data, n.gen, n.mtime = mode&0o7777, string(data), nil, t.s.cfg.Now()
	n.size = 0
	if size > int64(len(data)) {
		n.size = size
	}
	return nil
}

// Mkdir creates the directory p with mode.
func (t *Transfer) Mkdir(p string, mode uint32) error {
	full := t.Abs(p)
	if _, ok := t.s.fs.get(full); ok {
		return syscall.EEXIST
	}
	d, ok := t.s.fs.get(path.Dir(full))
	switch {
	case !ok:
		return syscall.ENOENT
	case !d.dir:
		return syscall.ENOTDIR
	case !canWrite(t.s.user, d) || !t.s.searchable(path.Dir(full)):
		return syscall.EACCES
	}
	if mode == 0 {
		mode = 0o755
	}
	t.s.fs.nodes[full] = &node{dir: true, mode: mode & 0o7777, owner: t.s.user, mtime: t.s.cfg.Now()}
	return nil
}

// Remove deletes the file p (dir false) or the empty directory p (dir true).
func (t *Transfer) Remove(p string, dir bool) error {
	full := t.Abs(p)
	n, ok := t.s.fs.get(full)
	switch {
	case !ok:
		return syscall.ENOENT
	case full == "/":
		return syscall.EBUSY
	case dir && !n.dir:
		return syscall.ENOTDIR
	case !dir && n.dir:
		return syscall.EISDIR
	case dir && len(t.s.fs.list(full)) > 0:
		return syscall.ENOTEMPTY
	}
	if parent, ok := t.s.fs.get(path.Dir(full)); !ok || !canWrite(t.s.user, parent) {
		return syscall.EACCES
	}
	t.s.fs.remove(full)
	return nil
}

// Rename moves the file old to new; new must not exist.
func (t *Transfer) Rename(oldPath, newPath string) error {
	from, to := t.Abs(oldPath), t.Abs(newPath)
	n, ok := t.s.fs.get(from)
	if !ok {
		return syscall.ENOENT
	}
	if n.dir {
		return syscall.EXDEV // directories stay put; OpenSSH clients report the failure
	}
	if _, exists := t.s.fs.get(to); exists {
		return syscall.EEXIST
	}
	if err := t.CanCreate(newPath); err != nil {
		return err
	}
	if parent, ok := t.s.fs.get(path.Dir(from)); !ok || !canWrite(t.s.user, parent) {
		return syscall.EACCES
	}
	cp := *n
	t.s.fs.remove(from)
	t.s.fs.nodes[to] = &cp
	t.s.fs.shadowed[to] = true
	return nil
}

// Chmod sets the permission bits of p.
func (t *Transfer) Chmod(p string, mode uint32) error {
	full := t.Abs(p)
	n, ok := t.s.fs.get(full)
	switch {
	case !ok:
		return syscall.ENOENT
	case t.s.user != "root" && n.owner != t.s.user:
		return syscall.EPERM
	}
	if own, ok := t.s.fs.mutable(full); ok {
		n = own
	} else { // a drop: the session gets its own copy
		cp := *n
		t.s.fs.nodes[full] = &cp
		t.s.fs.shadowed[full] = true
		n = &cp
	}
	n.mode = n.mode&^0o7777 | mode&0o7777
	return nil
}
