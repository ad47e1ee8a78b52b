// Package metrics holds DECNET-Go's Prometheus series and the registry they
// live in. The packages that observe something (the ingest pipeline, the
// node's bus watcher, the API) call the typed methods of one *Metrics; the
// API serves Handler in the Prometheus text format.
//
// Every method is safe on a nil *Metrics, so a component started without
// metrics (a test, a tool) needs no special case.
package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics is the set of series one DECNET-Go process exports.
type Metrics struct {
	reg *prometheus.Registry

	eventsIngested *prometheus.CounterVec
	connections    *prometheus.CounterVec
	consumerLag    *prometheus.GaugeVec
	batchSeconds   prometheus.Histogram
	requestSeconds *prometheus.HistogramVec
}

// New makes the series and registers them, with the Go runtime and process
// collectors, in a registry of their own (not the global one, so two nodes
// in one test process do not collide).
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		eventsIngested: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "decnet", Name: "events_ingested_total",
			Help: "Events written to the store, by service and event type.",
		}, []string{"service", "type"}),
		connections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "decnet", Name: "connections_total",
			Help: "Attacker connections seen (connect events stored), by service.",
		}, []string{"service"}),
		consumerLag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "decnet", Name: "bus_consumer_lag",
			Help: "Messages a durable bus consumer has not yet acknowledged (waiting plus in flight).",
		}, []string{"consumer"}),
		batchSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "decnet", Name: "store_batch_seconds",
			Help:    "Time to commit one ingest batch to the store.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}),
		requestSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "decnet", Name: "api_request_seconds",
			Help:    "API request latency, by route pattern, method and status code.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route", "method", "code"}),
	}
	m.reg.MustRegister(m.eventsIngested, m.connections, m.consumerLag, m.batchSeconds, m.requestSeconds,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves every series in the Prometheus text (or OpenMetrics)
// format. A nil Metrics serves 404.
func (m *Metrics) Handler() http.Handler {
	if m == nil {
		return http.NotFoundHandler()
	}
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Registry is where the series are registered, for callers that add their own.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// EventsIngested counts n events of one service and type stored.
func (m *Metrics) EventsIngested(service, typ string, n int) {
	if m == nil || n <= 0 {
		return
	}
	m.eventsIngested.WithLabelValues(service, typ).Add(float64(n))
}

// Connection counts n attacker connections to a service.
func (m *Metrics) Connection(service string, n int) {
	if m == nil || n <= 0 {
		return
	}
	m.connections.WithLabelValues(service).Add(float64(n))
}

// ConsumerLag sets how far a durable bus consumer is behind.
func (m *Metrics) ConsumerLag(consumer string, pending uint64) {
	if m == nil {
		return
	}
	m.consumerLag.WithLabelValues(consumer).Set(float64(pending))
}

// StoreBatch records how long one batch took to commit.
func (m *Metrics) StoreBatch(d time.Duration) {
	if m == nil {
		return
	}
	m.batchSeconds.Observe(d.Seconds())
}

// APIRequest records one API request. route is the pattern that matched
// (bounded: never the raw path), or "unmatched".
func (m *Metrics) APIRequest(route, method string, code int, d time.Duration) {
	if m == nil {
		return
	}
	m.requestSeconds.WithLabelValues(route, method, statusText(code)).Observe(d.Seconds())
}

// statusText avoids an allocation for the codes the API answers.
func statusText(code int) string {
	switch code {
	case 200:
		return "200"
	case 201:
		return "201"
	case 202:
		return "202"
	case 204:
		return "204"
	case 400:
		return "400"
	case 401:
		return "401"
	case 403:
		return "403"
	case 404:
		return "404"
	case 409:
		return "409"
	case 415:
		return "415"
	case 422:
		return "422"
	case 429:
		return "429"
	case 500:
		return "500"
	case 503:
		return "503"
	}
	if code < 100 || code > 999 {
		return "other"
	}
	return string([]byte{byte('0' + code/100), byte('0' + code/10%10), byte('0' + code%10)})
}
