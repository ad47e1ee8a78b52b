// Package runtime is what runs inside a decky container (`decnet decky run`):
// the services of one decky, in-process, listening on every address of the
// container's network namespace, with every event written to stdout as an
// RFC 5424 line and, when a bus URL is given, published to the control
// process's NATS.
//
// The docker driver (internal/engine/docker) starts it; it needs nothing
// from the host but the decky's spec, the install secret (so the persona is
// the one the control plane derives) and a state directory for host keys.
package runtime

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/decnet-go/decnet/internal/bus"
	"github.com/decnet-go/decnet/internal/decky"
	"github.com/decnet-go/decnet/internal/engine"
	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/honeypot"
	"github.com/decnet-go/decnet/internal/honeypot/builtin"
)

// Environment variables the docker driver passes to a decky container.
const (
	EnvSpec   = "DECNET_DECKY_SPEC"     // base64 of the decky's JSON
	EnvSecret = "DECNET_INSTALL_SECRET" // hex install secret
)

// EncodeSpec returns the value of DECNET_DECKY_SPEC for d.
func EncodeSpec(d decky.Decky) (string, error) {
	b, err := json.Marshal(d)
	if err != nil {
		return "", fmt.Errorf("encode decky %s: %w", d.Name, err)
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

// DecodeSpec parses a DECNET_DECKY_SPEC value and validates the decky.
func DecodeSpec(s string) (decky.Decky, error) {
	var d decky.Decky
	if strings.TrimSpace(s) == "" {
		return d, fmt.Errorf("%s is not set: the decky container needs its spec", EnvSpec)
	}
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return d, fmt.Errorf("%s: not base64: %w", EnvSpec, err)
	}
	if err := json.Unmarshal(b, &d); err != nil {
		return d, fmt.Errorf("%s: not a decky JSON: %w", EnvSpec, err)
	}
	if err := d.Validate(); err != nil {
		return d, fmt.Errorf("%s: %w", EnvSpec, err)
	}
	return d, nil
}

// DecodeSecret parses a DECNET_INSTALL_SECRET value.
func DecodeSecret(s string) ([]byte, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("%s is not set: without it the persona would differ from the control plane's", EnvSecret)
	}
	b, err := hex.DecodeString(strings.TrimSpace(s))
	if err != nil || len(b) < 16 {
		return nil, fmt.Errorf("%s: want at least 16 bytes in hex", EnvSecret)
	}
	return b, nil
}

// Options configure one decky runtime.
type Options struct {
	Decky  decky.Decky
	Secret []byte
	// Services are the decky's services this process runs; empty runs all.
	Services []string
	// NATSURL, if set, is the bus every event is also published to.
	NATSURL string
	// StateDir is the root of per-service state: <StateDir>/<decky>/<svc>,
	// the same layout as the local driver's <data>/deckies.
	StateDir string
	// Drops, if set, is the directory of files dropped into the decky
	// (mirroring absolute paths; the docker driver mounts it read-only at
	// /drops): services that show a filesystem read it as Env.Drops.
	Drops string
	// Stdout receives one RFC 5424 line per event.
	Stdout   io.Writer
	Registry *honeypot.Registry // default builtin.Registry()
	Log      *slog.Logger
}

// Runtime is a started decky runtime.
type Runtime struct {
	// Bindings say where each service listens.
	Bindings []engine.Binding

	local   *engine.Local
	cancel  context.CancelFunc
	bus     *bus.Bus
	emitter *bus.Emitter
	log     *slog.Logger
	failed  chan error
}

// Failed delivers the error of a service that stopped on its own. The
// process should then exit non-zero, so docker restarts the container and
// status shows it.
func (r *Runtime) Failed() <-chan error { return r.failed }

// Start binds the selected services on 0.0.0.0 at their real ports and
// serves them until Stop. A service that cannot bind its port is an error:
// inside a container there is nothing else to fall back to.
func Start(ctx context.Context, o Options) (*Runtime, error) {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Registry == nil {
		o.Registry = builtin.Registry()
	}
	if o.Stdout == nil {
		o.Stdout = os.Stdout
	}
	d := o.Decky
	if err := d.Validate(); err != nil {
		return nil, err
	}
	if len(o.Services) > 0 {
		for _, s := range o.Services {
			if !slices.Contains(d.Services, s) {
				return nil, fmt.Errorf("--service %s: decky %s does not run it (its services: %s)", s, d.Name, strings.Join(d.Services, ","))
			}
		}
		d.Services = slices.Clone(o.Services)
	}
	if o.StateDir == "" {
		return nil, errors.New("state directory is not set (--state-dir)")
	}
	r := &Runtime{log: o.Log, failed: make(chan error, len(d.Services))}
	var drops *honeypot.Drops
	if o.Drops != "" {
		drops = &honeypot.Drops{Root: o.Drops}
	}
	reg := watch(o.Registry, d.Services, r.failed, drops)
	out := &lineWriter{w: o.Stdout}
	emit := out.emit
	if o.NATSURL != "" {
		b, err := bus.Open(ctx, bus.Options{URL: o.NATSURL, Log: o.Log})
		if err != nil {
			return nil, fmt.Errorf("--nats-url: %w", err)
		}
		r.bus = b
		r.emitter = b.NewEmitter(4096)
		emit = func(e event.Event) { out.emit(e); r.emitter.Emit(e) }
	}
	// Listen on every address of the netns: the container owns one IP (or
	// shares the base container's), and 0.0.0.0 also serves it should the
	// address change. Services read the decky's address from each
	// connection, so Env.Decky.IP being 0.0.0.0 costs nothing.
	bind := d
	bind.IP = netip.IPv4Unspecified()
	r.local = &engine.Local{Registry: reg, Secret: o.Secret, StateDir: o.StateDir, Emit: emit, Log: o.Log}
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r.cancel = cancel
	running, err := r.local.Start(sctx, []decky.Decky{bind})
	if err != nil {
		r.Stop(context.Background())
		return nil, err
	}
	r.Bindings = running[0].Bindings
	for _, b := range r.Bindings {
		if b.Err != nil {
			r.Stop(context.Background())
			return nil, fmt.Errorf("decky %s service %s: %w", d.Name, b.Service, b.Err)
		}
		o.Log.Info("listening", "decky", d.Name, "service", b.Service, "addr", b.Addr)
	}
	return r, nil
}

// Stop ends the services, then flushes queued events to the bus (until ctx
// ends) and disconnects.
func (r *Runtime) Stop(ctx context.Context) {
	if r.cancel != nil {
		r.cancel()
		r.local.Wait()
	}
	if r.emitter != nil {
		r.emitter.Close(ctx)
	}
	if r.bus != nil {
		r.bus.Close()
	}
}

// Run starts the runtime and serves until ctx ends, then stops cleanly
// within 10 seconds.
func Run(ctx context.Context, o Options) error {
	r, err := Start(ctx, o)
	if err != nil {
		return err
	}
	var failed error
	select {
	case <-ctx.Done():
	case failed = <-r.Failed():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r.Stop(sctx)
	return failed
}

// Idle waits until ctx ends. The base container of a decky runs it: it only
// holds the network namespace (the IP and the OS family's sysctls) that the
// service containers join.
func Idle(ctx context.Context) error {
	<-ctx.Done()
	return nil
}

// lineWriter writes events as RFC 5424 lines, one write per line so lines
// from concurrent connections never interleave.
type lineWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lineWriter) emit(e event.Event) {
	line := event.EncodeRFC5424(&e) + "\n"
	l.mu.Lock()
	defer l.mu.Unlock()
	io.WriteString(l.w, line)
}

// watch returns a registry of the named services whose instances report to
// failed when Serve ends with an error before they were asked to stop, and
// see drops (when not nil) as Env.Drops instead of Local's default
// (<state-dir>/<decky>/drops).
func watch(reg *honeypot.Registry, names []string, failed chan<- error, drops *honeypot.Drops) *honeypot.Registry {
	var ctors []func() honeypot.Service
	seen := map[string]bool{}
	for _, n := range names {
		if _, err := reg.New(n); err != nil || seen[n] {
			continue // Local reports the unknown service
		}
		seen[n] = true
		ctors = append(ctors, func() honeypot.Service {
			s, _ := reg.New(n)
			w := watched{Service: s, failed: failed, drops: drops}
			if _, ok := s.(honeypot.PacketService); ok {
				return watchedPacket{w} // keeps answering datagrams
			}
			return w
		})
	}
	return honeypot.NewRegistry(ctors...)
}

type watched struct {
	honeypot.Service
	failed chan<- error
	drops  *honeypot.Drops
}

func (w watched) Serve(ctx context.Context, l net.Listener, env honeypot.Env) error {
	return w.watch(ctx, env, func(env honeypot.Env) error { return w.Service.Serve(ctx, l, env) })
}

// watch runs serve with the runtime's drops and reports an unexpected end.
func (w watched) watch(ctx context.Context, env honeypot.Env, serve func(honeypot.Env) error) error {
	if w.drops != nil {
		env.Drops = w.drops // --drops wins over the state-dir default
	}
	err := serve(env)
	if err != nil && ctx.Err() == nil {
		select {
		case w.failed <- fmt.Errorf("service %s stopped: %w", w.Name(), err):
		default:
		}
	}
	return err
}

// watchedPacket is watched for a service that also answers datagrams.
type watchedPacket struct{ watched }

func (w watchedPacket) ServePacket(ctx context.Context, pc net.PacketConn, env honeypot.Env) error {
	ps := w.Service.(honeypot.PacketService)
	return w.watch(ctx, env, func(env honeypot.Env) error { return ps.ServePacket(ctx, pc, env) })
}
