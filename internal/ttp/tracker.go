package ttp

import (
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/decnet-go/decnet/internal/event"
)

// windowState is one windowed rule's memory over a stream of events.
type windowState interface {
	observe(v *view) []hit
	prune(now time.Time) // forget keys idle longer than the window
	size() int
}

// Tracker runs the engine's windowed lifters (brute force, spraying,
// stuffing, reuse, login after failures, beaconing) over a stream of events,
// and looks up intel once per source address. Windows run on event time, so
// replaying a stream gives the same tags. Memory is bounded by maxKeys per rule.
type Tracker struct {
	e        *Engine
	maxKeys  int
	intelTTL time.Duration

	mu     sync.Mutex
	states map[*Rule]windowState
	set    *RuleSet
	ipSeen map[string]time.Time
	pruned time.Time // event time of the last sweep of idle keys
}

// pruneEvery is how much event time passes between sweeps of idle keys.
const pruneEvery = time.Minute

// NewTracker returns a tracker that keeps at most maxKeys keys (source
// addresses, address/user pairs, …) per rule; 0 means 100 000.
func (e *Engine) NewTracker(maxKeys int) *Tracker {
	if maxKeys <= 0 {
		maxKeys = 100_000
	}
	return &Tracker{e: e, maxKeys: maxKeys, intelTTL: 24 * time.Hour, states: map[*Rule]windowState{}, ipSeen: map[string]time.Time{}}
}

// Observe tags ev with every rule: the engine's single-event rules, the
// windowed lifters, and the intel rules for the source address when the
// engine has an IPIntel and the address was not looked up within a day.
func (t *Tracker) Observe(ev event.Event) []Tag {
	tags := t.e.Tag(ev)
	v := view{ev: &ev, kind: SourceKind(&ev)}
	c := t.e.rules.Load()

	t.mu.Lock()
	if t.set != c.set { // rules reloaded: drop the state of rules that left
		t.set = c.set
		for r := range t.states {
			if cur, ok := c.set.byID[r.ID]; !ok || cur != r {
				delete(t.states, r)
			}
		}
	}
	var lookup string
	if t.e.opts.IPs != nil && ev.SrcIP != "" {
		if last, ok := t.ipSeen[ev.SrcIP]; !ok || ev.Time.Sub(last) >= t.intelTTL {
			t.ipSeen[ev.SrcIP] = ev.Time
			lookup = ev.SrcIP
		}
	}
	if v.kind != "" {
		for _, r := range c.windowed[v.kind] {
			if !r.appliesToEvent(&ev) {
				continue
			}
			st := t.states[r]
			if st == nil {
				st = r.lifter.newState(r)
				if c, ok := st.(*counter); ok {
					c.maxKeys = t.maxKeys
				}
				t.states[r] = st
			}
			for _, h := range st.observe(&v) {
				tags = t.e.emit(tags, r, &v, h)
			}
		}
	}
	// Forget idle keys once a minute of event time: a sweep walks every
	// key of every rule, so running it by event count cost more than the
	// windows themselves under a flood of new addresses. Memory stays
	// bounded by maxKeys in between.
	if ev.Time.Sub(t.pruned) >= pruneEvery {
		t.pruned = ev.Time
		t.pruneLocked(ev.Time)
	}
	t.mu.Unlock()

	if lookup != "" {
		tags = append(tags, t.intel(ev, lookup)...)
	}
	return tags
}

func (t *Tracker) pruneLocked(now time.Time) {
	for _, st := range t.states {
		st.prune(now)
	}
	for ip, at := range t.ipSeen {
		if now.Sub(at) >= t.intelTTL {
			delete(t.ipSeen, ip)
		}
	}
	if len(t.ipSeen) > t.maxKeys {
		clear(t.ipSeen)
	}
}

// intel turns the providers' verdicts on ip into intel events and tags them.
func (t *Tracker) intel(ev event.Event, ip string) []Tag {
	var tags []Tag
	for _, vd := range t.e.opts.IPs.IPVerdicts(ip) {
		sig := make([]any, len(vd.Signals))
		for i, s := range vd.Signals {
			sig[i] = s
		}
		fields := map[string]any{"provider": vd.Provider, "verdict": vd.Verdict, "signals": sig, "ip": ip}
		if vd.Score > 0 {
			fields["score"] = vd.Score
		}
		if vd.MalwareFamily != "" {
			fields["malware_family"] = vd.MalwareFamily
		}
		iev := event.Event{ID: "intel:" + ip + ":" + vd.Provider, Time: ev.Time, Decky: ev.Decky, Service: ev.Service,
			Type: "intel", SrcIP: ip, Session: ev.Session, Fields: fields}
		tags = append(tags, t.e.Tag(iev)...)
	}
	return tags
}

// Size is the number of keys held across all windowed rules.
func (t *Tracker) Size() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(t.ipSeen)
	for _, st := range t.states {
		n += st.size()
	}
	return n
}

// ---- windowed lifters ----------------------------------------------------

type windowParams struct {
	Window    time.Duration `yaml:"window"`
	Threshold int           `yaml:"threshold"`
	// credential_stuffing: at most this many attempts per username.
	MaxPerUser int `yaml:"max_per_user"`
	// beaconing
	MinIntervalS float64 `yaml:"min_interval_s"`
	MaxJitterPct float64 `yaml:"max_jitter_pct"`
}

type counterKind int

const (
	countFailures     counterKind = iota // failures per (ip, service)
	countPasswords                       // distinct passwords per (ip, service, user)
	countUsers                           // distinct users per (ip, service, password)
	countStuffing                        // distinct users per (ip, service), few tries each
	countTargets                         // distinct decky/service per (ip, user, password)
	countPriorFailure                    // success after failures per (ip, service)
	countBeacon                          // regular connects per (ip, decky, service)
)

func init() {
	for _, w := range []struct {
		name, doc string
		kinds     []string
		kind      counterKind
		def       windowParams
	}{
		{"brute_force", "at least threshold failed logins from one address to one service within window", []string{KindAuthAttempt}, countFailures, windowParams{Window: 10 * time.Minute, Threshold: 10}},
		{"password_guessing", "at least threshold distinct passwords for one username from one address within window", []string{KindAuthAttempt}, countPasswords, windowParams{Window: 30 * time.Minute, Threshold: 5}},
		{"password_spraying", "one password tried against at least threshold usernames from one address within window", []string{KindAuthAttempt}, countUsers, windowParams{Window: time.Hour, Threshold: 5}},
		{"credential_stuffing", "at least threshold usernames from one address within window, each with at most max_per_user tries", []string{KindAuthAttempt}, countStuffing, windowParams{Window: time.Hour, Threshold: 10, MaxPerUser: 2}},
		{"credential_reuse", "one (user, password) pair tried on at least threshold deckies or services by one address within window", []string{KindAuthAttempt}, countTargets, windowParams{Window: 24 * time.Hour, Threshold: 2}},
		{"login_after_failures", "a successful login after at least threshold failures from the same address within window", []string{KindAuthAttempt}, countPriorFailure, windowParams{Window: time.Hour, Threshold: 3}},
		{"beaconing", "at least threshold connections to one decky service at regular intervals (jitter ≤ max_jitter_pct of a mean ≥ min_interval_s)", []string{KindConnect}, countBeacon, windowParams{Window: 6 * time.Hour, Threshold: 6, MinIntervalS: 10, MaxJitterPct: 10}},
	} {
		def, kind := w.def, w.kind
		register(&lifterDef{
			name: w.name, doc: w.doc, kinds: w.kinds, windowed: true,
			params: func() any { p := def; return &p },
			check: func(r *Rule) []error {
				p := r.params.(*windowParams)
				var errs []error
				if p.Window <= 0 {
					errs = append(errs, errors.New("window: must be a positive duration like 10m"))
				}
				if p.Threshold < 1 {
					errs = append(errs, errors.New("threshold: must be at least 1"))
				}
				if kind == countBeacon && p.Threshold < 3 {
					errs = append(errs, errors.New("threshold: beaconing needs at least 3 connections"))
				}
				return errs
			},
			newState: func(r *Rule) windowState {
				return &counter{kind: kind, p: *r.params.(*windowParams), name: r.lifter.name, keys: map[string]*entry{}, maxKeys: 100_000}
			},
		})
	}
}

// entry is the memory for one key.
type entry struct {
	start, last time.Time            // episode start (first event after idle > window), last event
	times       []time.Time          // failures / connects inside the window (ring)
	distinct    map[uint64]time.Time // distinct values → last seen
	perValue    map[uint64]int       // tries per distinct value (stuffing)
	users       map[string]bool      // a few usernames for evidence
	fired       bool                 // fired in this episode
}

type counter struct {
	kind    counterKind
	p       windowParams
	name    string
	keys    map[string]*entry
	maxKeys int
}

func hash64(parts ...string) uint64 {
	h := fnv.New64a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return h.Sum64()
}

func (c *counter) size() int { return len(c.keys) }

func (c *counter) prune(now time.Time) {
	for k, e := range c.keys {
		if now.Sub(e.last) > c.p.Window {
			delete(c.keys, k)
		}
	}
}

func (c *counter) get(key string, now time.Time) *entry {
	e := c.keys[key]
	if e != nil && now.Sub(e.last) > c.p.Window {
		e = nil // idle longer than the window: a new episode
	}
	if e == nil {
		if len(c.keys) >= c.maxKeys {
			c.prune(now)
			if len(c.keys) >= c.maxKeys {
				c.evictOldest(c.maxKeys/16 + 1)
			}
		}
		e = &entry{start: now} // maps made on first use: most keys are one address's few events
		c.keys[key] = e
	}
	if now.After(e.last) {
		e.last = now
	}
	return e
}

// evictOldest forgets the n keys idle the longest. Evicting a sixteenth
// of the keys at a time keeps a full counter from sweeping all its keys
// for every new one.
func (c *counter) evictOldest(n int) {
	if n >= len(c.keys) {
		clear(c.keys)
		return
	}
	lasts := make([]time.Time, 0, len(c.keys))
	for _, e := range c.keys {
		lasts = append(lasts, e.last)
	}
	slices.SortFunc(lasts, time.Time.Compare)
	cut := lasts[n-1]
	for k, e := range c.keys {
		if n > 0 && !e.last.After(cut) {
			delete(c.keys, k)
			n--
		}
	}
}

const maxDistinct = 4096 // bound on remembered distinct values per key

func (e *entry) addDistinct(h uint64, now time.Time, window time.Duration) int {
	for k, at := range e.distinct {
		if now.Sub(at) > window {
			delete(e.distinct, k)
			delete(e.perValue, k)
		}
	}
	if e.distinct == nil {
		e.distinct, e.perValue = map[uint64]time.Time{}, map[uint64]int{}
	}
	if _, ok := e.distinct[h]; ok || len(e.distinct) < maxDistinct {
		e.distinct[h] = now
		e.perValue[h]++
	}
	return len(e.distinct)
}

func (e *entry) addTime(now time.Time, window time.Duration, keep int) int {
	e.times = append(e.times, now)
	i := 0
	for i < len(e.times) && now.Sub(e.times[i]) > window {
		i++
	}
	e.times = e.times[i:]
	if len(e.times) > keep {
		e.times = e.times[len(e.times)-keep:]
	}
	return len(e.times)
}

func (e *entry) noteUser(u string) {
	if e.users == nil {
		e.users = map[string]bool{}
	}
	if len(e.users) < 10 {
		e.users[u] = true
	}
}

func (e *entry) userList() []string {
	out := make([]string, 0, len(e.users))
	for u := range e.users {
		out = append(out, u)
	}
	sortStrings(out)
	return out
}

func (c *counter) fire(e *entry, key string, v *view, ev map[string]any) []hit {
	if e.fired {
		return nil
	}
	e.fired = true
	ev["window_s"] = int(c.p.Window.Seconds())
	ev["first_seen"] = e.start.UTC().Format(time.RFC3339Nano)
	ev["last_seen"] = e.last.UTC().Format(time.RFC3339Nano)
	ev["service"] = v.ev.Service
	// One id per episode: the same stream always yields the same tag ids.
	src := fmt.Sprintf("%s:%s:%d", c.name, key, e.start.UnixNano())
	return []hit{{evidence: ev, sourceID: src}}
}

func (c *counter) observe(v *view) []hit {
	ev := v.ev
	now := ev.Time
	ip := ev.SrcIP
	if ip == "" {
		return nil
	}
	var user, secret, outcome string
	if cr := ev.Credential; cr != nil {
		user, secret, outcome = cr.Principal, cr.SecretB64, cr.Outcome
	}
	if user == "" {
		user, _ = v.get("username")
	}
	failed := outcome == event.OutcomeFailure
	switch c.kind {
	case countFailures:
		if !failed {
			return nil
		}
		key := ip + "|" + ev.Service
		e := c.get(key, now)
		e.noteUser(user)
		if n := e.addTime(now, c.p.Window, c.p.Threshold); n >= c.p.Threshold {
			return c.fire(e, key, v, map[string]any{"fail_count": n, "usernames": e.userList()})
		}
	case countPasswords:
		if secret == "" || user == "" || outcome == event.OutcomeSuccess {
			return nil
		}
		key := ip + "|" + ev.Service + "|" + user
		e := c.get(key, now)
		if n := e.addDistinct(hash64(secret), now, c.p.Window); n >= c.p.Threshold {
			return c.fire(e, key, v, map[string]any{"username": user, "password_count": n})
		}
	case countUsers:
		if secret == "" || user == "" || outcome == event.OutcomeSuccess {
			return nil
		}
		key := ip + "|" + ev.Service + "|" + strconv.FormatUint(hash64(secret), 16)
		e := c.get(key, now)
		e.noteUser(user)
		if n := e.addDistinct(hash64(user), now, c.p.Window); n >= c.p.Threshold {
			return c.fire(e, key, v, map[string]any{"user_count": n, "usernames": e.userList()})
		}
	case countStuffing:
		if secret == "" || user == "" {
			return nil
		}
		key := ip + "|" + ev.Service
		e := c.get(key, now)
		e.noteUser(user)
		n := e.addDistinct(hash64(user), now, c.p.Window)
		for _, tries := range e.perValue {
			if tries > c.p.MaxPerUser {
				return nil // many passwords per user: guessing, not stuffing
			}
		}
		if n >= c.p.Threshold {
			return c.fire(e, key, v, map[string]any{"user_count": n, "pair_count": n, "usernames": e.userList()})
		}
	case countTargets:
		if secret == "" || user == "" {
			return nil
		}
		key := ip + "|" + strconv.FormatUint(hash64(user, secret), 16)
		e := c.get(key, now)
		target := ev.Decky + "/" + ev.Service
		e.noteUser(target)
		if n := e.addDistinct(hash64(target), now, c.p.Window); n >= c.p.Threshold {
			return c.fire(e, key, v, map[string]any{"username": user, "target_count": n, "deckies": e.userList()})
		}
	case countPriorFailure:
		key := ip + "|" + ev.Service
		switch outcome {
		case event.OutcomeFailure:
			e := c.get(key, now)
			e.addTime(now, c.p.Window, 1024)
		case event.OutcomeSuccess:
			e := c.keys[key]
			if e == nil || now.Sub(e.last) > c.p.Window {
				return nil
			}
			n := e.addTime(now, c.p.Window, 1024) - 1 // failures before this success
			if n >= c.p.Threshold {
				e.last = now
				return c.fire(e, key, v, map[string]any{"username": user, "fail_count": n, "outcome": outcome})
			}
		}
	case countBeacon:
		key := ip + "|" + ev.Decky + "|" + ev.Service
		e := c.get(key, now)
		n := e.addTime(now, c.p.Window, max(c.p.Threshold, 32))
		if n < c.p.Threshold {
			return nil
		}
		mean, jitter := intervalStats(e.times)
		if mean >= c.p.MinIntervalS && jitter <= c.p.MaxJitterPct {
			return c.fire(e, key, v, map[string]any{"count": n, "mean_interval_s": round2(mean), "jitter_pct": round2(jitter)})
		}
	}
	return nil
}

// intervalStats is the mean gap between times in seconds and its standard
// deviation as a percentage of the mean.
func intervalStats(ts []time.Time) (mean, jitterPct float64) {
	if len(ts) < 2 {
		return 0, math.Inf(1)
	}
	gaps := make([]float64, len(ts)-1)
	for i := 1; i < len(ts); i++ {
		gaps[i-1] = ts[i].Sub(ts[i-1]).Seconds()
		mean += gaps[i-1]
	}
	mean /= float64(len(gaps))
	if mean <= 0 {
		return 0, math.Inf(1)
	}
	var ss float64
	for _, g := range gaps {
		ss += (g - mean) * (g - mean)
	}
	return mean, math.Sqrt(ss/float64(len(gaps))) / mean * 100
}

func round2(f float64) float64 { return math.Round(f*100) / 100 }
