package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/decnet-go/decnet/internal/store"
)

// Stream limits (spec/data-api.md §3.14).
const (
	maxStreamsPerUser = 5
	streamBatch       = 100              // events per poll
	streamWriteWait   = 30 * time.Second // a client slower than this is dropped
)

// logsFrame is the data of one event-stream message.
type logsFrame struct {
	Type string `json:"type"`
	Data any    `json:"data"`
}

// errorFrame is the data of an `event: error` frame.
type errorFrame struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

// stream sends new events as server-sent events until the client leaves or
// the server's context ends. GET /api/v1/stream?lastEventId=N (or the
// Last-Event-ID header an EventSource sends when it reconnects), with the
// filters of /logs: search, start_time and end_time.
//
// Each frame is `event: message` with data {"type":"logs","data":[rows]}
// and an `id:` line holding the stream's cursor (the newest row id, or with
// filters the newest id looked at), so a reconnecting EventSource resumes
// where it left off. A `: keepalive` comment goes out
// when the stream starts and every 15 s; at each keepalive the token is
// checked again, so a logout or password change ends the stream.
func (s *server) stream(w http.ResponseWriter, r *http.Request, id *identity) error {
	ctx := r.Context()
	last, err := lastEventID(r)
	if err != nil {
		return err
	}
	filter, err := eventFilters(r.URL.Query())
	if err != nil {
		return err
	}
	if !s.streams.acquire(id.user.UUID) {
		return errTooManyStreams
	}
	defer s.streams.release(id.user.UUID)
	if last == 0 {
		if last, err = s.st.MaxEventID(ctx); err != nil {
			return err
		}
	}

	out := startSSE(w)
	if out.comment("keepalive") != nil {
		return nil
	}
	// The dashboard's headline numbers come with the stream: at the start,
	// after new logs (at most once a poll) and at least every summaryEvery.
	lastSummary := time.Now()
	if s.sendSummary(ctx, out) != nil {
		return nil
	}

	poll := time.NewTicker(s.pollEvery)
	defer poll.Stop()
	keepalive := time.NewTicker(s.keepaliveEvery)
	defer keepalive.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-keepalive.C:
			if !s.keepAlive(ctx, id, out) {
				return nil
			}
		case <-poll.C:
			sent := false
			for { // drain a backlog in batches before sleeping again
				rows, cursor, full, err := s.nextEvents(ctx, filter, last)
				if err != nil {
					if ctx.Err() != nil {
						return nil
					}
					s.log.Error("api: stream poll failed", "err", err)
					if out.event("error", "", errorFrame{Type: "error", Message: "event store unavailable"}) != nil {
						return nil
					}
					break
				}
				last = cursor
				if len(rows) == 0 {
					break
				}
				if out.event("message", strconv.FormatInt(last, 10), logsFrame{Type: "logs", Data: rows}) != nil {
					return nil
				}
				sent = true
				if !full {
					break
				}
			}
			if since := time.Since(lastSummary); sent && since >= summaryMinGap || since >= summaryEvery {
				lastSummary = time.Now()
				if s.sendSummary(ctx, out) != nil {
					return nil
				}
			}
		}
	}
}

// nextEvents reads the next batch of events after the cursor that q
// matches, oldest first, and the cursor to poll from next; full reports a
// whole batch (more may be waiting). Unfiltered, the cursor is the last
// row's id. Filtered, each poll is bounded by the newest id, and when the
// batch is not full the cursor moves to that id, past the events the filter
// skipped, so they are not read again.
func (s *server) nextEvents(ctx context.Context, q store.EventQuery, after int64) (rows []store.EventRow, cursor int64, full bool, err error) {
	if q.Search == "" && q.Since.IsZero() && q.Until.IsZero() {
		rows, err = s.st.EventsAfter(ctx, after, streamBatch)
		if err != nil || len(rows) == 0 {
			return nil, after, false, err
		}
		return rows, rows[len(rows)-1].ID, len(rows) == streamBatch, nil
	}
	newest, err := s.st.MaxEventID(ctx)
	if err != nil || newest <= after {
		return nil, after, false, err
	}
	q.AfterID, q.Limit, q.Offset = after, streamBatch, 0
	if rows, err = s.st.EventsAfterIn(ctx, q, newest); err != nil {
		return nil, after, false, err
	}
	if len(rows) == streamBatch {
		return rows, rows[len(rows)-1].ID, true, nil
	}
	return rows, newest, false, nil
}

// summaryEvery is how often a quiet stream still re-sends stats and the
// histogram; summaryMinGap how soon after new logs it may (the histogram
// reads a day of events, not a query for every poll).
const (
	summaryEvery  = 10 * time.Second
	summaryMinGap = 5 * time.Second
)

// summaryFrame is a stats or histogram frame of the stream.
type summaryFrame struct {
	Type string `json:"type"`
	Data any    `json:"data"`
}

// sendSummary sends the stats and histogram frames (DECNET's stream sends
// them first and after new logs). A store error skips them quietly: the
// logs frames matter more. It returns the write error, if any.
// startSSE answers 200 with the event-stream headers (no caching, no proxy
// buffering) and returns the writer of its frames.
func startSSE(w http.ResponseWriter) *sseWriter {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	return &sseWriter{w: w, rc: http.NewResponseController(w)}
}

// keepAlive re-checks a stream's token (revoked, expired, role changed)
// and sends a keepalive comment; false ends the stream.
func (s *server) keepAlive(ctx context.Context, id *identity, out *sseWriter) bool {
	if err := s.recheck(ctx, id, accessStream); err != nil {
		s.log.Info("api: stream closed, its token is no longer valid", "user", id.user.Username)
		return false
	}
	return out.comment("keepalive") == nil
}

func (s *server) sendSummary(ctx context.Context, out *sseWriter) error {
	st, err := s.st.Stats(ctx)
	if err != nil {
		return nil
	}
	if err := out.event("message", "", summaryFrame{Type: "stats", Data: st}); err != nil {
		return err
	}
	day := store.EventQuery{Since: time.Now().Add(-24 * time.Hour)}
	buckets, err := s.st.EventHistogram(ctx, day, time.Duration(defaultHistogramMinutes)*time.Minute)
	if err != nil {
		return nil
	}
	return out.event("message", "", summaryFrame{Type: "histogram", Data: orEmpty(buckets)})
}

// lastEventID is where a stream starts: the Last-Event-ID header of a
// reconnecting EventSource, else ?lastEventId=, else 0 (the newest event).
func lastEventID(r *http.Request) (int64, error) {
	v := r.Header.Get("Last-Event-ID")
	if v == "" {
		v = r.URL.Query().Get("lastEventId")
	}
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, invalidParam("lastEventId must be a non-negative integer")
	}
	return n, nil
}

// sseWriter writes server-sent events and flushes each one, with a write
// deadline so a client that stops reading cannot hold the stream forever.
type sseWriter struct {
	w   http.ResponseWriter
	rc  *http.ResponseController
	buf bytes.Buffer
}

func (s *sseWriter) comment(text string) error {
	s.buf.Reset()
	fmt.Fprintf(&s.buf, ": %s\n\n", text)
	return s.flush()
}

func (s *sseWriter) event(name, id string, data any) error {
	b, err := json.Marshal(data)
	if err != nil {
		return err
	}
	s.buf.Reset()
	if id != "" {
		fmt.Fprintf(&s.buf, "id: %s\n", id)
	}
	fmt.Fprintf(&s.buf, "event: %s\ndata: %s\n\n", name, b) // compact JSON holds no newline
	return s.flush()
}

func (s *sseWriter) flush() error {
	s.rc.SetWriteDeadline(time.Now().Add(streamWriteWait)) // unsupported by some writers; best effort
	if _, err := s.w.Write(s.buf.Bytes()); err != nil {
		return err
	}
	return s.rc.Flush()
}

// streamCounter caps concurrent streams per user.
type streamCounter struct {
	mu  sync.Mutex
	max int
	n   map[string]int
}

func newStreamCounter(max int) *streamCounter {
	return &streamCounter{max: max, n: map[string]int{}}
}

func (c *streamCounter) acquire(user string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n[user] >= c.max {
		return false
	}
	c.n[user]++
	return true
}

func (c *streamCounter) release(user string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n[user]--; c.n[user] <= 0 {
		delete(c.n, user)
	}
}
