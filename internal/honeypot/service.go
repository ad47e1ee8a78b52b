// Package honeypot is the framework every emulated protocol plugs into: the
// Service interface, the registry of services, the connection wrapper that
// keeps a hostile connection from hurting its decky (deadlines, size limits,
// panic recovery, a cap on sessions per source), and helpers to build events.
//
// A protocol package (internal/honeypot/<svc>) never imports the store, the
// bus or the API: it turns attacker bytes into events and answers like the
// server it imitates.
package honeypot

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sort"

	"github.com/decnet-go/decnet/internal/decky"
	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/persona"
)

// Service is one emulated protocol on one decky.
type Service interface {
	Name() string   // registry slug: "ssh", "http", …
	Ports() []Port  // what it listens on by default
	Schema() Schema // the persona keys an operator may set
	// Serve answers connections on l until ctx ends. It returns nil on a
	// clean shutdown.
	Serve(ctx context.Context, l net.Listener, env Env) error
}

// PacketService is a Service that answers datagrams (tftp, snmp, sip, …).
// The engine calls ServePacket for each of its "udp" ports and Serve for
// its "tcp" ports, if it has any.
type PacketService interface {
	Service
	// ServePacket answers datagrams on pc until ctx ends; nil on a clean
	// shutdown.
	ServePacket(ctx context.Context, pc net.PacketConn, env Env) error
}

// Port is a port a service listens on by default.
type Port struct {
	Number int
	Proto  string // "tcp" or "udp"
}

// Env is everything a service may use: its decky, persona, operator
// configuration, a directory for state that must survive restarts (host
// keys), the files an operator dropped, a way to emit events and a logger.
type Env struct {
	Decky    decky.Identity
	Persona  *persona.Persona
	Config   map[string]string
	StateDir string
	// Drops are the files an operator dropped into the decky; nil for none.
	Drops *Drops
	Emit  func(event.Event)
	Log   *slog.Logger
}

// Registry maps service slugs to constructors.
type Registry struct {
	byName map[string]func() Service
}

// NewRegistry returns a registry holding the given constructors.
func NewRegistry(ctors ...func() Service) *Registry {
	r := &Registry{byName: map[string]func() Service{}}
	for _, c := range ctors {
		name := c().Name()
		if _, dup := r.byName[name]; dup {
			panic("honeypot: duplicate service " + name)
		}
		r.byName[name] = c
	}
	return r
}

// New returns a fresh instance of the named service.
func (r *Registry) New(name string) (Service, error) {
	c, ok := r.byName[name]
	if !ok {
		return nil, fmt.Errorf("unknown service %q (known: %v)", name, r.Names())
	}
	return c(), nil
}

// Names lists the registered slugs, sorted.
func (r *Registry) Names() []string {
	out := make([]string, 0, len(r.byName))
	for n := range r.byName {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// CheckConfig validates an operator's configuration of the named service
// against its schema. With Names it makes the registry the service catalog
// fleet files are checked against (decky.ServiceCatalog).
func (r *Registry) CheckConfig(service string, cfg map[string]string) error {
	s, err := r.New(service)
	if err != nil {
		return err
	}
	return s.Schema().Validate(cfg)
}
