package api

import (
	"bytes"
	"net/http"
	"sync"
	"time"
)

// Page cache bounds. A cached page is at most pageCacheTTL old; ingest
// batches of this process drop it at once (see changeCounter), so only rows
// written by another process can take that long to show.
const (
	pageCacheTTL  = time.Second
	pageCacheMax  = 512 // distinct (path, query) pages kept
	pageCacheBody = 4 << 20
)

// changeCounter is implemented by stores that count their own writes
// (*store.Store does): a cached page is stale once the count moves.
type changeCounter interface{ Changes() uint64 }

// pageCache keeps the encoded answer of hot list pages — the dashboard's
// first page of logs and attackers, polled by every open browser — for a
// moment, so that many readers of the same page cost one query. It sits
// behind authentication: every request is still authorised on its own,
// and the pages it serves are the same for every viewer. One request
// computes a missing page while the others asking for it wait
// (single-flight).
type pageCache struct {
	mu      sync.Mutex
	m       map[string]*cachedPage
	changes func() uint64
	now     func() time.Time
}

type cachedPage struct {
	ready chan struct{} // closed when body is set or the fill failed
	body  []byte        // a 200 application/json answer; nil if the fill failed
	at    time.Time
	gen   uint64
	// refilling: a request is computing this page's successor (under
	// pageCache.mu).
	refilling bool
}

func newPageCache(st Store) *pageCache {
	c := &pageCache{m: map[string]*cachedPage{}, now: time.Now, changes: func() uint64 { return 0 }}
	if cc, ok := st.(changeCounter); ok {
		c.changes = cc.Changes
	}
	return c
}

// cached serves h's 200 answers from the cache, keyed by path and query.
// A page older than pageCacheTTL is recomputed by the request that finds
// it so, while the others keep getting it until the new one is ready (no
// stall every TTL); a page from before this process's last ingest batch is
// never served.
func (s *server) cached(h authedFunc) authedFunc {
	return func(w http.ResponseWriter, r *http.Request, id *identity) error {
		c := s.pages
		key := r.URL.Path + "?" + r.URL.RawQuery
		gen, now := c.changes(), c.now()
		c.mu.Lock()
		p, ok := c.m[key]
		if ok {
			select {
			case <-p.ready:
				if p.body != nil && p.gen == gen {
					switch {
					case now.Sub(p.at) < pageCacheTTL:
						c.mu.Unlock()
						writeCachedJSON(w, p.body)
						return nil
					case !p.refilling:
						p.refilling = true
						c.mu.Unlock()
						return c.fill(w, r, id, h, key, &cachedPage{ready: make(chan struct{}), at: now, gen: gen}, p)
					default: // another request is recomputing it
						c.mu.Unlock()
						writeCachedJSON(w, p.body)
						return nil
					}
				}
				ok = false // failed, or older than this process's last write
			default: // the first fill is in flight: wait for it below
			}
		}
		if !ok {
			if len(c.m) >= pageCacheMax {
				clear(c.m)
			}
			p = &cachedPage{ready: make(chan struct{}), at: now, gen: gen}
			c.m[key] = p
			c.mu.Unlock()
			return c.fill(w, r, id, h, key, p, nil)
		}
		c.mu.Unlock()
		select {
		case <-p.ready:
		case <-r.Context().Done():
			return r.Context().Err()
		}
		if p.body == nil {
			return h(w, r, id) // the fill failed; answer on our own
		}
		writeCachedJSON(w, p.body)
		return nil
	}
}

// fill runs h for page p, keeps a 200 answer, and releases the waiters.
// When p replaces old (a refill), p enters the cache only once filled.
func (c *pageCache) fill(w http.ResponseWriter, r *http.Request, id *identity, h authedFunc, key string, p, old *cachedPage) error {
	rec := &recordedResponse{header: http.Header{}, status: http.StatusOK}
	defer func() {
		ok := rec.status == http.StatusOK && rec.err == nil && rec.body.Len() <= pageCacheBody
		if ok {
			p.body = rec.body.Bytes()
		}
		c.mu.Lock()
		switch {
		case old != nil && ok:
			if c.m[key] == old {
				c.m[key] = p
			}
		case old != nil:
			old.refilling = false
		case !ok && c.m[key] == p:
			delete(c.m, key)
		}
		c.mu.Unlock()
		close(p.ready)
	}()
	if rec.err = h(rec, r, id); rec.err != nil {
		return rec.err
	}
	for k, v := range rec.header {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.status)
	w.Write(rec.body.Bytes())
	return nil
}

func writeCachedJSON(w http.ResponseWriter, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

// recordedResponse is an http.ResponseWriter that keeps the answer.
type recordedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
	err    error
	wrote  bool
}

func (r *recordedResponse) Header() http.Header { return r.header }

func (r *recordedResponse) WriteHeader(status int) {
	if !r.wrote {
		r.status, r.wrote = status, true
	}
}

func (r *recordedResponse) Write(b []byte) (int, error) {
	r.wrote = true
	return r.body.Write(b)
}
