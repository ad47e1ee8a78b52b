package node

import (
	"net/http"
	"strings"

	"github.com/decnet-go/decnet/internal/api"
	"github.com/decnet-go/decnet/internal/honeypot"
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
	}, n.Store)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" || strings.HasPrefix(r.URL.Path, "/ui/") {
			dash.ServeHTTP(w, r)
			return
		}
		apiHandler.ServeHTTP(w, r)
	})
}
