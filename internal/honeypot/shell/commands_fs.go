package shell

import (
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"
)

// splitFlags separates single-letter flags from operands; "--" ends flags
// and long options are returned by name.
func splitFlags(args []string) (flags map[rune]bool, long []string, operands []string) {
	flags = map[rune]bool{}
	for i, a := range args {
		switch {
		case a == "--":
			return flags, long, append(operands, args[i+1:]...)
		case strings.HasPrefix(a, "--"):
			long = append(long, a)
		case len(a) > 1 && a[0] == '-':
			for _, f := range a[1:] {
				flags[f] = true
			}
		default:
			operands = append(operands, a)
		}
	}
	return flags, long, operands
}

type lsEntry struct {
	name string
	n    *node
	full string
}

func cmdLs(s *Shell, args []string, _ string) result {
	flags, _, operands := splitFlags(args[1:])
	long, all, almost, dirOnly := flags['l'], flags['a'], flags['A'], flags['d']
	human := flags['h']
	if len(operands) == 0 {
		operands = []string{"."}
	}
	var (
		res   result
		files []lsEntry
		dirs  []lsEntry
	)
	for _, op := range operands {
		full := s.abs(op)
		n, found := s.fs.get(full)
		if !found || !s.searchable(path.Dir(full)) {
			msg := "No such file or directory"
			if found {
				msg = "Permission denied"
			}
			res.err += "ls: cannot access '" + op + "': " + msg + "\n"
			res.status = 2
			continue
		}
		if n.dir && !dirOnly {
			dirs = append(dirs, lsEntry{op, n, full})
		} else {
			files = append(files, lsEntry{op, n, full})
		}
	}
	var out strings.Builder
	if len(files) > 0 {
		out.WriteString(s.lsFormat(files, long, human))
	}
	for i, d := range dirs {
		if len(operands) > 1 {
			if out.Len() > 0 || i > 0 {
				out.WriteString("\n")
			}
			out.WriteString(d.name + ":\n")
		}
		if !canRead(s.user, d.n) || !canExec(s.user, d.n) {
			res.err += "ls: cannot open directory '" + d.name + "': Permission denied\n"
			res.status = 2
			continue
		}
		var entries []lsEntry
		if all {
			parent, _ := s.fs.get(path.Dir(d.full))
			entries = append(entries, lsEntry{".", d.n, d.full}, lsEntry{"..", parent, path.Dir(d.full)})
		}
		for _, name := range s.fs.list(d.full) {
			if strings.HasPrefix(name, ".") && !all && !almost {
				continue
			}
			full := path.Join(d.full, name)
			if n, ok := s.fs.get(full); ok {
				entries = append(entries, lsEntry{name, n, full})
			}
		}
		if long {
			blocks := int64(0)
			for _, e := range entries {
				blocks += (e.n.length() + 4095) / 4096 * 4
			}
			total := strconv.FormatInt(blocks, 10)
			if human {
				total = humanSize(blocks*1024, true)
			}
			out.WriteString("total " + total + "\n")
		}
		out.WriteString(s.lsFormat(entries, long, human))
	}
	res.out = out.String()
	return res
}

// lsFormat renders entries as ls does: long lines, columns on a terminal,
// one name per line into a pipe.
func (s *Shell) lsFormat(entries []lsEntry, long, human bool) string {
	if len(entries) == 0 {
		return ""
	}
	if !long {
		names := make([]string, len(entries))
		for i, e := range entries {
			names[i] = e.name
		}
		if s.cfg.TTY {
			return columns(names, 80)
		}
		return strings.Join(names, "\n") + "\n"
	}
	type row struct{ mode, links, owner, size, date, name string }
	rows := make([]row, len(entries))
	var wl, wo, ws int
	now := s.cfg.Now()
	for i, e := range entries {
		links := 1
		if e.n.dir {
			links = 2 + s.fs.subdirs(e.full)
		}
		date := e.n.mtime.Format("Jan _2 15:04")
		if now.Sub(e.n.mtime) > 182*24*time.Hour || e.n.mtime.After(now.Add(time.Hour)) {
			date = e.n.mtime.Format("Jan _2  2006")
		}
		rows[i] = row{modeString(e.n), strconv.Itoa(links), e.n.owner, humanSize(e.n.length(), human), date, e.name}
		wl, wo, ws = max(wl, len(rows[i].links)), max(wo, len(e.n.owner)), max(ws, len(rows[i].size))
	}
	var b strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&b, "%s %*s %-*s %-*s %*s %s %s\n", r.mode, wl, r.links, wo, r.owner, wo, r.owner, ws, r.size, r.date, r.name)
	}
	return b.String()
}

// humanSize prints a byte count, as ls -h does when asked.
func humanSize(n int64, human bool) string {
	if !human || n < 1024 {
		return strconv.FormatInt(n, 10)
	}
	v := float64(n)
	const units = "KMGT"
	i := -1
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	if v < 10 {
		return fmt.Sprintf("%.1f%c", v, units[i])
	}
	return fmt.Sprintf("%.0f%c", v, units[i])
}

// columns lays names out top-to-bottom in as many columns as fit width.
func columns(names []string, width int) string {
	maxLen := 0
	for _, n := range names {
		maxLen = max(maxLen, len(n))
	}
	colW := maxLen + 2
	cols := max(1, width/colW)
	rows := (len(names) + cols - 1) / cols
	var b strings.Builder
	for r := 0; r < rows; r++ {
		for c := 0; c < cols; c++ {
			i := c*rows + r
			if i >= len(names) {
				break
			}
			if c > 0 {
				b.WriteString(strings.Repeat(" ", colW-len(names[i-rows])))
			}
			b.WriteString(names[i])
		}
		b.WriteString("\n")
	}
	return b.String()
}

func cmdCat(s *Shell, args []string, stdin string) result {
	_, _, operands := splitFlags(args[1:])
	if len(operands) == 0 {
		return ok(stdin)
	}
	var res result
	var out strings.Builder
	for _, f := range operands {
		if f == "-" {
			out.WriteString(stdin)
			continue
		}
		data, msg := s.readFile(f)
		if msg != "" {
			res.err += "cat: " + f + ": " + msg + "\n"
			res.status = 1
			continue
		}
		out.WriteString(data)
	}
	res.out = out.String()
	return res
}

func cmdMkdir(s *Shell, args []string, _ string) result {
	flags, _, operands := splitFlags(args[1:])
	if len(operands) == 0 {
		return result{err: "mkdir: missing operand\nTry 'mkdir --help' for more information.\n", status: 1}
	}
	var res result
	for _, op := range operands {
		full := s.abs(op)
		var todo []string
		for d := full; ; d = path.Dir(d) {
			if _, found := s.fs.get(d); found || d == "/" {
				break
			}
			todo = append(todo, d)
		}
		if len(todo) == 0 {
			if !flags['p'] {
				res.err += "mkdir: cannot create directory '" + op + "': File exists\n"
				res.status = 1
			}
			continue
		}
		if len(todo) > 1 && !flags['p'] {
			res.err += "mkdir: cannot create directory '" + op + "': No such file or directory\n"
			res.status = 1
			continue
		}
		parent, _ := s.fs.get(path.Dir(todo[len(todo)-1]))
		if !parent.dir || !canWrite(s.user, parent) {
			res.err += "mkdir: cannot create directory '" + op + "': Permission denied\n"
			res.status = 1
			continue
		}
		for _, d := range todo {
			s.fs.nodes[d] = &node{dir: true, mode: 0o755, owner: s.user, mtime: s.cfg.Now()}
		}
	}
	return res
}

func cmdRm(s *Shell, args []string, _ string) result {
	flags, _, operands := splitFlags(args[1:])
	recursive, force := flags['r'] || flags['R'], flags['f']
	if len(operands) == 0 && !force {
		return result{err: "rm: missing operand\nTry 'rm --help' for more information.\n", status: 1}
	}
	var res result
	for _, op := range operands {
		full := s.abs(op)
		n, found := s.fs.get(full)
		switch {
		case !found:
			if !force {
				res.err += "rm: cannot remove '" + op + "': No such file or directory\n"
				res.status = 1
			}
		case n.dir && !recursive:
			res.err += "rm: cannot remove '" + op + "': Is a directory\n"
			res.status = 1
		default:
			parent, _ := s.fs.get(path.Dir(full))
			if full == "/" || parent == nil || !canWrite(s.user, parent) {
				res.err += "rm: cannot remove '" + op + "': Permission denied\n"
				res.status = 1
				continue
			}
			s.fs.remove(full)
		}
	}
	return res
}

func cmdTouch(s *Shell, args []string, _ string) result {
	_, _, operands := splitFlags(args[1:])
	if len(operands) == 0 {
		return result{err: "touch: missing file operand\nTry 'touch --help' for more information.\n", status: 1}
	}
	var res result
	for _, op := range operands {
		if _, found := s.fs.get(s.abs(op)); found {
			if n, own := s.fs.mutable(s.abs(op)); own {
				n.mtime = s.cfg.Now()
			}
			continue
		}
		if msg := s.writeFile(op, "", true); msg != "" {
			res.err += "touch: cannot touch '" + op + "': " + msg + "\n"
			res.status = 1
		}
	}
	return res
}

func cmdChmod(s *Shell, args []string, _ string) result {
	var operands []string
	for _, a := range args[1:] {
		if a != "-R" && a != "-v" && a != "-f" {
			operands = append(operands, a)
		}
	}
	if len(operands) < 2 {
		if len(operands) == 1 {
			return result{err: "chmod: missing operand after '" + operands[0] + "'\nTry 'chmod --help' for more information.\n", status: 1}
		}
		return result{err: "chmod: missing operand\nTry 'chmod --help' for more information.\n", status: 1}
	}
	mode := operands[0]
	var res result
	for _, op := range operands[1:] {
		n, found := s.fs.get(s.abs(op))
		switch {
		case !found:
			res.err += "chmod: cannot access '" + op + "': No such file or directory\n"
			res.status = 1
		case s.user != "root" && n.owner != s.user:
			res.err += "chmod: changing permissions of '" + op + "': Operation not permitted\n"
			res.status = 1
		default:
			if own, ok := s.fs.mutable(s.abs(op)); ok {
				own.mode = applyMode(n.mode, mode)
			}
		}
	}
	return res
}

// applyMode applies an octal or a simple symbolic mode ("+x", "u+rwx").
func applyMode(cur uint32, mode string) uint32 {
	if v, err := strconv.ParseUint(mode, 8, 32); err == nil {
		return uint32(v) & 0o7777
	}
	for _, clause := range strings.Split(mode, ",") {
		i := strings.IndexAny(clause, "+-=")
		if i < 0 {
			continue
		}
		who, perms := clause[:i], clause[i+1:]
		if who == "" || strings.Contains(who, "a") {
			who = "ugo"
		}
		var bits uint32
		for _, p := range perms {
			var b uint32
			switch p {
			case 'r':
				b = 4
			case 'w':
				b = 2
			case 'x':
				b = 1
			}
			for _, w := range who {
				switch w {
				case 'u':
					bits |= b << 6
				case 'g':
					bits |= b << 3
				case 'o':
					bits |= b
				}
			}
		}
		switch clause[i] {
		case '+':
			cur |= bits
		case '-':
			cur &^= bits
		case '=':
			cur = cur&0o7000 | bits
		}
	}
	return cur
}
