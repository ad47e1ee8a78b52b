package api

import (
	"fmt"
	"mime"
	"net/http"
	"runtime/debug"
	"strings"
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
	rw := &responseWriter{ResponseWriter: w}
	defer s.recoverPanic(rw, r)

	h := rw.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
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
	if _, pattern := s.mux.Handler(r); pattern == "" {
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
}

func (w *responseWriter) WriteHeader(code int) {
	w.wroteHeader = true
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(b []byte) (int, error) {
	w.wroteHeader = true
	return w.ResponseWriter.Write(b)
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
