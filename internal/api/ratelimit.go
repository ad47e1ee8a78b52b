package api

import (
	"sync"
	"time"
)

// Limits on authentication endpoints (spec/data-api.md §4).
const (
	loginLimit           = 10
	loginWindow          = 5 * time.Minute
	changePasswordLimit  = 5
	changePasswordWindow = time.Minute
	// limiterKeys bounds how many clients (or user names) a limiter tracks.
	limiterKeys = 10000
	// maxLimiterKeyLen bounds the memory one key may take.
	maxLimiterKeyLen = 128
)

// limiter allows at most limit hits per key in any sliding window. It keeps
// at most maxKeys keys with at most limit timestamps each; when full it
// forgets idle keys, then the least recently hit one.
type limiter struct {
	mu      sync.Mutex
	limit   int
	window  time.Duration
	maxKeys int
	hits    map[string][]time.Time // oldest first
	now     func() time.Time
}

func newLimiter(limit int, window time.Duration, maxKeys int) *limiter {
	return &limiter{limit: limit, window: window, maxKeys: maxKeys, hits: map[string][]time.Time{}, now: time.Now}
}

// allow records a hit for key unless the key is over its limit, in which
// case it says how long until the next hit would be allowed.
func (l *limiter) allow(key string) (ok bool, retryAfter time.Duration) {
	if len(key) > maxLimiterKeyLen {
		key = key[:maxLimiterKeyLen]
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	ts := l.hits[key]
	for len(ts) > 0 && now.Sub(ts[0]) >= l.window {
		ts = ts[1:]
	}
	if len(ts) >= l.limit {
		l.hits[key] = ts
		return false, ts[0].Add(l.window).Sub(now)
	}
	if _, known := l.hits[key]; !known && len(l.hits) >= l.maxKeys {
		l.evict(now)
	}
	l.hits[key] = append(ts, now)
	return true, 0
}

// evict makes room for one key: it drops every key idle for a whole window,
// or failing that the key hit least recently.
func (l *limiter) evict(now time.Time) {
	var oldestKey string
	var oldest time.Time
	for k, ts := range l.hits {
		last := ts[len(ts)-1]
		if now.Sub(last) >= l.window {
			delete(l.hits, k)
			continue
		}
		if oldestKey == "" || last.Before(oldest) {
			oldestKey, oldest = k, last
		}
	}
	if len(l.hits) >= l.maxKeys {
		delete(l.hits, oldestKey)
	}
}
