package api

import (
	"fmt"
	"mime"
	"net/http"
	"runtime/debug"
	"strings"
	"time"
)

// maxBodyBytes bounds every request body; the API takes only small JSON.
const maxBodyBytes = 64 << 10

// maxDropBodyBytes bounds the body of a file drop (the file in base64).
const maxDropBodyBytes = 8 << 20

// dropPath is the route whose body may be up to maxDropBodyBytes.
const dropPath = "/api/v1/deckies/files"

// ServeHTTP applies what holds for every request — panic recovery, the body
// size limit, the JSON-only rule for bodies, no caching, JSON 404 and 405 —
// then hands the request to its route.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rw := &responseWriter{ResponseWriter: w}
	_, pattern := s.mux.Handler(r)
	defer func() { s.metrics.APIRequest(s.routeLabel(pattern), r.Method, rw.statusCode(), time.Since(start)) }()
	defer s.recoverPanic(rw, r)

	h := rw.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if s.corsHeaders(h, r) {
		rw.WriteHeader(http.StatusNoContent) // an allowed preflight; nothing else to do
		return
	}
	if r.Body != nil {
		limit := int64(maxBodyBytes)
		switch r.URL.Path {
		case dropPath:
			limit = maxDropBodyBytes
		case deployPath:
			limit = maxDeployBodyBytes
		}
		r.Body = http.MaxBytesReader(rw, r.Body, limit)
	}
	if hasBody(r) && !isJSON(r.Header.Get("Content-Type")) {
		s.writeError(rw, r, errUnsupportedMediaType)
		return
	}
	if pattern == "" {
		s.noRoute(rw, r)
		return
	}
	s.mux.ServeHTTP(rw, r)
}

// noRoute answers a request no pattern matched, in JSON: 405 with Allow when
// the path exists for other methods, else 404.
func (s *server) noRoute(w http.ResponseWriter, r *http.Request) {
	h, _ := s.mux.Handler(r)
	probe := &headerProbe{header: http.Header{}}
	h.ServeHTTP(probe, r) // the mux's own 404/405 handler; it only sets headers
	if probe.status == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", probe.header.Get("Allow"))
		s.writeError(w, r, errMethodNotAllowed)
		return
	}
	s.writeError(w, r, errRouteNotFound)
}

// hasBody reports whether r is a write that carries a body.
func hasBody(r *http.Request) bool {
	switch r.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch:
		return r.ContentLength != 0 // -1 (chunked, unknown) counts as a body
	}
	return false
}

// isJSON reports whether a Content-Type names JSON (parameters allowed).
func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == "application/json"
}

// recoverPanic turns a panicking handler into a 500 that carries an error id
// the operator can find in the log. The client never sees the panic value
// or a stack.
func (s *server) recoverPanic(w *responseWriter, r *http.Request) {
	v := recover()
	if v == nil {
		return
	}
	if v == http.ErrAbortHandler {
		panic(v)
	}
	id := newErrorID()
	s.log.Error("api: handler panic", "error_id", id, "method", r.Method, "path", r.URL.Path,
		"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
	if !w.wroteHeader {
		writeJSON(w, http.StatusInternalServerError, errorBody{Detail: "Internal Server Error", ErrorID: id})
	}
}

// responseWriter remembers whether the response has started, so a late
// panic does not try to write a second status line.
type responseWriter struct {
	http.ResponseWriter
	wroteHeader bool
	status      int
}

func (w *responseWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.status = code
	}
	w.wroteHeader = true
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(b []byte) (int, error) {
	if !w.wroteHeader {
		w.status = http.StatusOK
	}
	w.wroteHeader = true
	return w.ResponseWriter.Write(b)
}

// statusCode is the status sent, 200 when the handler wrote nothing.
func (w *responseWriter) statusCode() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}

// routeLabel is the metrics label of a request: the route pattern it
// matched, or "unmatched". Never the path itself (the mux reports a
// redirect's target path in place of a pattern), so the series stay bounded
// whatever paths clients send.
func (s *server) routeLabel(pattern string) string {
	if !s.patterns[pattern] {
		return "unmatched"
	}
	return pattern
}

// corsHeaders adds the CORS headers for a request from an allowed origin
// and reports whether r is a preflight they fully answer. Requests from
// other origins (and every request when no origin is configured) get no
// CORS header, so browsers keep them same-origin.
func (s *server) corsHeaders(h http.Header, r *http.Request) (preflight bool) {
	origin := r.Header.Get("Origin")
	if origin == "" || !s.cors[origin] {
		return false
	}
	h.Set("Access-Control-Allow-Origin", origin)
	h.Add("Vary", "Origin")
	if r.Method != http.MethodOptions || r.Header.Get("Access-Control-Request-Method") == "" {
		return false
	}
	h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Last-Event-ID")
	h.Set("Access-Control-Max-Age", "600")
	return true
}

// Unwrap lets http.ResponseController reach Flush and deadlines.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// headerProbe records what a handler would answer without sending it.
type headerProbe struct {
	header http.Header
	status int
}

func (p *headerProbe) Header() http.Header         { return p.header }
func (p *headerProbe) Write(b []byte) (int, error) { return len(b), nil }
func (p *headerProbe) WriteHeader(code int)        { p.status = code }

// clientIP is the TCP peer address of r. X-Forwarded-For is ignored on
// purpose: it is whatever the client says.
func clientIP(r *http.Request) string {
	host := r.RemoteAddr
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		host = host[:i]
	}
	return strings.Trim(host, "[]")
}
