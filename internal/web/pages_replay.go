package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/decnet-go/decnet/internal/honeypot/asciicast"
	"github.com/decnet-go/decnet/internal/recording"
	"github.com/decnet-go/decnet/internal/store"
)

// recordingsOf maps each recorded session of the attacker at ip to the
// session_recorded event that names its recording (newest detailRows).
func (d *Dashboard) recordingsOf(ctx context.Context, ip string) (map[string]int64, error) {
	if d.dataDir == "" {
		return nil, nil
	}
	rows, _, err := d.st.Events(ctx, store.Page{AttackerIP: ip, Type: asciicast.TypeSessionRecorded, Limit: detailRows})
	if err != nil {
		return nil, err
	}
	m := make(map[string]int64, len(rows))
	for _, e := range rows {
		if _, ok := recording.FromEvent(e.Event()); ok && e.Session != "" {
			if _, seen := m[e.Session]; !seen {
				m[e.Session] = e.ID
			}
		}
	}
	return m, nil
}

// replayData is the replay page.
type replayData struct {
	Now       time.Time
	Event     store.EventRow
	Ref       recording.Ref
	Attacker  *store.Attacker
	User      string
	Width     int
	Height    int
	Duration  float64
	Events    int
	Truncated bool
	Text      string // the session as text, for readers without JavaScript
}

// loadRecording reads the recording the session_recorded event with the
// path's id names. The decky, service and file come from the stored event
// and are checked by recording.FromEvent; the file is opened inside
// <DataDir>/deckies only.
func (d *Dashboard) loadRecording(r *http.Request) (store.EventRow, recording.Ref, recording.Recording, error) {
	var row store.EventRow
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 || d.dataDir == "" {
		return row, recording.Ref{}, recording.Recording{}, errNotFound
	}
	if row, err = d.st.EventByID(r.Context(), id); err != nil {
		return row, recording.Ref{}, recording.Recording{}, err
	}
	ref, ok := recording.FromEvent(row.Event())
	if !ok {
		return row, ref, recording.Recording{}, errNotFound
	}
	rec, err := recording.Load(d.dataDir, ref)
	if errors.Is(err, recording.ErrNotFound) {
		return row, ref, rec, errNotFound
	}
	return row, ref, rec, err
}

// replay plays a recorded session back: the player (static/replay.js)
// loads the events from /events; without JavaScript the page shows the
// session as text. GET /ui/recordings/{id}.
func (d *Dashboard) replay(w http.ResponseWriter, r *http.Request, s *session) error {
	row, ref, rec, err := d.loadRecording(r)
	if err != nil {
		return err
	}
	v := replayData{Now: d.now(), Event: row, Ref: ref, Width: rec.Header.Width, Height: rec.Header.Height,
		Duration: rec.Duration(), Events: len(rec.Events), Truncated: rec.Truncated, Text: recording.Text(rec.Events)}
	var fields struct {
		Username string `json:"username"`
	}
	json.Unmarshal(row.Fields, &fields)
	v.User = fields.Username
	if row.AttackerIP != "" {
		if a, err := d.st.AttackerByIP(r.Context(), row.AttackerIP); err == nil {
			v.Attacker = &a
		}
	}
	return d.renderPage(w, r, s, http.StatusOK, "recording", "Session replay", v)
}

// replayEvents answers the recording's events as JSON for the player.
// GET /ui/recordings/{id}/events.
func (d *Dashboard) replayEvents(w http.ResponseWriter, r *http.Request, s *session) error {
	_, _, rec, err := d.loadRecording(r)
	if err != nil {
		if errors.Is(err, errNotFound) {
			http.Error(w, "not found", http.StatusNotFound)
			return nil
		}
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	return json.NewEncoder(w).Encode(rec.Page(0, len(rec.Events)))
}
