package node

import (
	"cmp"
	"context"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/decnet-go/decnet/internal/api"
	"github.com/decnet-go/decnet/internal/honeypot"
	"github.com/decnet-go/decnet/internal/intel"
	"github.com/decnet-go/decnet/internal/web"
)

// withDashboard serves the web console beside the API on one address:
// "/" and "/ui/…" go to the dashboard, everything else (/api/v1/…, /metrics
// and unknown paths, which get the API's JSON 404) to the API unchanged.
//
// The dashboard changes deckies through fleet, the same engine operations
// as the API's live routes, with reg's schemas for the config forms.
func (n *Node) withDashboard(apiHandler http.Handler, cfg Config, fleet api.Fleet, reg *honeypot.Registry) http.Handler {
	dash := web.New(web.Config{
		Logger:   cfg.Log.With("component", "web"),
		Version:  cfg.Version,
		Fleet:    fleet,
		Services: reg,
		Notify:   n.notify,
		DataDir:  cfg.DataDir,
		Settings: n.dashboardSettings(cfg),
		TTP:      n.ttpRules(),
	}, n.Store)
	wctx, cancel := context.WithCancel(context.Background())
	n.stopWarm = cancel
	n.wg.Go(func() { dash.Warm(wctx) })
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" || strings.HasPrefix(r.URL.Path, "/ui/") {
			dash.ServeHTTP(w, r)
			return
		}
		apiHandler.ServeHTTP(w, r)
	})
}

// dashboardSettings is what the Settings screen shows about this node:
// addresses and names, never a password or an API key.
func (n *Node) dashboardSettings(cfg Config) *web.Settings {
	s := &web.Settings{
		Listen: n.APIAddr, MetricsListen: n.MetricsAddr, DataDir: cfg.DataDir, Driver: cmp.Or(cfg.Driver, "local"),
		RulesDir: cfg.RulesDir, DeploymentLimit: cfg.DeploymentLimit,
		Database: redactDSN(cmp.Or(cfg.DB, "sqlite:"+filepath.Join(cfg.DataDir, "decnet.db"))),
		Bus:      "embedded NATS",
		Checks: map[string]func(context.Context) error{
			"database": n.Store.Ping,
			"bus":      n.Bus.Ping,
			"ingest":   n.Ingest.Health,
		},
	}
	if cfg.NATSURL != "" {
		s.Bus = redactDSN(cfg.NATSURL)
	} else if cfg.NATSListen != "" {
		s.Bus += " on " + cfg.NATSListen
	}
	s.ProbeAllow = strings.FieldsFunc(cfg.ProbeAllow, func(r rune) bool { return r == ',' || r == ' ' })
	ic := cfg.Intel
	if ic == nil {
		if c, err := intel.ConfigFromEnv(os.Getenv); err == nil {
			ic = &c
		}
	}
	if ic != nil {
		s.IntelEnabled, s.IntelProviders = ic.Enabled, ic.Providers
	}
	return s
}

// redactDSN hides the password (and a bare token) of a URL-shaped DSN.
func redactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.Host == "" {
		if i := strings.LastIndex(dsn, "@"); i >= 0 {
			return "xxxxx" + dsn[i:] // user:password@tcp(host)/db
		}
		return dsn // sqlite:PATH holds no secret
	}
	if _, has := u.User.Password(); !has && u.User != nil {
		u.User = url.User("xxxxx") // nats://TOKEN@host
	}
	return u.Redacted()
}
