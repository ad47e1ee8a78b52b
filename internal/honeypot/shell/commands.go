package shell

import (
	"fmt"
	"path"
	"strconv"
	"strings"
)

// cmdFunc runs one emulated command: args[0] is its name, stdin what a
// pipe or redirection feeds it.
type cmdFunc func(s *Shell, args []string, stdin string) result

// commands maps command names to their emulation. Anything else is
// "command not found", as on a real host without that program.
var commands map[string]cmdFunc

func init() {
	commands = map[string]cmdFunc{
		"echo": cmdEcho, "whoami": cmdWhoami, "id": cmdID, "uname": cmdUname, "pwd": cmdPwd,
		"cd": cmdCd, "hostname": cmdHostname, "exit": cmdExit, "logout": cmdExit,
		"history": cmdHistory, "export": cmdExport, "env": cmdEnv, "printenv": cmdEnv,
		"unset": cmdUnset, "true": cmdTrue, "false": cmdFalse, ":": cmdTrue,
		"sudo": cmdSudo, "sh": cmdSh, "bash": cmdSh, "dash": cmdSh, "which": cmdWhich,
		"type": cmdType, "[": cmdFalse, "[[": cmdFalse, "test": cmdFalse, "clear": cmdClear,
		"nohup": cmdNohup, "timeout": cmdNohup, "source": cmdSource, ".": cmdSource,

		"ls": cmdLs, "dir": cmdLs, "cat": cmdCat, "mkdir": cmdMkdir, "rm": cmdRm, "touch": cmdTouch,
		"chmod": cmdChmod,

		"uptime": cmdUptime, "w": cmdW, "who": cmdWho, "ps": cmdPs, "free": cmdFree, "nproc": cmdNproc,
		"df": cmdDf, "wget": cmdWget, "curl": cmdCurl, "tftp": cmdTftp, "date": cmdDate, "lscpu": cmdLscpu,

		"grep": cmdGrep, "head": cmdHead, "tail": cmdTail, "wc": cmdWc, "awk": cmdAwk, "base64": cmdBase64,
	}
	// Programs that print nothing when they work, which is what attackers
	// usually ask of them.
	for _, name := range []string{"sleep", "kill", "killall", "pkill", "sync", "ulimit", "cp", "mv", "ln",
		"chown", "chattr", "set", "alias", "crontab", "systemctl", "service", "iptables", "ufw", "unalias",
		"wait", "disown", "umask", "shopt", "history-c", "tar", "gzip", "passwd", "chpasswd", "useradd", "usermod"} {
		commands[name] = cmdTrue
	}
}

func cmdTrue(*Shell, []string, string) result  { return result{} }
func cmdFalse(*Shell, []string, string) result { return result{status: 1} }

func ok(out string) result { return result{out: out} }

// fail is a command's error: "name: msg" on stderr.
func fail(status int, name, msg string) result {
	return result{err: name + ": " + msg + "\n", status: status}
}

// builtinFail is a bash builtin's error, with the shell's prefix.
func (s *Shell) builtinFail(status int, name, msg string) result {
	return result{err: s.errPrefix() + name + ": " + msg + "\n", status: status}
}

func cmdEcho(_ *Shell, args []string, _ string) result {
	newline, escapes := true, false
	args = args[1:]
	for len(args) > 0 && len(args[0]) > 1 && args[0][0] == '-' && strings.Trim(args[0][1:], "neE") == "" {
		for _, f := range args[0][1:] {
			switch f {
			case 'n':
				newline = false
			case 'e':
				escapes = true
			case 'E':
				escapes = false
			}
		}
		args = args[1:]
	}
	out := strings.Join(args, " ")
	if escapes {
		var stop bool
		out, stop = unescape(out)
		if stop {
			newline = false
		}
	}
	if newline {
		out += "\n"
	}
	return ok(out)
}

// unescape interprets echo -e escapes; stop is true after \c.
func unescape(s string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		i++
		switch c := s[i]; c {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case 'a':
			b.WriteByte('\a')
		case 'b':
			b.WriteByte('\b')
		case 'e', 'E':
			b.WriteByte(0x1b)
		case 'v':
			b.WriteByte('\v')
		case 'f':
			b.WriteByte('\f')
		case '\\':
			b.WriteByte('\\')
		case 'c':
			return b.String(), true
		case 'x', '0':
			base, digits := 16, 2
			if c == '0' {
				base, digits = 8, 3
			}
			j := i + 1
			for j < len(s) && j-i-1 < digits && isDigit(s[j], base) {
				j++
			}
			if j == i+1 && c == 'x' {
				b.WriteString(`\x`)
				continue
			}
			v, _ := strconv.ParseUint(s[i+1:j], base, 16)
			b.WriteByte(byte(v))
			i = j - 1
		default:
			b.WriteByte('\\')
			b.WriteByte(c)
		}
	}
	return b.String(), false
}

func isDigit(c byte, base int) bool {
	if base == 8 {
		return c >= '0' && c <= '7'
	}
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func cmdWhoami(s *Shell, _ []string, _ string) result { return ok(s.user + "\n") }

func cmdID(s *Shell, args []string, _ string) result {
	uid := s.cfg.Login.UID
	groups := fmt.Sprintf("%d(%s)", uid, s.user)
	if uid != 0 {
		groups += ",27(sudo)"
	}
	flags := strings.Join(args[1:], "")
	switch {
	case strings.Contains(flags, "u") && strings.Contains(flags, "n"), strings.Contains(flags, "g") && strings.Contains(flags, "n"):
		return ok(s.user + "\n")
	case strings.Contains(flags, "u"), strings.Contains(flags, "g"):
		return ok(strconv.Itoa(uid) + "\n")
	}
	return ok(fmt.Sprintf("uid=%d(%s) gid=%d(%s) groups=%s\n", uid, s.user, uid, s.user, groups))
}

func cmdUname(s *Shell, args []string, _ string) result {
	fields := map[byte]string{
		's': "Linux", 'n': s.p.Hostname, 'r': s.p.KernelRelease, 'v': s.p.KernelVersion,
		'm': "x86_64", 'p': "unknown", 'i': "unknown", 'o': "GNU/Linux",
	}
	want := map[byte]bool{}
	for _, a := range args[1:] {
		switch a {
		case "--all":
			a = "-a"
		case "--kernel-name":
			a = "-s"
		case "--nodename":
			a = "-n"
		case "--kernel-release":
			a = "-r"
		case "--machine":
			a = "-m"
		case "--operating-system":
			a = "-o"
		}
		if len(a) < 2 || a[0] != '-' || a[1] == '-' {
			if a != "" && a[0] != '-' {
				return result{err: "uname: extra operand '" + a + "'\nTry 'uname --help' for more information.\n", status: 1}
			}
			return result{err: "uname: unrecognized option '" + a + "'\nTry 'uname --help' for more information.\n", status: 1}
		}
		for i := 1; i < len(a); i++ {
			if _, known := fields[a[i]]; !known && a[i] != 'a' {
				return result{err: fmt.Sprintf("uname: invalid option -- '%c'\nTry 'uname --help' for more information.\n", a[i]), status: 1}
			}
			want[a[i]] = true
		}
	}
	if want['a'] {
		return ok(s.p.Uname() + "\n")
	}
	if len(want) == 0 {
		want['s'] = true
	}
	var parts []string
	for _, f := range []byte("snrvmpio") {
		if want[f] {
			parts = append(parts, fields[f])
		}
	}
	return ok(strings.Join(parts, " ") + "\n")
}

func cmdPwd(s *Shell, _ []string, _ string) result { return ok(s.cwd + "\n") }

func cmdCd(s *Shell, args []string, _ string) result {
	var target string
	switch {
	case len(args) > 2:
		return s.builtinFail(1, "cd", "too many arguments")
	case len(args) == 1:
		target = s.home
	case args[1] == "-":
		target = s.vars["OLDPWD"]
		if target == "" {
			return s.builtinFail(1, "cd", "OLDPWD not set")
		}
	default:
		target = args[1]
	}
	full := s.abs(target)
	n, found := s.fs.get(full)
	switch {
	case !found:
		return s.builtinFail(1, "cd", target+": No such file or directory")
	case !n.dir:
		return s.builtinFail(1, "cd", target+": Not a directory")
	case !canExec(s.user, n) || !s.searchable(full):
		return s.builtinFail(1, "cd", target+": Permission denied")
	}
	s.vars["OLDPWD"], s.cwd = s.cwd, full
	s.vars["PWD"] = full
	if len(args) == 2 && args[1] == "-" {
		return ok(full + "\n")
	}
	return result{}
}

func cmdHostname(s *Shell, args []string, _ string) result {
	if len(args) > 1 {
		switch args[1] {
		case "-I", "--all-ip-addresses":
			return ok(s.cfg.DstIP + " \n")
		case "-i", "--ip-address":
			return ok("127.0.1.1\n")
		case "-f", "--fqdn", "-s", "--short":
		default:
			if !strings.HasPrefix(args[1], "-") {
				return fail(1, "hostname", "you must be root to change the host name")
			}
		}
	}
	return ok(s.p.Hostname + "\n")
}

func cmdExit(s *Shell, args []string, _ string) result {
	s.exited = true
	status := s.status
	if len(args) > 1 {
		if n, err := strconv.Atoi(args[1]); err == nil {
			status = n & 0xff
		}
	}
	return result{status: status}
}

func cmdHistory(s *Shell, args []string, _ string) result {
	if len(args) > 1 && args[1] == "-c" {
		s.history = nil
		return result{}
	}
	var b strings.Builder
	for i, h := range s.history {
		fmt.Fprintf(&b, "%5d  %s\n", i+1, h)
	}
	return ok(b.String())
}

func cmdExport(s *Shell, args []string, _ string) result {
	if len(args) == 1 || args[1] == "-p" {
		var b strings.Builder
		for _, k := range s.sortedVars() {
			fmt.Fprintf(&b, "declare -x %s=%q\n", k, s.vars[k])
		}
		return ok(b.String())
	}
	for _, a := range args[1:] {
		if k, v, found := strings.Cut(a, "="); found {
			if !isAssignment(a) {
				return s.builtinFail(1, "export", "`"+a+"': not a valid identifier")
			}
			s.setVar(k, v)
		}
	}
	return result{}
}

func cmdEnv(s *Shell, args []string, stdin string) result {
	if len(args) > 1 {
		rest := args[1:]
		for len(rest) > 0 && (isAssignment(rest[0]) || strings.HasPrefix(rest[0], "-")) {
			rest = rest[1:]
		}
		if args[0] == "printenv" {
			var b strings.Builder
			for _, k := range rest {
				if v, found := s.vars[k]; found {
					b.WriteString(v + "\n")
				}
			}
			return ok(b.String())
		}
		if len(rest) > 0 {
			return s.call(rest, stdin)
		}
	}
	var b strings.Builder
	for _, k := range s.sortedVars() {
		b.WriteString(k + "=" + s.vars[k] + "\n")
	}
	return ok(b.String())
}

func cmdUnset(s *Shell, args []string, _ string) result {
	for _, k := range args[1:] {
		delete(s.vars, k)
	}
	return result{}
}

func cmdSudo(s *Shell, args []string, stdin string) result {
	rest := args[1:]
	for len(rest) > 0 && strings.HasPrefix(rest[0], "-") {
		rest = rest[1:]
	}
	if len(rest) == 0 {
		return result{err: "usage: sudo -h | -K | -k | -V\n", status: 1}
	}
	return s.call(rest, stdin)
}

// cmdSh runs sh -c 'script', a script file, or the script on its stdin.
func cmdSh(s *Shell, args []string, stdin string) result {
	for i := 1; i < len(args); i++ {
		switch {
		case args[i] == "-c" && i+1 < len(args):
			return s.subshell(args[i+1], stdin)
		case args[i] == "-c":
			return fail(2, args[0], "-c: option requires an argument")
		case strings.HasPrefix(args[i], "-"):
		default:
			data, msg := s.readFile(args[i])
			if msg != "" {
				return fail(127, args[0], args[i]+": "+msg)
			}
			return s.subshell(data, "")
		}
	}
	return s.subshell(stdin, "")
}

func cmdSource(s *Shell, args []string, _ string) result {
	if len(args) < 2 {
		return s.builtinFail(2, args[0], "filename argument required")
	}
	data, msg := s.readFile(args[1])
	if msg != "" {
		return s.builtinFail(1, args[1], msg)
	}
	return s.subshell(data, "")
}

func cmdNohup(s *Shell, args []string, stdin string) result {
	rest := args[1:]
	if args[0] == "timeout" && len(rest) > 0 {
		rest = rest[1:]
	}
	if len(rest) == 0 {
		return result{err: args[0] + ": missing operand\n", status: 125}
	}
	return s.call(rest, stdin)
}

// whichPath is where a command would be found.
func whichPath(name string) (string, bool) {
	if _, found := commands[name]; !found {
		return "", false
	}
	switch name {
	case "cd", "exit", "logout", "history", "export", "unset", "source", ".", ":", "[[", "type", "alias", "set",
		"ulimit", "wait", "disown", "umask", "shopt", "unalias":
		return "", false
	}
	return path.Join("/usr/bin", name), true
}

func cmdWhich(_ *Shell, args []string, _ string) result {
	var r result
	for _, a := range args[1:] {
		if p, found := whichPath(a); found {
			r.out += p + "\n"
		} else {
			r.status = 1
		}
	}
	return r
}

func cmdType(s *Shell, args []string, _ string) result {
	var r result
	for _, a := range args[1:] {
		if p, found := whichPath(a); found {
			r.out += a + " is " + p + "\n"
		} else if _, builtin := commands[a]; builtin {
			r.out += a + " is a shell builtin\n"
		} else {
			r.err += s.errPrefix() + "type: " + a + ": not found\n"
			r.status = 1
		}
	}
	return r
}

func cmdClear(*Shell, []string, string) result { return ok("\x1b[H\x1b[2J\x1b[3J") }
