package docker

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/decnet-go/decnet/internal/decky"
	"github.com/decnet-go/decnet/internal/engine"
	"github.com/decnet-go/decnet/internal/engine/runtime"
	"github.com/decnet-go/decnet/internal/honeypot"
	"github.com/decnet-go/decnet/internal/honeypot/builtin"
)

var _ engine.Operator = (*Driver)(nil)

// specFile is the decky as it is deployed now (services and their
// configuration), kept beside its state directories: Deploy writes it and
// every live operation updates it, so a driver in another process (the API
// server) knows what a service container must be made from.
const specFile = "decky.json"

func specPath(dataDir, deckyName string) string {
	return filepath.Join(dataDir, "deckies", deckyName, specFile)
}

// writeSpec stores d as <data>/deckies/<decky>/decky.json (root-only: it
// holds the operator's configuration, passwords included).
func writeSpec(dataDir string, d decky.Decky) error {
	return writeJSONFile(specPath(dataDir, d.Name), d)
}

// writeJSONFile replaces path with v as indented JSON (mode 0600, in a
// 0700 directory) through a rename, so a crash never leaves half a file.
func writeJSONFile(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// prepareDropsDir creates a decky's drops directory, readable by the
// containers' user and writable by no one but root.
func prepareDropsDir(dataDir, deckyName string) error {
	dir := DropsDir(dataDir, deckyName)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("drops directory: %w", err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return fmt.Errorf("drops directory: %w", err)
	}
	if err := os.Lchown(dir, nobody, nobody); err != nil {
		return fmt.Errorf("drops directory %s: give it to uid %d: %w", dir, nobody, err)
	}
	return nil
}

// liveDecky is what a live operation works on: the decky as deployed and
// the options its containers are made with.
type liveDecky struct {
	Decky decky.Decky
	Opts  DeployOptions
	// Containers of the decky by service ("" is the base).
	Containers map[string]container.Summary
}

func (d *Driver) registry() *honeypot.Registry {
	if d.Registry != nil {
		return d.Registry
	}
	return builtin.Registry()
}

// checkService returns the service's schema error as ErrBadConfig and an
// unknown service as ErrUnknownService. It needs no daemon.
func (d *Driver) checkService(svc string, cfg map[string]string) error {
	s, err := d.registry().New(svc)
	if err != nil {
		return fmt.Errorf("%w: %v", engine.ErrUnknownService, err)
	}
	if err := s.Schema().Validate(cfg); err != nil {
		return fmt.Errorf("%w: service %s: %v", engine.ErrBadConfig, svc, err)
	}
	return nil
}

// load finds the decky on the driver's network (by its base container's
// labels) and recovers its spec and deploy options: from d.Live, the spec
// file in the data directory, and the containers themselves.
func (d *Driver) load(ctx context.Context, name string) (*liveDecky, error) {
	if d.cli == nil {
		return nil, fmt.Errorf("%w: no docker client", engine.ErrDriver)
	}
	f := client.Filters{}.Add("label", LabelManaged+"=true", LabelNetwork+"="+d.network(), LabelDecky+"="+name)
	res, err := d.cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return nil, fmt.Errorf("%w: list containers: %v", engine.ErrDriver, err)
	}
	ld := &liveDecky{Containers: map[string]container.Summary{}}
	for _, c := range res.Items {
		if c.Labels[LabelRole] == RoleBase {
			ld.Containers[""] = c
		} else {
			ld.Containers[c.Labels[LabelService]] = c
		}
	}
	base, ok := ld.Containers[""]
	if !ok {
		return nil, fmt.Errorf("%w: %s is not deployed on network %s", engine.ErrUnknownDecky, name, d.network())
	}
	d.liveMu.Lock()
	o := d.Live
	d.liveMu.Unlock()
	o.InstallSecret = slices.Clone(o.InstallSecret)
	o.Progress = nil

	// The image is the base's; the rest comes from a service container
	// when the driver was not told.
	insp, err := d.cli.ContainerInspect(ctx, base.ID, client.ContainerInspectOptions{})
	if err != nil {
		return nil, fmt.Errorf("%w: inspect %s: %v", engine.ErrDriver, name, err)
	}
	if o.Image == "" && insp.Container.Config != nil {
		o.Image = insp.Container.Config.Image
	}
	var specEnv string
	for svc, c := range ld.Containers {
		if svc == "" {
			continue
		}
		si, err := d.cli.ContainerInspect(ctx, c.ID, client.ContainerInspectOptions{})
		if err != nil || si.Container.Config == nil {
			continue
		}
		for _, e := range si.Container.Config.Env {
			k, v, _ := strings.Cut(e, "=")
			switch {
			case k == runtime.EnvSpec && specEnv == "":
				specEnv = v
			case k == runtime.EnvSecret && len(o.InstallSecret) == 0:
				o.InstallSecret, _ = hex.DecodeString(v)
			}
		}
		if o.NATSURL == "" {
			if i := slices.Index(si.Container.Config.Cmd, "--nats-url"); i >= 0 && i+1 < len(si.Container.Config.Cmd) {
				o.NATSURL = si.Container.Config.Cmd[i+1]
			}
		}
		if o.DataDir == "" && si.Container.HostConfig != nil {
			suffix := string(filepath.Separator) + filepath.Join("deckies", name, svc)
			for _, b := range si.Container.HostConfig.Binds {
				host, _, _ := strings.Cut(b, ":")
				if strings.HasSuffix(host, suffix) {
					o.DataDir = strings.TrimSuffix(host, suffix)
				}
			}
		}
	}
	if o.DataDir == "" {
		return nil, fmt.Errorf("%w: decky %s: the data directory is unknown (set Driver.Live.DataDir)", engine.ErrDriver, name)
	}
	ld.Opts = o

	// The spec: the file, else a service container's environment, else
	// what the base's labels say (services none).
	if b, err := os.ReadFile(specPath(o.DataDir, name)); err == nil {
		if err := json.Unmarshal(b, &ld.Decky); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", engine.ErrDriver, specPath(o.DataDir, name), err)
		}
	} else if specEnv != "" {
		if ld.Decky, err = runtime.DecodeSpec(specEnv); err != nil {
			return nil, fmt.Errorf("%w: decky %s: %v", engine.ErrDriver, name, err)
		}
	} else {
		ld.Decky.Name = name
		ld.Decky.IP, _ = netip.ParseAddr(base.Labels[LabelIP])
	}
	ld.Decky.Name = name
	return ld, nil
}

// serviceSpec is the container of svc on ld.Decky as Deploy would make it.
func (d *Driver) serviceSpec(ld *liveDecky, svc string) (containerSpec, error) {
	o := ld.Opts
	if len(o.InstallSecret) == 0 {
		return containerSpec{}, fmt.Errorf("%w: decky %s: the install secret is unknown (set Driver.Live.InstallSecret)", engine.ErrDriver, ld.Decky.Name)
	}
	if o.Image == "" {
		return containerSpec{}, fmt.Errorf("%w: decky %s: the image is unknown", engine.ErrDriver, ld.Decky.Name)
	}
	fam, ok := decky.LookupFamily(ld.Decky.OSFamily)
	if !ok {
		return containerSpec{}, fmt.Errorf("%w: decky %s: nmap_os %q is not an OS family", engine.ErrDriver, ld.Decky.Name, ld.Decky.OSFamily)
	}
	p, err := planDecky(ld.Decky, fam, o, d.network())
	if err != nil {
		return containerSpec{}, fmt.Errorf("%w: %v", engine.ErrDriver, err)
	}
	for _, s := range p.Services {
		if s.Labels[LabelService] == svc {
			return s, nil
		}
	}
	return containerSpec{}, fmt.Errorf("%w: %s on %s", engine.ErrServiceAbsent, svc, ld.Decky.Name)
}

// startService (re)creates the container of svc from ld.Decky.
func (d *Driver) startService(ctx context.Context, ld *liveDecky, svc string) error {
	s, err := d.serviceSpec(ld, svc)
	if err != nil {
		return err
	}
	if c, ok := ld.Containers[svc]; ok {
		if err := d.remove(ctx, c.ID); err != nil {
			return fmt.Errorf("%w: %v", engine.ErrDriver, err)
		}
	}
	if err := prepareStateDir(StateDir(ld.Opts.DataDir, ld.Decky.Name, svc)); err != nil {
		return fmt.Errorf("%w: %v", engine.ErrDriver, err)
	}
	if err := prepareDropsDir(ld.Opts.DataDir, ld.Decky.Name); err != nil {
		return fmt.Errorf("%w: %v", engine.ErrDriver, err)
	}
	if err := d.createAndStart(ctx, s); err != nil {
		return fmt.Errorf("%w: %v", engine.ErrDriver, err)
	}
	return nil
}

// AddService starts svc on a deployed decky: its configuration is checked
// first, the decky's spec file records it, then only that service's
// container is created (in the base's network namespace) and started.
func (d *Driver) AddService(ctx context.Context, deckyName, svc string, cfg map[string]string) error {
	if err := d.checkService(svc, cfg); err != nil {
		return err
	}
	d.opMu.Lock()
	defer d.opMu.Unlock()
	ld, err := d.load(ctx, deckyName)
	if err != nil {
		return err
	}
	if _, running := ld.Containers[svc]; running || slices.Contains(ld.Decky.Services, svc) {
		return fmt.Errorf("%w: %s on %s", engine.ErrServiceExists, svc, deckyName)
	}
	ld.Decky.Services = append(ld.Decky.Services, svc)
	setConfig(&ld.Decky, svc, cfg)
	if err := d.startService(ctx, ld, svc); err != nil {
		return err
	}
	if err := writeSpec(ld.Opts.DataDir, ld.Decky); err != nil {
		return fmt.Errorf("%w: record %s on %s: %v", engine.ErrDriver, svc, deckyName, err)
	}
	return nil
}

// RemoveService stops and removes svc's container (its ports close) and
// drops it from the decky's spec. Its state directory stays.
func (d *Driver) RemoveService(ctx context.Context, deckyName, svc string) error {
	d.opMu.Lock()
	defer d.opMu.Unlock()
	ld, err := d.load(ctx, deckyName)
	if err != nil {
		return err
	}
	c, running := ld.Containers[svc]
	if !running && !slices.Contains(ld.Decky.Services, svc) {
		return fmt.Errorf("%w: %s on %s", engine.ErrServiceAbsent, svc, deckyName)
	}
	if running {
		if err := d.remove(ctx, c.ID); err != nil {
			return fmt.Errorf("%w: %v", engine.ErrDriver, err)
		}
	}
	ld.Decky.Services = slices.DeleteFunc(ld.Decky.Services, func(s string) bool { return s == svc })
	delete(ld.Decky.Config, svc)
	if len(ld.Decky.Config) == 0 {
		ld.Decky.Config = nil
	}
	if err := writeSpec(ld.Opts.DataDir, ld.Decky); err != nil {
		return fmt.Errorf("%w: record the removal of %s from %s: %v", engine.ErrDriver, svc, deckyName, err)
	}
	return nil
}

// ConfigureService stores svc's new configuration in the decky's spec.
// Without apply the running container is left alone (the configuration
// takes effect when it is next recreated); with apply that one container
// is recreated now, losing what it kept in memory.
func (d *Driver) ConfigureService(ctx context.Context, deckyName, svc string, cfg map[string]string, apply bool) (bool, error) {
	if err := d.checkService(svc, cfg); err != nil {
		return false, err
	}
	d.opMu.Lock()
	defer d.opMu.Unlock()
	ld, err := d.load(ctx, deckyName)
	if err != nil {
		return false, err
	}
	_, running := ld.Containers[svc]
	if !running && !slices.Contains(ld.Decky.Services, svc) {
		return false, fmt.Errorf("%w: %s on %s", engine.ErrServiceAbsent, svc, deckyName)
	}
	if !slices.Contains(ld.Decky.Services, svc) {
		ld.Decky.Services = append(ld.Decky.Services, svc)
	}
	setConfig(&ld.Decky, svc, cfg)
	if err := writeSpec(ld.Opts.DataDir, ld.Decky); err != nil {
		return false, fmt.Errorf("%w: record %s's configuration on %s: %v", engine.ErrDriver, svc, deckyName, err)
	}
	if !apply {
		return false, nil
	}
	if err := d.startService(ctx, ld, svc); err != nil {
		return false, err
	}
	return true, nil
}

func setConfig(dk *decky.Decky, svc string, cfg map[string]string) {
	if len(cfg) == 0 {
		delete(dk.Config, svc)
		return
	}
	if dk.Config == nil {
		dk.Config = map[string]map[string]string{}
	}
	dk.Config[svc] = maps.Clone(cfg)
}

// WriteFile drops a file into the decky: it is written on the host into
// <data>/deckies/<decky>/drops/<path>, owned by 65534 with mode, and every
// service container sees it read-only at /drops/<path>. Directories on the
// way are created (0755, 65534). The write cannot leave the drops
// directory, symbolic links included.
func (d *Driver) WriteFile(ctx context.Context, deckyName, p string, content []byte, mode fs.FileMode, mtime time.Time) error {
	return d.withDrops(ctx, deckyName, p, func(drops *honeypot.Drops) error {
		return engine.WriteDrop(drops, deckyName, p, content, mode, mtime)
	})
}

// RemoveFile deletes a dropped file; a file that is not there is not an
// error (as `rm -f`).
func (d *Driver) RemoveFile(ctx context.Context, deckyName, p string) error {
	return d.withDrops(ctx, deckyName, p, func(drops *honeypot.Drops) error {
		return engine.RemoveDrop(drops, deckyName, p)
	})
}

// withDrops checks the path, then runs fn on the decky's drops directory
// (made ready for the containers' user) under the operation lock.
func (d *Driver) withDrops(ctx context.Context, deckyName, p string, fn func(*honeypot.Drops) error) error {
	if err := engine.CheckDropPath(p); err != nil {
		return err
	}
	d.opMu.Lock()
	defer d.opMu.Unlock()
	ld, err := d.load(ctx, deckyName)
	if err != nil {
		return err
	}
	if err := prepareDropsDir(ld.Opts.DataDir, deckyName); err != nil {
		return fmt.Errorf("%w: %v", engine.ErrDriver, err)
	}
	return fn(&honeypot.Drops{Root: DropsDir(ld.Opts.DataDir, deckyName), Owner: &honeypot.Owner{UID: nobody, GID: nobody}})
}
