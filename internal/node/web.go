package node

import (
	"net/http"
	"strings"

	"github.com/decnet-go/decnet/internal/web"
)

// withDashboard serves the web console beside the API on one address:
// "/" and "/ui/…" go to the dashboard, everything else (/api/v1/…, /metrics
// and unknown paths, which get the API's JSON 404) to the API unchanged.
func (n *Node) withDashboard(apiHandler http.Handler, cfg Config) http.Handler {
	dash := web.New(web.Config{
		Logger:  cfg.Log.With("component", "web"),
		Version: cfg.Version,
	}, n.Store)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" || strings.HasPrefix(r.URL.Path, "/ui/") {
			dash.ServeHTTP(w, r)
			return
		}
		apiHandler.ServeHTTP(w, r)
	})
}
