package node

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/decnet-go/decnet/internal/api"
	"github.com/decnet-go/decnet/internal/decky"
	"github.com/decnet-go/decnet/internal/engine"
	"github.com/decnet-go/decnet/internal/engine/docker"
	"github.com/decnet-go/decnet/internal/honeypot"
	"github.com/decnet-go/decnet/internal/honeypot/builtin"
	"github.com/decnet-go/decnet/internal/persona"
	"github.com/decnet-go/decnet/internal/store"
)

// DockerConfig configures `decnet up --driver docker`: the deckies run as
// containers of the docker driver, the control plane (this process) keeps
// them as desired and takes their events on its bus.
type DockerConfig struct {
	NetworkName string       // docker network of the fleet; default decnet_lan
	Network     string       // bridge (default), macvlan or ipvlan
	Subnet      netip.Prefix // zero: the network's current subnet, or a free 172.30.x.0/24 (bridge)
	Gateway     netip.Addr
	Parent      string // host NIC of macvlan/ipvlan
	Binary      string // static decnet binary for the decky image; default this executable
	// ReconcileEvery is the period of the reconciler; default 30 s.
	ReconcileEvery time.Duration
}

// DefaultNATSPort is where the control plane's bus listens for deckies on
// the fleet network's gateway address unless --nats-listen says otherwise.
const DefaultNATSPort = 4222

// dockerPlane is the docker side of a node.
type dockerPlane struct {
	fleet *docker.Fleet
	n     *Node
	every time.Duration

	reg *honeypot.Registry

	mu     sync.Mutex
	states map[string]string // lifecycle state by decky while an operation runs
}

// States of a docker decky in the store besides docker's running, degraded,
// failed and torn_down: what the control plane is doing to it.
const (
	StatePending     = "pending"      // desired, not yet deployed by this start
	StateDeploying   = "deploying"    // its containers are being made
	StateTearingDown = "tearing_down" // being removed
)

// natsToken is the secret deckies present to the control plane's bus,
// derived from the install secret so it survives restarts (container specs
// do not change) and is never stored on its own.
func natsToken(installSecret []byte) string {
	m := hmac.New(sha256.New, installSecret)
	m.Write([]byte("decnet nats token v1"))
	return hex.EncodeToString(m.Sum(nil))[:40]
}

// openDocker connects to docker and makes the fleet network, so the bus
// can listen on its gateway. It returns the bus listen address and token.
func openDocker(ctx context.Context, cfg Config, installSecret []byte) (*dockerPlane, string, string, error) {
	drv, err := docker.New()
	if err != nil {
		return nil, "", "", err
	}
	drv.NetworkName = cmp.Or(cfg.Docker.NetworkName, docker.DefaultNetworkName)
	drv.Binary = cfg.Docker.Binary
	if err := drv.Ping(ctx); err != nil {
		drv.Close()
		return nil, "", "", err
	}
	f := &docker.Fleet{Driver: drv, Opts: docker.DeployOptions{
		Network: cfg.Docker.Network, Subnet: cfg.Docker.Subnet, Gateway: cfg.Docker.Gateway, Parent: cfg.Docker.Parent,
		DataDir: cfg.DataDir, InstallSecret: installSecret,
		Progress: func(s string) { cfg.Log.Info("docker: " + s) },
	}}
	if err := f.Prepare(ctx); err != nil {
		drv.Close()
		return nil, "", "", err
	}
	listen := cfg.NATSListen
	if listen == "" && cfg.NATSURL == "" {
		// Bridge: the host is the network's gateway. Macvlan/ipvlan: the
		// host's own LAN address, which the deckies reach through the
		// hairpin interface deploy puts on the parent.
		host := f.Gateway()
		if f.Opts.Network == "macvlan" || f.Opts.Network == "ipvlan" {
			if host, err = docker.HostAddr(f.Opts.Parent, f.Opts.Subnet); err != nil {
				drv.Close()
				return nil, "", "", err
			}
		}
		listen = net.JoinHostPort(host.String(), strconv.Itoa(DefaultNATSPort))
	}
	p := &dockerPlane{fleet: f, reg: builtin.Registry(), every: cmp.Or(cfg.Docker.ReconcileEvery, 30*time.Second), states: map[string]string{}}
	return p, listen, natsToken(installSecret), nil
}

// start deploys the fleet (or restores the desired one) and starts the
// reconciler. natsURL is where the deckies publish.
func (p *dockerPlane) start(ctx context.Context, fleet []decky.Decky, natsURL string) error {
	p.fleet.Opts.NATSURL = natsURL
	if fleet != nil {
		p.place(fleet)
	} else if want, err := p.fleet.Start(ctx, nil); err != nil {
		return err
	} else if want == nil {
		fleet = decky.DefaultFleet()
		p.place(fleet)
	}
	if fleet != nil {
		for _, d := range fleet {
			p.setState(d.Name, StatePending)
		}
		if _, err := p.fleet.Start(ctx, fleet); err != nil {
			return err
		}
		for _, d := range fleet {
			p.setState(d.Name, "")
		}
	}
	if err := p.sync(ctx); err != nil {
		return err
	}
	since := p.cursor()
	p.n.wg.Go(func() { p.backfill(ctx, since) })
	p.n.wg.Go(func() { p.loop(ctx) })
	return nil
}

// cursorFile, in the data directory, is when the control plane last knew
// its deckies' events were reaching it: the start of the next backfill.
const cursorFile = "docker-logs.cursor"

// cursorMargin is read again before the cursor, for clocks and for events
// in flight when it was written.
const cursorMargin = time.Minute

// cursor is where the next backfill starts; zero (everything) when no
// control plane ran here before.
func (p *dockerPlane) cursor() time.Time {
	b, err := os.ReadFile(filepath.Join(p.fleet.Opts.DataDir, cursorFile))
	if err != nil {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(string(b)))
	if err != nil {
		return time.Time{}
	}
	return t.Add(-cursorMargin)
}

// markCursor records that events up to now are in.
func (p *dockerPlane) markCursor(now time.Time) {
	path := filepath.Join(p.fleet.Opts.DataDir, cursorFile)
	if err := os.WriteFile(path, []byte(now.UTC().Format(time.RFC3339Nano)+"\n"), 0o600); err != nil {
		p.n.log.Warn("record the docker log cursor", "err", err)
	}
}

// backfill hands the bus every event the deckies wrote to stdout since the
// cursor: those of the time this control plane was down (the containers
// went on without it). The store drops the ones it has by event id.
func (p *dockerPlane) backfill(ctx context.Context, since time.Time) {
	rep, err := p.fleet.Backfill(ctx, since, p.n.Emitter.Emit)
	if err != nil && ctx.Err() == nil {
		p.n.log.Warn("backfill decky events from docker logs", "err", err)
	}
	p.n.log.Info("backfilled decky events from docker logs", "since", since, "containers", rep.Containers, "events", rep.Events)
}

// place gives deckies without an address in the fleet's network one from
// it (the default fleet's loopback addresses mean nothing there).
func (p *dockerPlane) place(fleet []decky.Decky) {
	net := p.fleet.Placement()
	for i := range fleet {
		if !net.Subnet.Contains(fleet[i].IP) {
			fleet[i].IP = netip.Addr{}
		}
	}
	decky.Allocate(fleet, net, netip.Addr{})
}

// loop reconciles every p.every until ctx ends: containers that died are
// restarted or recreated, containers no desired decky owns are reaped,
// and the store's decky rows follow what docker says.
func (p *dockerPlane) loop(ctx context.Context) {
	t := time.NewTicker(p.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			p.markCursor(now)
		}
		rep, err := p.fleet.Reconcile(ctx)
		if err != nil && ctx.Err() == nil {
			p.n.log.Warn("reconcile", "err", err)
		}
		if n := rep.Repaired(); n > 0 {
			p.n.log.Info("reconciled drift", "repairs", n)
		}
		if _, err := p.fleet.Reap(ctx); err != nil && ctx.Err() == nil {
			p.n.log.Warn("reap", "err", err)
		}
		if err := p.sync(ctx); err != nil && ctx.Err() == nil {
			p.n.log.Warn("record decky states", "err", err)
		}
	}
}

func (p *dockerPlane) setState(name, state string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if state == "" {
		delete(p.states, name)
	} else {
		p.states[name] = state
	}
}

// sync records every desired decky in the store as docker runs it, and
// forgets rows of deckies that are no longer desired. n.Deckies follows.
func (p *dockerPlane) sync(ctx context.Context) error {
	want := p.fleet.RunningDeckies()
	st, err := p.fleet.Status(ctx)
	if err != nil {
		return err
	}
	byName := map[string]docker.DeckyStatus{}
	for _, s := range st {
		byName[s.Name] = s
	}
	var running []engine.Running
	for _, d := range want {
		r, err := p.running(d)
		if err != nil {
			return err
		}
		running = append(running, r)
		row := deckyRow(r)
		row.Status = docker.StateTornDown
		if s, ok := byName[d.Name]; ok {
			row.Status = s.State
			for i := range row.Services {
				j := slices.IndexFunc(s.Services, func(ss docker.ServiceStatus) bool { return ss.Service == row.Services[i].Name })
				if j < 0 || s.Services[j].State != "running" {
					row.Services[i].Status = "down"
				}
			}
		}
		p.mu.Lock()
		if s, ok := p.states[d.Name]; ok {
			row.Status = s
		}
		p.mu.Unlock()
		if err := p.n.Store.PutDecky(ctx, row); err != nil {
			return err
		}
	}
	rows, err := p.n.Store.Deckies(ctx)
	if err != nil {
		return err
	}
	for _, row := range rows {
		if !slices.ContainsFunc(want, func(d decky.Decky) bool { return d.Name == row.Name }) {
			if err := p.n.Store.DeleteDecky(ctx, row.Name); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
	}
	p.n.setDeckies(running)
	return nil
}

// running describes a docker decky as the summary and GET /deckies show
// one: its persona and where each service listens (its own address, the
// service's ports).
func (p *dockerPlane) running(d decky.Decky) (engine.Running, error) {
	per, err := persona.NewWithDistro(p.fleet.Opts.InstallSecret, d.Name, d.Distro)
	if err != nil {
		return engine.Running{}, err
	}
	r := engine.Running{Decky: d, Persona: per}
	for _, name := range d.Services {
		if c, ok := d.CustomOf(name); ok {
			for _, port := range c.Ports {
				r.Bindings = append(r.Bindings, engine.Binding{Service: name, Proto: "tcp", RequestedPort: port,
					Port: port, Addr: net.JoinHostPort(d.IP.String(), strconv.Itoa(port))})
			}
			continue
		}
		svc, err := p.reg.New(name)
		if err != nil {
			return r, err
		}
		for _, port := range svc.Ports() {
			r.Bindings = append(r.Bindings, engine.Binding{Service: name, Proto: port.Proto, RequestedPort: port.Number,
				Port: port.Number, Addr: net.JoinHostPort(d.IP.String(), strconv.Itoa(port.Number))})
		}
	}
	return r, nil
}

// dockerOps is the API's view of the docker fleet: every change updates
// the store's decky rows at once (the reconciler does so every period).
type dockerOps struct {
	*docker.Fleet
	p *dockerPlane
}

func (o dockerOps) after(ctx context.Context, err error) error {
	if serr := o.p.sync(context.WithoutCancel(ctx)); serr != nil {
		o.p.n.log.Warn("record decky states", "err", serr)
	}
	return err
}

func (o dockerOps) AddService(ctx context.Context, d, svc string, cfg map[string]string) error {
	return o.after(ctx, o.Fleet.AddService(ctx, d, svc, cfg))
}

func (o dockerOps) RemoveService(ctx context.Context, d, svc string) error {
	return o.after(ctx, o.Fleet.RemoveService(ctx, d, svc))
}

func (o dockerOps) ConfigureService(ctx context.Context, d, svc string, cfg map[string]string, apply bool) (bool, error) {
	re, err := o.Fleet.ConfigureService(ctx, d, svc, cfg, apply)
	return re, o.after(ctx, err)
}

// AddDecky shows the decky as deploying while its containers are made.
func (o dockerOps) AddDecky(ctx context.Context, d decky.Decky) error {
	if r, err := o.p.running(d); err == nil {
		row := deckyRow(r)
		row.Status = StateDeploying
		if err := o.p.n.Store.PutDecky(context.WithoutCancel(ctx), row); err != nil {
			o.p.n.log.Warn("record decky state", "decky", d.Name, "err", err)
		}
	}
	err := o.Fleet.AddDecky(ctx, d)
	return o.after(ctx, err)
}

func (o dockerOps) RemoveDecky(ctx context.Context, name string) error {
	o.p.setState(name, StateTearingDown)
	o.after(ctx, nil)
	err := o.Fleet.RemoveDecky(ctx, name)
	o.p.setState(name, "")
	return o.after(ctx, err)
}

var _ api.Deployer = dockerOps{}
