package prober

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// ErrNotAllowed is returned for a target outside the allow-list.
var ErrNotAllowed = errors.New("prober: target not in the allow-list")

// Config is how a Scheduler behaves. The zero value probes nothing: the
// allow-list is empty.
type Config struct {
	// Allow is the list of networks that may be probed. Empty means none.
	Allow []netip.Prefix
	// Deny carves networks out of Allow.
	Deny []netip.Prefix
	// Interval is how long after a probe the same (attacker, port, type)
	// is probed again; 0 means 6 h.
	Interval time.Duration
	// Timeout bounds one probe (all its connections); 0 means 30 s.
	Timeout time.Duration
	// GlobalRate is the number of probes per second over all targets, and
	// GlobalBurst how many may start at once; 0 means 1/s and 4.
	GlobalRate  float64
	GlobalBurst int
	// TargetRate is the number of probes per second against one attacker
	// IP, and TargetBurst its burst; 0 means one every 10 s and 3.
	TargetRate  float64
	TargetBurst int
	// Concurrency is how many probes run at once; 0 means 4.
	Concurrency int
	// MaxJobs caps the (attacker, port, type) triples held; 0 means 100000.
	MaxJobs int
	// Ports overrides DefaultPorts per probe type.
	Ports map[ProbeType][]int
}

func (c Config) withDefaults() (Config, error) {
	if c.Interval < 0 || c.Timeout < 0 || c.GlobalRate < 0 || c.TargetRate < 0 ||
		c.GlobalBurst < 0 || c.TargetBurst < 0 || c.Concurrency < 0 || c.MaxJobs < 0 {
		return c, errors.New("prober: config: negative interval, timeout, rate, burst, concurrency or max jobs")
	}
	def := func(v *float64, d float64) {
		if *v == 0 {
			*v = d
		}
	}
	defInt := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	if c.Interval == 0 {
		c.Interval = 6 * time.Hour
	}
	if c.Timeout == 0 {
		c.Timeout = 30 * time.Second
	}
	def(&c.GlobalRate, 1)
	defInt(&c.GlobalBurst, 4)
	def(&c.TargetRate, 0.1)
	defInt(&c.TargetBurst, 3)
	defInt(&c.Concurrency, 4)
	defInt(&c.MaxJobs, 100000)
	for t, ports := range c.Ports {
		if t != JARMProbe && t != HASSHProbe && t != TCPFPProbe {
			return c, fmt.Errorf("prober: config: unknown probe type %q in ports (want jarm, hassh or tcpfp)", t)
		}
		for _, p := range ports {
			if p < 1 || p > 65535 {
				return c, fmt.Errorf("prober: config: %s port %d out of range 1-65535", t, p)
			}
		}
	}
	return c, nil
}

// ParseAllowList parses a comma-separated list of CIDRs or addresses (an
// address is its own /32 or /128), as an operator writes it.
func ParseAllowList(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("prober: allow-list entry %q is neither a CIDR nor an address (e.g. 203.0.113.0/24)", f)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

// Allowed reports whether ip may be probed under cfg: inside some Allow
// network and inside no Deny network.
func (c Config) Allowed(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() {
		return false
	}
	for _, d := range c.Deny {
		if d.Contains(ip) {
			return false
		}
	}
	for _, a := range c.Allow {
		if a.Contains(ip) {
			return true
		}
	}
	return false
}

// Target is an attacker to probe: its IP and which probes on which ports.
type Target struct {
	IP    netip.Addr
	Types []ProbeType         // nil: jarm, hassh and tcpfp
	Ports map[ProbeType][]int // per type; missing: the configured defaults
}

// Result is the outcome of one probe. Details holds the fields of the
// attacker.fingerprinted payload for the probe type (attacker_ip, port and
// jarm_hash; hassh_server and ssh_banner; tcpfp_hash, ttl and mss) plus raw
// material (jarm_raw, hassh_server_algorithms, tcpfp_raw, …).
type Result struct {
	AttackerIP netip.Addr
	Port       int
	ProbeType  ProbeType
	Hash       string // "" when Err is set
	Details    map[string]any
	Err        error
	At         time.Time // when the probe started
}

// Fingerprint returns the result as input to Rotate, for the attacker
// with the given uuid.
func (r Result) Fingerprint(attackerUUID string) Fingerprint {
	return Fingerprint{AttackerUUID: attackerUUID, AttackerIP: r.AttackerIP.String(), Port: r.Port,
		ProbeType: r.ProbeType, Hash: r.Hash, At: r.At}
}

type jobKey struct {
	ip   netip.Addr
	port int
	typ  ProbeType
}

type job struct {
	jobKey
	next  time.Time
	index int // in the heap; -1 while running
}

// Scheduler probes the targets it is given, within the allow-list and the
// rate limits, again every Interval, and reports each Result to a
// callback. Create it with NewScheduler; it runs until Run's context ends.
type Scheduler struct {
	cfg    Config
	prober *Prober
	report func(Result)
	now    func() time.Time

	mu      sync.Mutex
	jobs    map[jobKey]*job
	queue   jobQueue
	global  *rate.Limiter
	targets map[netip.Addr]*rate.Limiter
	wake    chan struct{}
}

// NewScheduler returns a scheduler that probes with p (nil: a zero Prober)
// and calls report, from probe goroutines, once per probe.
func NewScheduler(cfg Config, p *Prober, report func(Result)) (*Scheduler, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if p == nil {
		p = &Prober{}
	}
	if report == nil {
		report = func(Result) {}
	}
	return &Scheduler{
		cfg: cfg, prober: p, report: report, now: time.Now,
		jobs:    map[jobKey]*job{},
		global:  rate.NewLimiter(rate.Limit(cfg.GlobalRate), cfg.GlobalBurst),
		targets: map[netip.Addr]*rate.Limiter{},
		wake:    make(chan struct{}, 1),
	}, nil
}

// Add schedules t's probes to run as soon as the rate limits allow. A
// target outside the allow-list is refused with ErrNotAllowed and nothing
// is ever sent to it. Adding a target again adds only its new triples.
func (s *Scheduler) Add(t Target) error {
	ip := t.IP.Unmap()
	if !s.cfg.Allowed(ip) {
		return fmt.Errorf("%w: %s", ErrNotAllowed, t.IP)
	}
	types := t.Types
	if types == nil {
		types = []ProbeType{JARMProbe, HASSHProbe, TCPFPProbe}
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, typ := range types {
		ports, ok := t.Ports[typ]
		if !ok {
			ports, ok = s.cfg.Ports[typ]
		}
		if !ok {
			ports, ok = DefaultPorts[typ]
		}
		if !ok {
			return fmt.Errorf("prober: unknown probe type %q (want jarm, hassh or tcpfp)", typ)
		}
		for _, port := range ports {
			if port < 1 || port > 65535 {
				return fmt.Errorf("prober: %s port %d out of range 1-65535", typ, port)
			}
			k := jobKey{ip, port, typ}
			if _, dup := s.jobs[k]; dup {
				continue
			}
			if len(s.jobs) >= s.cfg.MaxJobs {
				return fmt.Errorf("prober: %d probes already scheduled (MaxJobs)", s.cfg.MaxJobs)
			}
			j := &job{jobKey: k, next: now}
			s.jobs[k] = j
			heap.Push(&s.queue, j)
		}
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return nil
}

// Len returns the number of (attacker, port, type) triples scheduled.
func (s *Scheduler) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.jobs)
}

func (s *Scheduler) targetLimiter(ip netip.Addr) *rate.Limiter {
	l := s.targets[ip]
	if l == nil {
		l = rate.NewLimiter(rate.Limit(s.cfg.TargetRate), s.cfg.TargetBurst)
		s.targets[ip] = l
	}
	return l
}

// tokenWait is how long until l holds one token at now.
func tokenWait(l *rate.Limiter, now time.Time) time.Duration {
	missing := 1 - l.TokensAt(now)
	if missing <= 0 {
		return 0
	}
	return time.Duration(missing / float64(l.Limit()) * float64(time.Second))
}

// due takes the jobs that may start at now, charging the rate limiters,
// and returns them with the time to look again. A job whose target is out
// of tokens moves to when it will have one. Started jobs leave the queue
// until done puts them back.
func (s *Scheduler) due(now time.Time) ([]jobKey, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []jobKey
	for s.queue.Len() > 0 {
		j := s.queue[0]
		if j.next.After(now) {
			return out, j.next.Sub(now)
		}
		tl := s.targetLimiter(j.ip)
		if w := tokenWait(tl, now); w > 0 {
			j.next = now.Add(w)
			heap.Fix(&s.queue, 0)
			continue
		}
		if w := tokenWait(s.global, now); w > 0 {
			return out, w
		}
		s.global.AllowN(now, 1)
		tl.AllowN(now, 1)
		heap.Pop(&s.queue)
		j.index = -1
		out = append(out, j.jobKey)
	}
	return out, time.Hour
}

// done puts a finished job back, due again Interval after it started.
func (s *Scheduler) done(k jobKey, started time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if j := s.jobs[k]; j != nil && j.index == -1 {
		j.next = started.Add(s.cfg.Interval)
		heap.Push(&s.queue, j)
	}
}

// Run probes until ctx ends, then waits for the probes in flight and
// returns ctx's error.
func (s *Scheduler) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	sem := make(chan struct{}, s.cfg.Concurrency)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		now := s.now()
		keys, wait := s.due(now)
		for _, k := range keys {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return ctx.Err()
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				start := s.now()
				s.report(s.probe(ctx, k, start))
				s.done(k, start)
				select {
				case s.wake <- struct{}{}:
				default:
				}
			}()
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
		case <-s.wake:
			if !timer.Stop() {
				select {
				case <-timer.C:
				default:
				}
			}
		}
	}
}

// probe runs one probe; the allow-list is checked again right before any
// packet leaves.
func (s *Scheduler) probe(ctx context.Context, k jobKey, start time.Time) Result {
	r := Result{AttackerIP: k.ip, Port: k.port, ProbeType: k.typ, At: start}
	if !s.cfg.Allowed(k.ip) {
		r.Err = fmt.Errorf("%w: %s", ErrNotAllowed, k.ip)
		return r
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	addr := netip.AddrPortFrom(k.ip, uint16(k.port)).String()
	d := map[string]any{"attacker_ip": k.ip.String(), "port": k.port}
	switch k.typ {
	case JARMProbe:
		j, err := s.prober.JARMDetail(ctx, addr)
		r.Hash, r.Err = j.Hash, err
		d["jarm_hash"], d["jarm_raw"] = j.Hash, j.Raw
	case HASSHProbe:
		h, err := s.prober.SSHServer(ctx, addr)
		r.Hash, r.Err = h.HASSH, err
		d["hassh_server"], d["ssh_banner"], d["hassh_server_algorithms"] = h.HASSH, h.Banner, h.Algorithms
	case TCPFPProbe:
		t, err := s.prober.TCPDetail(ctx, addr)
		r.Hash, r.Err = t.Hash, err
		d["tcpfp_hash"], d["tcpfp_raw"], d["ttl"], d["mss"] = t.Hash, t.Raw, t.TTL, t.MSS
		d["window"], d["wscale"], d["sack"], d["timestamps"], d["rtt_us"] = t.Window, t.WScale, t.SACK, t.Timestamps, t.RTT.Microseconds()
	}
	if r.Err != nil {
		r.Hash = ""
	}
	r.Details = d
	return r
}

// jobQueue is a min-heap of jobs by next run time.
type jobQueue []*job

func (q jobQueue) Len() int { return len(q) }
func (q jobQueue) Less(i, j int) bool {
	if !q[i].next.Equal(q[j].next) {
		return q[i].next.Before(q[j].next)
	}
	a, b := q[i].jobKey, q[j].jobKey
	if c := a.ip.Compare(b.ip); c != 0 {
		return c < 0
	}
	if a.typ != b.typ {
		return a.typ < b.typ
	}
	return a.port < b.port
}
func (q jobQueue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].index, q[j].index = i, j
}
func (q *jobQueue) Push(x any) {
	j := x.(*job)
	j.index = len(*q)
	*q = append(*q, j)
}
func (q *jobQueue) Pop() any {
	old := *q
	j := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	return j
}
