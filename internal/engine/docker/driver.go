package docker

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/decnet-go/decnet/internal/decky"
	"github.com/decnet-go/decnet/internal/honeypot"
)

// Driver deploys deckies as docker containers through the Engine API. Every
// operation is scoped to one docker network (NetworkName) and the containers
// labelled with it, so two fleets on two networks never touch each other.
type Driver struct {
	// NetworkName is the docker network of the fleet (default decnet_lan).
	NetworkName string
	// Binary is the static decnet binary put in the decky image (default:
	// this executable).
	Binary string
	// Registry validates the fleet's services (default the built-in one).
	Registry *honeypot.Registry
	// Parallel bounds how many deckies are brought up at once (default 4).
	Parallel int
	// Live holds what the live operations (AddService, WriteFile, …) make
	// containers with: DataDir, InstallSecret, NATSURL and Image. Deploy
	// sets it; what is unset is read from the decky's containers (the
	// image from the base, the rest from a service container).
	Live DeployOptions

	cli    *client.Client
	liveMu sync.Mutex // guards Live
	opMu   sync.Mutex // one live operation at a time
}

// New returns a driver talking to the docker daemon of the environment
// (DOCKER_HOST, or /var/run/docker.sock), negotiating the API version, so
// daemons from API 1.40 (Docker 19.03) on work. It does not contact the
// daemon: Ping does.
func New() (*Driver, error) {
	// API-version negotiation is on by default in this client
	// (WithAPIVersionNegotiation is a deprecated no-op).
	cli, err := client.New(client.FromEnv)
	if err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	return &Driver{NetworkName: DefaultNetworkName, cli: cli}, nil
}

// Close releases the client's connections.
func (d *Driver) Close() error { return d.cli.Close() }

// Ping checks that the daemon answers, with an error that says what to do.
func (d *Driver) Ping(ctx context.Context) error {
	if _, err := d.cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		return fmt.Errorf("docker daemon unreachable (%w): is dockerd running and may this user use %s?", err, d.cli.DaemonHost())
	}
	return nil
}

func (d *Driver) network() string {
	if d.NetworkName == "" {
		return DefaultNetworkName
	}
	return d.NetworkName
}

func (d *Driver) binary() (string, error) {
	if d.Binary != "" {
		return d.Binary, nil
	}
	p, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("decky image: find this executable: %w", err)
	}
	return p, nil
}

// Deploy makes the docker state match the fleet: the image, the network, a
// base container per decky and a container per service. It is idempotent:
// a container whose spec (hash label) is unchanged is kept, one that
// differs is recreated, and containers of deckies or services no longer in
// the fleet are removed. A recreated base takes its services with it (they
// live in its network namespace).
func (d *Driver) Deploy(ctx context.Context, fleet []decky.Decky, o DeployOptions) error {
	if len(fleet) == 0 {
		return errors.New("the fleet is empty: nothing to deploy")
	}
	if o.Image == "" {
		img, err := d.EnsureImage(ctx, o.Progress)
		if err != nil {
			return err
		}
		o.Image = img
	}
	plans, err := plan(fleet, o, d.network(), d.Registry)
	if err != nil {
		return err
	}
	d.liveMu.Lock()
	d.Live = DeployOptions{DataDir: o.DataDir, InstallSecret: o.InstallSecret, NATSURL: o.NATSURL, Image: o.Image}
	d.liveMu.Unlock()
	var ips []netip.Addr
	for _, p := range plans {
		ips = append(ips, p.Decky.IP)
	}
	nspec, err := planNetwork(d.network(), o, ips)
	if err != nil {
		return err
	}
	for _, ip := range ips {
		if ip == nspec.Gateway {
			return fmt.Errorf("decky ip %s is the gateway of %s", ip, nspec.Subnet)
		}
	}
	if err := d.ensureNetwork(ctx, nspec, o.progress); err != nil {
		return err
	}
	if nspec.Driver == "macvlan" || nspec.Driver == "ipvlan" {
		host, err := HostAddr(o.Parent, nspec.Subnet)
		if err != nil {
			return err
		}
		if err := ensureHairpin(nspec, host, o.progress); err != nil {
			return err
		}
	}
	existing, err := d.list(ctx)
	if err != nil {
		return err
	}
	// Remove what the fleet no longer has.
	want := map[string]bool{}
	for _, p := range plans {
		want[p.Base.Name] = true
		for _, s := range p.Services {
			want[s.Name] = true
		}
	}
	for _, c := range orderForRemoval(existing) {
		if !want[name(c)] {
			if err := d.remove(ctx, c.ID); err != nil {
				return err
			}
			o.progress("%s: removed (no longer in the fleet)", name(c))
		}
	}
	// Deckies deployed here before but no longer in the fleet are no longer
	// desired (Reconcile would bring them back).
	inFleet := map[string]bool{}
	for _, p := range plans {
		inFleet[p.Decky.Name] = true
	}
	if prev, err := d.desired(o.DataDir); err == nil {
		for n := range prev {
			if !inFleet[n] {
				if err := forgetDecky(o.DataDir, n, d.network()); err != nil {
					return err
				}
			}
		}
	}
	byName := map[string]container.Summary{}
	for _, c := range existing {
		byName[name(c)] = c
	}

	par := d.Parallel
	if par <= 0 {
		par = 4
	}
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	errs := make([]error, len(plans))
	for i, p := range plans {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				errs[i] = ctx.Err()
				return
			}
			defer func() { <-sem }()
			errs[i] = d.deployDecky(ctx, p, byName, o)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// deployDecky brings one decky's containers to its plan.
func (d *Driver) deployDecky(ctx context.Context, p deckyPlan, byName map[string]container.Summary, o DeployOptions) error {
	base, have := byName[p.Base.Name]
	baseNew := false
	switch {
	case have && base.Labels[LabelSpecHash] == p.Base.Labels[LabelSpecHash]:
		if base.State != container.StateRunning {
			if err := d.start(ctx, base.ID, p.Base.Name); err != nil {
				return err
			}
			baseNew = true // a restarted base has a new network namespace
			o.progress("%s: base started (%s)", p.Decky.Name, p.Decky.IP)
		}
	default:
		// Services first: they hold the base's namespace.
		for _, s := range p.Services {
			if c, ok := byName[s.Name]; ok {
				if err := d.remove(ctx, c.ID); err != nil {
					return err
				}
				delete(byName, s.Name)
			}
		}
		if have {
			if err := d.remove(ctx, base.ID); err != nil {
				return err
			}
		}
		if err := d.createAndStart(ctx, p.Base); err != nil {
			return err
		}
		baseNew = true
		o.progress("%s: base up (%s, %s, hostname %s)", p.Decky.Name, p.Decky.IP, familyName(p.Decky.OSFamily), p.Hostname)
	}
	// Files dropped into the decky, and the spec live operations start from.
	if err := prepareDropsDir(o.DataDir, p.Decky.Name); err != nil {
		return err
	}
	if err := writeSpec(o.DataDir, p.Decky); err != nil {
		return fmt.Errorf("decky %s: record its spec: %w", p.Decky.Name, err)
	}
	if err := writeDeployRecord(o.DataDir, p.Decky.Name, deployRecord{Network: d.network(), Image: o.Image, NATSURL: o.NATSURL}); err != nil {
		return fmt.Errorf("decky %s: record its deployment: %w", p.Decky.Name, err)
	}
	for _, s := range p.Services {
		c, have := byName[s.Name]
		if have && !baseNew && c.Labels[LabelSpecHash] == s.Labels[LabelSpecHash] {
			if c.State != container.StateRunning {
				if err := d.start(ctx, c.ID, s.Name); err != nil {
					return err
				}
				o.progress("%s: %s started", p.Decky.Name, s.Labels[LabelService])
			}
			continue
		}
		if have {
			if err := d.remove(ctx, c.ID); err != nil {
				return err
			}
		}
		for _, b := range s.Binds {
			if err := prepareStateDir(b.Host); err != nil {
				return err
			}
		}
		if err := d.createAndStart(ctx, s); err != nil {
			return err
		}
		o.progress("%s: %s up", p.Decky.Name, s.Labels[LabelService])
	}
	return nil
}

func familyName(f string) string {
	if f == "" {
		return "linux"
	}
	return f
}

// prepareStateDir creates a service's state directory on the host and
// gives it, with what is in it (host keys the local driver made as root),
// to the unprivileged user the container runs as.
func prepareStateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	err := filepath.WalkDir(dir, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, nobody, nobody)
	})
	if err != nil {
		return fmt.Errorf("state directory %s: give it to uid %d (the containers' user): %w; run decnet deploy as root",
			dir, nobody, err)
	}
	return nil
}

func (d *Driver) createAndStart(ctx context.Context, s containerSpec) error {
	cfg, hc, nc := s.create()
	opts := client.ContainerCreateOptions{Name: s.Name, Config: cfg, HostConfig: hc, NetworkingConfig: nc}
	res, err := d.cli.ContainerCreate(ctx, opts)
	if err != nil && s.Custom && cerrdefs.IsNotFound(err) {
		// An operator's image that this host does not have yet.
		if perr := d.pull(ctx, s.Image); perr != nil {
			return fmt.Errorf("create container %s: %w", s.Name, perr)
		}
		res, err = d.cli.ContainerCreate(ctx, opts)
	}
	if err != nil {
		if cerrdefs.IsConflict(err) {
			return fmt.Errorf("create container %s: the name is taken by a container decnet does not manage: %w", s.Name, err)
		}
		return fmt.Errorf("create container %s: %w", s.Name, err)
	}
	return d.start(ctx, res.ID, s.Name)
}

// pull fetches an image from its registry, waiting until it is there.
func (d *Driver) pull(ctx context.Context, ref string) error {
	r, err := d.cli.ImagePull(ctx, ref, client.ImagePullOptions{})
	if err != nil {
		return fmt.Errorf("pull image %s: %w", ref, err)
	}
	defer r.Close()
	if err := r.Wait(ctx); err != nil {
		return fmt.Errorf("pull image %s: %w", ref, err)
	}
	return nil
}

func (d *Driver) start(ctx context.Context, id, name string) error {
	if _, err := d.cli.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
		return fmt.Errorf("start container %s: %w", name, err)
	}
	return nil
}

func (d *Driver) remove(ctx context.Context, id string) error {
	_, err := d.cli.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true})
	if err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("remove container %s: %w", id, err)
	}
	return nil
}

// list returns the containers of this driver's fleet, running or not.
func (d *Driver) list(ctx context.Context) ([]container.Summary, error) {
	f := client.Filters{}.Add("label", LabelManaged+"=true", LabelNetwork+"="+d.network())
	res, err := d.cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	return res.Items, nil
}

func name(c container.Summary) string {
	if len(c.Names) == 0 {
		return c.ID
	}
	return strings.TrimPrefix(c.Names[0], "/")
}

// orderForRemoval puts service containers before the bases whose network
// namespace they share.
func orderForRemoval(cs []container.Summary) []container.Summary {
	out := slices.Clone(cs)
	sort.SliceStable(out, func(i, j int) bool {
		return out[i].Labels[LabelRole] == RoleService && out[j].Labels[LabelRole] != RoleService
	})
	return out
}

// Teardown removes the named deckies' containers; nil removes every
// container of the fleet and its network. State directories (host keys)
// stay, so a redeployed decky keeps its identity.
func (d *Driver) Teardown(ctx context.Context, names []string) error {
	cs, err := d.list(ctx)
	if err != nil {
		return err
	}
	if names != nil {
		known := map[string]bool{}
		for _, c := range cs {
			known[c.Labels[LabelDecky]] = true
		}
		for _, n := range names {
			if !known[n] {
				return fmt.Errorf("decky %s is not deployed on network %s", n, d.network())
			}
		}
	}
	// The deckies removed are no longer desired: Reconcile must not bring
	// them back.
	dataDir := d.dataDir(ctx, cs)
	var errs []error
	for _, c := range orderForRemoval(cs) {
		if names == nil || slices.Contains(names, c.Labels[LabelDecky]) {
			errs = append(errs, d.remove(ctx, c.ID))
		}
	}
	if dataDir != "" {
		forget := names
		if names == nil {
			want, err := d.desired(dataDir)
			errs = append(errs, err)
			for n := range want {
				forget = append(forget, n)
			}
		}
		for _, n := range forget {
			errs = append(errs, forgetDecky(dataDir, n, d.network()))
		}
	}
	if names == nil {
		f := client.Filters{}.Add("label", LabelManaged+"=true", LabelNetwork+"="+d.network())
		res, err := d.cli.NetworkList(ctx, client.NetworkListOptions{Filters: f})
		if err != nil {
			errs = append(errs, fmt.Errorf("list networks: %w", err))
		}
		for _, nw := range res.Items {
			if _, err := d.cli.NetworkRemove(ctx, nw.ID, client.NetworkRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("remove network %s: %w", nw.Name, err))
			}
			if nw.Driver == "macvlan" || nw.Driver == "ipvlan" {
				if err := removeHairpin(nw.Driver); err != nil {
					errs = append(errs, fmt.Errorf("remove hairpin of %s: %w", nw.Name, err))
				}
			}
		}
	}
	return errors.Join(errs...)
}

// Aggregate states of a decky.
const (
	StateRunning  = "running"  // the base and every service are running
	StateDegraded = "degraded" // the base runs, some services do not
	StateFailed   = "failed"   // the base or every service is down
)

// DeckyStatus is what docker says about one decky.
type DeckyStatus struct {
	Name     string          `json:"name"`
	IP       string          `json:"ip"`
	Hostname string          `json:"hostname,omitempty"`
	State    string          `json:"state"`
	Base     ContainerStatus `json:"base"`
	Services []ServiceStatus `json:"services"`
}

// ContainerStatus is one container's state as docker reports it.
type ContainerStatus struct {
	Container string `json:"container"`
	ID        string `json:"id"`
	State     string `json:"state"`  // running, exited, restarting, missing, …
	Status    string `json:"status"` // docker's words: "Up 3 minutes"
}

// ServiceStatus is the container of one service.
type ServiceStatus struct {
	Service string `json:"service"`
	ContainerStatus
}

// Status reports every decky of the fleet, sorted by name.
func (d *Driver) Status(ctx context.Context) ([]DeckyStatus, error) {
	cs, err := d.list(ctx)
	if err != nil {
		return nil, err
	}
	by := map[string]*DeckyStatus{}
	get := func(n string) *DeckyStatus {
		if by[n] == nil {
			by[n] = &DeckyStatus{Name: n, Base: ContainerStatus{State: "missing"}}
		}
		return by[n]
	}
	for _, c := range cs {
		ds := get(c.Labels[LabelDecky])
		if ds.IP == "" {
			ds.IP = c.Labels[LabelIP]
		}
		st := ContainerStatus{Container: name(c), ID: shortID(c.ID), State: string(c.State), Status: c.Status}
		if c.Labels[LabelRole] == RoleBase {
			ds.Base = st
			ds.Hostname = c.Labels[LabelHostname]
		} else {
			ds.Services = append(ds.Services, ServiceStatus{Service: c.Labels[LabelService], ContainerStatus: st})
		}
	}
	var out []DeckyStatus
	for _, ds := range by {
		sort.Slice(ds.Services, func(i, j int) bool { return ds.Services[i].Service < ds.Services[j].Service })
		up := 0
		for _, s := range ds.Services {
			if s.State == string(container.StateRunning) {
				up++
			}
		}
		switch {
		case ds.Base.State != string(container.StateRunning) || up == 0:
			ds.State = StateFailed
		case up < len(ds.Services):
			ds.State = StateDegraded
		default:
			ds.State = StateRunning
		}
		out = append(out, *ds)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
