package prober

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

func mustPrefixes(t *testing.T, s string) []netip.Prefix {
	t.Helper()
	p, err := ParseAllowList(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func portOf(t *testing.T, addr string) int {
	t.Helper()
	_, p, _ := net.SplitHostPort(addr)
	n, _ := strconv.Atoi(p)
	return n
}

func TestParseAllowList(t *testing.T) {
	got, err := ParseAllowList(" 203.0.113.0/24, 198.51.100.7 ,2001:db8::/32,,10.1.2.3/8")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"203.0.113.0/24", "198.51.100.7/32", "2001:db8::/32", "10.0.0.0/8"}
	var s []string
	for _, p := range got {
		s = append(s, p.String())
	}
	if !slices.Equal(s, want) {
		t.Errorf("got %v, want %v", s, want)
	}
	if _, err := ParseAllowList("203.0.113.0/24,example.com"); err == nil {
		t.Error("a host name was accepted")
	}
}

func TestAllowed(t *testing.T) {
	cfg := Config{Allow: mustPrefixes(t, "203.0.113.0/24,2001:db8::/32"), Deny: mustPrefixes(t, "203.0.113.128/25")}
	for _, tc := range []struct {
		ip   string
		want bool
	}{
		{"203.0.113.5", true}, {"::ffff:203.0.113.5", true}, {"203.0.113.200", false},
		{"198.51.100.1", false}, {"2001:db8::1", true}, {"2001:db9::1", false},
	} {
		if got := cfg.Allowed(netip.MustParseAddr(tc.ip)); got != tc.want {
			t.Errorf("Allowed(%s) = %v, want %v", tc.ip, got, tc.want)
		}
	}
	if (Config{}).Allowed(netip.MustParseAddr("127.0.0.1")) {
		t.Error("an empty allow-list allows something")
	}
}

// runFor runs s until d has passed.
func runFor(t *testing.T, s *Scheduler, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if err := s.Run(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Run: %v", err)
	}
}

// With the default (empty) allow-list nothing is probed, and no
// connection ever reaches the server.
func TestSchedulerEmptyAllowListProbesNothing(t *testing.T) {
	srv := startServer(t, func(net.Conn) {})
	var results []Result
	s, err := NewScheduler(Config{}, nil, func(r Result) { results = append(results, r) })
	if err != nil {
		t.Fatal(err)
	}
	port := portOf(t, srv.addr)
	err = s.Add(Target{IP: netip.MustParseAddr("127.0.0.1"), Ports: map[ProbeType][]int{JARMProbe: {port}, HASSHProbe: {port}, TCPFPProbe: {port}}})
	if !errors.Is(err, ErrNotAllowed) {
		t.Errorf("Add: %v, want ErrNotAllowed", err)
	}
	runFor(t, s, 300*time.Millisecond)
	if n := srv.accepted.Load(); n != 0 || len(results) != 0 || s.Len() != 0 {
		t.Errorf("%d connections, %d results, %d jobs; want none", n, len(results), s.Len())
	}
}

// A target outside the allow-list gets no packet while one inside is
// probed, on every probe type.
func TestSchedulerAllowList(t *testing.T) {
	inside := startTLS(t, &tls.Config{})
	outside := startServerOn(t, "127.0.0.2:0", func(net.Conn) {})
	denied := startServerOn(t, "127.0.0.3:0", func(net.Conn) {})
	cfg := Config{Allow: mustPrefixes(t, "127.0.0.1/32,127.0.0.3/32"), Deny: mustPrefixes(t, "127.0.0.3"),
		GlobalRate: 1000, TargetRate: 1000, TargetBurst: 100}
	var mu sync.Mutex
	var results []Result
	s, err := NewScheduler(cfg, &Prober{Timeout: time.Second}, func(r Result) {
		mu.Lock()
		results = append(results, r)
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	all := func(port int) map[ProbeType][]int {
		return map[ProbeType][]int{JARMProbe: {port}, HASSHProbe: {port}, TCPFPProbe: {port}}
	}
	for _, srv := range []*loopbackServer{outside, denied} {
		ap := netip.MustParseAddrPort(srv.addr)
		if err := s.Add(Target{IP: ap.Addr(), Ports: all(int(ap.Port()))}); !errors.Is(err, ErrNotAllowed) {
			t.Errorf("Add(%s): %v, want ErrNotAllowed", srv.addr, err)
		}
	}
	in := netip.MustParseAddrPort(inside.addr)
	if err := s.Add(Target{IP: in.Addr(), Ports: all(int(in.Port()))}); err != nil {
		t.Fatal(err)
	}
	runFor(t, s, 1500*time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if len(results) != 3 {
		t.Fatalf("%d results, want 3: %+v", len(results), results)
	}
	for _, r := range results {
		if r.AttackerIP != in.Addr() {
			t.Errorf("result for %s", r.AttackerIP)
		}
	}
	if n := outside.accepted.Load() + denied.accepted.Load(); n != 0 {
		t.Errorf("%d connections reached targets outside the allow-list", n)
	}
}

// TestSchedulerRateLimits drives the planner with a fake clock.
func TestSchedulerRateLimits(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a, b := netip.MustParseAddr("203.0.113.1"), netip.MustParseAddr("203.0.113.2")
	key := func(ip netip.Addr, port int) jobKey { return jobKey{ip, port, TCPFPProbe} }
	newSched := func(t *testing.T, cfg Config) *Scheduler {
		t.Helper()
		cfg.Allow = mustPrefixes(t, "203.0.113.0/24")
		cfg.Interval = time.Hour
		s, err := NewScheduler(cfg, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		s.now = func() time.Time { return t0 }
		return s
	}
	add := func(t *testing.T, s *Scheduler, ip netip.Addr) {
		t.Helper()
		if err := s.Add(Target{IP: ip, Types: []ProbeType{TCPFPProbe}, Ports: map[ProbeType][]int{TCPFPProbe: {1, 2, 3}}}); err != nil {
			t.Fatal(err)
		}
	}
	type step struct {
		at   time.Duration
		want []jobKey
		wait time.Duration
	}
	check := func(t *testing.T, s *Scheduler, steps []step) {
		t.Helper()
		for _, st := range steps {
			got, wait := s.due(t0.Add(st.at))
			if !slices.Equal(got, st.want) || wait != st.wait {
				t.Errorf("at +%v: got %v (wait %v), want %v (wait %v)", st.at, got, wait, st.want, st.wait)
			}
		}
	}

	t.Run("per-target", func(t *testing.T) {
		s := newSched(t, Config{GlobalRate: 1, GlobalBurst: 2, TargetRate: 0.5, TargetBurst: 1})
		add(t, s, a)
		add(t, s, b)
		check(t, s, []step{
			{0, []jobKey{key(a, 1), key(b, 1)}, 2 * time.Second},
			{time.Second, nil, time.Second},
			{2 * time.Second, []jobKey{key(a, 2), key(b, 2)}, 2 * time.Second},
			{4 * time.Second, []jobKey{key(a, 3), key(b, 3)}, time.Hour},
		})
	})
	t.Run("global", func(t *testing.T) {
		s := newSched(t, Config{GlobalRate: 1, GlobalBurst: 1, TargetRate: 100, TargetBurst: 100})
		add(t, s, a)
		check(t, s, []step{
			{0, []jobKey{key(a, 1)}, time.Second},
			{500 * time.Millisecond, nil, 500 * time.Millisecond},
			{time.Second, []jobKey{key(a, 2)}, time.Second},
			{2 * time.Second, []jobKey{key(a, 3)}, time.Hour},
		})
	})
	t.Run("reprobe-interval", func(t *testing.T) {
		s := newSched(t, Config{GlobalRate: 100, GlobalBurst: 100, TargetRate: 100, TargetBurst: 100})
		add(t, s, a)
		check(t, s, []step{{0, []jobKey{key(a, 1), key(a, 2), key(a, 3)}, time.Hour}})
		for p := 1; p <= 3; p++ {
			s.done(key(a, p), t0)
		}
		// Adding the same target again adds nothing.
		add(t, s, a)
		check(t, s, []step{
			{30 * time.Minute, nil, 30 * time.Minute},
			{time.Hour, []jobKey{key(a, 1), key(a, 2), key(a, 3)}, time.Hour},
		})
		if s.Len() != 3 {
			t.Errorf("%d jobs, want 3", s.Len())
		}
	})
}

// TestSchedulerRun probes loopback servers end to end and reports the
// same hashes as the Prober called directly.
func TestSchedulerRun(t *testing.T) {
	tlsSrv := startTLS(t, &tls.Config{NextProtos: []string{"h2"}})
	sshAddr, _, _ := startHoneypotSSH(t)
	cfg := Config{Allow: mustPrefixes(t, "127.0.0.0/8"), GlobalRate: 1000, TargetRate: 1000, TargetBurst: 100, Interval: time.Hour}
	p := &Prober{Timeout: 2 * time.Second}
	got := make(chan Result, 10)
	s, err := NewScheduler(cfg, p, func(r Result) { got <- r })
	if err != nil {
		t.Fatal(err)
	}
	ip := netip.MustParseAddr("127.0.0.1")
	tp, sp := portOf(t, tlsSrv.addr), portOf(t, sshAddr)
	if err := s.Add(Target{IP: ip, Ports: map[ProbeType][]int{JARMProbe: {tp}, HASSHProbe: {sp}, TCPFPProbe: {tp}}}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	byType := map[ProbeType]Result{}
	for len(byType) < 3 {
		select {
		case r := <-got:
			byType[r.ProbeType] = r
		case <-time.After(10 * time.Second):
			t.Fatalf("results so far: %+v", byType)
		}
	}
	cancel()
	<-done

	jarm, _ := p.JARM(context.Background(), tlsSrv.addr)
	hassh, banner, _ := p.HASSHServer(context.Background(), sshAddr)
	for typ, want := range map[ProbeType]struct {
		hash string
		keys []string
	}{
		JARMProbe:  {jarm, []string{"attacker_ip", "port", "jarm_hash", "jarm_raw"}},
		HASSHProbe: {hassh, []string{"attacker_ip", "port", "hassh_server", "ssh_banner"}},
		TCPFPProbe: {"", []string{"attacker_ip", "port", "tcpfp_hash", "ttl", "mss"}},
	} {
		r := byType[typ]
		if r.Err != nil || r.Hash == "" || (want.hash != "" && r.Hash != want.hash) {
			t.Errorf("%s: hash %q err %v, want %q", typ, r.Hash, r.Err, want.hash)
		}
		for _, k := range want.keys {
			if _, ok := r.Details[k]; !ok {
				t.Errorf("%s: details lack %q: %v", typ, k, r.Details)
			}
		}
		if r.AttackerIP != ip || r.At.IsZero() {
			t.Errorf("%s: result %+v", typ, r)
		}
	}
	if b := byType[HASSHProbe].Details["ssh_banner"]; b != banner {
		t.Errorf("ssh_banner %v, want %q", b, banner)
	}
	if f := byType[JARMProbe].Fingerprint("u-1"); f.AttackerIP != "127.0.0.1" || f.Port != tp || f.Hash != jarm {
		t.Errorf("Fingerprint() = %+v", f)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []Config{
		{Interval: -1},
		{Ports: map[ProbeType][]int{"smtp": {25}}},
		{Ports: map[ProbeType][]int{JARMProbe: {0}}},
	} {
		if _, err := NewScheduler(cfg, nil, nil); err == nil {
			t.Errorf("NewScheduler(%+v) accepted", cfg)
		}
	}
	s, _ := NewScheduler(Config{Allow: mustPrefixes(t, "127.0.0.1")}, nil, nil)
	if err := s.Add(Target{IP: netip.MustParseAddr("127.0.0.1"), Types: []ProbeType{"smtp"}}); err == nil {
		t.Error("unknown probe type accepted")
	}
	if err := s.Add(Target{IP: netip.MustParseAddr("127.0.0.1"), Ports: map[ProbeType][]int{TCPFPProbe: {70000}}}); err == nil {
		t.Error("port 70000 accepted")
	}
}
