package docker

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/decnet-go/decnet/internal/decky"
	"github.com/decnet-go/decnet/internal/engine/runtime"
)

// StateTornDown is the aggregate state of a desired decky none of whose
// containers exists.
const StateTornDown = "torn_down"

// deployFile records, beside a decky's spec file, which docker network the
// decky is deployed on and what its containers were made from. Deploy
// writes it; Deploy (for deckies dropped from the fleet) and Teardown
// remove it. A decky is desired on a network when both files are there:
// that is what Reconcile restores and what Reap keeps.
const deployFile = "deploy.json"

// deployRecord is the content of deployFile.
type deployRecord struct {
	Network string `json:"network"`
	Image   string `json:"image,omitempty"`
	NATSURL string `json:"nats_url,omitempty"`
}

func deployPath(dataDir, deckyName string) string {
	return filepath.Join(dataDir, "deckies", deckyName, deployFile)
}

func writeDeployRecord(dataDir, deckyName string, r deployRecord) error {
	return writeJSONFile(deployPath(dataDir, deckyName), r)
}

func readDeployRecord(dataDir, deckyName string) (deployRecord, error) {
	var r deployRecord
	b, err := os.ReadFile(deployPath(dataDir, deckyName))
	if err != nil {
		return r, err
	}
	err = json.Unmarshal(b, &r)
	return r, err
}

// forgetDecky removes the decky's deploy record if it names network: the
// decky is no longer desired there. Its spec and state stay.
func forgetDecky(dataDir, deckyName, network string) error {
	if dataDir == "" {
		return nil
	}
	r, err := readDeployRecord(dataDir, deckyName)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && r.Network != network) {
		return nil
	}
	if err := os.Remove(deployPath(dataDir, deckyName)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("decky %s: forget its deployment: %w", deckyName, err)
	}
	return nil
}

// desiredDecky is a decky the data directory says is deployed on the
// driver's network.
type desiredDecky struct {
	Decky  decky.Decky
	Record deployRecord
}

// desired reads the spec files of dataDir for the deckies deployed on the
// driver's network, by name.
func (d *Driver) desired(dataDir string) (map[string]desiredDecky, error) {
	out := map[string]desiredDecky{}
	ents, err := os.ReadDir(filepath.Join(dataDir, "deckies"))
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the deckies of %s: %w", dataDir, err)
	}
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		r, err := readDeployRecord(dataDir, e.Name())
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("decky %s: %s: %w", e.Name(), deployPath(dataDir, e.Name()), err)
		}
		if r.Network != d.network() {
			continue
		}
		b, err := os.ReadFile(specPath(dataDir, e.Name()))
		if errors.Is(err, fs.ErrNotExist) {
			continue // the spec is gone: the decky is no longer desired
		}
		if err != nil {
			return nil, fmt.Errorf("decky %s: %w", e.Name(), err)
		}
		var dk decky.Decky
		if err := json.Unmarshal(b, &dk); err != nil {
			return nil, fmt.Errorf("decky %s: %s: %w", e.Name(), specPath(dataDir, e.Name()), err)
		}
		dk.Name = e.Name()
		out[dk.Name] = desiredDecky{Decky: dk, Record: r}
	}
	return out, nil
}

// dataDir is the data directory of the fleet: Live.DataDir, else what a
// service container's state bind says.
func (d *Driver) dataDir(ctx context.Context, cs []container.Summary) string {
	d.liveMu.Lock()
	dir := d.Live.DataDir
	d.liveMu.Unlock()
	if dir != "" {
		return dir
	}
	for _, c := range cs {
		if c.Labels[LabelRole] != RoleService {
			continue
		}
		si, err := d.cli.ContainerInspect(ctx, c.ID, client.ContainerInspectOptions{})
		if err != nil || si.Container.HostConfig == nil {
			continue
		}
		suffix := string(filepath.Separator) + filepath.Join("deckies", c.Labels[LabelDecky], c.Labels[LabelService])
		for _, b := range si.Container.HostConfig.Binds {
			host, _, _ := strings.Cut(b, ":")
			if strings.HasSuffix(host, suffix) {
				return strings.TrimSuffix(host, suffix)
			}
		}
	}
	return ""
}

// classify is a decky's aggregate state from the docker states of its
// containers (by service, "" the base) and its desired services: no
// container at all is torn_down; a base that is not running, or desired
// services none of which runs, is failed; some desired services down is
// degraded; otherwise running. A decky without services runs when its
// base does. Containers of services not desired do not count.
func classify(states map[string]string, services []string) string {
	if len(states) == 0 {
		return StateTornDown
	}
	if states[""] != string(container.StateRunning) {
		return StateFailed
	}
	up := 0
	for _, s := range services {
		if states[s] == string(container.StateRunning) {
			up++
		}
	}
	switch {
	case len(services) > 0 && up == 0:
		return StateFailed
	case up < len(services):
		return StateDegraded
	}
	return StateRunning
}

// DeckyReconcile is what Reconcile found and did for one decky.
type DeckyReconcile struct {
	Name    string   `json:"name"`
	Before  string   `json:"before"`
	After   string   `json:"after"`
	Repairs []string `json:"repairs,omitempty"`
	Error   string   `json:"error,omitempty"`
}

// Report is the outcome of Reconcile, per desired decky sorted by name.
type Report struct {
	Network string           `json:"network"`
	Deckies []DeckyReconcile `json:"deckies"`
}

// Repaired counts the repairs of the report.
func (r Report) Repaired() int {
	n := 0
	for _, d := range r.Deckies {
		n += len(d.Repairs)
	}
	return n
}

// Reconcile brings the containers of the driver's network back to the
// desired deckies: those whose spec file (decky.json) and deploy record
// in the data directory (Live.DataDir, else found from the containers)
// name this network. A missing or stopped base is recreated or started,
// and then every service of the decky recreated in its new network
// namespace; a missing or stopped service container is recreated or
// started; a service container of a service no longer desired is removed.
// Running containers are otherwise left alone, even when their spec
// changed. Containers of deckies that are not desired are Reap's.
//
// Docker unreachable returns the error and changes nothing. A decky that
// cannot be repaired has its error in the report, and Reconcile returns
// the errors joined after trying every decky.
func (d *Driver) Reconcile(ctx context.Context) (Report, error) {
	rep := Report{Network: d.network()}
	d.opMu.Lock()
	defer d.opMu.Unlock()
	cs, err := d.list(ctx)
	if err != nil {
		return rep, err
	}
	dataDir := d.dataDir(ctx, cs)
	if dataDir == "" {
		return rep, errors.New("reconcile: the data directory is unknown (set Driver.Live.DataDir, --data-dir)")
	}
	want, err := d.desired(dataDir)
	if err != nil {
		return rep, err
	}
	byDecky := groupByDecky(cs)
	names := make([]string, 0, len(want))
	for n := range want {
		names = append(names, n)
	}
	sort.Strings(names)
	var errs []error
	for _, n := range names {
		dd := want[n]
		have := byDecky[n]
		dr := DeckyReconcile{Name: n, Before: classify(states(have), dd.Decky.Services)}
		repairs, err := d.repair(ctx, dataDir, dd, have, cs)
		dr.Repairs = repairs
		if err != nil {
			dr.Error = err.Error()
			errs = append(errs, fmt.Errorf("decky %s: %w", n, err))
		}
		rep.Deckies = append(rep.Deckies, dr)
	}
	// The state after, as docker now says.
	after, err := d.list(ctx)
	if err != nil {
		return rep, errors.Join(append(errs, err)...)
	}
	byDecky = groupByDecky(after)
	for i := range rep.Deckies {
		dr := &rep.Deckies[i]
		dr.After = classify(states(byDecky[dr.Name]), want[dr.Name].Decky.Services)
	}
	return rep, errors.Join(errs...)
}

// groupByDecky is the containers by decky, then by service ("" the base).
func groupByDecky(cs []container.Summary) map[string]map[string]container.Summary {
	out := map[string]map[string]container.Summary{}
	for _, c := range cs {
		n := c.Labels[LabelDecky]
		if out[n] == nil {
			out[n] = map[string]container.Summary{}
		}
		if c.Labels[LabelRole] == RoleBase {
			out[n][""] = c
		} else {
			out[n][c.Labels[LabelService]] = c
		}
	}
	return out
}

func states(have map[string]container.Summary) map[string]string {
	out := map[string]string{}
	for k, c := range have {
		out[k] = string(c.State)
	}
	return out
}

// reconcileOpts are the options dd's containers are made with: its deploy
// record, then Live, then what the fleet's containers say.
func (d *Driver) reconcileOpts(ctx context.Context, dataDir string, dd desiredDecky, have map[string]container.Summary, all []container.Summary) (DeployOptions, error) {
	d.liveMu.Lock()
	o := d.Live
	d.liveMu.Unlock()
	o.InstallSecret = slices.Clone(o.InstallSecret)
	o.Progress = nil
	o.DataDir = dataDir
	if dd.Record.Image != "" {
		o.Image = dd.Record.Image
	}
	if dd.Record.NATSURL != "" {
		o.NATSURL = dd.Record.NATSURL
	}
	if o.Image == "" {
		if b, ok := have[""]; ok {
			o.Image = b.Image
		}
	}
	if len(o.InstallSecret) == 0 {
		// Any service container of the fleet carries the secret.
		cands := slices.Clone(all)
		slices.SortStableFunc(cands, func(a, b container.Summary) int {
			// this decky's first
			ai, bi := a.Labels[LabelDecky] == dd.Decky.Name, b.Labels[LabelDecky] == dd.Decky.Name
			switch {
			case ai && !bi:
				return -1
			case bi && !ai:
				return 1
			}
			return 0
		})
		for _, c := range cands {
			if c.Labels[LabelRole] != RoleService {
				continue
			}
			si, err := d.cli.ContainerInspect(ctx, c.ID, client.ContainerInspectOptions{})
			if err != nil || si.Container.Config == nil {
				continue
			}
			for _, e := range si.Container.Config.Env {
				if k, v, _ := strings.Cut(e, "="); k == runtime.EnvSecret {
					o.InstallSecret, _ = hex.DecodeString(v)
				}
			}
			if len(o.InstallSecret) > 0 {
				break
			}
		}
	}
	if len(o.InstallSecret) == 0 {
		return o, errors.New("the install secret is unknown (set Driver.Live.InstallSecret)")
	}
	if o.Image == "" {
		img, err := d.EnsureImage(ctx, nil)
		if err != nil {
			return o, err
		}
		o.Image = img
	}
	return o, nil
}

// repair brings one desired decky's containers back, and says what it did.
func (d *Driver) repair(ctx context.Context, dataDir string, dd desiredDecky, have map[string]container.Summary, all []container.Summary) ([]string, error) {
	var done []string
	// Services no longer desired go first: they need no options.
	for svc, c := range have {
		if svc == "" || slices.Contains(dd.Decky.Services, svc) {
			continue
		}
		if err := d.remove(ctx, c.ID); err != nil {
			return done, err
		}
		done = append(done, svc+" removed (not desired)")
	}
	base, haveBase := have[""]
	baseUp := haveBase && base.State == container.StateRunning
	var down []string
	for _, s := range dd.Decky.Services {
		if c, ok := have[s]; !ok || c.State != container.StateRunning {
			down = append(down, s)
		}
	}
	if baseUp && len(down) == 0 {
		return done, nil
	}
	o, err := d.reconcileOpts(ctx, dataDir, dd, have, all)
	if err != nil {
		return done, err
	}
	fam, ok := decky.LookupFamily(dd.Decky.OSFamily)
	if !ok {
		return done, fmt.Errorf("nmap_os %q is not an OS family", dd.Decky.OSFamily)
	}
	p, err := planDecky(dd.Decky, fam, o, d.network())
	if err != nil {
		return done, err
	}
	if !baseUp {
		// The services live in the base's network namespace: they go
		// first and come back after it.
		for _, s := range p.Services {
			if c, ok := have[s.Labels[LabelService]]; ok {
				if err := d.remove(ctx, c.ID); err != nil {
					return done, err
				}
			}
		}
		if haveBase && base.Labels[LabelSpecHash] == p.Base.Labels[LabelSpecHash] {
			if err := d.start(ctx, base.ID, p.Base.Name); err == nil {
				done = append(done, "base started")
			} else {
				// A dead container may not start again: make it anew.
				if err := d.remove(ctx, base.ID); err != nil {
					return done, err
				}
				if err := d.createAndStart(ctx, p.Base); err != nil {
					return done, err
				}
				done = append(done, "base recreated")
			}
		} else {
			if haveBase {
				if err := d.remove(ctx, base.ID); err != nil {
					return done, err
				}
			}
			if err := d.createAndStart(ctx, p.Base); err != nil {
				return done, err
			}
			done = append(done, "base recreated")
		}
		down = slices.Clone(dd.Decky.Services)
		have = nil
	}
	if err := prepareDropsDir(dataDir, dd.Decky.Name); err != nil {
		return done, err
	}
	for _, s := range p.Services {
		svc := s.Labels[LabelService]
		if !slices.Contains(down, svc) {
			continue
		}
		if c, ok := have[svc]; ok && c.Labels[LabelSpecHash] == s.Labels[LabelSpecHash] {
			if err := d.start(ctx, c.ID, s.Name); err == nil {
				done = append(done, svc+" started")
				continue
			}
			if err := d.remove(ctx, c.ID); err != nil {
				return done, err
			}
		} else if ok {
			if err := d.remove(ctx, c.ID); err != nil {
				return done, err
			}
		}
		for _, b := range s.Binds {
			if err := prepareStateDir(b.Host); err != nil {
				return done, err
			}
		}
		if err := d.createAndStart(ctx, s); err != nil {
			return done, err
		}
		done = append(done, svc+" recreated")
	}
	return done, nil
}

// Reaped is a container Reap removed (or failed to).
type Reaped struct {
	Container string `json:"container"`
	ID        string `json:"id"`
	Decky     string `json:"decky"`
	Role      string `json:"role"`
	Service   string `json:"service,omitempty"`
	Error     string `json:"error,omitempty"`
}

// ReapReport is the outcome of Reap.
type ReapReport struct {
	Network string   `json:"network"`
	Removed []Reaped `json:"removed"`
}

// Reap removes the containers on the driver's network (by label) that no
// desired decky owns: a decky whose spec file or deploy record is gone, or
// that was never deployed from this data directory. When the data
// directory names no desired decky at all while containers exist, Reap
// refuses (a wrong --data-dir would otherwise take the whole fleet):
// Teardown removes a whole fleet.
func (d *Driver) Reap(ctx context.Context) (ReapReport, error) {
	rep := ReapReport{Network: d.network()}
	d.opMu.Lock()
	defer d.opMu.Unlock()
	cs, err := d.list(ctx)
	if err != nil {
		return rep, err
	}
	if len(cs) == 0 {
		return rep, nil
	}
	dataDir := d.dataDir(ctx, cs)
	if dataDir == "" {
		return rep, errors.New("reap: the data directory is unknown (set Driver.Live.DataDir, --data-dir)")
	}
	want, err := d.desired(dataDir)
	if err != nil {
		return rep, err
	}
	if len(want) == 0 {
		return rep, fmt.Errorf("reap: %s has no decky deployed on %s, yet %d containers are: refusing to remove them all (wrong --data-dir? `decnet teardown --all` removes a fleet)",
			dataDir, d.network(), len(cs))
	}
	var errs []error
	for _, c := range orderForRemoval(cs) {
		if _, ok := want[c.Labels[LabelDecky]]; ok {
			continue
		}
		r := Reaped{Container: name(c), ID: shortID(c.ID), Decky: c.Labels[LabelDecky], Role: c.Labels[LabelRole], Service: c.Labels[LabelService]}
		if err := d.remove(ctx, c.ID); err != nil {
			r.Error = err.Error()
			errs = append(errs, err)
		}
		rep.Removed = append(rep.Removed, r)
	}
	return rep, errors.Join(errs...)
}
