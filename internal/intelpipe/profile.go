package intelpipe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/decnet-go/decnet/internal/behave"
	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/store"
)

// The profile stage (S3a, docs/pipeline.md "Profile"): every event of an
// attacker refines its profile — tools recognised from client banners and
// user agents, kill-chain phases, human or automated, threat score — kept
// in attackers.profile / attackers.threat_score. The ingest worker still
// owns the row's counters; this stage only reads them.

// Topics of the profile stage (core NATS).
const (
	TopicAttackerObserved = "attacker.observed"
	TopicAttackerScored   = "attacker.scored"
)

// Kill-chain phases, in kill-chain order.
const (
	PhaseRecon            = "recon"
	PhaseCredentialAccess = "credential_access"
	PhaseExecution        = "execution"
	PhasePersistence      = "persistence"
	PhaseExfiltration     = "exfiltration"
)

var phaseOrder = []string{PhaseRecon, PhaseCredentialAccess, PhaseExecution, PhasePersistence, PhaseExfiltration}

// Actor classes.
const (
	ActorHuman     = "human"
	ActorAutomated = "automated"
	ActorUnknown   = "unknown"
)

type toolRule struct {
	name string
	re   *regexp.Regexp
}

func rules(pairs ...string) []toolRule {
	r := make([]toolRule, 0, len(pairs)/2)
	for i := 0; i < len(pairs); i += 2 {
		r = append(r, toolRule{pairs[i], regexp.MustCompile("(?i)" + pairs[i+1])})
	}
	return r
}

// sshTools match the software part of an SSH identification string
// ("SSH-2.0-<software> <comment>"); the first match wins.
var sshTools = rules(
	"libssh2", `^libssh2`,
	"libssh", `^libssh`,
	"paramiko", `^paramiko`,
	"go", `^go(\b|$)`,
	"openssh", `^openssh`,
	"putty", `^(putty|plink)`,
	"jsch", `^jsch`,
	"asyncssh", `^asyncssh`,
	"dropbear", `^dropbear`,
	"nmap", `^nmap`,
	"zgrab", `zgrab`,
	"twisted", `^twisted`,
	"russh", `^(russh|thrussh)`,
	"ssh2js", `^ssh2js`,
	"winscp", `^winscp`,
)

// uaTools match an HTTP User-Agent; every match counts (sqlmap says
// "sqlmap/1.7 (https://sqlmap.org)", hydra "Mozilla/4.0 (Hydra)").
var uaTools = rules(
	"sqlmap", `sqlmap`,
	"nmap", `nmap`,
	"masscan", `masscan`,
	"zgrab", `zgrab`,
	"hydra", `hydra`,
	"nikto", `nikto`,
	"nuclei", `nuclei`,
	"gobuster", `gobuster`,
	"dirbuster", `dirbuster`,
	"wpscan", `wpscan`,
	"ffuf", `ffuf|fuzz faster u fool`,
	"curl", `(^|\W)curl/`,
	"wget", `(^|\W)wget/`,
	"python-requests", `python-requests`,
	"python-urllib", `python-urllib`,
	"aiohttp", `aiohttp`,
	"go-http-client", `go-http-client`,
	"libwww-perl", `libwww-perl`,
	"okhttp", `okhttp`,
	"java", `^java/`,
	"censys", `censysinspect`,
)

// offensiveTools are attack tools proper (not generic clients); one of
// them adds to the threat score.
var offensiveTools = map[string]bool{"sqlmap": true, "nmap": true, "masscan": true, "zgrab": true, "hydra": true,
	"nikto": true, "nuclei": true, "gobuster": true, "dirbuster": true, "wpscan": true, "ffuf": true}

// ToolFromSSHBanner names the client of an SSH identification string, or
// "" when it is not one it knows.
func ToolFromSSHBanner(banner string) string {
	b := strings.TrimSpace(banner)
	if rest, ok := strings.CutPrefix(b, "SSH-"); ok {
		if _, sw, ok := strings.Cut(rest, "-"); ok { // past the protocol version
			b = sw
		}
	}
	for _, r := range sshTools {
		if r.re.MatchString(b) {
			return r.name
		}
	}
	return ""
}

// ToolsFromUserAgent names the tools an HTTP User-Agent shows.
func ToolsFromUserAgent(ua string) []string {
	var out []string
	for _, r := range uaTools {
		if r.re.MatchString(ua) {
			out = append(out, r.name)
		}
	}
	return out
}

// ToolsOf names the tools an event shows (ssh client_version, any
// user_agent field).
func ToolsOf(e event.Event) []string {
	var out []string
	if v, _ := e.Fields["client_version"].(string); v != "" && (e.Service == "ssh" || strings.HasPrefix(v, "SSH-")) {
		if t := ToolFromSSHBanner(v); t != "" {
			out = append(out, t)
		}
	}
	if ua, _ := e.Fields["user_agent"].(string); ua != "" {
		out = append(out, ToolsFromUserAgent(ua)...)
	}
	return out
}

// Command patterns per phase (run on command text).
var (
	reconCmd = regexp.MustCompile(`(?i)(^|[;&|\s(])(uname|whoami|id|hostname|ifconfig|ip\s+a(ddr)?|netstat|ss\s+-|ps(\s|$)|w(\s|$)|last|lscpu|nproc|free|df|uptime|env|printenv)(\s|$|[;&|)])|/proc/(cpuinfo|meminfo|version)|/etc/(os-release|issue)`)
	credCmd  = regexp.MustCompile(`(?i)/etc/(shadow|passwd|gshadow|sudoers)|id_(rsa|dsa|ecdsa|ed25519)|\.ssh/known_hosts|\.aws/credentials|\.(bash|zsh)_history|\.git-credentials|\.docker/config\.json|mimikatz|lazagne|\bhashdump\b|wp-config\.php`)
	persCmd  = regexp.MustCompile(`(?i)crontab|/etc/cron|authorized_keys|systemctl\s+(enable|daemon-reload)|/etc/systemd/system|/etc/rc\.local|/etc/init\.d|update-rc\.d|\b(useradd|adduser|usermod)\b|(^|\s)passwd(\s|$)|chpasswd|\.bashrc|\.bash_profile|\.profile\b|/etc/ld\.so\.preload|chattr\s+\+i`)
	exfilCmd = regexp.MustCompile(`(?i)\bscp\s+.*\S+@\S+:|\brsync\s+.*\S+:|\bcurl\b.*\s(-T\s|--upload-file|-F\s|--data-binary\s+@|-d\s+@)|\bwget\b.*--post-(file|data)|\|\s*(nc|ncat|netcat)\s+\S+\s+\d+|(nc|ncat|netcat)\s+\S+\s+\d+\s*<|/dev/tcp/`)
)

// PhasesOf lists the kill-chain phases an event shows: connections and
// requests are reconnaissance, login attempts and captured credentials
// credential access, commands and captured files execution, and a
// command's text may add recon, credential access, persistence or
// exfiltration.
func PhasesOf(e event.Event) []string {
	var out []string
	add := func(p string) {
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	switch e.Type {
	case event.TypeConnect, event.TypeDisconnect, event.TypeRequest:
		add(PhaseRecon)
	case event.TypeLoginAttempt:
		add(PhaseCredentialAccess)
	case event.TypeCommand, "exec":
		add(PhaseExecution)
	case event.TypeFileCaptured:
		add(PhaseExecution) // a payload delivered to the decky
	}
	if e.Credential != nil {
		add(PhaseCredentialAccess)
	}
	if cmd, _ := e.Fields["command"].(string); cmd != "" {
		for _, p := range commandPhases.of(cmd) {
			add(p)
		}
	}
	return out
}

// commandPhases remembers the kill-chain phases of recent command lines:
// bots send the same few lines thousands of times, and four regular
// expressions per line were a tenth of the profile stage.
var commandPhases = phaseMemo{m: map[string][]string{}}

type phaseMemo struct {
	mu sync.Mutex
	m  map[string][]string
}

// phaseMemoMax bounds the lines remembered (past it the memory starts
// afresh); longer lines are not kept.
const (
	phaseMemoMax  = 16384
	phaseMemoLine = 256
)

func (pm *phaseMemo) of(cmd string) []string {
	pm.mu.Lock()
	ps, ok := pm.m[cmd]
	pm.mu.Unlock()
	if ok {
		return ps
	}
	for _, c := range []struct {
		re    *regexp.Regexp
		phase string
	}{{reconCmd, PhaseRecon}, {credCmd, PhaseCredentialAccess}, {persCmd, PhasePersistence}, {exfilCmd, PhaseExfiltration}} {
		if c.re.MatchString(cmd) {
			ps = append(ps, c.phase)
		}
	}
	if len(cmd) <= phaseMemoLine {
		pm.mu.Lock()
		if len(pm.m) >= phaseMemoMax {
			clear(pm.m)
		}
		pm.m[cmd] = ps
		pm.mu.Unlock()
	}
	return ps
}

// Timing thresholds of the human/automated classifier.
const (
	minIntervals   = 4               // fewer: unknown
	idleGap        = 5 * time.Minute // a longer gap starts over (not an interval)
	botMeanSecs    = 0.5             // faster on average: automated
	botMaxCV       = 0.25            // more regular (coefficient of variation): automated
	humanMeanSecs  = 1.5             // slower on average …
	humanMinCV     = 0.5             // … and irregular: human
	timingFlushN   = 25              // unsaved timing samples that force a write
	timingFlushAge = 30 * time.Second
)

// actionEvent reports whether an event is something the attacker did (its
// timing says who drives it); connects, disconnects and recorder events
// are protocol artefacts.
func actionEvent(e event.Event) bool {
	switch e.Type {
	case event.TypeConnect, event.TypeDisconnect, typeSessionRecorded, "session_skipped", event.TypeStartup, event.TypeShutdown:
		return false
	}
	return true
}

// addInterval folds the action at ts into t; an event not after the last
// one (a redelivery, or out of order) changes nothing. It reports whether
// t changed.
func addInterval(t *store.ProfileTiming, ts time.Time) bool {
	if ts.IsZero() || !ts.After(t.LastTS) {
		return false
	}
	if !t.LastTS.IsZero() {
		if gap := ts.Sub(t.LastTS); gap <= idleGap {
			x := gap.Seconds()
			t.Intervals++
			d := x - t.Mean
			t.Mean += d / float64(t.Intervals)
			t.M2 += d * (x - t.Mean)
		}
	}
	t.LastTS = ts
	return true
}

// ClassifyActor says whether a human or a program drives an attacker. The
// newest BEHAVE input modality wins when there is one (typed, pasted or
// mixed input is a person at a terminal; scripted is not). Otherwise the
// cadence of its actions decides: with at least minIntervals intervals, a
// mean under botMeanSecs or a coefficient of variation under botMaxCV is
// automated, a mean of humanMeanSecs or more with a CV of humanMinCV or
// more is human, anything else unknown.
func ClassifyActor(t store.ProfileTiming, modality string) (actor, basis string) {
	switch modality {
	case "typed", "pasted", "mixed":
		return ActorHuman, "behave"
	case "scripted":
		return ActorAutomated, "behave"
	}
	if t.Intervals < minIntervals {
		return ActorUnknown, ""
	}
	mean := t.Mean
	cv := 0.0
	if mean > 0 {
		cv = math.Sqrt(t.M2/float64(t.Intervals)) / mean
	}
	switch {
	case mean < botMeanSecs || cv < botMaxCV:
		return ActorAutomated, "timing"
	case mean >= humanMeanSecs && cv >= humanMinCV:
		return ActorHuman, "timing"
	}
	return ActorUnknown, "timing"
}

// phaseWeight is each phase's share of the threat score.
var phaseWeight = map[string]int{PhaseRecon: 3, PhaseCredentialAccess: 7, PhaseExecution: 12,
	PhasePersistence: 15, PhaseExfiltration: 15}

// ThreatScore rates an attacker 0–100:
//
//	volume      min(15, ⌊3·log2(1+events)⌋)
//	breadth     min(20, 4·(services−1) + 6·(deckies−1))
//	credentials 0, or 5 + min(5, ⌊credentials/10⌋) when it captured any
//	phases      recon 3, credential access 7, execution 12, persistence 15,
//	            exfiltration 15 (summed over the phases seen)
//	tools       5 when an attack tool (nmap, masscan, zgrab, sqlmap, hydra,
//	            nikto, nuclei, gobuster, dirbuster, wpscan, ffuf) was seen
//	operator    5 when a human drives it
//
// clamped to 100. Volume is logarithmic so that a long-running scanner
// does not outrank an operator who got a shell and dug in.
func ThreatScore(a store.Attacker, p store.AttackerProfile) int {
	s := min(15, int(3*math.Log2(1+float64(max(a.EventCount, 0)))))
	s += min(20, 4*max(len(a.Services)-1, 0)+6*max(len(a.Deckies)-1, 0))
	if a.CredentialCount > 0 {
		s += 5 + min(5, a.CredentialCount/10)
	}
	for _, ph := range p.Phases {
		s += phaseWeight[ph]
	}
	if slices.ContainsFunc(p.Tools, func(t string) bool { return offensiveTools[t] }) {
		s += 5
	}
	if p.Actor == ActorHuman {
		s += 5
	}
	return max(0, min(100, s))
}

// platformServices emit events that are not an attacker's doing.
var platformServices = map[string]bool{"prober": true, "mutator": true, "decnet": true, "system": true}

// modalityWait is how long a session_recorded event waits for the BEHAVE
// stage to store the session's input modality.
const modalityWait = 45 * time.Second

// timingCache holds timing samples not yet written, per address: the
// stage writes the profile on every material change but timing alone only
// every timingFlushN samples or timingFlushAge (a restart loses at most
// that much of the cadence, never a tool, phase or score).
type timingCache struct {
	mu sync.Mutex
	m  map[string]*pendingTiming
}

type pendingTiming struct {
	t       store.ProfileTiming
	unsaved int
	savedAt time.Time
}

const timingCacheMax = 8192

func (c *timingCache) get(ip string) *pendingTiming {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]*pendingTiming{}
	}
	pt := c.m[ip]
	if pt == nil {
		if len(c.m) >= timingCacheMax {
			for k := range c.m { // drop an arbitrary entry: its unsaved samples are lost
				delete(c.m, k)
				break
			}
		}
		pt = &pendingTiming{savedAt: time.Now()}
		c.m[ip] = pt
	}
	return pt
}

// profile is the profile stage over a batch of events: each attacker's
// events are folded into its profile in order (one read per attacker), the
// profiles that changed are written in one transaction, then
// attacker.observed goes out when the stage first profiles an attacker and
// attacker.scored when its score changed. errs[i] is the outcome of
// events[i], as a handler's.
func (p *Pipeline) profile(ctx context.Context, events []event.Event) (errs []error) {
	errs = make([]error, len(events))
	byIP := map[string][]int{}
	var ips []string
	for i, e := range events {
		if e.SrcIP == "" || platformServices[e.Service] {
			continue
		}
		if _, ok := byIP[e.SrcIP]; !ok {
			ips = append(ips, e.SrcIP)
		}
		byIP[e.SrcIP] = append(byIP[e.SrcIP], i)
	}
	writes := map[string]store.AttackerProfile{}
	var done []profileUpdate
	for _, ip := range ips {
		u, err := p.profileAttacker(ctx, ip, events, byIP[ip], errs)
		if err != nil {
			for _, i := range byIP[ip] {
				errs[i] = err
			}
			continue
		}
		if u != nil {
			writes[u.a.UUID] = u.next
			done = append(done, *u)
		}
	}
	if err := p.cfg.Store.SetAttackerProfiles(ctx, writes); err != nil {
		for _, u := range done {
			for _, i := range byIP[u.a.IP] {
				errs[i] = err
			}
		}
		return errs
	}
	for _, u := range done {
		u.pt.unsaved, u.pt.savedAt = 0, time.Now()
		u.publish(p.cfg.Publish)
	}
	return errs
}

// profileUpdate is one attacker's new profile, written by the batch.
type profileUpdate struct {
	a    store.Attacker
	next store.AttackerProfile
	pt   *pendingTiming
	e    event.Event // the attacker's first event of the batch
}

// publish sends attacker.observed on the attacker's first profile and
// attacker.scored when its score changed.
func (u profileUpdate) publish(publish func(string, any)) {
	a, pr, first := u.a, u.next, u.a.Profile == nil
	if first {
		publish(TopicAttackerObserved, map[string]any{"attacker_uuid": a.UUID, "attacker_ip": a.IP,
			"decky": u.e.Decky, "service": u.e.Service, "event_type": u.e.Type, "first_seen": a.FirstSeen})
	}
	if first || pr.ThreatScore != a.Profile.ThreatScore {
		prev := any(nil)
		if !first {
			prev = a.Profile.ThreatScore
		}
		publish(TopicAttackerScored, map[string]any{"attacker_uuid": a.UUID, "attacker_ip": a.IP,
			"threat_score": pr.ThreatScore, "previous_score": prev, "event_count": a.EventCount,
			"service_count": len(a.Services), "decky_count": len(a.Deckies), "credential_count": a.CredentialCount,
			"command_count": a.CommandCount, "is_traversal": len(a.Deckies) >= 2, "tools": pr.Tools,
			"kill_chain_phases": pr.Phases, "actor": pr.Actor})
	}
}

// profileAttacker folds the events at idx, all from ip, into its
// attacker's profile and returns the update to write, or nil when nothing
// material moved. A session_recorded event whose BEHAVE modality is not
// stored yet gets a retry in errs and the rest still folds in (folding is
// idempotent, so its redelivery changes nothing twice). An error fails all
// of ip's events.
func (p *Pipeline) profileAttacker(ctx context.Context, ip string, events []event.Event, idx []int, errs []error) (*profileUpdate, error) {
	a, err := p.cfg.Store.AttackerByIP(ctx, ip)
	switch {
	case errors.Is(err, store.ErrNotFound) && time.Since(events[idx[0]].Time) < maxDefer:
		return nil, retryLater(ingestLag, "no attacker row yet for "+ip)
	case errors.Is(err, store.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("attacker of %s: %w", ip, err)
	}
	var pr store.AttackerProfile
	if a.Profile != nil {
		pr = *a.Profile
		pr.Tools, pr.Phases = slices.Clone(pr.Tools), slices.Clone(pr.Phases)
	}
	pt := p.timing.get(ip)
	if pt.t.LastTS.Before(pr.Timing.LastTS) {
		pt.t, pt.unsaved = pr.Timing, 0 // the store is ahead (another stage instance, or a restart)
	}
	for _, i := range idx {
		e := events[i]
		if e.Type == typeSessionRecorded {
			m, err := p.sessionModality(ctx, e)
			var r *retryError
			switch {
			case errors.As(err, &r):
				errs[i] = err
			case err != nil:
				return nil, err
			case m != "":
				pr.Modality = m
			}
		}
		for _, t := range ToolsOf(e) {
			if !slices.Contains(pr.Tools, t) {
				pr.Tools = append(pr.Tools, t)
			}
		}
		for _, ph := range PhasesOf(e) {
			if !slices.Contains(pr.Phases, ph) {
				pr.Phases = append(pr.Phases, ph)
			}
		}
		if actionEvent(e) && addInterval(&pt.t, e.Time) {
			pt.unsaved++
		}
	}
	slices.Sort(pr.Tools)
	slices.SortFunc(pr.Phases, func(x, y string) int { return slices.Index(phaseOrder, x) - slices.Index(phaseOrder, y) })
	pr.Timing = pt.t
	pr.Actor, pr.ActorBasis = ClassifyActor(pr.Timing, pr.Modality)
	pr.ThreatScore = ThreatScore(a, pr)

	first := a.Profile == nil
	material := first || !slices.Equal(pr.Tools, a.Profile.Tools) || !slices.Equal(pr.Phases, a.Profile.Phases) ||
		pr.Actor != a.Profile.Actor || pr.ActorBasis != a.Profile.ActorBasis || pr.Modality != a.Profile.Modality ||
		pr.ThreatScore != a.Profile.ThreatScore
	if !material && (pt.unsaved == 0 || (pt.unsaved < timingFlushN && time.Since(pt.savedAt) < timingFlushAge)) {
		return nil, nil
	}
	pr.UpdatedAt = time.Now().UTC()
	return &profileUpdate{a: a, next: pr, pt: pt, e: events[idx[0]]}, nil
}

// sessionModality returns the BEHAVE input modality of the session a
// session_recorded event names, waiting up to modalityWait for the BEHAVE
// stage to store it; "" when there is none (no TTY, another host's
// recording, not ssh or telnet).
func (p *Pipeline) sessionModality(ctx context.Context, e event.Event) (string, error) {
	if e.Service != "ssh" && e.Service != "telnet" {
		return "", nil
	}
	storedAs, _ := e.Fields["stored_as"].(string)
	sid, _ := e.Fields["sid"].(string)
	if storedAs == "" || sid == "" {
		return "", nil
	}
	obs, err := p.cfg.Store.ObservationsForEvidence(ctx, behave.EvidenceRef(e.Decky, e.Service, storedAs, sid))
	if err != nil {
		return "", err
	}
	for _, o := range obs {
		if o.Primitive == behave.InputModality {
			var v string
			if json.Unmarshal(o.Value, &v) == nil {
				return v, nil
			}
		}
	}
	if len(obs) == 0 && time.Since(e.Time) < modalityWait {
		return "", retryLater(time.Second, "no BEHAVE observations yet for "+sid)
	}
	return "", nil
}
