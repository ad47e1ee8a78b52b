package web

import (
	"bytes"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/decnet-go/decnet/internal/store"
)

// streamBatch bounds the events one poll reads.
const streamBatch = 200

// stream sends live updates as server-sent events of rendered HTML, for
// static/app.js to insert: `event: rows` carries <tr> rows of new events
// matching the filter in the query (decky, service, type, ip), newest
// first; `event: counters` carries the overview counters. Each rows frame
// has an id (the newest event id), so a reconnecting EventSource resumes.
// GET /ui/stream?after=N&decky=&service=&type=&ip=&counters=1.
//
// The session is checked again at every keepalive: a logout or password
// change ends the stream.
func (d *Dashboard) stream(w http.ResponseWriter, r *http.Request, s *session) error {
	ctx := r.Context()
	q := r.URL.Query()
	f := parseEventFilter(q)
	withCounters := q.Get("counters") == "1"
	after, _ := strconv.ParseInt(r.Header.Get("Last-Event-ID"), 10, 64)
	if after == 0 {
		after, _ = strconv.ParseInt(q.Get("after"), 10, 64)
	}
	if after <= 0 {
		var err error
		if after, err = d.st.MaxEventID(ctx); err != nil {
			return err
		}
	}
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if _, err := fmt.Fprint(w, ": connected\nretry: 3000\n\n"); err != nil {
		return nil
	}
	rc.Flush()

	poll := time.NewTicker(d.pollEvery)
	defer poll.Stop()
	keep := time.NewTicker(d.keepaliveEvery)
	defer keep.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-keep.C:
			if _, err := d.session(r); err != nil {
				fmt.Fprint(w, "event: signedout\ndata: /ui/login\n\n")
				rc.Flush()
				return nil
			}
			if _, err := fmt.Fprint(w, ": keepalive\n\n"); err != nil {
				return nil
			}
			rc.Flush()
		case <-poll.C:
			rows, err := d.st.EventsAfter(ctx, after, streamBatch)
			if err != nil {
				d.log.Warn("web: stream poll", "err", err)
				continue
			}
			if len(rows) == 0 {
				continue
			}
			after = rows[len(rows)-1].ID
			if err := d.sendRows(w, rows, f, after); err != nil {
				return nil
			}
			if withCounters {
				if err := d.sendCounters(w, r); err != nil {
					return nil
				}
			}
			rc.Flush()
		}
	}
}

// sendRows writes the matching rows, newest first, as one frame.
func (d *Dashboard) sendRows(w http.ResponseWriter, rows []store.EventRow, f eventFilter, last int64) error {
	var match []store.EventRow
	for i := len(rows) - 1; i >= 0; i-- {
		if f.match(rows[i]) {
			match = append(match, rows[i])
		}
	}
	if len(match) == 0 {
		_, err := fmt.Fprintf(w, "id: %d\n: nothing matched\n\n", last)
		return err
	}
	var buf bytes.Buffer
	if err := d.pages.sets["events"].ExecuteTemplate(&buf, "event-rows", match); err != nil {
		return err
	}
	return writeFrame(w, "rows", strconv.FormatInt(last, 10), buf.String())
}

// sendCounters writes the overview counters as one frame.
func (d *Dashboard) sendCounters(w http.ResponseWriter, r *http.Request) error {
	c, _, err := d.counters(r, d.now())
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := d.pages.sets["overview"].ExecuteTemplate(&buf, "counters", c); err != nil {
		return err
	}
	return writeFrame(w, "counters", "", buf.String())
}

// writeFrame writes one SSE message; data lines are split on newlines as
// the format requires.
func writeFrame(w http.ResponseWriter, event, id, data string) error {
	var b strings.Builder
	if id != "" {
		b.WriteString("id: " + id + "\n")
	}
	b.WriteString("event: " + event + "\n")
	for _, line := range strings.Split(data, "\n") {
		b.WriteString("data: " + line + "\n")
	}
	b.WriteString("\n")
	_, err := fmt.Fprint(w, b.String())
	return err
}
