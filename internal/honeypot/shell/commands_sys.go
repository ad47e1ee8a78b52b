package shell

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

func cmdUptime(s *Shell, args []string, _ string) result {
	if len(args) > 1 && (args[1] == "-p" || args[1] == "--pretty") {
		up := s.p.Uptime(s.cfg.Now())
		d, h, m := int(up.Hours())/24, int(up.Hours())%24, int(up.Minutes())%60
		var parts []string
		if d > 0 {
			parts = append(parts, fmt.Sprintf("%d day%s", d, plural(d)))
		}
		if h > 0 {
			parts = append(parts, fmt.Sprintf("%d hour%s", h, plural(h)))
		}
		parts = append(parts, fmt.Sprintf("%d minute%s", m, plural(m)))
		return ok("up " + strings.Join(parts, ", ") + "\n")
	}
	if len(args) > 1 && (args[1] == "-s" || args[1] == "--since") {
		return ok(s.p.BootTime.Format("2006-01-02 15:04:05") + "\n")
	}
	return ok(s.uptimeLine())
}

func cmdW(s *Shell, _ []string, _ string) result {
	from := s.cfg.SrcIP
	if len(from) > 16 {
		from = from[:16]
	}
	return ok(s.uptimeLine() +
		"USER     TTY      FROM             LOGIN@   IDLE   JCPU   PCPU WHAT\n" +
		fmt.Sprintf("%-8.8s pts/0    %-16s %s    0.00s  0.02s  0.00s w\n", s.user, from, s.started.Format("15:04")))
}

func cmdWho(s *Shell, _ []string, _ string) result {
	t := s.started
	return ok(fmt.Sprintf("%-8s pts/0        %s (%s)\n", s.user, t.Format("2006-01-02 15:04"), s.cfg.SrcIP))
}

func cmdPs(s *Shell, args []string, _ string) result {
	self := strings.Join(args, " ")
	ps := s.processes(self)
	opts := strings.Join(args[1:], "")
	var b strings.Builder
	switch {
	case strings.Contains(opts, "aux") || strings.Contains(opts, "ax") || strings.Contains(opts, "au"):
		b.WriteString("USER         PID %CPU %MEM    VSZ   RSS TTY      STAT START   TIME COMMAND\n")
		for _, p := range ps {
			fmt.Fprintf(&b, "%-8s %7d %4.1f %4.1f %6d %5d %-8s %-4s %5s   0:%02d %s\n", p.user, p.pid, 0.0,
				float64(p.rss)*100/float64(s.hw.memKB), p.vsz, p.rss, p.tty, p.stat, psStart(s, p), p.pid%7, p.cmd)
		}
	case strings.Contains(opts, "e") || strings.Contains(opts, "A"):
		b.WriteString("UID          PID    PPID  C STIME TTY          TIME CMD\n")
		for _, p := range ps {
			fmt.Fprintf(&b, "%-8s %7d %7d  0 %5s %-8s 00:00:%02d %s\n", p.user, p.pid, p.ppid, psStart(s, p), p.tty, p.pid%7, p.cmd)
		}
	default:
		b.WriteString("    PID TTY          TIME CMD\n")
		for _, p := range ps[len(ps)-2:] {
			name := strings.Fields(strings.TrimPrefix(p.cmd, "-"))[0]
			fmt.Fprintf(&b, "%7d pts/0    00:00:00 %s\n", p.pid, name)
		}
	}
	return ok(b.String())
}

// psStart is ps's START column: a time today, else the month and day.
func psStart(s *Shell, p process) string {
	now := s.cfg.Now()
	if now.Sub(p.start).Hours() < 24 {
		return p.start.Format("15:04")
	}
	return p.start.Format("Jan02")
}

func cmdFree(s *Shell, args []string, _ string) result {
	unit, human := 1, false
	for _, a := range args[1:] {
		switch a {
		case "-m", "--mega":
			unit = 1024
		case "-g", "--giga":
			unit = 1024 * 1024
		case "-h", "--human":
			human = true
		}
	}
	total, used := s.hw.memKB, s.hw.usedKB
	cache := total / 5
	free := total - used - cache
	f := func(kb int) string {
		if human {
			return humanSize(int64(kb)*1024, true) + "i"
		}
		return strconv.Itoa(kb / unit)
	}
	return ok(fmt.Sprintf("               total        used        free      shared  buff/cache   available\n"+
		"Mem:     %11s %11s %11s %11s %11s %11s\nSwap:    %11s %11s %11s\n",
		f(total), f(used), f(free), f(total/200), f(cache), f(total-used), f(0), f(0), f(0)))
}

func cmdNproc(s *Shell, _ []string, _ string) result { return ok(strconv.Itoa(s.hw.cores) + "\n") }

func cmdLscpu(s *Shell, _ []string, _ string) result {
	return ok(fmt.Sprintf("Architecture:            x86_64\n  CPU op-mode(s):        32-bit, 64-bit\n"+
		"  Address sizes:         46 bits physical, 48 bits virtual\n  Byte Order:            Little Endian\n"+
		"CPU(s):                  %d\n  On-line CPU(s) list:   0-%d\nModel name:              %s\n"+
		"  Thread(s) per core:    1\n  Core(s) per socket:    %d\n  Socket(s):             1\n"+
		"Virtualization features:\n  Hypervisor vendor:     KVM\n  Virtualization type:   full\n",
		s.hw.cores, s.hw.cores-1, s.hw.cpu, s.hw.cores))
}

func cmdDf(s *Shell, args []string, _ string) result {
	r := s.p.Rand("disk")
	size := []int{20, 40, 80, 160}[r.IntN(4)] * 1024 * 1024
	used := size / (3 + r.IntN(4))
	mem := s.hw.memKB / 2
	rows := [][4]int{{size, used, size - used}, {mem, 0, mem}, {mem / 5, 1100, mem/5 - 1100}, {5120, 0, 5120}}
	names := []string{"/dev/vda1", "tmpfs", "tmpfs", "tmpfs"}
	mounts := []string{"/", "/dev/shm", "/run", "/run/lock"}
	human := len(args) > 1 && strings.Contains(args[1], "h")
	var b strings.Builder
	if human {
		b.WriteString("Filesystem      Size  Used Avail Use% Mounted on\n")
	} else {
		b.WriteString("Filesystem     1K-blocks    Used Available Use% Mounted on\n")
	}
	for i, r := range rows {
		pct := 0
		if r[0] > 0 {
			pct = (r[1]*100 + r[0] - 1) / r[0]
		}
		if human {
			fmt.Fprintf(&b, "%-15s %4s %5s %5s %3d%% %s\n", names[i], humanSize(int64(r[0])*1024, true),
				humanSize(int64(r[1])*1024, true), humanSize(int64(r[2])*1024, true), pct, mounts[i])
		} else {
			fmt.Fprintf(&b, "%-14s %10d %7d %9d %3d%% %s\n", names[i], r[0], r[1], r[2], pct, mounts[i])
		}
	}
	return ok(b.String())
}

func cmdDate(s *Shell, args []string, _ string) result {
	now := s.cfg.Now().UTC()
	if len(args) > 1 && args[1] == "+%s" {
		return ok(strconv.FormatInt(now.Unix(), 10) + "\n")
	}
	return ok(now.Format("Mon Jan _2 03:04:05 PM MST 2006") + "\n")
}

// fetchTarget is the URL a download tool was asked for.
func fetchTarget(args []string, valueFlags string) (string, map[string]bool) {
	flags := map[string]bool{}
	var target string
	for i := 1; i < len(args); i++ {
		a := args[i]
		switch {
		case strings.HasPrefix(a, "--"):
			flags[a] = true
		case strings.HasPrefix(a, "-") && len(a) > 1:
			for _, f := range a[1:] {
				flags[string(f)] = true
			}
			if strings.ContainsRune(valueFlags, rune(a[len(a)-1])) {
				i++ // the flag's value
			}
		case target == "":
			target = a
		}
	}
	return target, flags
}

// parseTarget splits a URL as download tools do, defaulting to http.
func parseTarget(raw string) (host, port, scheme string) {
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Hostname() == "" {
		return "", "", ""
	}
	scheme, port = u.Scheme, u.Port()
	if port == "" {
		port = "80"
		if scheme == "https" {
			port = "443"
		}
	}
	return u.Hostname(), port, scheme
}
