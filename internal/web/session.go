package web

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/decnet-go/decnet/internal/api"
	"github.com/decnet-go/decnet/internal/store"
)

// Cookie names. The session cookie holds only a random id; what it means
// lives in server memory.
const (
	sessionCookie = "decnet_session"
	// loginCSRFCookie carries the token of the login form (double submit),
	// since there is no session yet to keep it in.
	loginCSRFCookie = "decnet_login_csrf"
	csrfField       = "csrf"
	csrfHeader      = "X-CSRF-Token"
	// maxSessions bounds memory; the oldest session goes when it is full.
	maxSessions = 10000
)

// session is one signed-in browser.
type session struct {
	id      string
	csrf    string
	user    store.User // as loaded for this request
	userID  string
	issued  int64 // unix seconds, compared with the user's token cut-off
	created time.Time
	expires time.Time
}

// isAdmin reports whether the operator may act, not only look.
func (s *session) isAdmin() bool { return s != nil && api.RoleAllows(s.user.Role, api.RoleAdmin) }

// sessions is the in-memory session table.
type sessions struct {
	mu  sync.Mutex
	ttl time.Duration
	now func() time.Time
	m   map[string]*session
}

func newSessions(ttl time.Duration, now func() time.Time) *sessions {
	return &sessions{ttl: ttl, now: now, m: map[string]*session{}}
}

// create starts a session for u.
func (ss *sessions) create(u store.User) *session {
	now := ss.now()
	s := &session{id: randomToken(), csrf: randomToken(), userID: u.UUID, user: u, created: now, expires: now.Add(ss.ttl),
		issued: max(now.Unix(), u.TokensValidFrom)}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if len(ss.m) >= maxSessions {
		ss.evictLocked(now)
	}
	ss.m[s.id] = s
	return s
}

// evictLocked drops expired sessions, or the oldest when none has expired.
func (ss *sessions) evictLocked(now time.Time) {
	var oldest *session
	for id, s := range ss.m {
		if now.After(s.expires) {
			delete(ss.m, id)
			continue
		}
		if oldest == nil || s.created.Before(oldest.created) {
			oldest = s
		}
	}
	if len(ss.m) >= maxSessions && oldest != nil {
		delete(ss.m, oldest.id)
	}
}

// get returns a copy of the live session with that id.
func (ss *sessions) get(id string) (*session, bool) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s, ok := ss.m[id]
	if !ok {
		return nil, false
	}
	if ss.now().After(s.expires) {
		delete(ss.m, id)
		return nil, false
	}
	c := *s
	return &c, true
}

func (ss *sessions) delete(id string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	delete(ss.m, id)
}

// access says who may open a page.
type access int

const (
	// viewer: a viewer or admin whose password needs no change.
	viewer access = iota
	// anySession: any signed-in operator, must-change allowed.
	anySession
	// admin: an admin whose password needs no change.
	admin
)

// authorize finds the request's session and checks it against a. On
// failure it has answered: a redirect to the login (or password) page for
// a browser, 401/403 for htmx and the stream, 403 for a bad CSRF token.
func (d *Dashboard) authorize(w http.ResponseWriter, r *http.Request, a access) (*session, bool) {
	s, err := d.session(r)
	if err != nil {
		d.toLogin(w, r)
		return nil, false
	}
	if unsafeMethod(r.Method) && !d.checkCSRF(r, s.csrf) {
		d.log.Warn("web: CSRF check failed", "user", s.user.Username, "path", r.URL.Path, "src_ip", clientIP(r))
		d.renderError(w, r, s, http.StatusForbidden, "Request refused", "The form had expired or came from another site. Reload the page and try again.")
		return nil, false
	}
	if a != anySession && s.user.MustChangePassword {
		if r.Header.Get("HX-Request") != "" {
			w.Header().Set("HX-Redirect", "/ui/password")
			w.WriteHeader(http.StatusUnauthorized)
			return nil, false
		}
		http.Redirect(w, r, "/ui/password", http.StatusSeeOther)
		return nil, false
	}
	if a == admin && !s.isAdmin() {
		d.log.Warn("web: admin page refused", "user", s.user.Username, "path", r.URL.Path)
		d.renderError(w, r, s, http.StatusForbidden, "Admins only", "Your account may look but not act here. Ask an admin.")
		return nil, false
	}
	return s, true
}

var errNoSession = errors.New("no session")

// session loads the request's session and its user as the store has it
// now. A session dies with a password change or role change (the user's
// token cut-off moves past it) and with the user's deletion.
func (d *Dashboard) session(r *http.Request) (*session, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return nil, errNoSession
	}
	s, ok := d.sessions.get(c.Value)
	if !ok {
		return nil, errNoSession
	}
	u, err := d.st.UserByUUID(r.Context(), s.userID)
	if err != nil || s.issued < u.TokensValidFrom {
		d.sessions.delete(s.id)
		return nil, errNoSession
	}
	s.user = u
	return s, nil
}

// toLogin sends an unauthenticated request to the login page, remembering
// where it was going.
func (d *Dashboard) toLogin(w http.ResponseWriter, r *http.Request) {
	target := "/ui/login"
	if r.Method == http.MethodGet && r.URL.Path != "/ui/" {
		target += "?next=" + url.QueryEscape(r.URL.RequestURI())
	}
	if r.Header.Get("HX-Request") != "" || r.URL.Path == "/ui/stream" {
		w.Header().Set("HX-Redirect", target)
		http.Error(w, "Not signed in", http.StatusUnauthorized)
		return
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// checkCSRF accepts an unsafe request only from this site with the
// session's token, in the form field or the X-CSRF-Token header (htmx).
func (d *Dashboard) checkCSRF(r *http.Request, want string) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return false
	}
	got := r.Header.Get(csrfHeader)
	if got == "" {
		got = r.PostFormValue(csrfField)
	}
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// setCookie writes a dashboard cookie: HttpOnly, SameSite=Strict, Secure
// when the request came over TLS.
func setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: value, Path: "/ui/", MaxAge: maxAge,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode,
	})
}

func unsafeMethod(m string) bool {
	return m != http.MethodGet && m != http.MethodHead && m != http.MethodOptions
}

// randomToken is 256 random bits, URL-safe.
func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Login attempt bounds per client address.
const (
	loginAttempts = 10
	loginWindow   = time.Minute
)

// limiter allows n events per key per window (fixed windows), bounded in
// keys so a flood of addresses cannot grow it without end.
type limiter struct {
	mu     sync.Mutex
	n      int
	window time.Duration
	m      map[string]*bucket
}

type bucket struct {
	start time.Time
	count int
}

func newLimiter(n int, window time.Duration) *limiter {
	return &limiter{n: n, window: window, m: map[string]*bucket{}}
}

// allow counts one event for key at now and reports whether it is allowed.
func (l *limiter) allow(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.m[key]
	if b == nil || now.Sub(b.start) >= l.window {
		if len(l.m) >= maxSessions {
			clear(l.m)
		}
		b = &bucket{start: now}
		l.m[key] = b
	}
	b.count++
	return b.count <= l.n
}

// clientIP is the TCP peer address of r, without the port.
func clientIP(r *http.Request) string {
	host := r.RemoteAddr
	for i := len(host) - 1; i >= 0; i-- {
		if host[i] == ':' {
			host = host[:i]
			break
		}
	}
	if len(host) > 1 && host[0] == '[' {
		host = host[1 : len(host)-1]
	}
	return host
}
