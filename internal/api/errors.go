package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/decnet-go/decnet/internal/engine"
	"github.com/decnet-go/decnet/internal/store"
)

// apiError is an error with the status and detail a client should see.
type apiError struct {
	status int
	detail string
	header http.Header // extra response headers (WWW-Authenticate, Retry-After, …)
}

func (e *apiError) Error() string { return strconv.Itoa(e.status) + " " + e.detail }

// errorBody is the JSON shape of every error response.
type errorBody struct {
	Detail  string `json:"detail"`
	ErrorID string `json:"error_id,omitempty"`
}

func newError(status int, detail string) *apiError {
	return &apiError{status: status, detail: detail}
}

// badRequest is a 400 whose detail names what is wrong with the body.
func badRequest(detail string) *apiError {
	return newError(http.StatusBadRequest, "Bad Request: "+detail)
}

// invalidField is a 422 naming a field whose value is out of bounds.
func invalidField(detail string) *apiError { return newError(http.StatusUnprocessableEntity, detail) }

// invalidParam is the 422 for a query parameter out of bounds; the detail
// keeps DECNET's text and names the parameter after it.
func invalidParam(why string) *apiError {
	return newError(http.StatusUnprocessableEntity, "Invalid request parameters: "+why)
}

// tooManyRequests is a 429 with a Retry-After header.
func tooManyRequests(detail string, retryAfterSeconds int) *apiError {
	e := newError(http.StatusTooManyRequests, detail)
	e.header = http.Header{"Retry-After": {strconv.Itoa(max(retryAfterSeconds, 1))}}
	return e
}

var (
	errNotAuthenticated = &apiError{status: http.StatusUnauthorized, detail: "Could not validate credentials",
		header: http.Header{"Www-Authenticate": {"Bearer"}}}
	errBadCredentials = &apiError{status: http.StatusUnauthorized, detail: "Incorrect username or password",
		header: http.Header{"Www-Authenticate": {"Bearer"}}}
	errWrongOldPassword     = newError(http.StatusUnauthorized, "Incorrect old password")
	errMustChangePassword   = newError(http.StatusForbidden, "Password change required before accessing this resource")
	errInsufficientRole     = newError(http.StatusForbidden, "Insufficient permissions")
	errAttackerNotFound     = newError(http.StatusNotFound, "Attacker not found")
	errRouteNotFound        = newError(http.StatusNotFound, "Not Found")
	errMethodNotAllowed     = newError(http.StatusMethodNotAllowed, "Method Not Allowed")
	errUnsupportedMediaType = newError(http.StatusUnsupportedMediaType, "Content-Type must be application/json")
	errMalformedJSON        = newError(http.StatusBadRequest, "Malformed JSON body")
	errBodyTooLarge         = newError(http.StatusRequestEntityTooLarge, "Request body too large")
	errTooManyStreams       = newError(http.StatusTooManyRequests, "Too many concurrent streams for this user")
	errNoDriver             = newError(http.StatusServiceUnavailable, "live operations need a driver")
)

// statusOf is the one place that maps errors to HTTP statuses: API errors
// carry their own, store and engine errors map to their meaning, the rest
// are 500s. Engine errors name the decky, service or path, for an admin.
func statusOf(err error) (status int, detail string) {
	var ae *apiError
	switch {
	case errors.As(err, &ae):
		return ae.status, ae.detail
	case errors.Is(err, engine.ErrUnknownDecky), errors.Is(err, engine.ErrServiceAbsent):
		return http.StatusNotFound, err.Error()
	case errors.Is(err, engine.ErrUnknownService), errors.Is(err, engine.ErrBadPath):
		return http.StatusUnprocessableEntity, err.Error()
	case errors.Is(err, engine.ErrServiceExists), errors.Is(err, engine.ErrDeckyExists), errors.Is(err, engine.ErrDriver):
		return http.StatusConflict, err.Error()
	case errors.Is(err, engine.ErrBadConfig):
		return http.StatusBadRequest, err.Error()
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound, "Not Found"
	case errors.Is(err, store.ErrConflict):
		return http.StatusConflict, "Conflict"
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable, "Service Unavailable"
	}
	return http.StatusInternalServerError, "Internal Server Error"
}

// writeError answers a request with err. Internal errors are logged with an
// error id that the response carries; their text never reaches the client.
func (s *server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		return // the client went away; nobody is listening
	}
	status, detail := statusOf(err)
	body := errorBody{Detail: detail}
	if status == http.StatusInternalServerError {
		body.ErrorID = newErrorID()
		s.log.Error("api: request failed", "error_id", body.ErrorID, "method", r.Method, "path", r.URL.Path, "err", err)
	}
	var ae *apiError
	if errors.As(err, &ae) {
		for k, v := range ae.header {
			w.Header()[k] = v
		}
	}
	writeJSON(w, status, body)
}

// writeJSON sends v as a JSON response. It returns nil so handlers can end
// with `return writeJSON(…)`; an encoding failure is the client's loss.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
	return nil
}

// newErrorID names one failure in the log and in the response.
func newErrorID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}
