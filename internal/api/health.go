package api

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// checkTimeout bounds one health check.
const checkTimeout = 2 * time.Second

// criticalComponents make the API unhealthy (503) when they fail; any other
// failing component only degrades it.
var criticalComponents = map[string]bool{"database": true, "bus": true, "ingest": true}

type componentHealth struct {
	Status string `json:"status"` // ok or failing
	Detail string `json:"detail,omitempty"`
}

type healthReport struct {
	Status     string                     `json:"status"` // healthy, degraded or unhealthy
	Version    string                     `json:"version"`
	Components map[string]componentHealth `json:"components"`
}

// health answers a liveness probe without a token ({"status":"ok"}) and a
// full report of the components with one: 503 when a critical one fails.
// GET /api/v1/health.
func (s *server) health(w http.ResponseWriter, r *http.Request) error {
	if r.Header.Get("Authorization") == "" {
		return writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	}
	if _, err := s.authorize(r, accessViewer); err != nil {
		return err
	}
	rep := s.checkHealth(r.Context())
	status := http.StatusOK
	if rep.Status == "unhealthy" {
		status = http.StatusServiceUnavailable
	}
	return writeJSON(w, status, rep)
}

// checkHealth runs every check at once, each under checkTimeout.
func (s *server) checkHealth(ctx context.Context) healthReport {
	rep := healthReport{Status: "healthy", Version: s.version, Components: make(map[string]componentHealth, len(s.checks))}
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	for name, check := range s.checks {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, checkTimeout)
			defer cancel()
			c := componentHealth{Status: "ok"}
			if err := check(cctx); err != nil {
				c = componentHealth{Status: "failing", Detail: err.Error()}
			}
			mu.Lock()
			defer mu.Unlock()
			rep.Components[name] = c
			switch {
			case c.Status == "ok":
			case criticalComponents[name]:
				rep.Status = "unhealthy"
			case rep.Status == "healthy":
				rep.Status = "degraded"
			}
		})
	}
	wg.Wait()
	return rep
}
