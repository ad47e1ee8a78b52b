package api

import (
	"errors"
	"net/http"

	"github.com/decnet-go/decnet/internal/honeypot/asciicast"
	"github.com/decnet-go/decnet/internal/recording"
)

// Transcript paging (spec/data-api.md §3.0).
const (
	defaultTranscriptLimit = 500
	maxTranscriptLimit     = 5000
)

// getTranscript answers one page of a session recording's asciicast
// events: {header, events [[t, code, data]], offset, total, has_more,
// truncated}. The recording is looked up among the files decky's ssh and
// telnet services wrote under the data directory, by the session id its
// session_recorded event names (field sid). GET
// /api/v1/transcripts/{decky}/{sid}?offset&limit (admin; limit default
// 500, at most 5000; 400 for a malformed decky or sid, 404 when unknown).
func (s *server) getTranscript(w http.ResponseWriter, r *http.Request, _ *identity) error {
	q := r.URL.Query()
	limit, err := intParam(q, "limit", defaultTranscriptLimit, 1, maxTranscriptLimit)
	if err != nil {
		return err
	}
	offset, err := intParam(q, "offset", 0, 0, maxOffset)
	if err != nil {
		return err
	}
	if s.dataDir == "" {
		return newError(http.StatusNotFound, "Transcript not found")
	}
	ref, err := recording.Find(s.dataDir, r.PathValue("decky"), r.PathValue("sid"))
	switch {
	case errors.Is(err, recording.ErrInvalid):
		return badRequest("decky must be a decky name and sid a session id")
	case errors.Is(err, recording.ErrNotFound):
		return newError(http.StatusNotFound, "Transcript not found")
	case err != nil:
		return err
	}
	rec, err := recording.Load(s.dataDir, ref)
	if errors.Is(err, recording.ErrNotFound) {
		return newError(http.StatusNotFound, "Transcript not found")
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, rec.Page(offset, limit))
}

// transcriptPage is the JSON of recording.Page as the OpenAPI document
// describes it: each event is [seconds, code, data].
type transcriptPage struct {
	Header    asciicast.Header `json:"header"`
	Events    [][]any          `json:"events"`
	Offset    int              `json:"offset"`
	Total     int              `json:"total"`
	HasMore   bool             `json:"has_more"`
	Truncated bool             `json:"truncated"`
}
