package shell

import (
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/decnet-go/decnet/internal/honeypot"
	"github.com/decnet-go/decnet/internal/persona"
)

// Mode says how bash was started, which changes its error prefixes.
type Mode uint8

const (
	Interactive Mode = iota // login shell on a pty: "-bash: "
	Stdin                   // login shell reading a pipe: "-bash: line N: "
	Exec                    // bash -c from an exec request: "bash: line N: "
)

// Limits of the interpreter, so no input makes it work without bound.
const (
	maxLine      = 4096    // bytes of one command line
	maxOutput    = 1 << 20 // bytes one command line may print
	maxDepth     = 3       // nesting of $(…), sh -c and scripts
	maxSteps     = 512     // simple commands run for one command line
	maxHistory   = 1000
	maxVars      = 256
	shellPIDBase = 1000
)

// Config is who runs the shell and from where.
type Config struct {
	Persona *persona.Persona
	Drops   *honeypot.Drops // files the operator dropped; nil for none
	Login   persona.Login
	Mode    Mode
	TTY     bool   // a terminal was requested: ls prints columns
	SrcIP   string // the attacker, as w and who show it
	DstIP   string // the decky, as hostname -I shows it
	// Env is set over the login environment: the client's LANG, and the
	// transport's own variables (SSH_CLIENT, SSH_TTY).
	Env map[string]string
	Now func() time.Time // the clock; time.Now when nil
	// OnDownload, when set, sees every URL a download tool (wget, curl,
	// tftp) is asked for, before the tool answers. It returns what the
	// server sent, or an error when the decky has no way out (the tool then
	// fails as it does without a route: names do not resolve, addresses
	// refuse). Without it every download fails that way.
	OnDownload func(Download) (Fetched, error)
}

// Shell is the bash emulation of one session: its working directory,
// variables, history and private copy of the filesystem.
type Shell struct {
	cfg     Config
	p       *persona.Persona
	user    string
	home    string
	fs      *fileSystem
	hw      hardware
	vars    map[string]string
	cwd     string
	history []string
	status  int
	exited  bool
	pid     int
	started time.Time // login time, for w and who
	lineNo  int       // line of a non-interactive script, for error prefixes
	depth   int
	steps   int
}

// New starts a login shell for cfg.Login.
func New(cfg Config) *Shell {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	p := cfg.Persona
	s := &Shell{
		cfg: cfg, p: p, user: cfg.Login.User, home: cfg.Login.Home,
		fs: newFileSystem(p, cfg.Drops), hw: hardwareOf(p), started: cfg.Now(),
		pid: shellPIDBase + int(p.Uptime(cfg.Now()).Minutes())%30000,
	}
	if s.home == "" {
		s.home = "/"
	}
	s.cwd = s.home
	if n, ok := s.fs.get(s.home); !ok || !n.dir {
		s.cwd = "/"
	}
	s.vars = map[string]string{
		"HOME": s.home, "USER": s.user, "LOGNAME": s.user, "SHELL": "/bin/bash", "PWD": s.cwd,
		"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8",
		"HOSTNAME": p.Hostname, "SHLVL": "1",
	}
	if s.user != "root" {
		s.vars["PATH"] = "/usr/local/bin:/usr/bin:/bin:/usr/games"
	}
	if cfg.TTY {
		s.vars["TERM"] = "xterm"
	}
	for k, v := range cfg.Env {
		s.vars[k] = v
	}
	if n, ok := s.fs.get(path.Join(s.home, ".bash_history")); ok {
		s.history = strings.Split(strings.TrimSuffix(n.data, "\n"), "\n")
	}
	return s
}

// Prompt is PS1 as the distro's default bashrc renders it.
func (s *Shell) Prompt() string {
	sign := "$"
	if s.user == "root" {
		sign = "#"
	}
	if s.p.Distro.Family == "rhel" {
		base := path.Base(s.cwd)
		if s.cwd == s.home {
			base = "~"
		}
		return fmt.Sprintf("[%s@%s %s]%s ", s.user, s.p.Hostname, base, sign)
	}
	return fmt.Sprintf("%s@%s:%s%s ", s.user, s.p.Hostname, s.tilde(s.cwd), sign)
}

// tilde abbreviates the home directory as \w does.
func (s *Shell) tilde(dir string) string {
	if dir == s.home {
		return "~"
	}
	if s.home != "/" && strings.HasPrefix(dir, s.home+"/") {
		return "~" + dir[len(s.home):]
	}
	return dir
}

// Cwd is the working directory.
func (s *Shell) Cwd() string { return s.cwd }

// Exited reports whether exit or logout ran.
func (s *Shell) Exited() bool { return s.exited }

// Status is $?.
func (s *Shell) Status() int { return s.status }

// Incomplete reports whether line needs more input (open quote, trailing
// operator), as bash's PS2 continuation.
func Incomplete(line string) bool {
	_, err := parseScript(line)
	return errors.Is(err, errIncomplete)
}

// Run runs one command line and writes what it prints to w. It records the
// line in the history.
func (s *Shell) Run(line string, w io.Writer) {
	s.lineNo++
	if len(line) > maxLine {
		line = line[:maxLine]
	}
	if t := strings.TrimSpace(line); t != "" && !strings.HasPrefix(line, " ") {
		s.history = append(s.history, t)
		if len(s.history) > maxHistory {
			s.history = s.history[len(s.history)-maxHistory:]
		}
	}
	s.steps = 0
	out := &boundedWriter{w: w, left: maxOutput}
	s.runScript(line, out)
}

// runScript parses and runs src, writing stdout and stderr to out.
func (s *Shell) runScript(src string, out io.Writer) {
	sc, err := parseScript(src)
	if err != nil {
		s.status = 2
		if s.cfg.Mode == Exec {
			io.WriteString(out, "bash: -c: line "+strconv.Itoa(s.lineNo)+": ")
		} else {
			io.WriteString(out, s.errPrefix())
		}
		if errors.Is(err, errIncomplete) {
			io.WriteString(out, "unexpected EOF while looking for matching quote\n")
			return
		}
		io.WriteString(out, err.Error()+"\n")
		return
	}
	for _, item := range sc {
		if s.exited {
			return
		}
		switch item.op {
		case "&&":
			if s.status != 0 {
				continue
			}
		case "||":
			if s.status == 0 {
				continue
			}
		}
		s.runPipeline(item.pipe, out)
	}
}

// result is what a command produced.
type result struct {
	out, err string
	status   int
}

func (s *Shell) runPipeline(pipe pipeline, out io.Writer) {
	in := ""
	for i, cmd := range pipe {
		r := s.runSimple(cmd, in)
		io.WriteString(out, r.err)
		if i == len(pipe)-1 {
			io.WriteString(out, r.out)
		}
		in = r.out
		s.status = r.status
		if s.exited {
			return
		}
	}
}

// runSimple expands and runs one command with its redirections.
func (s *Shell) runSimple(cmd simpleCommand, stdin string) result {
	if s.steps++; s.steps > maxSteps {
		return result{status: 1}
	}
	args := s.expandWords(cmd.words)
	// Input redirections come first: a missing file stops the command.
	for _, r := range cmd.redirs {
		if r.fd != 0 {
			continue
		}
		target := s.expandWord(r.dest)
		if r.op == "<<<" {
			stdin = target + "\n"
			continue
		}
		data, errMsg := s.readFile(target)
		if errMsg != "" {
			return result{err: s.errPrefix() + target + ": " + errMsg + "\n", status: 1}
		}
		stdin = data
	}
	var res result
	switch {
	case len(args) == 0:
	case isAssignment(args[0]):
		i := 0
		for i < len(args) && isAssignment(args[i]) {
			i++
		}
		if i == len(args) {
			for _, a := range args {
				k, v, _ := strings.Cut(a, "=")
				s.setVar(k, v)
			}
			break
		}
		res = s.call(args[i:], stdin)
	default:
		res = s.call(args, stdin)
	}
	return s.redirectOutput(cmd.redirs, res)
}

// redirectOutput applies > >> 2> &> and 2>&1 to a command's result.
func (s *Shell) redirectOutput(redirs []redirect, res result) result {
	for _, r := range redirs {
		if r.fd == 0 {
			continue
		}
		target := s.expandWord(r.dest)
		if r.op == ">&" {
			switch {
			case r.fd == 2 && target == "1":
				res.out, res.err = res.out+res.err, ""
			case r.fd == 1 && target == "2":
				res.err, res.out = res.err+res.out, ""
			}
			continue
		}
		var data string
		switch r.fd {
		case 1:
			data, res.out = res.out, ""
		case 2:
			data, res.err = res.err, ""
		default:
			data, res.out, res.err = res.out+res.err, "", ""
		}
		if msg := s.writeFile(target, data, r.op == ">>"); msg != "" {
			res.err += s.errPrefix() + target + ": " + msg + "\n"
			res.status = 1
		}
	}
	return res
}

// call runs a command by name or path.
func (s *Shell) call(args []string, stdin string) result {
	name := args[0]
	if strings.Contains(name, "/") {
		return s.execPath(args, stdin)
	}
	if fn, ok := commands[name]; ok {
		return fn(s, args, stdin)
	}
	return result{err: s.errPrefix() + name + ": command not found\n", status: 127}
}

// execPath runs ./script or /usr/bin/prog. Stub binaries run the emulated
// command of the same name; text files run as shell scripts.
func (s *Shell) execPath(args []string, stdin string) result {
	name := args[0]
	full := s.abs(name)
	n, ok := s.fs.get(full)
	switch {
	case !ok:
		return result{err: s.errPrefix() + name + ": No such file or directory\n", status: 127}
	case n.dir:
		return result{err: s.errPrefix() + name + ": Is a directory\n", status: 126}
	case !canExec(s.user, n) || !s.searchable(path.Dir(full)):
		return result{err: s.errPrefix() + name + ": Permission denied\n", status: 126}
	}
	if strings.HasPrefix(n.data, "\x7fELF") {
		if fn, ok := commands[path.Base(full)]; ok && n.size > 0 {
			return fn(s, append([]string{path.Base(full)}, args[1:]...), stdin)
		}
		return result{status: 0}
	}
	return s.subshell(n.data, stdin)
}

// subshell runs src as a nested script (sh -c, bash script, $(…)) and
// returns what it printed.
func (s *Shell) subshell(src, _ string) result {
	if s.depth >= maxDepth {
		return result{status: 1}
	}
	s.depth++
	defer func() { s.depth-- }()
	s.status = 0 // a new shell starts with $? = 0
	var b strings.Builder
	s.runScript(src, &boundedWriter{w: &b, left: maxOutput})
	return result{out: b.String(), status: s.status}
}

// errPrefix starts bash's own error messages.
func (s *Shell) errPrefix() string {
	switch s.cfg.Mode {
	case Stdin:
		return "-bash: line " + strconv.Itoa(s.lineNo) + ": "
	case Exec:
		if s.p.Distro.Slug == "ubuntu20" { // bash 5.0 names no line
			return "bash: "
		}
		return "bash: line " + strconv.Itoa(s.lineNo) + ": "
	}
	return "-bash: "
}

// Word expansion.

func (s *Shell) expandWords(ws []word) []string {
	out := make([]string, 0, len(ws))
	for _, w := range ws {
		v := s.expandWord(w)
		if v == "" && !w.quoted {
			continue
		}
		if !w.quoted && len(w.parts) == 1 && w.parts[0].kind == partLit && strings.HasPrefix(v, "~") {
			if v == "~" || strings.HasPrefix(v, "~/") {
				v = s.home + v[1:]
			}
		}
		out = append(out, v)
	}
	return out
}

func (s *Shell) expandWord(w word) string {
	var b strings.Builder
	for _, pt := range w.parts {
		switch pt.kind {
		case partLit:
			b.WriteString(pt.text)
		case partParam:
			b.WriteString(s.param(pt.text))
		case partSubst:
			r := s.subshell(pt.text, "")
			b.WriteString(strings.TrimRight(r.out, "\n"))
		}
		if b.Len() > maxOutput {
			break
		}
	}
	return b.String()
}

// param expands NAME, NAME:-default, #NAME and the special parameters.
func (s *Shell) param(expr string) string {
	if name, def, ok := strings.Cut(expr, ":-"); ok {
		if v := s.param(name); v != "" {
			return v
		}
		return def
	}
	if strings.HasPrefix(expr, "#") && len(expr) > 1 {
		return strconv.Itoa(len(s.param(expr[1:])))
	}
	switch expr {
	case "?":
		return strconv.Itoa(s.status)
	case "$":
		return strconv.Itoa(s.pid)
	case "!":
		return ""
	case "#":
		return "0"
	case "0":
		if s.cfg.Mode == Exec {
			return "bash"
		}
		return "-bash"
	case "RANDOM":
		return strconv.Itoa(int(s.cfg.Now().UnixNano() % 32768))
	case "PWD":
		return s.cwd
	case "UID":
		return strconv.Itoa(s.cfg.Login.UID)
	case "HOSTNAME":
		return s.p.Hostname
	case "BASH":
		return "/usr/bin/bash"
	case "BASH_VERSION":
		return bashVersion(s.p)
	}
	return s.vars[expr]
}

var assignment = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`)

func isAssignment(a string) bool { return assignment.MatchString(a) }

func (s *Shell) setVar(k, v string) {
	if _, ok := s.vars[k]; !ok && len(s.vars) >= maxVars {
		return
	}
	s.vars[k] = v
}

func (s *Shell) sortedVars() []string {
	keys := make([]string, 0, len(s.vars))
	for k := range s.vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Paths and files.

// abs resolves p against the working directory, expanding ~.
func (s *Shell) abs(p string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		p = s.home + p[1:]
	}
	if !strings.HasPrefix(p, "/") {
		p = s.cwd + "/" + p
	}
	return path.Clean(p)
}

// searchable reports whether the user may pass through every directory
// on the way to dir.
func (s *Shell) searchable(dir string) bool {
	for d := dir; ; d = path.Dir(d) {
		if n, ok := s.fs.get(d); ok && n.dir && !canExec(s.user, n) {
			return false
		}
		if d == "/" {
			return true
		}
	}
}

// readFile returns a file's content, or the strerror text of why not.
func (s *Shell) readFile(name string) (string, string) {
	full := s.abs(name)
	if full == "/dev/null" {
		return "", ""
	}
	n, ok := s.fs.get(full)
	switch {
	case !s.searchable(path.Dir(full)):
		return "", "Permission denied"
	case !ok:
		return "", "No such file or directory"
	case n.dir:
		return "", "Is a directory"
	case !canRead(s.user, n):
		return "", "Permission denied"
	}
	return n.content(), ""
}

// writeFile writes (or appends) data to name, returning strerror text on
// failure.
func (s *Shell) writeFile(name, data string, appendData bool) string {
	full := s.abs(name)
	if strings.HasPrefix(full, "/dev/") {
		return ""
	}
	if n, ok := s.fs.get(full); ok {
		switch {
		case n.dir:
			return "Is a directory"
		case !canWrite(s.user, n) || n.gen != nil:
			return "Permission denied"
		}
	} else {
		d, ok := s.fs.get(path.Dir(full))
		switch {
		case !ok || !d.dir:
			return "No such file or directory"
		case !canWrite(s.user, d) || !s.searchable(path.Dir(full)):
			return "Permission denied"
		}
	}
	if !s.fs.write(full, s.user, data, appendData) {
		return "No space left on device"
	}
	return ""
}

// boundedWriter stops passing bytes on after left of them.
type boundedWriter struct {
	w    io.Writer
	left int
}

func (b *boundedWriter) Write(p []byte) (int, error) {
	n := len(p)
	if b.left <= 0 {
		return n, nil
	}
	if len(p) > b.left {
		p = p[:b.left]
	}
	b.left -= len(p)
	_, err := b.w.Write(p)
	return n, err
}
