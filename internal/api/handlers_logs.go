package api

import (
	"net/http"
	"net/url"
	"time"

	"github.com/decnet-go/decnet/internal/store"
)

// statsResponse is the store's counts plus how many deckies are running.
type statsResponse struct {
	store.Stats
	ActiveDeckies int `json:"active_deckies"`
}

// stats answers the dashboard's headline counts.
// GET /api/v1/stats.
func (s *server) stats(w http.ResponseWriter, r *http.Request, _ *identity) error {
	st, err := s.st.Stats(r.Context())
	if err != nil {
		return err
	}
	deckies, err := s.st.Deckies(r.Context())
	if err != nil {
		return err
	}
	resp := statsResponse{Stats: st}
	for _, d := range deckies {
		if d.Status == "running" {
			resp.ActiveDeckies++
		}
	}
	return writeJSON(w, http.StatusOK, resp)
}

// Histogram bounds: interval_minutes from 1 minute to 30 days.
const (
	defaultHistogramMinutes = 15
	maxHistogramMinutes     = 30 * 24 * 60
)

// eventQuery reads the list parameters of /logs and the time bounds
// start_time and end_time (ISO 8601; without a zone, UTC).
func eventQuery(r *http.Request) (store.EventQuery, error) {
	p, err := parsePage(r, maxListLimit, "search")
	if err != nil {
		return store.EventQuery{}, err
	}
	q := store.EventQuery{Page: p}
	return q, timeBounds(r.URL.Query(), &q)
}

// eventFilters reads the filters /logs shares with its histogram and the
// live stream: search, start_time and end_time.
func eventFilters(vals url.Values) (q store.EventQuery, err error) {
	if q.Search, err = filterParam(vals, "search"); err != nil {
		return q, err
	}
	return q, timeBounds(vals, &q)
}

// timeBounds reads start_time and end_time into q.
func timeBounds(vals url.Values, q *store.EventQuery) (err error) {
	if q.Since, err = timeParam(vals, "start_time"); err != nil {
		return err
	}
	q.Until, err = timeParam(vals, "end_time")
	return err
}

// timeLayouts are the forms a time bound may take: what DECNET's dashboard
// sends ("2026-05-01 10:00:00") and RFC 3339.
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02T15:04", "2006-01-02"}

// timeParam reads an optional time query parameter; zero when absent.
func timeParam(q url.Values, name string) (time.Time, error) {
	v, err := filterParam(q, name)
	if err != nil || v == "" {
		return time.Time{}, err
	}
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, invalidParam(name + " must be an ISO 8601 time, e.g. 2026-05-01T10:00:00Z")
}

// logs pages through stored events, newest first.
// GET /api/v1/logs?limit&offset&search&start_time&end_time.
func (s *server) logs(w http.ResponseWriter, r *http.Request, _ *identity) error {
	q, err := eventQuery(r)
	if err != nil {
		return err
	}
	rows, total, err := s.st.EventsIn(r.Context(), q)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, pageOf(q.Page, total, rows))
}

// logHistogram counts the matching events per time bucket, oldest first.
// GET /api/v1/logs/histogram?search&start_time&end_time&interval_minutes (15).
func (s *server) logHistogram(w http.ResponseWriter, r *http.Request, _ *identity) error {
	vals := r.URL.Query()
	q, err := eventFilters(vals)
	if err != nil {
		return err
	}
	minutes, err := intParam(vals, "interval_minutes", defaultHistogramMinutes, 1, maxHistogramMinutes)
	if err != nil {
		return err
	}
	buckets, err := s.st.EventHistogram(r.Context(), q, time.Duration(minutes)*time.Minute)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, orEmpty(buckets))
}
