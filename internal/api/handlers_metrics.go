package api

import "net/http"

// serveMetrics answers every series in the Prometheus text format.
// GET /metrics (viewer). Operators who scrape without a token run the
// metrics on a listener of their own instead (decnet up --metrics-listen).
func (s *server) serveMetrics(w http.ResponseWriter, r *http.Request, _ *identity) error {
	s.metrics.Handler().ServeHTTP(w, r)
	return nil
}
