// Package node runs every role of `decnet up` in one process: the embedded
// bus, the store, the ingest pipeline, the deckies (local driver) and the
// API. The CLI and the end-to-end test harness both start the system
// through it, so what the tests exercise is what operators run.
package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/decnet-go/decnet/internal/api"
	"github.com/decnet-go/decnet/internal/bus"
	"github.com/decnet-go/decnet/internal/decky"
	"github.com/decnet-go/decnet/internal/engine"
	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/honeypot/builtin"
	"github.com/decnet-go/decnet/internal/intel"
	"github.com/decnet-go/decnet/internal/metrics"
	"github.com/decnet-go/decnet/internal/pipeline"
	"github.com/decnet-go/decnet/internal/secret"
	"github.com/decnet-go/decnet/internal/store"
)

// Config is what `decnet up` needs.
type Config struct {
	DataDir string // everything persistent lives here
	// DB is the store's DSN (sqlite:PATH, mysql://…, postgres://…, see
	// store.Open); empty means SQLite at <DataDir>/decnet.db.
	DB         string
	Listen     string // API address, default 127.0.0.1:8080
	PortOffset int    // added to decky ports that cannot be bound; 0 disables
	NATSURL    string // external NATS; empty embeds one
	NATSListen string // TCP listener of the embedded NATS; empty for none
	// Fleet is what the deckies run. When nil, the deckies recorded in the
	// store by an earlier start (with the services and configuration live
	// operations left them with) run again; on a fresh store, the default
	// fleet. A fleet given here (--config) wins and replaces the record.
	Fleet []decky.Decky
	// AdminPassword is the bootstrap admin's password on first start; empty
	// makes a random one (returned in Node.AdminPassword).
	AdminPassword string
	Version       string
	Log           *slog.Logger
	// Driver runs the deckies: "local" (default; in this process, on
	// loopback addresses) or "docker" (containers, see Docker).
	Driver string
	Docker DockerConfig
	// DeploymentLimit bounds the deckies one API deploy may start; zero
	// means api.DefaultDeploymentLimit.
	DeploymentLimit int
	// MetricsListen, when set, serves GET /metrics without authentication
	// on this address of its own (e.g. 127.0.0.1:9108), for a Prometheus
	// scraper. The API's /metrics (viewer token) is there either way.
	MetricsListen string
	// ProbeAllow lists the networks (CIDRs, comma-separated) whose
	// attackers the active prober may fingerprint; empty probes nothing.
	ProbeAllow string
	// Intel configures the intel providers; nil reads the environment.
	Intel *intel.Config
	// RulesDir holds TTP rule files laid over the embedded rules (reloaded
	// on change and on SIGHUP); empty runs the embedded rules.
	RulesDir string
	// CanaryHTTPListen is where canary tokens' URLs call home (GET
	// /c/<slug>); empty means DefaultCanaryHTTPListen, "off" none (http
	// tokens cannot be planted then). CanaryHTTPBase is that listener as
	// attackers reach it, planted in the bait; empty means
	// http://<listen address>.
	CanaryHTTPListen, CanaryHTTPBase string
	// CanaryDNSListen (UDP; empty means DefaultCanaryDNSListen) answers
	// <slug>.<CanaryDNSZone> for dns tokens; without a zone there is no
	// DNS listener and no dns token.
	CanaryDNSListen, CanaryDNSZone string
	// CanaryBaseline lists the generators planted on every decky with ssh
	// or telnet the first time it runs (comma-separated); empty means
	// DefaultCanaryBaseline, "none" plants nothing.
	CanaryBaseline string
	// FingerprintsFile is the operator's C2/tool fingerprint catalogue
	// (kind,value,label lines, docs/ttp.md) for rule R0030, reloaded on
	// change and on SIGHUP; empty uses the built-in values and the feeds.
	FingerprintsFile string
}

// ingestDurable names the ingest worker's JetStream consumer.
const ingestDurable = "ingest"

// Node is a running all-in-one DECNET.
type Node struct {
	Bus     *bus.Bus
	Store   *store.Store
	Emitter *bus.Emitter
	Ingest  *pipeline.Ingest
	// Deckies are the deckies as started; Running has them as they run now,
	// after live operations.
	Deckies []engine.Running
	// APIAddr is where the API listens (host:port).
	APIAddr string
	// AdminPassword is set only on the start that created the admin.
	AdminPassword string
	// Metrics are the Prometheus series of this node; MetricsAddr is where
	// the unauthenticated metrics listener is, when one was asked for.
	Metrics     *metrics.Metrics
	MetricsAddr string
	// CanaryHTTPAddr and CanaryDNSAddr are where the canary listeners are
	// bound ("" when off).
	CanaryHTTPAddr, CanaryDNSAddr string

	log          *slog.Logger
	engine       *engine.Local // local driver
	docker       *dockerPlane  // docker driver
	mu           sync.Mutex    // guards Deckies under the docker driver
	consumer     *bus.Consumer
	http         *http.Server
	metricsHTTP  *http.Server
	api          http.Handler
	stopDeckies  context.CancelFunc
	stopIngest   context.CancelFunc
	stopWarm     context.CancelFunc // the dashboard's first overview build
	hashIntel    hashIntel          // the TTP engine's view of the hash providers
	ttp          *ttpStage          // ATT&CK tagging, see ttp.go
	stopRequests context.CancelFunc
	intel        *intelRuntime
	canary       *canaryStage // canary tokens, see canary.go
	wg           sync.WaitGroup
}

// Start brings the whole system up. On error, whatever was started is
// stopped again.
func Start(ctx context.Context, cfg Config) (n *Node, err error) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:8080"
	}
	if cfg.DataDir == "" {
		return nil, errors.New("data directory is not set (--data-dir)")
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	n = &Node{log: cfg.Log, Metrics: metrics.New()}
	defer func() {
		if err != nil {
			n.Shutdown(context.Background())
		}
	}()

	installSecret, err := secret.LoadOrCreate(cfg.DataDir, secret.InstallFile)
	if err != nil {
		return n, err
	}
	jwtSecret := []byte(os.Getenv("DECNET_JWT_SECRET"))
	if len(jwtSecret) == 0 {
		if jwtSecret, err = secret.LoadOrCreate(cfg.DataDir, secret.JWTFile); err != nil {
			return n, err
		}
	}
	dsn := cfg.DB
	if dsn == "" {
		dsn = filepath.Join(cfg.DataDir, "decnet.db")
	}
	if n.Store, err = store.Open(ctx, dsn); err != nil {
		return n, err
	}
	bo := bus.Options{URL: cfg.NATSURL, DataDir: cfg.DataDir, Listen: cfg.NATSListen, Log: cfg.Log}
	switch cfg.Driver {
	case "", "local":
	case "docker":
		if n.docker, bo.Listen, bo.Token, err = openDocker(ctx, cfg, installSecret); err != nil {
			return n, err
		}
		n.docker.n = n
	default:
		return n, fmt.Errorf("--driver %q: use local or docker", cfg.Driver)
	}
	if n.Bus, err = bus.Open(ctx, bo); err != nil {
		return n, err
	}
	if n.consumer, err = n.Bus.Consumer(ctx, bus.ConsumerOptions{Durable: ingestDurable, Filter: event.SubjectAll}); err != nil {
		return n, err
	}
	// The emitter comes before the ingest worker: the canary scan of
	// ingested events may emit.
	n.Emitter = n.Bus.NewEmitter(65536)
	if err := n.startCanary(ctx, cfg); err != nil {
		return n, err
	}
	n.Ingest = &pipeline.Ingest{Source: n.canarySource(n.consumer), Store: n.Store, Log: cfg.Log.With("worker", "ingest"), Metrics: n.Metrics}
	ictx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	n.stopIngest = cancel
	n.wg.Add(2)
	go func() { defer n.wg.Done(); n.Ingest.Run(ictx) }()
	go func() { defer n.wg.Done(); n.watchLag(ictx) }()
	n.wg.Add(1)
	go func() { defer n.wg.Done(); n.webhookWorker(cfg).Run(ictx) }()
	if err := n.startTTP(ctx, cfg); err != nil {
		return n, err
	}
	if err := n.startIntel(ctx, cfg); err != nil {
		return n, err
	}
	if err := n.startMetrics(cfg.MetricsListen); err != nil {
		return n, err
	}

	created, pw, err := api.EnsureAdmin(ctx, n.Store, cfg.AdminPassword)
	if err != nil {
		return n, err
	}
	if created {
		n.AdminPassword = pw
	}
	fleet := cfg.Fleet
	if fleet == nil {
		if fleet, err = storedFleet(ctx, n.Store); err != nil {
			return n, err
		}
	}
	if fleet == nil {
		fleet = decky.DefaultFleet()
	}
	dctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	n.stopDeckies = cancel
	if n.docker != nil {
		if err := n.startAPI(cfg, jwtSecret); err != nil {
			return n, err
		}
		natsURL := cfg.NATSURL
		if natsURL == "" {
			natsURL = "nats://" + bo.Token + "@" + n.Bus.ListenAddr()
		}
		return n, n.docker.start(dctx, cfg.Fleet, natsURL)
	}
	n.engine = &engine.Local{
		Registry: builtin.Registry(), Secret: installSecret, StateDir: filepath.Join(cfg.DataDir, "deckies"),
		PortOffset: cfg.PortOffset, Emit: n.Emitter.Emit, Log: cfg.Log,
	}
	if err := n.startAPI(cfg, jwtSecret); err != nil {
		return n, err
	}
	if n.Deckies, err = n.engine.Start(dctx, fleet); err != nil {
		return n, err
	}
	if err := n.Store.ClearDeckySpecs(ctx); err != nil {
		return n, err
	}
	for _, r := range n.Deckies {
		if err := n.record(ctx, r); err != nil {
			return n, err
		}
	}
	n.canaryDeckiesChanged()
	return n, nil
}

// storedFleet is the fleet an earlier start recorded, or nil.
func storedFleet(ctx context.Context, st *store.Store) ([]decky.Decky, error) {
	specs, err := st.DeckySpecs(ctx)
	if err != nil {
		return nil, err
	}
	var fleet []decky.Decky
	for _, spec := range specs {
		var d decky.Decky
		if err := json.Unmarshal(spec, &d); err != nil {
			return nil, fmt.Errorf("recorded decky %.40s: %w", spec, err)
		}
		fleet = append(fleet, d)
	}
	return fleet, nil
}

// record stores a decky as it runs now: its bindings for GET /deckies and
// its services and configuration for the next start.
func (n *Node) record(ctx context.Context, r engine.Running) error {
	if err := n.Store.PutDecky(ctx, deckyRow(r)); err != nil {
		return err
	}
	spec, err := json.Marshal(r.Decky)
	if err != nil {
		return err
	}
	return n.Store.SetDeckySpec(ctx, r.Decky.Name, spec)
}

// Running returns every decky as it runs now, with the services live
// operations added or removed since start.
func (n *Node) Running() []engine.Running {
	if n.engine == nil {
		n.mu.Lock()
		defer n.mu.Unlock()
		return slices.Clone(n.Deckies)
	}
	return n.engine.Running()
}

func (n *Node) setDeckies(rs []engine.Running) {
	n.mu.Lock()
	n.Deckies = rs
	n.mu.Unlock()
	n.canaryDeckiesChanged()
}

// fleetOps is the API's view of the engine: every live operation that
// succeeds is recorded in the store, so GET /deckies shows the new bindings
// and the next start runs the same services.
type fleetOps struct {
	*engine.Local
	n *Node
}

func (f fleetOps) after(ctx context.Context, name string, err error) error {
	if err != nil {
		return err
	}
	r, ok := f.Local.Decky(name)
	if !ok {
		return nil
	}
	return f.n.record(context.WithoutCancel(ctx), r)
}

func (f fleetOps) AddService(ctx context.Context, d, svc string, cfg map[string]string) error {
	return f.after(ctx, d, f.Local.AddService(ctx, d, svc, cfg))
}

func (f fleetOps) RemoveService(ctx context.Context, d, svc string) error {
	return f.after(ctx, d, f.Local.RemoveService(ctx, d, svc))
}

func (f fleetOps) ConfigureService(ctx context.Context, d, svc string, cfg map[string]string, apply bool) (bool, error) {
	re, err := f.Local.ConfigureService(ctx, d, svc, cfg, apply)
	return re, f.after(ctx, d, err)
}

// AddDecky starts a new decky and records it (row and spec), so GET
// /deckies lists it and the next start runs it again.
func (f fleetOps) AddDecky(ctx context.Context, d decky.Decky) error {
	err := f.after(ctx, d.Name, f.Local.AddDecky(ctx, d))
	if err == nil {
		f.n.canaryDeckiesChanged() // its baseline canary tokens
	}
	return err
}

// RemoveDecky stops a decky and forgets it in the store too.
func (f fleetOps) RemoveDecky(ctx context.Context, name string) error {
	if err := f.Local.RemoveDecky(ctx, name); err != nil {
		return err
	}
	if err := f.n.Store.DeleteDecky(context.WithoutCancel(ctx), name); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return nil
}

// RunningDeckies lists the deckies as they run now.
func (f fleetOps) RunningDeckies() []decky.Decky {
	var out []decky.Decky
	for _, r := range f.Local.Running() {
		out = append(out, r.Decky)
	}
	return out
}

// Catalog checks deployment INI files against the compiled-in services.
func (f fleetOps) Catalog() decky.ServiceCatalog { return f.Local.Registry }

// Placement: the local driver runs deckies on loopback addresses.
func (f fleetOps) Placement() decky.Network {
	return decky.Network{Subnet: netip.MustParsePrefix("127.0.0.0/8"), IPStart: decky.DefaultIPStart}
}

var _ api.Deployer = fleetOps{}

// notify publishes a live operation's outcome on core NATS (best effort:
// nobody may be listening).
func (n *Node) notify(subject string, payload any) {
	data, err := json.Marshal(payload)
	if err != nil {
		return
	}
	if err := n.Bus.Conn().Publish(subject, data); err != nil {
		n.log.Warn("publish live operation", "subject", subject, "err", err)
	}
}

func (n *Node) startAPI(cfg Config, secret []byte) error {
	var fleet api.Fleet
	reg := builtin.Registry()
	if n.docker != nil {
		fleet = dockerOps{Fleet: n.docker.fleet, p: n.docker}
	} else {
		fleet, reg = fleetOps{Local: n.engine, n: n}, n.engine.Registry
	}
	acfg := api.Config{
		JWTSecret:       secret,
		Logger:          cfg.Log.With("component", "api"),
		Version:         cfg.Version,
		Fleet:           fleet,
		Services:        reg,
		Notify:          n.notify,
		DeploymentLimit: cfg.DeploymentLimit,
		DataDir:         cfg.DataDir,
		Checks: map[string]func(context.Context) error{
			"database": n.Store.Ping,
			"bus":      n.Bus.Ping,
			"ingest":   n.Ingest.Health,
		},
		Metrics:             n.Metrics,
		TTP:                 n.ttpRules(),
		Topics:              n.Bus,
		CORSOrigins:         strings.FieldsFunc(os.Getenv("DECNET_CORS_ORIGINS"), func(r rune) bool { return r == ',' || r == ' ' }),
		WebhookAllowPrivate: os.Getenv("DECNET_WEBHOOK_ALLOW_PRIVATE") == "true",
	}
	n.canaryAPI(&acfg, fleet)
	if err := acfg.Validate(); err != nil {
		return err
	}
	handler := api.New(acfg, n.Store)
	n.api = handler
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("API listen %s: %w (set another with --listen)", cfg.Listen, err)
	}
	n.APIAddr = ln.Addr().String()
	base, cancel := context.WithCancel(context.Background())
	n.stopRequests = cancel
	n.http = &http.Server{
		Handler:           n.withDashboard(handler, cfg, fleet, reg),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return base },
		ErrorLog:          slog.NewLogLogger(cfg.Log.Handler(), slog.LevelWarn),
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		if err := n.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.log.Error("API server stopped", "err", err)
		}
	}()
	return nil
}

func deckyRow(r engine.Running) store.DeckyRow {
	row := store.DeckyRow{Name: r.Decky.Name, IP: r.Decky.IP.String(), Hostname: r.Persona.Hostname,
		Distro: r.Persona.Distro.Slug, Status: "running"}
	for _, b := range r.Bindings {
		sb := store.ServiceBinding{Name: b.Service, Proto: b.Proto, Port: b.Port, RequestedPort: b.RequestedPort,
			Address: b.Addr, Status: "listening"}
		if b.Err != nil {
			sb.Status, sb.Error = "failed", b.Err.Error()
		}
		row.Services = append(row.Services, sb)
	}
	return row
}

// Shutdown stops in the order that loses nothing: deckies first (their last
// events are emitted), then the emitter flushes to the bus, the ingest worker
// drains what is pending, and only then the API, bus and store close.
func (n *Node) Shutdown(ctx context.Context) error {
	if n.stopWarm != nil {
		n.stopWarm()
	}
	n.stopCanary(ctx)
	if n.api != nil {
		api.Drain(n.api) // background deploys finish before the deckies stop
	}
	if n.stopDeckies != nil {
		n.stopDeckies()
		if n.engine != nil {
			n.engine.Wait()
		}
	}
	if n.Emitter != nil {
		n.closeCanarySink()
		n.Emitter.Close(ctx)
	}
	if n.Ingest != nil && n.Bus != nil {
		n.drain(ctx)
	}
	n.stopTTP(ctx)
	if n.stopIngest != nil {
		n.stopIngest()
	}
	n.stopIntel()
	if n.stopRequests != nil {
		n.stopRequests()
	}
	if n.http != nil {
		n.http.Shutdown(ctx)
	}
	if n.metricsHTTP != nil {
		n.metricsHTTP.Shutdown(ctx)
	}
	n.wg.Wait()
	if n.consumer != nil {
		n.consumer.Stop()
	}
	if n.Store != nil && len(n.Deckies) > 0 && n.docker == nil {
		// Docker deckies outlive this process (they are containers); local
		// ones stopped with it.
		n.Store.SetDeckyStatus(ctx, "stopped")
	}
	if n.docker != nil {
		n.docker.markCursor(time.Now())
		n.docker.fleet.Close()
	}
	if n.Bus != nil {
		n.Bus.Close()
	}
	if n.Store != nil {
		return n.Store.Close()
	}
	return nil
}

// watchLag samples how far the ingest consumer is behind, for the
// decnet_bus_consumer_lag gauge, until ctx ends.
func (n *Node) watchLag(ctx context.Context) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		if p, err := n.Bus.Pending(ctx, ingestDurable); err == nil {
			n.Metrics.ConsumerLag(ingestDurable, p)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// startMetrics serves the metrics, unauthenticated, on a listener of their
// own when addr is set.
func (n *Node) startMetrics(addr string) error {
	if addr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("metrics listen %s: %w (set another with --metrics-listen)", addr, err)
	}
	n.MetricsAddr = ln.Addr().String()
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", n.Metrics.Handler())
	n.metricsHTTP = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		if err := n.metricsHTTP.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.log.Error("metrics server stopped", "err", err)
		}
	}()
	return nil
}

// drain waits until the ingest worker has stored every event on the bus.
func (n *Node) drain(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	for {
		p, err := n.Bus.Pending(ctx, ingestDurable)
		if err != nil || p == 0 {
			return
		}
		select {
		case <-ctx.Done():
			n.log.Warn("shutdown before ingest caught up; the rest is ingested on next start", "pending", p)
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
}
