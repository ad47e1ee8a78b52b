package behave

import (
	"strings"
)

// Labels derived from the text of command lines. The line itself is never
// kept: each classifier reduces it to a label at once.

// Objectives and cleanups are ranked: the strongest one seen wins.
var objectiveLabels = []string{"", "reconnaissance", "payload_drop", "persistence", "cryptomining"}

var cleanupLabels = []string{"none", "artifact_removal", "log_tamper", "history_wipe"}

var reconTools = set("uname", "id", "whoami", "w", "who", "uptime", "nproc", "lscpu", "free", "df", "ifconfig",
	"ip", "ps", "netstat", "ss", "hostname", "last", "lsb_release", "hostnamectl", "env", "arch", "top", "ls")

var dropTools = set("wget", "curl", "tftp", "ftpget", "scp", "nc", "ncat", "busybox")

var cmdBuiltins = set("ipconfig", "cls", "systeminfo", "tasklist", "ver", "chdir", "copy", "del", "findstr",
	"reg", "wmic", "schtasks", "certutil")

var psVerbs = []string{"get-", "set-", "new-", "invoke-", "remove-", "start-", "stop-", "test-", "write-",
	"out-", "select-", "where-", "import-", "add-"}

func set(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}

// classify folds one command line into the session's labels.
func (s *session) classify(line, first string, landing bool) {
	low := strings.ToLower(line)
	for _, seg := range segments(low) {
		if tok := firstToken(strings.TrimSpace(seg)); tok != "" && len(s.tokens) < maxCommands {
			s.tokens[tok] = struct{}{}
		}
	}
	s.dialects[dialect(low, first)]++

	obj := 0
	switch {
	case strings.Contains(low, "xmrig") || strings.Contains(low, "stratum+tcp") || strings.Contains(low, "minerd") ||
		strings.Contains(low, "cpuminer"):
		obj = 4
	case strings.Contains(low, "authorized_keys") || strings.Contains(low, "crontab") || first == "useradd" ||
		first == "adduser" || first == "chpasswd" || first == "passwd" || strings.Contains(low, "rc.local") ||
		strings.Contains(low, "systemctl enable"):
		obj = 3
	case dropTools[first] && first != "busybox" || strings.Contains(low, "wget ") || strings.Contains(low, "curl ") ||
		strings.Contains(low, "tftp ") || strings.Contains(low, "chmod +x"):
		obj = 2
	case reconTools[first] || strings.Contains(low, "/proc/cpuinfo") || strings.Contains(low, "/etc/passwd"):
		obj = 1
	}
	s.objective = max(s.objective, obj)

	cl := 0
	switch {
	case strings.Contains(low, "history -c") || strings.Contains(low, "unset histfile") ||
		strings.Contains(low, "histfile=/dev/null") || strings.Contains(low, "histsize=0") ||
		strings.Contains(low, ".bash_history"):
		cl = 3
	case strings.Contains(low, "/var/log") && (first == "rm" || first == "shred" || strings.Contains(low, ">")) ||
		strings.Contains(low, "journalctl --vacuum") || first == "shred":
		cl = 2
	case first == "rm" && (strings.Contains(low, "/tmp") || strings.Contains(low, "/dev/shm") ||
		strings.Contains(low, "/var/tmp")):
		cl = 1
	}
	s.cleanup = max(s.cleanup, cl)

	if landing {
		switch {
		case cl > 0:
			s.landing = "opsec_first"
		case obj >= 2:
			s.landing = "payload_first"
		case obj == 1:
			s.landing = "recon_first"
		default:
			s.landing = "other"
		}
	}
	if strings.Contains(low, "kill -9 $$") || strings.Contains(low, "kill -9 0") {
		s.selfKill = true
	}
	if loc := localeFromLine(line); loc != "" {
		s.locale = loc
	}
}

// dialect is the shell language a line is written in.
func dialect(low, first string) string {
	switch {
	case first == "busybox" || strings.Contains(low, "/bin/busybox"):
		return "busybox"
	case first == "powershell" || first == "iex" || first == "iwr" || hasAnyPrefix(first, psVerbs):
		return "powershell"
	case cmdBuiltins[first]:
		return "cmd"
	}
	return "posix"
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) && len(s) > len(p) {
			return true
		}
	}
	return false
}

// localeFromEnv is the BCP 47 tag of the locale a client sent (telnet
// NEW-ENVIRON, ssh env requests), if any.
func localeFromEnv(env map[string]string) string {
	for _, k := range []string{"LC_ALL", "LC_CTYPE", "LANG"} {
		if tag := bcp47(env[k]); tag != "" {
			return tag
		}
	}
	return ""
}

// localeFromLine finds an assignment of LANG, LC_ALL, LC_CTYPE or
// LANGUAGE in a command line.
func localeFromLine(line string) string {
	for _, k := range []string{"LC_ALL=", "LC_CTYPE=", "LANG=", "LANGUAGE="} {
		i := strings.Index(line, k)
		if i < 0 {
			continue
		}
		v := line[i+len(k):]
		v = strings.TrimLeft(v, "\"'")
		if j := strings.IndexAny(v, " \t;&|\"'"); j >= 0 {
			v = v[:j]
		}
		if tag := bcp47(v); tag != "" {
			return tag
		}
	}
	return ""
}

// bcp47 turns a POSIX locale name (de_DE.UTF-8@euro) into a BCP 47 tag
// (de-DE); "" for C, POSIX or anything that is not a locale name.
func bcp47(posix string) string {
	v := posix
	if i := strings.IndexAny(v, ".@:"); i >= 0 {
		v = v[:i]
	}
	lang, region, _ := strings.Cut(v, "_")
	if len(lang) < 2 || len(lang) > 3 || !isAlpha(lang) {
		return ""
	}
	lang = strings.ToLower(lang)
	if region == "" {
		return lang
	}
	if len(region) != 2 || !isAlpha(region) {
		return lang
	}
	return lang + "-" + strings.ToUpper(region)
}

func isAlpha(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i] | 0x20
		if c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}
