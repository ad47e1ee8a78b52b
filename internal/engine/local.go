// Package engine makes deckies real. The local driver runs every service of
// every decky in this process, bound to the decky's own address (127.x.y.z
// on loopback by default, or an address of a real interface).
package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/decnet-go/decnet/internal/decky"
	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/honeypot"
	"github.com/decnet-go/decnet/internal/persona"
)

// Local runs deckies in-process. It is also the engine.Operator of
// `decnet up`: services can be added, removed and reconfigured on a running
// decky, and files dropped into it; each change touches only its own
// service. Safe for concurrent use once Start has returned.
type Local struct {
	Registry *honeypot.Registry
	// Secret is the install secret every persona is derived from.
	Secret []byte
	// StateDir holds per-decky state that must survive restarts (host keys,
	// dropped files under <StateDir>/<decky>/drops).
	StateDir string
	// PortOffset is added to a port that cannot be bound (not root, or taken
	// by a host service); 0 disables the fallback.
	PortOffset int
	Emit       func(event.Event)
	Log        *slog.Logger

	wg      sync.WaitGroup
	mu      sync.Mutex
	ctx     context.Context // from Start: services added later live under it
	deckies map[string]*liveDecky
	order   []string // decky names in the order Start got them
}

// liveDecky is a decky as it runs now. decky.Services and decky.Config are
// what the operator wants (a configuration saved without apply is there
// before the service runs with it).
type liveDecky struct {
	decky   decky.Decky
	persona *persona.Persona
	drops   *honeypot.Drops
	running map[string]*liveService
}

// liveService is one running service of a decky: what stops it.
type liveService struct {
	bindings  []Binding
	listeners []io.Closer // net.Listener or net.PacketConn
	cancel    context.CancelFunc
	wg        sync.WaitGroup
}

// stopWait bounds how long stopping a service waits for its open
// connections to end; its ports are closed at once regardless.
const stopWait = 5 * time.Second

var _ Operator = (*Local)(nil)

// Running is a started decky: its persona and where each service listens.
type Running struct {
	Decky    decky.Decky
	Persona  *persona.Persona
	Bindings []Binding
}

// Binding is where one service of a decky listens.
type Binding struct {
	Service       string
	Proto         string
	RequestedPort int
	Port          int    // 0 when the service could not be bound
	Addr          string // host:port to connect to
	Err           error  // why it is not listening, if it is not
	// Fallback explains why Port differs from RequestedPort.
	Fallback string
}

// Start binds and serves every service of every decky until ctx ends. It
// fails only on configuration errors (an unknown service); a port that
// cannot be bound at all is reported in the binding and logged.
func (l *Local) Start(ctx context.Context, fleet []decky.Decky) ([]Running, error) {
	if l.Log == nil {
		l.Log = slog.Default()
	}
	// Check the whole fleet before binding anything.
	for _, d := range fleet {
		if err := d.Validate(); err != nil {
			return nil, err
		}
		for _, name := range d.Services {
			svc, err := l.Registry.New(name)
			if err != nil {
				return nil, fmt.Errorf("decky %s: %w", d.Name, err)
			}
			if err := svc.Schema().Validate(d.Config[name]); err != nil {
				return nil, fmt.Errorf("decky %s service %s: %w", d.Name, name, err)
			}
		}
	}
	personas := make([]*persona.Persona, len(fleet))
	for i, d := range fleet {
		p, err := persona.NewWithDistro(l.Secret, d.Name, d.Distro)
		if err != nil {
			return nil, fmt.Errorf("decky %s: %w", d.Name, err)
		}
		personas[i] = p
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ctx = ctx
	if l.deckies == nil {
		l.deckies = map[string]*liveDecky{}
	}
	var out []Running
	for i, d := range fleet {
		d.Services = slices.Clone(d.Services)
		d.Config = cloneConfig(d.Config)
		ld := &liveDecky{decky: d, persona: personas[i], running: map[string]*liveService{},
			drops: &honeypot.Drops{Root: filepath.Join(l.StateDir, d.Name, "drops")}}
		if _, dup := l.deckies[d.Name]; !dup {
			l.order = append(l.order, d.Name)
		}
		l.deckies[d.Name] = ld
		for _, name := range d.Services {
			l.startService(ld, name)
		}
		out = append(out, ld.snapshot())
	}
	return out, nil
}

// Wait blocks until every service has stopped (after ctx passed to Start ends).
func (l *Local) Wait() { l.wg.Wait() }

// Running returns every decky as it runs now, in the order Start got them.
func (l *Local) Running() []Running {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]Running, 0, len(l.order))
	for _, name := range l.order {
		out = append(out, l.deckies[name].snapshot())
	}
	return out
}

// Decky returns one decky as it runs now.
func (l *Local) Decky(name string) (Running, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ld, ok := l.deckies[name]
	if !ok {
		return Running{}, false
	}
	return ld.snapshot(), true
}

// Services lists the services of a decky, in order; ErrUnknownDecky when
// there is no such decky.
func (l *Local) Services(_ context.Context, deckyName string) ([]string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ld, err := l.lookup(deckyName)
	if err != nil {
		return nil, err
	}
	return slices.Clone(ld.decky.Services), nil
}

// ServiceConfig is the configuration saved for svc on the decky (what it
// runs with, or will after the next apply).
func (l *Local) ServiceConfig(_ context.Context, deckyName, svc string) (map[string]string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ld, err := l.lookup(deckyName)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(ld.decky.Services, svc) {
		return nil, fmt.Errorf("%w: %s does not run %s", ErrServiceAbsent, deckyName, svc)
	}
	return maps.Clone(ld.decky.Config[svc]), nil
}

// AddService starts svc on a running decky, bound as Start would bind it.
func (l *Local) AddService(_ context.Context, deckyName, svc string, cfg map[string]string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	ld, err := l.lookup(deckyName)
	if err != nil {
		return err
	}
	if err := l.check(svc, cfg); err != nil {
		return err
	}
	if slices.Contains(ld.decky.Services, svc) {
		return fmt.Errorf("%w: %s already runs %s", ErrServiceExists, deckyName, svc)
	}
	ld.decky.Services = append(ld.decky.Services, svc)
	ld.setConfig(svc, cfg)
	l.startService(ld, svc)
	return nil
}

// RemoveService stops svc on the decky and closes its ports before it
// returns. The last service of a decky cannot be removed.
func (l *Local) RemoveService(_ context.Context, deckyName, svc string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	ld, err := l.lookup(deckyName)
	if err != nil {
		return err
	}
	if !slices.Contains(ld.decky.Services, svc) {
		return fmt.Errorf("%w: %s does not run %s", ErrServiceAbsent, deckyName, svc)
	}
	if len(ld.decky.Services) == 1 {
		return fmt.Errorf("%w: %s is the last service of %s (a decky needs one; add another first)", ErrDriver, svc, deckyName)
	}
	l.stopService(ld, svc)
	ld.decky.Services = slices.DeleteFunc(ld.decky.Services, func(s string) bool { return s == svc })
	delete(ld.decky.Config, svc)
	return nil
}

// ConfigureService replaces the configuration of svc on the decky. With
// apply the service restarts on the same ports with it.
func (l *Local) ConfigureService(_ context.Context, deckyName, svc string, cfg map[string]string, apply bool) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ld, err := l.lookup(deckyName)
	if err != nil {
		return false, err
	}
	if err := l.check(svc, cfg); err != nil {
		return false, err
	}
	if !slices.Contains(ld.decky.Services, svc) {
		return false, fmt.Errorf("%w: %s does not run %s", ErrServiceAbsent, deckyName, svc)
	}
	ld.setConfig(svc, cfg)
	if !apply {
		return false, nil
	}
	l.stopService(ld, svc)
	l.startService(ld, svc)
	return true, nil
}

// WriteFile drops a file into the decky (see honeypot.Drops).
func (l *Local) WriteFile(_ context.Context, deckyName, path string, content []byte, mode fs.FileMode, mtime time.Time) error {
	drops, err := l.drops(deckyName)
	if err != nil {
		return err
	}
	return WriteDrop(drops, deckyName, path, content, mode, mtime)
}

// RemoveFile deletes a dropped file; like rm -f, a file that is not there
// is no error.
func (l *Local) RemoveFile(_ context.Context, deckyName, path string) error {
	drops, err := l.drops(deckyName)
	if err != nil {
		return err
	}
	return RemoveDrop(drops, deckyName, path)
}

func (l *Local) drops(deckyName string) (*honeypot.Drops, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ld, err := l.lookup(deckyName)
	if err != nil {
		return nil, err
	}
	return ld.drops, nil
}

// lookup finds a running decky; l.mu is held.
func (l *Local) lookup(name string) (*liveDecky, error) {
	ld, ok := l.deckies[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownDecky, name)
	}
	return ld, nil
}

// check validates a service name and its configuration.
func (l *Local) check(svc string, cfg map[string]string) error {
	s, err := l.Registry.New(svc)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUnknownService, err)
	}
	if err := s.Schema().Validate(cfg); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrBadConfig, svc, err)
	}
	return nil
}

func (ld *liveDecky) setConfig(svc string, cfg map[string]string) {
	if len(cfg) == 0 {
		delete(ld.decky.Config, svc)
		return
	}
	if ld.decky.Config == nil {
		ld.decky.Config = map[string]map[string]string{}
	}
	ld.decky.Config[svc] = maps.Clone(cfg)
}

// snapshot copies the decky for callers; l.mu is held.
func (ld *liveDecky) snapshot() Running {
	d := ld.decky
	d.Services = slices.Clone(d.Services)
	d.Config = cloneConfig(d.Config)
	r := Running{Decky: d, Persona: ld.persona}
	for _, name := range d.Services {
		if ls, ok := ld.running[name]; ok {
			r.Bindings = append(r.Bindings, ls.bindings...)
		}
	}
	return r
}

func cloneConfig(c map[string]map[string]string) map[string]map[string]string {
	if c == nil {
		return nil
	}
	out := make(map[string]map[string]string, len(c))
	for k, v := range c {
		out[k] = maps.Clone(v)
	}
	return out
}

// startService binds and serves one service of a decky; l.mu is held and
// the service is known to the registry.
func (l *Local) startService(ld *liveDecky, name string) {
	svc, err := l.Registry.New(name)
	if err != nil {
		return
	}
	ctx, cancel := context.WithCancel(l.ctx)
	ls := &liveService{cancel: cancel}
	for _, p := range svc.Ports() {
		b, ln := l.serve(ctx, ld, svc, p, &ls.wg)
		ls.bindings = append(ls.bindings, b)
		if ln != nil {
			ls.listeners = append(ls.listeners, ln)
		}
	}
	ld.running[name] = ls
}

// stopService ends one service of a decky: its ports close at once, and it
// waits (bounded) for the service to finish; l.mu is held.
func (l *Local) stopService(ld *liveDecky, name string) {
	ls, ok := ld.running[name]
	if !ok {
		return
	}
	delete(ld.running, name)
	ls.cancel()
	for _, ln := range ls.listeners {
		ln.Close()
	}
	done := make(chan struct{})
	go func() { ls.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(stopWait):
		l.Log.Warn("service still finishing connections after stop", "decky", ld.decky.Name, "service", name)
	}
}

func (l *Local) serve(ctx context.Context, ld *liveDecky, svc honeypot.Service, port honeypot.Port, wg *sync.WaitGroup) (Binding, io.Closer) {
	d := ld.decky
	b := Binding{Service: svc.Name(), Proto: port.Proto, RequestedPort: port.Number}
	ps, datagrams := svc.(honeypot.PacketService)
	if port.Proto == "udp" && !datagrams {
		b.Err = fmt.Errorf("service %s declares udp port %d but does not answer datagrams", svc.Name(), port.Number)
		l.Log.Error("service not listening", "decky", d.Name, "service", svc.Name(), "err", b.Err)
		return b, nil
	}
	bind := func(p int) (io.Closer, net.Addr, error) {
		if port.Proto == "udp" {
			pc, err := listenPacket(d.IP, p)
			if err != nil {
				return nil, nil, err
			}
			return pc, pc.LocalAddr(), nil
		}
		ln, err := listen(d.IP, p)
		if err != nil {
			return nil, nil, err
		}
		return ln, ln.Addr(), nil
	}
	c, addr, err := bind(port.Number)
	if err != nil && l.PortOffset > 0 && fallbackWorthy(err) {
		alt := port.Number + l.PortOffset
		b.Fallback = fmt.Sprintf("%s:%d/%s %s; listening on port %d instead", d.IP, port.Number, port.Proto, reason(err), alt)
		c, addr, err = bind(alt)
	}
	if err != nil {
		b.Err = err
		l.Log.Error("service not listening", "decky", d.Name, "service", svc.Name(), "err", err)
		return b, nil
	}
	ap := netip.MustParseAddrPort(addr.String())
	b.Port = int(ap.Port())
	b.Addr = addr.String()
	env := honeypot.Env{
		Decky:    d.Identity(),
		Persona:  ld.persona,
		Config:   maps.Clone(d.Config[svc.Name()]),
		StateDir: filepath.Join(l.StateDir, d.Name, svc.Name()),
		Drops:    ld.drops,
		Emit:     l.Emit,
		Log:      l.Log.With("decky", d.Name, "service", svc.Name()),
	}
	l.wg.Add(1)
	wg.Add(1)
	go func() {
		defer l.wg.Done()
		defer wg.Done()
		var err error
		if pc, ok := c.(net.PacketConn); ok {
			err = ps.ServePacket(ctx, pc, env)
		} else {
			err = svc.Serve(ctx, c.(net.Listener), env)
		}
		if err != nil && ctx.Err() == nil {
			env.Log.Error("service stopped", "err", err)
		}
	}()
	return b, c
}

func listenPacket(ip netip.Addr, port int) (net.PacketConn, error) {
	var lc net.ListenConfig
	return lc.ListenPacket(context.Background(), "udp", net.JoinHostPort(ip.String(), strconv.Itoa(port)))
}

func listen(ip netip.Addr, port int) (net.Listener, error) {
	var lc net.ListenConfig
	return lc.Listen(context.Background(), "tcp", net.JoinHostPort(ip.String(), strconv.Itoa(port)))
}

// fallbackWorthy: the port is privileged or taken. Any other failure (the
// address does not exist on this host) would fail on the other port too.
func fallbackWorthy(err error) bool {
	return errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EADDRINUSE) || errors.Is(err, os.ErrPermission)
}

func reason(err error) string {
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		return "is taken by another program"
	default:
		return "needs root or CAP_NET_BIND_SERVICE"
	}
}

// AddDecky starts a new decky with every service, bound as Start binds
// them. It validates like Start (ErrUnknownService, ErrBadConfig); a name
// or address already in use is ErrDeckyExists. Start must have run.
func (l *Local) AddDecky(_ context.Context, d decky.Decky) error {
	if err := d.Validate(); err != nil {
		return fmt.Errorf("%w: %v", ErrBadConfig, err)
	}
	for _, name := range d.Services {
		if err := l.check(name, d.Config[name]); err != nil {
			return fmt.Errorf("decky %s: %w", d.Name, err)
		}
	}
	p, err := persona.NewWithDistro(l.Secret, d.Name, d.Distro)
	if err != nil {
		return fmt.Errorf("%w: decky %s: %v", ErrBadConfig, d.Name, err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ctx == nil {
		return fmt.Errorf("%w: the engine is not started", ErrDriver)
	}
	if _, dup := l.deckies[d.Name]; dup {
		return fmt.Errorf("%w: %s already runs", ErrDeckyExists, d.Name)
	}
	for _, other := range l.deckies {
		if other.decky.IP == d.IP {
			return fmt.Errorf("%w: %s already runs on %s", ErrDeckyExists, other.decky.Name, d.IP)
		}
	}
	d.Services = slices.Clone(d.Services)
	d.Config = cloneConfig(d.Config)
	ld := &liveDecky{decky: d, persona: p, running: map[string]*liveService{},
		drops: &honeypot.Drops{Root: filepath.Join(l.StateDir, d.Name, "drops")}}
	l.deckies[d.Name] = ld
	l.order = append(l.order, d.Name)
	for _, name := range d.Services {
		l.startService(ld, name)
	}
	return nil
}

// RemoveDecky stops every service of the decky, closing its ports before
// it returns, and forgets it; ErrUnknownDecky when there is none. Its state
// directory (host keys, dropped files) stays for a later redeploy.
func (l *Local) RemoveDecky(_ context.Context, name string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	ld, err := l.lookup(name)
	if err != nil {
		return err
	}
	for _, svc := range ld.decky.Services {
		l.stopService(ld, svc)
	}
	delete(l.deckies, name)
	l.order = slices.DeleteFunc(l.order, func(n string) bool { return n == name })
	return nil
}
