package shell

import (
	"fmt"
	"strings"
	"time"

	"github.com/decnet-go/decnet/internal/persona"
)

// hardware is the machine the persona pretends to be, drawn once from its
// seed so /proc/cpuinfo, nproc, free and top agree.
type hardware struct {
	cores  int
	cpu    string
	mhz    float64
	memKB  int
	usedKB int
	load   [3]float64
}

var cpuModels = []string{
	"Intel(R) Xeon(R) CPU E5-2680 v4 @ 2.40GHz",
	"Intel(R) Xeon(R) Gold 6248R CPU @ 3.00GHz",
	"Intel(R) Xeon(R) Platinum 8259CL CPU @ 2.50GHz",
	"AMD EPYC 7543P 32-Core Processor",
	"AMD EPYC-Rome Processor",
	"Intel Xeon Processor (Skylake, IBRS)",
}

func hardwareOf(p *persona.Persona) hardware {
	r := p.Rand("hardware")
	cores := []int{1, 2, 2, 4, 4, 8}[r.IntN(6)]
	mem := []int{1, 2, 4, 4, 8, 16}[r.IntN(6)] * 1024 * 1024
	mem -= 120000 + r.IntN(80000) // kernel reservations
	return hardware{
		cores: cores, cpu: cpuModels[r.IntN(len(cpuModels))], mhz: 2000 + float64(r.IntN(1300)) + r.Float64(),
		memKB: mem, usedKB: mem / (4 + r.IntN(6)),
		load: [3]float64{r.Float64() * 0.3, r.Float64() * 0.2, r.Float64() * 0.15},
	}
}

func cpuinfo(p *persona.Persona) string {
	hw := hardwareOf(p)
	vendor := "GenuineIntel"
	if strings.Contains(hw.cpu, "AMD") {
		vendor = "AuthenticAMD"
	}
	var b strings.Builder
	for i := 0; i < hw.cores; i++ {
		fmt.Fprintf(&b, "processor\t: %d\nvendor_id\t: %s\ncpu family\t: 6\nmodel\t\t: 85\nmodel name\t: %s\n"+
			"stepping\t: 7\nmicrocode\t: 0x1\ncpu MHz\t\t: %.3f\ncache size\t: 16384 KB\nphysical id\t: 0\n"+
			"siblings\t: %d\ncore id\t\t: %d\ncpu cores\t: %d\napicid\t\t: %d\nfpu\t\t: yes\nfpu_exception\t: yes\n"+
			"cpuid level\t: 13\nwp\t\t: yes\nflags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat "+
			"pse36 clflush mmx fxsr sse sse2 ss syscall nx pdpe1gb rdtscp lm constant_tsc rep_good nopl xtopology "+
			"cpuid tsc_known_freq pni pclmulqdq ssse3 fma cx16 pcid sse4_1 sse4_2 x2apic movbe popcnt aes xsave avx "+
			"f16c rdrand hypervisor lahf_lm abm 3dnowprefetch fsgsbase bmi1 avx2 smep bmi2 erms invpcid avx512f "+
			"avx512dq rdseed adx smap clflushopt clwb avx512cd avx512bw avx512vl xsaveopt xsavec xgetbv1 xsaves arat\n"+
			"bogomips\t: %.2f\nclflush size\t: 64\ncache_alignment\t: 64\naddress sizes\t: 46 bits physical, 48 bits virtual\n"+
			"power management:\n\n", i, vendor, hw.cpu, hw.mhz, hw.cores, i, hw.cores, i, hw.mhz*2)
	}
	return b.String()
}

func meminfo(p *persona.Persona) string {
	hw := hardwareOf(p)
	free := hw.memKB - hw.usedKB - hw.memKB/5
	return fmt.Sprintf("MemTotal:       %8d kB\nMemFree:        %8d kB\nMemAvailable:   %8d kB\n"+
		"Buffers:        %8d kB\nCached:         %8d kB\nSwapCached:            0 kB\n"+
		"SwapTotal:             0 kB\nSwapFree:              0 kB\n",
		hw.memKB, free, hw.memKB-hw.usedKB, hw.memKB/40, hw.memKB/5-hw.memKB/40)
}

// uptimeLine is what uptime prints (procps-ng).
func (s *Shell) uptimeLine() string {
	now := s.cfg.Now()
	up := s.p.Uptime(now)
	days := int(up.Hours()) / 24
	h, m := int(up.Hours())%24, int(up.Minutes())%60
	var ups string
	switch {
	case days > 0 && (h > 0 || m > 0):
		ups = fmt.Sprintf("%d day%s, %2d:%02d", days, plural(days), h, m)
	case days > 0:
		ups = fmt.Sprintf("%d day%s", days, plural(days))
	case h > 0:
		ups = fmt.Sprintf("%2d:%02d", h, m)
	default:
		ups = fmt.Sprintf("%d min", m)
	}
	l := s.hw.load
	return fmt.Sprintf(" %s up %s,  1 user,  load average: %.2f, %.2f, %.2f\n",
		now.Format("15:04:05"), ups, l[0], l[1], l[2])
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// process is one line of ps.
type process struct {
	user      string
	pid, ppid int
	vsz, rss  int
	tty, stat string
	start     time.Time
	cmd       string
}

// processes is a plausible process table for a small server, with the
// attacker's shell and ps itself at the end.
func (s *Shell) processes(self string) []process {
	boot := s.p.BootTime
	login := s.started
	r := s.p.Rand("ps")
	pid := func(base int) int { return base + r.IntN(40) }
	ps := []process{
		{"root", 1, 0, 167744, 12980, "?", "Ss", boot, "/sbin/init"},
		{"root", 2, 0, 0, 0, "?", "S", boot, "[kthreadd]"},
		{"root", 3, 2, 0, 0, "?", "I<", boot, "[rcu_gp]"},
		{"root", 4, 2, 0, 0, "?", "I<", boot, "[rcu_par_gp]"},
		{"root", 12, 2, 0, 0, "?", "S", boot, "[ksoftirqd/0]"},
		{"root", 13, 2, 0, 0, "?", "I", boot, "[rcu_preempt]"},
		{"root", pid(300), 1, 48232, 15432, "?", "Ss", boot, "/lib/systemd/systemd-journald"},
		{"root", pid(340), 1, 25508, 6144, "?", "Ss", boot, "/lib/systemd/systemd-udevd"},
		{"systemd+", pid(520), 1, 16124, 7936, "?", "Ss", boot, "/lib/systemd/systemd-networkd"},
		{"root", pid(580), 1, 6612, 2688, "?", "Ss", boot, "/usr/sbin/cron -f"},
		{"message+", pid(620), 1, 8564, 4736, "?", "Ss", boot, "/usr/bin/dbus-daemon --system --address=systemd: --nofork --nopidfile --systemd-activation --syslog-only"},
		{"root", pid(680), 1, 222220, 5632, "?", "Ssl", boot, "/usr/sbin/rsyslogd -n -iNONE"},
		{"root", pid(720), 1, 15432, 9216, "?", "Ss", boot, "sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups"},
		{"root", pid(760), 1, 5872, 1024, "tty1", "Ss+", boot, "/sbin/agetty -o -p -- \\u --noclear - linux"},
		{"root", s.pid - 12, pid(720), 17976, 11008, "?", "Ss", login, "sshd: " + s.user + "@pts/0"},
		{s.user, s.pid, s.pid - 12, 8960, 5632, "pts/0", "Ss", login, "-bash"},
		{s.user, s.pid + 7 + s.steps, s.pid, 11084, 4608, "pts/0", "R+", s.cfg.Now(), self},
	}
	return ps
}

// bashVersion is $BASH_VERSION of the persona's release.
func bashVersion(p *persona.Persona) string {
	if p.Distro.Bash == "" { // busybox ash (Alpine): report the bash a user would install
		return "5.2.21(1)-release"
	}
	return p.Distro.Bash
}
