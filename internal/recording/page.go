package recording

import (
	"encoding/json"

	"github.com/decnet-go/decnet/internal/honeypot/asciicast"
)

// Event is one asciicast event as JSON: [time, code, data].
type Event asciicast.Event

// MarshalJSON writes the asciicast v2 form of e.
func (e Event) MarshalJSON() ([]byte, error) {
	return json.Marshal([3]any{e.Time, e.Code, e.Data})
}

// Page is a window of a recording's events: what GET
// /api/v1/transcripts/{decky}/{sid} answers and the replay page loads.
type Page struct {
	Header    asciicast.Header `json:"header"`
	Events    []Event          `json:"events"`
	Offset    int              `json:"offset"`
	Total     int              `json:"total"`
	HasMore   bool             `json:"has_more"`
	Truncated bool             `json:"truncated"`
}

// Page returns up to limit events from offset (both clamped to the
// recording).
func (r Recording) Page(offset, limit int) Page {
	offset = min(max(offset, 0), len(r.Events))
	end := min(offset+max(limit, 0), len(r.Events))
	p := Page{Header: r.Header, Events: make([]Event, 0, end-offset), Offset: offset, Total: len(r.Events),
		HasMore: end < len(r.Events), Truncated: r.Truncated}
	for _, e := range r.Events[offset:end] {
		p.Events = append(p.Events, Event(e))
	}
	return p
}
