package web

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/decnet-go/decnet/internal/api"
	"github.com/decnet-go/decnet/internal/store"
)

// Settings is what the Settings screen shows about the node. Nothing in it
// may be a secret: database and bus addresses come without passwords.
type Settings struct {
	Listen        string // API and dashboard address
	MetricsListen string // the unauthenticated /metrics listener, if any
	DataDir       string
	Database      string // dialect and DSN without password
	Bus           string // "embedded" or the external NATS URL without password
	Driver        string // "local" or "docker"
	RulesDir      string // TTP rule files over the embedded ones, if any
	// ProbeAllow are the networks the active prober may fingerprint.
	ProbeAllow []string
	// IntelEnabled and IntelProviders say which intel providers run
	// (names only, never keys).
	IntelEnabled   bool
	IntelProviders []string
	// DeploymentLimit is the start-up limit, used until an admin sets one;
	// zero means api.DefaultDeploymentLimit.
	DeploymentLimit int
	// Checks are the health components by name ("database", "bus", …), as
	// GET /api/v1/health reports them.
	Checks map[string]func(context.Context) error
}

// Deployment limit, as the API keeps it (internal/api/handlers_config.go):
// the state row config_limits holds {"deployment_limit": N}.
const (
	configLimitsKey    = "config_limits"
	maxDeploymentLimit = 500
	healthTimeout      = 2 * time.Second
)

// stateStore reads and writes the state rows settings live in.
// *store.Store implements it.
type stateStore interface {
	State(ctx context.Context, key string) (string, error)
	SetState(ctx context.Context, key, value string) error
}

// healthRow is one component's health.
type healthRow struct {
	Name, Err string
	OK        bool
}

// settingsData is the Settings screen.
type settingsData struct {
	Now      time.Time
	S        Settings
	Version  string
	Limit    int
	LimitSet bool // an admin set the limit (else it is the start-up one)
	Health   []healthRow
	Form     struct{ Value, Err string }
	Notice   string
}

// deploymentLimit is the limit in force: the stored one, else the
// start-up one.
func (d *Dashboard) deploymentLimit(ctx context.Context) (limit int, set bool, err error) {
	def := cmp.Or(d.settings.DeploymentLimit, api.DefaultDeploymentLimit)
	ss, ok := d.st.(stateStore)
	if !ok {
		return def, false, nil
	}
	v, err := ss.State(ctx, configLimitsKey)
	if errors.Is(err, store.ErrNotFound) {
		return def, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	var l struct {
		DeploymentLimit int `json:"deployment_limit"`
	}
	if json.Unmarshal([]byte(v), &l) != nil || l.DeploymentLimit < 1 {
		return def, false, nil
	}
	return l.DeploymentLimit, true, nil
}

func (d *Dashboard) settingsData(r *http.Request) (*settingsData, error) {
	v := &settingsData{Now: d.now(), S: d.settings, Version: d.version}
	var err error
	if v.Limit, v.LimitSet, err = d.deploymentLimit(r.Context()); err != nil {
		return nil, err
	}
	v.Form.Value = strconv.Itoa(v.Limit)
	ctx, cancel := context.WithTimeout(r.Context(), healthTimeout)
	defer cancel()
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range d.settings.Checks {
			if !yield(k) {
				return
			}
		}
	}) {
		h := healthRow{Name: name, OK: true}
		if err := d.settings.Checks[name](ctx); err != nil {
			h.OK, h.Err = false, err.Error()
		}
		v.Health = append(v.Health, h)
	}
	return v, nil
}

// settingsPage shows the node's settings; admins may change the deployment
// limit. GET /ui/settings.
func (d *Dashboard) settingsPage(w http.ResponseWriter, r *http.Request, s *session) error {
	v, err := d.settingsData(r)
	if err != nil {
		return err
	}
	v.Notice = noticeText(r.URL.Query())
	return d.renderPage(w, r, s, http.StatusOK, "settings", "Settings", v)
}

// setDeploymentLimit stores how many deckies one deploy may start, the
// setting PUT /api/v1/config/deployment-limit changes. POST
// /ui/settings/deployment-limit {csrf, deployment_limit} (admin; 1..500).
func (d *Dashboard) setDeploymentLimit(w http.ResponseWriter, r *http.Request, s *session) error {
	raw := strings.TrimSpace(r.PostFormValue("deployment_limit"))
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 || n > maxDeploymentLimit {
		v, err := d.settingsData(r)
		if err != nil {
			return err
		}
		v.Form.Value, v.Form.Err = raw, "Deployment limit: a whole number from 1 to 500."
		return d.renderPage(w, r, s, http.StatusUnprocessableEntity, "settings", "Settings", v)
	}
	ss, ok := d.st.(stateStore)
	if !ok {
		return errors.New("web: the store cannot keep settings")
	}
	b, _ := json.Marshal(map[string]int{"deployment_limit": n})
	if err := ss.SetState(r.Context(), configLimitsKey, string(b)); err != nil {
		return err
	}
	d.log.Info("web: deployment limit changed", "user", s.user.Username, "deployment_limit", n)
	back(w, r, "/ui/settings", "limit", strconv.Itoa(n))
	return nil
}
