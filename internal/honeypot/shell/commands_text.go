package shell

import (
	"encoding/base64"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// inputs reads the named files (or stdin when none), reporting missing
// ones as "name: file: error".
func (s *Shell) inputs(name string, files []string, stdin string) (texts []string, errs string, status int) {
	if len(files) == 0 {
		return []string{stdin}, "", 0
	}
	for _, f := range files {
		if f == "-" {
			texts = append(texts, stdin)
			continue
		}
		data, msg := s.readFile(f)
		if msg != "" {
			format := "%s: %s: %s\n"
			if name == "head" || name == "tail" {
				format = "%s: cannot open '%s' for reading: %s\n"
			}
			errs += fmt.Sprintf(format, name, f, msg)
			status = 2
			continue
		}
		texts = append(texts, data)
	}
	return texts, errs, status
}

func lines(text string) []string {
	if text == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(text, "\n"), "\n")
}

func cmdGrep(s *Shell, args []string, stdin string) result {
	var (
		pattern  string
		havePat  bool
		files    []string
		ci, inv  bool
		count    bool
		only     bool
		fixed    bool
		patterns []string
	)
	for i := 1; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-e" && i+1 < len(args):
			i++
			patterns = append(patterns, args[i])
		case strings.HasPrefix(a, "--"):
		case len(a) > 1 && a[0] == '-':
			for _, f := range a[1:] {
				switch f {
				case 'i':
					ci = true
				case 'v':
					inv = true
				case 'c':
					count = true
				case 'o':
					only = true
				case 'F':
					fixed = true
				}
			}
		case !havePat && len(patterns) == 0:
			pattern, havePat = a, true
		default:
			files = append(files, a)
		}
	}
	if havePat {
		patterns = append(patterns, pattern)
	}
	if len(patterns) == 0 {
		return result{err: "Usage: grep [OPTION]... PATTERNS [FILE]...\nTry 'grep --help' for more information.\n", status: 2}
	}
	expr := make([]string, len(patterns))
	for i, p := range patterns {
		if fixed {
			p = regexp.QuoteMeta(p)
		}
		expr[i] = p
	}
	src := strings.Join(expr, "|")
	if ci {
		src = "(?i)" + src
	}
	re, err := regexp.Compile(src)
	if err != nil {
		// Not a pattern Go reads (bad syntax, invalid UTF-8): match the
		// first pattern as a literal.
		if re, err = regexp.Compile(regexp.QuoteMeta(strings.ToValidUTF8(patterns[0], "\uFFFD"))); err != nil {
			return result{status: 2}
		}
	}
	texts, errs, status := s.inputs("grep", files, stdin)
	var b strings.Builder
	matched := false
	for i, text := range texts {
		n := 0
		prefix := ""
		if len(files) > 1 {
			prefix = files[i] + ":"
		}
		for _, l := range lines(text) {
			if re.MatchString(l) == inv {
				continue
			}
			n++
			matched = true
			switch {
			case count:
			case only && !inv:
				for _, m := range re.FindAllString(l, -1) {
					b.WriteString(prefix + m + "\n")
				}
			default:
				b.WriteString(prefix + l + "\n")
			}
		}
		if count {
			fmt.Fprintf(&b, "%s%d\n", prefix, n)
		}
	}
	if status == 0 && !matched {
		status = 1
	}
	return result{out: b.String(), err: errs, status: status}
}

// countFlag reads -n N, -nN and -N for head and tail.
func countFlag(args []string) (n int, files []string, bad string) {
	n = 10
	for i := 1; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-n" && i+1 < len(args):
			i++
			a = "-n" + args[i]
			fallthrough
		case strings.HasPrefix(a, "-n"):
			v, err := strconv.Atoi(strings.TrimPrefix(a[2:], "+"))
			if err != nil {
				return 0, nil, a[2:]
			}
			n = v
		case len(a) > 1 && a[0] == '-' && a[1] >= '0' && a[1] <= '9':
			v, err := strconv.Atoi(a[1:])
			if err != nil {
				return 0, nil, a[1:]
			}
			n = v
		case strings.HasPrefix(a, "-") && a != "-":
		default:
			files = append(files, a)
		}
	}
	return max(n, 0), files, ""
}

func cmdHead(s *Shell, args []string, stdin string) result {
	return headTail(s, args, stdin, func(ls []string, n int) []string { return ls[:min(n, len(ls))] })
}

func cmdTail(s *Shell, args []string, stdin string) result {
	return headTail(s, args, stdin, func(ls []string, n int) []string { return ls[max(0, len(ls)-n):] })
}

func headTail(s *Shell, args []string, stdin string, pick func([]string, int) []string) result {
	name := args[0]
	n, files, bad := countFlag(args)
	if bad != "" {
		return fail(1, name, "invalid number of lines: '"+bad+"'")
	}
	texts, errs, status := s.inputs(name, files, stdin)
	var b strings.Builder
	for i, text := range texts {
		if len(files) > 1 {
			if i > 0 {
				b.WriteString("\n")
			}
			b.WriteString("==> " + files[i] + " <==\n")
		}
		for _, l := range pick(lines(text), n) {
			b.WriteString(l + "\n")
		}
	}
	return result{out: b.String(), err: errs, status: min(status, 1)}
}

func cmdWc(s *Shell, args []string, stdin string) result {
	flags, _, files := splitFlags(args[1:])
	texts, errs, status := s.inputs("wc", files, stdin)
	pick := []bool{flags['l'], flags['w'], flags['c'] || flags['m']}
	if !pick[0] && !pick[1] && !pick[2] {
		pick = []bool{true, true, true}
	}
	n := 0
	for _, p := range pick {
		if p {
			n++
		}
	}
	var b strings.Builder
	for i, text := range texts {
		counts := []int{strings.Count(text, "\n"), len(strings.Fields(text)), len(text)}
		var cols []string
		for j, c := range counts {
			if pick[j] {
				cols = append(cols, strconv.Itoa(c))
			}
		}
		width := 1
		if n > 1 {
			width = 7
		}
		if len(files) > 0 {
			width = max(width, len(strconv.Itoa(counts[2])))
		}
		for j, c := range cols {
			if j > 0 {
				b.WriteByte(' ')
			}
			fmt.Fprintf(&b, "%*s", width, c)
		}
		if len(files) > 0 {
			b.WriteString(" " + files[i])
		}
		b.WriteString("\n")
	}
	return result{out: b.String(), err: errs, status: min(status, 1)}
}

// awkPrint matches the one awk program attackers use: print some fields.
var awkPrint = regexp.MustCompile(`^\s*\{\s*print\s*(.*?)\s*;?\s*\}\s*$`)

func cmdAwk(s *Shell, args []string, stdin string) result {
	sep := ""
	var rest []string
	for i := 1; i < len(args); i++ {
		switch a := args[i]; {
		case a == "-F" && i+1 < len(args):
			i++
			sep = args[i]
		case strings.HasPrefix(a, "-F"):
			sep = a[2:]
		default:
			rest = append(rest, a)
		}
	}
	if len(rest) == 0 {
		return result{err: "usage: awk [POSIX or GNU style options] -f progfile [--] file ...\n", status: 2}
	}
	m := awkPrint.FindStringSubmatch(rest[0])
	texts, errs, status := s.inputs("awk", rest[1:], stdin)
	if m == nil {
		return result{err: errs, status: status}
	}
	exprs := strings.FieldsFunc(m[1], func(r rune) bool { return r == ',' || r == ' ' })
	var b strings.Builder
	for _, text := range texts {
		for _, l := range lines(text) {
			var fields []string
			if sep == "" {
				fields = strings.Fields(l)
			} else {
				fields = strings.Split(l, sep)
			}
			var vals []string
			for _, e := range exprs {
				switch {
				case e == "$0" || e == "":
					vals = append(vals, l)
				case e == "NF":
					vals = append(vals, strconv.Itoa(len(fields)))
				case strings.HasPrefix(e, "$"):
					if i, err := strconv.Atoi(e[1:]); err == nil && i > 0 && i <= len(fields) {
						vals = append(vals, fields[i-1])
					} else {
						vals = append(vals, "")
					}
				default:
					vals = append(vals, strings.Trim(e, `"`))
				}
			}
			if len(exprs) == 0 {
				vals = []string{l}
			}
			b.WriteString(strings.Join(vals, " ") + "\n")
		}
	}
	return result{out: b.String(), err: errs, status: status}
}

func cmdBase64(s *Shell, args []string, stdin string) result {
	flags, long, files := splitFlags(args[1:])
	decode := flags['d'] || len(long) > 0 && long[0] == "--decode"
	texts, errs, status := s.inputs("base64", files, stdin)
	if status != 0 {
		return result{err: errs, status: 1}
	}
	in := strings.Join(texts, "")
	if decode {
		clean := strings.Map(func(r rune) rune {
			if r == '\n' || r == '\r' || r == ' ' {
				return -1
			}
			return r
		}, in)
		out, err := base64.StdEncoding.DecodeString(clean)
		if err != nil {
			if out, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(clean, "=")); err != nil {
				return result{out: string(out), err: "base64: invalid input\n", status: 1}
			}
		}
		return ok(string(out))
	}
	enc := base64.StdEncoding.EncodeToString([]byte(in))
	var b strings.Builder
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\n")
	return ok(b.String())
}
