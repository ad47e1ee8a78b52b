// Package engine makes deckies real. The local driver runs every service of
// every decky in this process, bound to the decky's own address (127.x.y.z
// on loopback by default, or an address of a real interface).
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"

	"github.com/decnet-go/decnet/internal/decky"
	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/honeypot"
	"github.com/decnet-go/decnet/internal/persona"
)

// Local runs deckies in-process.
type Local struct {
	Registry *honeypot.Registry
	// Secret is the install secret every persona is derived from.
	Secret []byte
	// StateDir holds per-decky state that must survive restarts (host keys).
	StateDir string
	// PortOffset is added to a port that cannot be bound (not root, or taken
	// by a host service); 0 disables the fallback.
	PortOffset int
	Emit       func(event.Event)
	Log        *slog.Logger

	wg sync.WaitGroup
}

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
	var out []Running
	for i, d := range fleet {
		r := Running{Decky: d, Persona: personas[i]}
		for _, name := range d.Services {
			svc, _ := l.Registry.New(name)
			for _, p := range svc.Ports() {
				if p.Proto != "tcp" {
					continue // UDP services arrive with their emulators
				}
				b := l.serve(ctx, d, r.Persona, svc, p)
				r.Bindings = append(r.Bindings, b)
			}
		}
		out = append(out, r)
	}
	return out, nil
}

// Wait blocks until every service has stopped (after ctx passed to Start ends).
func (l *Local) Wait() { l.wg.Wait() }

func (l *Local) serve(ctx context.Context, d decky.Decky, p *persona.Persona, svc honeypot.Service, port honeypot.Port) Binding {
	b := Binding{Service: svc.Name(), Proto: port.Proto, RequestedPort: port.Number}
	ln, err := listen(d.IP, port.Number)
	if err != nil && l.PortOffset > 0 && fallbackWorthy(err) {
		alt := port.Number + l.PortOffset
		b.Fallback = fmt.Sprintf("%s:%d %s; listening on port %d instead", d.IP, port.Number, reason(err), alt)
		ln, err = listen(d.IP, alt)
	}
	if err != nil {
		b.Err = err
		l.Log.Error("service not listening", "decky", d.Name, "service", svc.Name(), "err", err)
		return b
	}
	b.Port = ln.Addr().(*net.TCPAddr).Port
	b.Addr = ln.Addr().String()
	env := honeypot.Env{
		Decky:    d.Identity(),
		Persona:  p,
		Config:   d.Config[svc.Name()],
		StateDir: filepath.Join(l.StateDir, d.Name, svc.Name()),
		Emit:     l.Emit,
		Log:      l.Log.With("decky", d.Name, "service", svc.Name()),
	}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		if err := svc.Serve(ctx, ln, env); err != nil && ctx.Err() == nil {
			env.Log.Error("service stopped", "err", err)
		}
	}()
	return b
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
