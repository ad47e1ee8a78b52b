package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"

	"github.com/decnet-go/decnet/internal/decky"
	"github.com/decnet-go/decnet/internal/engine"
	"github.com/decnet-go/decnet/internal/store"
)

// Deployer is a Fleet that can also start and stop whole deckies: the
// deploy, lifecycle and delete routes under /api/v1/deckies need it (a
// Fleet without it makes them answer 503).
type Deployer interface {
	// AddDecky starts a new decky with all its services and records it so
	// restarts keep it; engine.ErrDeckyExists when its name or address is
	// in use.
	AddDecky(ctx context.Context, d decky.Decky) error
	// RemoveDecky stops a decky and forgets it (its store rows too);
	// engine.ErrUnknownDecky when there is none.
	RemoveDecky(ctx context.Context, name string) error
	// RunningDeckies lists the deckies that run now.
	RunningDeckies() []decky.Decky
	// Catalog is what deployment INI files are checked against.
	Catalog() decky.ServiceCatalog
	// Placement is the network the driver runs deckies on: deckies of a
	// file that names no net are given addresses from it, and every
	// address must lie inside its subnet.
	Placement() decky.Network
}

// deployPath is the deploy route; its body may carry a fleet file up to
// decky.MaxConfigSize, JSON-escaped.
const deployPath = "/api/v1/deckies/deploy"

// maxDeployBodyBytes bounds a deploy body: the INI limit, with room for
// JSON escaping.
const maxDeployBodyBytes = 4 * decky.MaxConfigSize

// maxLifecycleIDs bounds the ids one lifecycle poll may ask for.
const maxLifecycleIDs = 200

// lifecycleEvent is what the bus carries on decky.<name>.lifecycle.
type lifecycleEvent struct {
	LifecycleID string `json:"lifecycle_id"`
	Operation   string `json:"operation"`
	Status      string `json:"status"`
	Error       string `json:"error,omitempty"`
}

// deployResponse answers a deploy.
type deployResponse struct {
	Message      string   `json:"message"`
	Mode         string   `json:"mode"`
	LifecycleIDs []string `json:"lifecycle_ids"`
}

// deployJob is one operation of a deploy, run in the background.
type deployJob struct {
	id, op string
	decky  decky.Decky
	// replace: a running decky of the same name is removed first.
	replace bool
}

var errShuttingDown = newError(http.StatusServiceUnavailable, "shutting down; deploy again after the restart")

// Drain refuses new deploys and waits until the background deploys of h (a
// handler New returned) have finished, so the caller can stop the engine
// and close the store without cutting one off half way.
func Drain(h http.Handler) {
	s, ok := h.(*server)
	if !ok {
		return
	}
	s.drainMu.Lock()
	s.draining = true
	s.drainMu.Unlock()
	s.deploys.Wait()
}

func (s *server) deployer() (Deployer, error) {
	dep, ok := s.fleet.(Deployer)
	if !ok {
		return nil, errNoDriver
	}
	return dep, nil
}

func conflict(format string, args ...any) *apiError {
	return newError(http.StatusConflict, fmt.Sprintf(format, args...))
}

// deployDeckies parses a fleet file, checks it against the running fleet,
// and starts its deckies in the background.
// POST /api/v1/deckies/deploy {ini_content | yaml_content, replace_fleet}.
func (s *server) deployDeckies(w http.ResponseWriter, r *http.Request, _ *identity) error {
	dep, err := s.deployer()
	if err != nil {
		return err
	}
	var body struct {
		INIContent   *string `json:"ini_content"`
		YAMLContent  *string `json:"yaml_content"` // the same fleet model in YAML (decnet deploy --api)
		ReplaceFleet bool    `json:"replace_fleet"`
	}
	if err := decodeJSON(r, &body); err != nil {
		return err
	}
	var f *decky.Fleet
	switch {
	case body.INIContent != nil && body.YAMLContent != nil:
		return invalidField("ini_content, yaml_content: give one of them, not both")
	case body.YAMLContent != nil:
		f, err = decky.ParseYAML("yaml_content", []byte(*body.YAMLContent), dep.Catalog())
	case body.INIContent != nil:
		f, err = decky.ParseINI("ini_content", []byte(*body.INIContent), dep.Catalog())
	default:
		return missingField("ini_content")
	}
	if err != nil {
		return conflict("%v", err)
	}
	if ir, ok := dep.(interface{ RunsCustomImages() bool }); !ok || !ir.RunsCustomImages() {
		if err := f.CheckRunnable(); err != nil {
			return conflict("%v", err)
		}
	}
	if len(f.Deckies) == 0 {
		return conflict("ini_content defines no deckies")
	}
	limit, err := s.deploymentLimit(r.Context())
	if err != nil {
		return err
	}
	if len(f.Deckies) > limit {
		return conflict("ini_content defines %d deckies; one deploy may start at most %d (the deployment limit)", len(f.Deckies), limit)
	}
	running := dep.RunningDeckies()
	inINI := map[string]bool{}
	for _, d := range f.Deckies {
		inINI[d.Name] = true
	}
	var staying []decky.Decky
	if !body.ReplaceFleet {
		for _, d := range running {
			if inINI[d.Name] {
				return conflict("decky %s already exists; delete it first or deploy with replace_fleet", d.Name)
			}
		}
		staying = running
	}
	if err := allocateAround(f, staying, dep.Placement()); err != nil {
		return err
	}
	var jobs []deployJob
	if body.ReplaceFleet {
		for _, d := range running {
			if !inINI[d.Name] {
				jobs = append(jobs, deployJob{op: store.OpRemove, decky: d})
			}
		}
	}
	for _, d := range f.Deckies {
		jobs = append(jobs, deployJob{op: store.OpDeploy, decky: d,
			replace: slices.ContainsFunc(running, func(o decky.Decky) bool { return o.Name == d.Name })})
	}
	ids := make([]string, 0, len(jobs))
	if s.isDraining() {
		return errShuttingDown
	}
	for i := range jobs {
		row, err := s.st.CreateLifecycle(r.Context(), jobs[i].decky.Name, jobs[i].op)
		if err != nil {
			return err
		}
		jobs[i].id = row.ID
		ids = append(ids, row.ID)
		s.notify("decky."+row.DeckyName+".lifecycle", lifecycleEvent{LifecycleID: row.ID, Operation: row.Operation, Status: row.Status})
	}
	s.drainMu.Lock()
	if s.draining {
		s.drainMu.Unlock()
		return errShuttingDown
	}
	s.deploys.Add(1)
	s.drainMu.Unlock()
	go s.runDeploy(context.WithoutCancel(r.Context()), dep, jobs)
	return writeJSON(w, http.StatusAccepted, deployResponse{
		Message: fmt.Sprintf("Deploying %d decky(ies) in the background", len(f.Deckies)), Mode: "unihost", LifecycleIDs: ids})
}

// allocateAround gives the deckies the file left without an ip the next
// free addresses of the driver's network (place), skipping those the
// deckies that stay running have, and refuses addresses the driver cannot
// run or that are taken.
func allocateAround(f *decky.Fleet, staying []decky.Decky, place decky.Network) error {
	if !f.Network.Subnet.IsValid() {
		f.Network = place
	}
	// Which addresses did the file give? Reallocating with a decky's own
	// address as the host's moves it only when the file left it out.
	explicit := make([]bool, len(f.Deckies))
	for i, d := range f.Deckies {
		g := *f
		g.Deckies = slices.Clone(f.Deckies)
		explicit[i] = g.Allocate(d.IP) == nil && g.Deckies[i].IP == d.IP
	}
	all := slices.Clone(staying)
	for i, d := range f.Deckies {
		if !explicit[i] {
			d.IP = netip.Addr{}
		}
		all = append(all, d)
	}
	for i, d := range f.Deckies {
		if !explicit[i] {
			continue
		}
		for _, o := range staying {
			if o.IP == d.IP {
				return conflict("ip %s of decky %s is already used by running decky %s", d.IP, d.Name, o.Name)
			}
		}
	}
	if err := decky.Allocate(all, f.Network, netip.Addr{}); err != nil {
		return conflict("ini_content: %v", err)
	}
	copy(f.Deckies, all[len(staying):])
	var off []string
	for _, d := range f.Deckies {
		if !place.Subnet.Contains(d.IP) {
			off = append(off, fmt.Sprintf("%s (%s)", d.Name, d.IP))
		}
	}
	if len(off) > 0 {
		return conflict("decky %s outside %s, the network this control plane runs deckies on; "+
			"drop net= and the ip= keys (addresses are then allocated from it) or give addresses inside it",
			strings.Join(off, ", "), place.Subnet)
	}
	return nil
}

// runDeploy carries out a deploy's jobs in order (removals first), one
// lifecycle row each. Deploys run one at a time.
func (s *server) runDeploy(ctx context.Context, dep Deployer, jobs []deployJob) {
	defer s.deploys.Done()
	s.deployMu.Lock()
	defer s.deployMu.Unlock()
	for _, j := range jobs {
		s.setLifecycle(ctx, j, store.LifecycleRunning, nil)
		var err error
		switch j.op {
		case store.OpRemove:
			if err = dep.RemoveDecky(ctx, j.decky.Name); errors.Is(err, engine.ErrUnknownDecky) {
				err = nil // already gone
			}
		default:
			if j.replace {
				if err = dep.RemoveDecky(ctx, j.decky.Name); errors.Is(err, engine.ErrUnknownDecky) {
					err = nil
				}
			}
			if err == nil {
				err = dep.AddDecky(ctx, j.decky)
			}
		}
		if err != nil {
			s.log.Warn("decky lifecycle failed", "decky", j.decky.Name, "operation", j.op, "err", err)
			s.setLifecycle(ctx, j, store.LifecycleFailed, err)
			continue
		}
		s.setLifecycle(ctx, j, store.LifecycleSucceeded, nil)
	}
}

func (s *server) setLifecycle(ctx context.Context, j deployJob, status string, opErr error) {
	msg := ""
	if opErr != nil {
		msg = opErr.Error()
	}
	if err := s.st.UpdateLifecycle(ctx, j.id, status, msg); err != nil {
		s.log.Error("record decky lifecycle", "id", j.id, "status", status, "err", err)
	}
	s.notify("decky."+j.decky.Name+".lifecycle", lifecycleEvent{LifecycleID: j.id, Operation: j.op, Status: status, Error: msg})
}

// lifecycle answers a poll of lifecycle rows.
// GET /api/v1/deckies/lifecycle?ids=<id>&ids=<id> (1..200 ids).
func (s *server) lifecycle(w http.ResponseWriter, r *http.Request, _ *identity) error {
	ids := r.URL.Query()["ids"]
	if len(ids) < 1 || len(ids) > maxLifecycleIDs {
		return invalidField(fmt.Sprintf("ids: give 1 to %d lifecycle ids (got %d)", maxLifecycleIDs, len(ids)))
	}
	rows, err := s.st.Lifecycles(r.Context(), ids)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"rows": rows})
}

// deleteDecky stops a decky and forgets it.
// DELETE /api/v1/deckies/{name}.
func (s *server) deleteDecky(w http.ResponseWriter, r *http.Request, _ *identity) error {
	dep, err := s.deployer()
	if err != nil {
		return err
	}
	name := r.PathValue("name")
	if err := dep.RemoveDecky(r.Context(), name); err != nil {
		return err
	}
	s.notify("decky."+name+".removed", map[string]string{"decky": name})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *server) isDraining() bool {
	s.drainMu.Lock()
	defer s.drainMu.Unlock()
	return s.draining
}
