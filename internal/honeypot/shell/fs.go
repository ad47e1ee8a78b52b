package shell

import (
	"fmt"
	"hash/fnv"
	"maps"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/decnet-go/decnet/internal/honeypot"
	"github.com/decnet-go/decnet/internal/persona"
)

// node is one entry of a session's filesystem.
type node struct {
	dir   bool
	mode  uint32
	owner string
	data  string
	size  int64 // what ls shows for files whose data is a stub (binaries); 0: len(data)
	mtime time.Time
	// gen renders the content of /proc files when they are read.
	gen func() string
}

func (n *node) length() int64 {
	switch {
	case n.dir:
		return 4096
	case n.size > 0:
		return n.size
	case n.gen != nil:
		return 0
	}
	return int64(len(n.data))
}

func (n *node) content() string {
	if n.gen != nil {
		return n.gen()
	}
	return n.data
}

// fileSystem is the persona's fake filesystem as one session sees it: the
// attacker may create and remove files, within a byte budget, and the
// changes die with the session. Files an operator dropped into the decky
// lie over the persona's and are read from disk on every access, so a drop
// shows even in a session that was open before it.
//
// The persona's own entries are built once per persona and shared by every
// session (nodes starts as a shallow copy of them); a session that changes
// an entry changes its own copy (mutable), never the shared one.
type fileSystem struct {
	nodes  map[string]*node
	base   map[string]*node // the persona's entries, shared: never modify
	budget int              // bytes the attacker may still write
	drops  *honeypot.Drops
	// shadowed are paths the session wrote or removed: from then on the
	// session's own view wins over the drops there (and, for a removed
	// directory, below).
	shadowed map[string]bool
}

// maxWrite is what one session may store in its filesystem.
const maxWrite = 1 << 20

// binaries are the programs a stock install has; they make ls /usr/bin and
// which look lived-in. Their stubs cannot run.
var binaries = []string{
	"bash", "cat", "chmod", "chown", "cp", "curl", "date", "df", "dmesg", "echo", "env", "free", "grep",
	"gzip", "head", "hostname", "id", "kill", "less", "ln", "ls", "mkdir", "mount", "mv", "nano", "perl",
	"ps", "pwd", "rm", "sed", "sh", "sleep", "ssh", "sudo", "tail", "tar", "top", "touch", "uname",
	"uptime", "vi", "w", "wc", "wget", "whoami", "awk", "base64", "nproc", "which", "dash",
}

// bases holds each persona's shared entries (*persona.Persona → map).
// Personas live as long as their decky; there are few of them.
var bases sync.Map

// newFileSystem builds a session's view of p's filesystem with the
// operator's drops (nil for none) on top.
func newFileSystem(p *persona.Persona, drops *honeypot.Drops) *fileSystem {
	base, ok := bases.Load(p)
	if !ok {
		base, _ = bases.LoadOrStore(p, personaNodes(p))
	}
	b := base.(map[string]*node)
	return &fileSystem{nodes: maps.Clone(b), base: b, budget: maxWrite, drops: drops, shadowed: map[string]bool{}}
}

// personaNodes builds the entries of p's filesystem.
func personaNodes(p *persona.Persona) map[string]*node {
	files := p.Files()
	nodes := make(map[string]*node, len(files)+2*len(binaries)+8)
	mt := mtimes{seed: p.Rand("fs-mtime").Uint64(), boot: p.BootTime}
	for name, f := range files {
		nodes[name] = &node{dir: f.Dir, mode: f.Mode, owner: f.Owner, data: f.Content, mtime: mt.of(name)}
	}
	for _, b := range binaries {
		for _, dir := range []string{"/usr/bin", "/bin"} {
			name := dir + "/" + b
			if _, ok := nodes[name]; !ok {
				nodes[name] = &node{mode: 0o755, owner: "root", data: "\x7fELF\x02\x01\x01",
					size: 14000 + int64(mt.hash(b)%180000), mtime: mt.of(name)}
			}
		}
	}
	if n, ok := nodes["/etc/shadow"]; ok && n.data == "" {
		n.data = shadow(p)
	}
	if _, ok := nodes["/home"]; !ok {
		nodes["/home"] = &node{dir: true, mode: 0o755, owner: "root", mtime: mt.of("/home")}
	}
	procs := map[string]func() string{
		"/proc/cpuinfo": func() string { return cpuinfo(p) },
		"/proc/meminfo": func() string { return meminfo(p) },
		"/proc/uptime": func() string {
			up := p.Uptime(time.Now()).Seconds()
			return fmt.Sprintf("%.2f %.2f\n", up, up*3.7)
		},
	}
	for name, gen := range procs {
		nodes[name] = &node{mode: 0o444, owner: "root", gen: gen, mtime: p.BootTime}
	}
	return nodes
}

// mutable returns the session's own node at name, to change it: a shared
// persona entry is copied first. ok is false when the session has no
// entry there (a path only the drops have is not the session's yet).
func (fs *fileSystem) mutable(name string) (*node, bool) {
	n, ok := fs.nodes[name]
	if !ok {
		return nil, false
	}
	if fs.base[name] == n {
		c := *n
		n = &c
		fs.nodes[name] = n
	}
	return n, true
}

// mtimes gives every path of the persona a stable modification time
// between a year before boot and boot.
type mtimes struct {
	seed uint64
	boot time.Time
}

func (m mtimes) hash(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64() ^ m.seed
}

func (m mtimes) of(name string) time.Time {
	back := time.Duration(m.hash(name)%(365*24*3600)) * time.Second
	if strings.HasPrefix(name, "/root") || strings.HasPrefix(name, "/home") || strings.HasPrefix(name, "/tmp") {
		back /= 30 // homes and /tmp change more often
	}
	return m.boot.Add(-back).Truncate(time.Second)
}

func (fs *fileSystem) get(name string) (*node, bool) {
	if n, ok := fs.dropped(name); ok {
		return n, true
	}
	n, ok := fs.nodes[name]
	return n, ok
}

// dropped is the operator's file at name, read now. A dropped directory
// that the persona also has keeps the persona's entry (owner, mtime).
func (fs *fileSystem) dropped(name string) (*node, bool) {
	if fs.drops == nil || fs.isShadowed(name) {
		return nil, false
	}
	f, err := fs.drops.Read(name)
	if err != nil {
		return nil, false
	}
	if f.Dir {
		if n, ok := fs.nodes[name]; ok {
			return n, true
		}
		return &node{dir: true, mode: uint32(f.Mode), owner: "root", mtime: f.ModTime.Truncate(time.Second)}, true
	}
	return &node{mode: uint32(f.Mode), owner: "root", data: string(f.Content), size: f.Size,
		mtime: f.ModTime.Truncate(time.Second)}, true
}

func (fs *fileSystem) isShadowed(name string) bool {
	for p := name; ; p = path.Dir(p) {
		if fs.shadowed[p] {
			return true
		}
		if p == "/" || p == "." {
			return false
		}
	}
}

// list returns the sorted names of the entries directly in dir.
func (fs *fileSystem) list(dir string) []string {
	prefix := dir + "/"
	if dir == "/" {
		prefix = "/"
	}
	var out []string
	for name := range fs.nodes {
		if name != "/" && strings.HasPrefix(name, prefix) && !strings.Contains(name[len(prefix):], "/") && name != dir {
			out = append(out, name[len(prefix):])
		}
	}
	if fs.drops != nil && !fs.isShadowed(dir) {
		extra, _ := fs.drops.List(dir)
		for _, f := range extra {
			full := path.Join(dir, f.Name)
			if _, own := fs.nodes[full]; !own && !fs.shadowed[full] {
				out = append(out, f.Name)
			}
		}
	}
	sort.Strings(out)
	return out
}

// subdirs counts the directories in dir, for ls's link count.
func (fs *fileSystem) subdirs(dir string) int {
	n := 0
	for _, name := range fs.list(dir) {
		if c, ok := fs.get(path.Join(dir, name)); ok && c.dir {
			n++
		}
	}
	return n
}

// write stores data at name (appending when asked), charging the budget.
func (fs *fileSystem) write(name, owner, data string, appendData bool) bool {
	if len(data) > fs.budget {
		return false
	}
	fs.budget -= len(data)
	n, ok := fs.mutable(name)
	if !ok {
		n = &node{mode: 0o644, owner: owner}
		if d, isDrop := fs.dropped(name); isDrop && !d.dir {
			n.mode, n.owner, n.data = d.mode, d.owner, d.data // the session's copy of the drop
		}
		fs.nodes[name] = n
	}
	fs.shadowed[name] = true
	if appendData {
		n.data += data
	} else {
		n.data = data
	}
	n.size, n.gen, n.mtime = 0, nil, time.Now()
	return true
}

func (fs *fileSystem) remove(name string) {
	fs.shadowed[name] = true
	for k := range fs.nodes {
		if k == name || strings.HasPrefix(k, name+"/") {
			delete(fs.nodes, k)
		}
	}
}

// Permission checks. Groups are not modelled: a user is the owner or
// "other"; root may do anything but run a file without an x bit.

func permBits(user string, n *node) uint32 {
	if n.owner == user {
		return n.mode >> 6 & 7
	}
	return n.mode & 7
}

func canRead(user string, n *node) bool  { return user == "root" || permBits(user, n)&4 != 0 }
func canWrite(user string, n *node) bool { return user == "root" || permBits(user, n)&2 != 0 }
func canExec(user string, n *node) bool {
	if user == "root" {
		return n.dir || n.mode&0o111 != 0
	}
	return permBits(user, n)&1 != 0
}

// modeString renders mode as ls -l does.
func modeString(n *node) string {
	b := []byte("----------")
	if n.dir {
		b[0] = 'd'
	}
	const rwx = "rwxrwxrwx"
	for i := 0; i < 9; i++ {
		if n.mode&(1<<uint(8-i)) != 0 {
			b[i+1] = rwx[i]
		}
	}
	if n.mode&0o1000 != 0 {
		if b[9] == 'x' {
			b[9] = 't'
		} else {
			b[9] = 'T'
		}
	}
	return string(b)
}

func shadow(p *persona.Persona) string {
	r := p.Rand("shadow")
	const b64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	rnd := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = b64[r.IntN(len(b64))]
		}
		return string(b)
	}
	days := int(p.BootTime.Unix()/86400) - 30 - r.IntN(300)
	var sb strings.Builder
	fmt.Fprintf(&sb, "root:$y$j9T$%s$%s:%d:0:99999:7:::\n", rnd(22), rnd(43), days)
	for _, u := range []string{"daemon", "bin", "sys", "sync", "games", "man", "lp", "mail", "news", "uucp",
		"proxy", "www-data", "backup", "list", "irc", "nobody", "systemd-network", "sshd"} {
		fmt.Fprintf(&sb, "%s:*:%d:0:99999:7:::\n", u, days-40)
	}
	for _, l := range p.Logins[1:] {
		fmt.Fprintf(&sb, "%s:$y$j9T$%s$%s:%d:0:99999:7:::\n", l.User, rnd(22), rnd(43), days)
	}
	return sb.String()
}
