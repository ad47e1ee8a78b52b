package docker

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"sync"

	"github.com/decnet-go/decnet/internal/decky"
	"github.com/decnet-go/decnet/internal/engine"
)

// Fleet is the docker driver as a long-running control plane (`decnet up
// --driver docker`) sees it: the deckies desired in the data directory,
// whole deckies added and removed one at a time, and the live operations
// of the driver. It implements what the API's deploy and live routes need.
type Fleet struct {
	*Driver
	// Opts are the deploy options every deploy uses: network, subnet,
	// data directory, install secret, NATS URL (and the image once built).
	Opts DeployOptions

	mu sync.Mutex // one whole-decky change at a time
}

// Start deploys fleet, or — when fleet is nil — the deckies the data
// directory says are desired on the driver's network (a restart), or
// nothing when there are none. It returns the deckies now desired.
func (f *Fleet) Start(ctx context.Context, fleet []decky.Decky) ([]decky.Decky, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if fleet == nil {
		var err error
		if fleet, err = f.desiredList(); err != nil {
			return nil, err
		}
	}
	if len(fleet) == 0 {
		return nil, nil
	}
	return fleet, f.deploy(ctx, fleet)
}

func (f *Fleet) deploy(ctx context.Context, fleet []decky.Decky) error {
	if f.Opts.Image == "" {
		img, err := f.EnsureImage(ctx, f.Opts.Progress)
		if err != nil {
			return err
		}
		f.Opts.Image = img
	}
	return f.Deploy(ctx, fleet, f.Opts)
}

// desiredList is the desired deckies sorted by name.
func (f *Fleet) desiredList() ([]decky.Decky, error) {
	want, err := f.desired(f.Opts.DataDir)
	if err != nil {
		return nil, err
	}
	out := make([]decky.Decky, 0, len(want))
	for _, dd := range want {
		out = append(out, dd.Decky)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// AddDecky deploys one more decky beside the desired ones;
// engine.ErrDeckyExists when its name or address is taken.
func (f *Fleet) AddDecky(ctx context.Context, d decky.Decky) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	fleet, err := f.desiredList()
	if err != nil {
		return fmt.Errorf("%w: %v", engine.ErrDriver, err)
	}
	for _, o := range fleet {
		if o.Name == d.Name || o.IP == d.IP {
			return fmt.Errorf("%w: %s (%s) collides with %s (%s)", engine.ErrDeckyExists, d.Name, d.IP, o.Name, o.IP)
		}
	}
	if err := f.deploy(ctx, append(fleet, d)); err != nil {
		return fmt.Errorf("%w: deploy %s: %v", engine.ErrDriver, d.Name, err)
	}
	return nil
}

// RemoveDecky removes a desired decky's containers and forgets it;
// engine.ErrUnknownDecky when it is not desired.
func (f *Fleet) RemoveDecky(ctx context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	want, err := f.desired(f.Opts.DataDir)
	if err != nil {
		return fmt.Errorf("%w: %v", engine.ErrDriver, err)
	}
	if _, ok := want[name]; !ok {
		return fmt.Errorf("%w: %s", engine.ErrUnknownDecky, name)
	}
	if err := f.Teardown(ctx, []string{name}); err != nil {
		// Desired but without containers (they were removed by hand):
		// forgetting it is all there is to do.
		if ferr := forgetDecky(f.Opts.DataDir, name, f.network()); ferr != nil {
			return fmt.Errorf("%w: %v", engine.ErrDriver, errors.Join(err, ferr))
		}
	}
	return nil
}

// Reconcile is Driver.Reconcile, never while a whole decky is being added
// or removed (the new decky's spec is on disk before its containers are
// up: repairing it then would race its deploy).
func (f *Fleet) Reconcile(ctx context.Context) (Report, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.Driver.Reconcile(ctx)
}

// Reap is Driver.Reap, under the same lock as Reconcile.
func (f *Fleet) Reap(ctx context.Context) (ReapReport, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.Driver.Reap(ctx)
}

// RunningDeckies lists the desired deckies (the reconciler keeps them
// running).
func (f *Fleet) RunningDeckies() []decky.Decky {
	out, _ := f.desiredList()
	return out
}

// RunsCustomImages: the docker driver runs the [custom-*] images of fleet
// files as service containers.
func (f *Fleet) RunsCustomImages() bool { return true }

// Catalog checks deployment files against the driver's services.
func (f *Fleet) Catalog() decky.ServiceCatalog { return f.registry() }

// Placement is where new deckies go: the subnet of the fleet's network.
func (f *Fleet) Placement() decky.Network {
	gw := f.Opts.Gateway
	if !gw.IsValid() && f.Opts.Subnet.IsValid() {
		gw = f.Opts.Subnet.Masked().Addr().Next()
	}
	return decky.Network{Subnet: f.Opts.Subnet.Masked(), Gateway: gw}
}

// Services lists the services a deployed decky runs.
func (f *Fleet) Services(ctx context.Context, name string) ([]string, error) {
	ld, err := f.load(ctx, name)
	if err != nil {
		return nil, err
	}
	return ld.Decky.Services, nil
}

// ServiceConfig is the configuration saved for a service of a decky.
func (f *Fleet) ServiceConfig(ctx context.Context, name, svc string) (map[string]string, error) {
	ld, err := f.load(ctx, name)
	if err != nil {
		return nil, err
	}
	return ld.Decky.Config[svc], nil
}

// Gateway is the address of the host on the fleet's network, once Prepare
// made it: where the deckies reach the control plane's bus.
func (f *Fleet) Gateway() netip.Addr { return f.Placement().Gateway }

// Prepare makes sure the fleet's network exists before any decky does, so
// the control plane can listen on its gateway address. Without a subnet, a
// bridge network reuses the subnet it has or takes a free one.
func (f *Fleet) Prepare(ctx context.Context) error {
	if !f.Opts.Subnet.IsValid() {
		if f.Opts.Network != "" && f.Opts.Network != "bridge" {
			return fmt.Errorf("--subnet is not set: a %s network needs the LAN's subnet", f.Opts.Network)
		}
		p, err := f.currentSubnet(ctx)
		if err != nil {
			return err
		}
		if !p.IsValid() {
			if p, err = f.FreeSubnet(ctx); err != nil {
				return err
			}
		}
		f.Opts.Subnet = p
	}
	n, err := planNetwork(f.network(), f.Opts, nil)
	if err != nil {
		return err
	}
	f.Opts.Gateway = n.Gateway
	return f.ensureNetwork(ctx, n, f.Opts.progress)
}
