package persona

import (
	"fmt"
	"sort"
	"strings"
)

// File is one entry of the fake filesystem a shell shows.
type File struct {
	Mode    uint32 // permission bits, as ls prints them
	Dir     bool
	Owner   string
	Content string
}

// Files returns the fake filesystem of the decky: absolute path → entry.
// Parent directories of every file are present. The contents agree with the
// rest of the persona (hostname, accounts, OS release).
func (p *Persona) Files() map[string]File {
	fs := map[string]File{}
	add := func(path, owner string, mode uint32, content string) {
		fs[path] = File{Mode: mode, Owner: owner, Content: content}
		for dir := parent(path); dir != ""; dir = parent(dir) {
			if _, ok := fs[dir]; !ok {
				fs[dir] = File{Dir: true, Mode: 0o755, Owner: "root"}
			}
		}
	}
	mkdir := func(path, owner string, mode uint32) {
		add(path+"/.keep", owner, 0, "")
		delete(fs, path+"/.keep")
		fs[path] = File{Dir: true, Mode: mode, Owner: owner}
	}
	for _, d := range []string{"/bin", "/boot", "/dev", "/etc", "/lib", "/media", "/mnt", "/opt", "/proc",
		"/run", "/sbin", "/srv", "/sys", "/usr", "/usr/bin", "/usr/lib", "/usr/local", "/usr/share", "/var", "/var/log", "/var/lib", "/var/www"} {
		mkdir(d, "root", 0o755)
	}
	mkdir("/tmp", "root", 0o1777)
	mkdir("/root", "root", 0o700)

	add("/etc/hostname", "root", 0o644, p.Hostname+"\n")
	add("/etc/hosts", "root", 0o644, fmt.Sprintf("127.0.0.1\tlocalhost\n127.0.1.1\t%s\n\n::1\tlocalhost ip6-localhost ip6-loopback\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n", p.Hostname))
	add("/etc/passwd", "root", 0o644, p.passwd())
	add("/etc/group", "root", 0o644, p.group())
	add("/etc/shadow", "root", 0o640, "")
	add("/etc/os-release", "root", 0o644, p.osRelease())
	add("/etc/issue", "root", 0o644, p.Distro.Issue+"\n\n")
	add("/etc/machine-id", "root", 0o444, p.MachineID+"\n")
	add("/etc/resolv.conf", "root", 0o644, "nameserver 127.0.0.53\noptions edns0 trust-ad\n")
	add("/etc/shells", "root", 0o644, "# /etc/shells: valid login shells\n/bin/sh\n/bin/bash\n/usr/bin/bash\n/bin/dash\n")
	add("/proc/version", "root", 0o444, fmt.Sprintf("Linux version %s (%s) %s\n", p.KernelRelease, p.buildHost(), p.KernelVersion))
	add("/root/.bashrc", "root", 0o644, bashrc)
	add("/root/.profile", "root", 0o644, profile)
	add("/root/.bash_history", "root", 0o600, p.history())
	for _, l := range p.Logins[1:] {
		mkdir(l.Home, l.User, 0o750)
		add(l.Home+"/.bashrc", l.User, 0o644, bashrc)
		add(l.Home+"/.profile", l.User, 0o644, profile)
		add(l.Home+"/.bash_history", l.User, 0o600, "ls\nsudo -i\n")
	}
	return fs
}

func parent(path string) string {
	i := strings.LastIndexByte(path, '/')
	if i <= 0 {
		if path == "/" {
			return ""
		}
		return "/"
	}
	return path[:i]
}

func (p *Persona) passwd() string {
	var b strings.Builder
	b.WriteString(`root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
bin:x:2:2:bin:/bin:/usr/sbin/nologin
sys:x:3:3:sys:/dev:/usr/sbin/nologin
sync:x:4:65534:sync:/bin:/bin/sync
games:x:5:60:games:/usr/games:/usr/sbin/nologin
man:x:6:12:man:/var/cache/man:/usr/sbin/nologin
lp:x:7:7:lp:/var/spool/lpd:/usr/sbin/nologin
mail:x:8:8:mail:/var/mail:/usr/sbin/nologin
news:x:9:9:news:/var/spool/news:/usr/sbin/nologin
uucp:x:10:10:uucp:/var/spool/uucp:/usr/sbin/nologin
proxy:x:13:13:proxy:/bin:/usr/sbin/nologin
www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin
backup:x:34:34:backup:/var/backups:/usr/sbin/nologin
list:x:38:38:Mailing List Manager:/var/list:/usr/sbin/nologin
irc:x:39:39:ircd:/run/ircd:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
systemd-network:x:998:998:systemd Network Management:/:/usr/sbin/nologin
sshd:x:100:65534::/run/sshd:/usr/sbin/nologin
`)
	for _, l := range p.Logins[1:] {
		fmt.Fprintf(&b, "%s:x:%d:%d:%s,,,:%s:%s\n", l.User, l.UID, l.UID, l.User, l.Home, l.Shell)
	}
	return b.String()
}

func (p *Persona) group() string {
	var b strings.Builder
	b.WriteString("root:x:0:\ndaemon:x:1:\nbin:x:2:\nsys:x:3:\nadm:x:4:\ntty:x:5:\ndisk:x:6:\nwww-data:x:33:\nsudo:x:27:")
	var users []string
	for _, l := range p.Logins[1:] {
		users = append(users, l.User)
	}
	sort.Strings(users)
	b.WriteString(strings.Join(users, ","))
	b.WriteString("\nusers:x:100:\nnogroup:x:65534:\n")
	for _, l := range p.Logins[1:] {
		fmt.Fprintf(&b, "%s:x:%d:\n", l.User, l.UID)
	}
	return b.String()
}

func (p *Persona) osRelease() string {
	d := p.Distro
	s := fmt.Sprintf("PRETTY_NAME=%q\nNAME=%q\n", d.PrettyName, d.Name)
	if d.VersionID != "" {
		s += fmt.Sprintf("VERSION_ID=%q\n", d.VersionID)
	}
	if d.Codename != "" {
		s += "VERSION_CODENAME=" + d.Codename + "\n"
	}
	return s + "ID=" + d.ID + "\n"
}

func (p *Persona) buildHost() string { return p.Distro.KernelBuilder }

func (p *Persona) history() string {
	r := p.Rand("history")
	lines := []string{"apt update", "df -h", "systemctl status nginx", "journalctl -xe", "ls -la /var/log",
		"tail -f /var/log/syslog", "crontab -l", "free -m", "ss -tlnp", "vim /etc/hosts", "docker ps", "uptime", "htop"}
	r.Shuffle(len(lines), func(i, j int) { lines[i], lines[j] = lines[j], lines[i] })
	return strings.Join(lines[:5+r.IntN(6)], "\n") + "\n"
}

const bashrc = `# ~/.bashrc: executed by bash(1) for non-login shells.
[ -z "$PS1" ] && return
HISTCONTROL=ignoredups:ignorespace
shopt -s histappend
HISTSIZE=1000
HISTFILESIZE=2000
alias ls='ls --color=auto'
alias ll='ls -alF'
`

const profile = `# ~/.profile: executed by the command interpreter for login shells.
if [ -n "$BASH_VERSION" ]; then
    if [ -f "$HOME/.bashrc" ]; then
        . "$HOME/.bashrc"
    fi
fi
`
