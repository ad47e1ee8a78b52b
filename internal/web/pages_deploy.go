package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/decnet-go/decnet/internal/api"
	"github.com/decnet-go/decnet/internal/decky"
	"github.com/decnet-go/decnet/internal/engine"
	"github.com/decnet-go/decnet/internal/store"
)

// Deploying deckies from an archetype on the Deckies screen: the fleet
// `decnet deploy --archetype A --deckies N` builds, started through the
// same api.Deployer the API's POST /api/v1/deckies/deploy uses, bounded by
// the same deployment limit.

// prefixPattern is what a name prefix may be: with "-NN" appended it must
// still be a valid decky name (event.ValidDeckyName, 63 characters).
var prefixPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,55}$`)

// defaultPrefix names deckies as decnet deploy does: decky-01, decky-02, …
const defaultPrefix = "decky"

// lifecycleStore records a deploy's operations as the API does, so GET
// /api/v1/deckies/lifecycle and the bus see them. *store.Store implements
// it; a Store without it deploys without records.
type lifecycleStore interface {
	CreateLifecycle(ctx context.Context, deckyName, operation string) (store.Lifecycle, error)
	UpdateLifecycle(ctx context.Context, id, status, errMsg string) error
}

// archetypeOption is one archetype the deploy form offers.
type archetypeOption struct {
	decky.Archetype
	Missing []string // services of the archetype this node cannot run
}

// deployForm is the deploy form with what was entered and what was wrong.
type deployForm struct {
	Available  bool // the fleet can start deckies
	Archetypes []archetypeOption
	Limit      int
	Archetype  string
	Count      string
	Prefix     string
	Err        string
	Field      string // "archetype", "count" or "prefix" when Err is about one
}

// deckyCard is one decky on the Deckies screen.
type deckyCard struct {
	store.DeckyRow
	Listening, Failed int
}

// deckiesData is the Deckies screen.
type deckiesData struct {
	Now     time.Time
	Deckies []deckyCard
	Running int
	Deploy  deployForm
	Notice  string
}

// deployer is the fleet when it can start whole deckies.
func (d *Dashboard) deployer() (api.Deployer, bool) {
	dep, ok := d.fleet.(api.Deployer)
	return dep, ok
}

// deckiesData reads the screen; the deploy form is filled for admins.
func (d *Dashboard) deckiesData(r *http.Request, s *session) (*deckiesData, error) {
	rows, err := d.st.Deckies(r.Context())
	if err != nil {
		return nil, err
	}
	v := &deckiesData{Now: d.now()}
	for _, dk := range rows {
		dv := deckyCard{DeckyRow: dk}
		for _, b := range dk.Services {
			if b.Status == "failed" {
				dv.Failed++
			} else {
				dv.Listening++
			}
		}
		if dk.Status == "running" {
			v.Running++
		}
		v.Deckies = append(v.Deckies, dv)
	}
	if s == nil || !s.isAdmin() {
		return v, nil
	}
	dep, ok := d.deployer()
	if !ok {
		return v, nil
	}
	f := &v.Deploy
	f.Available, f.Count, f.Prefix = true, "1", defaultPrefix
	if f.Limit, _, err = d.deploymentLimit(r.Context()); err != nil {
		return nil, err
	}
	names := dep.Catalog().Names()
	for _, a := range decky.Archetypes() {
		o := archetypeOption{Archetype: a}
		for _, svc := range a.Services {
			if !slices.Contains(names, svc) {
				o.Missing = append(o.Missing, svc)
			}
		}
		f.Archetypes = append(f.Archetypes, o)
	}
	return v, nil
}

// deckies lists the deckies with their services; admins also get the
// deploy form. GET /ui/deckies.
func (d *Dashboard) deckies(w http.ResponseWriter, r *http.Request, s *session) error {
	v, err := d.deckiesData(r, s)
	if err != nil {
		return err
	}
	v.Notice = noticeText(r.URL.Query())
	return d.renderPage(w, r, s, http.StatusOK, "deckies", "Deckies", v)
}

// deployDeckies starts count deckies built from an archetype. POST
// /ui/deckies/deploy {csrf, archetype, count, prefix}. Bad input comes
// back as the screen with the message beside its field (422); a decky the
// driver refuses as the screen with the message (409), the deckies started
// before it staying up.
func (d *Dashboard) deployDeckies(w http.ResponseWriter, r *http.Request, s *session) error {
	dep, ok := d.deployer()
	if !ok {
		return d.actionError(w, r, s, errNoFleet)
	}
	v, err := d.deckiesData(r, s)
	if err != nil {
		return err
	}
	f := &v.Deploy
	f.Archetype = strings.TrimSpace(r.PostFormValue("archetype"))
	f.Count = strings.TrimSpace(r.PostFormValue("count"))
	f.Prefix = strings.ToLower(strings.TrimSpace(r.PostFormValue("prefix")))
	refuse := func(field, msg string) error {
		f.Field, f.Err = field, msg
		return d.renderPage(w, r, s, http.StatusUnprocessableEntity, "deckies", "Deckies", v)
	}
	i := slices.IndexFunc(f.Archetypes, func(o archetypeOption) bool { return o.Slug == f.Archetype })
	switch {
	case f.Archetype == "" || i < 0:
		return refuse("archetype", "Archetype: choose one of the listed archetypes.")
	case len(f.Archetypes[i].Missing) > 0:
		return refuse("archetype", fmt.Sprintf("Archetype %s: this node cannot run %s; choose another archetype.",
			f.Archetype, strings.Join(f.Archetypes[i].Missing, ", ")))
	}
	n, err := strconv.Atoi(f.Count)
	if err != nil || n < 1 || n > f.Limit {
		return refuse("count", fmt.Sprintf("Count: a whole number from 1 to %d (the deployment limit, set on the Settings screen).", f.Limit))
	}
	prefix := f.Prefix
	if prefix == "" {
		prefix = defaultPrefix
	}
	if !prefixPattern.MatchString(prefix) {
		return refuse("prefix", "Name prefix: lower-case letters, digits and dashes, starting with a letter or digit, at most 56 characters.")
	}
	fleet, err := d.buildDeploy(r.Context(), dep, f.Archetype, prefix, n)
	if err != nil {
		return refuse("count", "Count: "+err.Error())
	}
	var started []string
	for _, dk := range fleet {
		if err := d.deployOne(r.Context(), dep, dk); err != nil {
			if !errors.Is(err, engine.ErrDeckyExists) && !userFacing(err) {
				return err
			}
			msg := "Decky " + dk.Name + ": " + err.Error()
			if len(started) > 0 {
				msg = "Started " + strings.Join(started, ", ") + ". " + msg
			}
			f.Err = msg
			return d.renderPage(w, r, s, opStatus(err), "deckies", "Deckies", v)
		}
		started = append(started, dk.Name)
	}
	d.log.Info("web: deckies deployed", "user", s.user.Username, "archetype", f.Archetype, "deckies", started)
	back(w, r, "/ui/deckies", "deployed", fmt.Sprintf("%s (%s)", strings.Join(started, ", "), f.Archetype))
	return nil
}

// buildDeploy is the fleet of a deploy: n deckies of the archetype named
// <prefix>-01, <prefix>-02, … (skipping names that run already), with the
// next free addresses of the driver's network.
func (d *Dashboard) buildDeploy(_ context.Context, dep api.Deployer, archetype, prefix string, n int) ([]decky.Decky, error) {
	gen, err := decky.Generate(n, decky.GenerateOptions{Archetype: archetype})
	if err != nil {
		return nil, err
	}
	running := dep.RunningDeckies()
	taken := map[string]bool{}
	for _, o := range running {
		taken[o.Name] = true
	}
	next := 1
	for i := range gen {
		for taken[fmt.Sprintf("%s-%02d", prefix, next)] {
			next++
		}
		gen[i].Name = fmt.Sprintf("%s-%02d", prefix, next)
		gen[i].IP = netip.Addr{}
		next++
	}
	all := append(slices.Clone(running), gen...)
	if err := decky.Allocate(all, dep.Placement(), netip.Addr{}); err != nil {
		return nil, err
	}
	return all[len(running):], nil
}

// deployOne starts one decky, recording its lifecycle as the API's
// background deploy does.
func (d *Dashboard) deployOne(ctx context.Context, dep api.Deployer, dk decky.Decky) error {
	ls, _ := d.st.(lifecycleStore)
	var row store.Lifecycle
	if ls != nil {
		var err error
		if row, err = ls.CreateLifecycle(ctx, dk.Name, store.OpDeploy); err != nil {
			return err
		}
		d.lifecycle(ctx, ls, row.ID, dk.Name, store.LifecycleRunning, nil)
	}
	err := dep.AddDecky(ctx, dk)
	if ls != nil {
		status := store.LifecycleSucceeded
		if err != nil {
			status = store.LifecycleFailed
		}
		d.lifecycle(context.WithoutCancel(ctx), ls, row.ID, dk.Name, status, err)
	}
	return err
}

// lifecycle moves a lifecycle row and announces it on
// decky.<name>.lifecycle, as the API does.
func (d *Dashboard) lifecycle(ctx context.Context, ls lifecycleStore, id, name, status string, opErr error) {
	msg := ""
	if opErr != nil {
		msg = opErr.Error()
	}
	if err := ls.UpdateLifecycle(ctx, id, status, msg); err != nil {
		d.log.Error("web: record decky lifecycle", "id", id, "status", status, "err", err)
	}
	ev := map[string]string{"lifecycle_id": id, "operation": store.OpDeploy, "status": status}
	if msg != "" {
		ev["error"] = msg
	}
	d.notify("decky."+name+".lifecycle", ev)
}
