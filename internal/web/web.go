package web

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/decnet-go/decnet/internal/api"
	"github.com/decnet-go/decnet/internal/honeypot"
	"github.com/decnet-go/decnet/internal/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Store is what the dashboard reads, and the one write it makes (a
// password change). *store.Store implements it.
type Store interface {
	UserByName(ctx context.Context, name string) (store.User, error)
	UserByUUID(ctx context.Context, id string) (store.User, error)
	Users(ctx context.Context) ([]store.User, error)
	SetPassword(ctx context.Context, userUUID, hash string, mustChange bool, validFrom int64) error

	DashboardStats(ctx context.Context) (store.Stats, error)
	Events(ctx context.Context, p store.Page) ([]store.EventRow, int, error)
	EventsCapped(ctx context.Context, p store.Page, atMost int) ([]store.EventRow, int, error)
	EventByID(ctx context.Context, id int64) (store.EventRow, error)
	EventsAfter(ctx context.Context, after int64, limit int) ([]store.EventRow, error)
	MaxEventID(ctx context.Context) (int64, error)
	EventHistogram(ctx context.Context, q store.EventQuery, interval time.Duration) ([]store.HistogramBucket, error)
	AttackersSorted(ctx context.Context, p store.Page, sortBy string) ([]store.Attacker, int, error)
	AttackerByUUID(ctx context.Context, id string) (store.Attacker, error)
	AttackerByIP(ctx context.Context, ip string) (store.Attacker, error)
	EventDigestsAfter(ctx context.Context, after int64, limit int) ([]store.EventDigest, error)
	OverviewBase(ctx context.Context, since time.Time) (store.OverviewBase, error)
	LatestCredentials(ctx context.Context, n int) ([]store.Credential, error)
	AttackerServiceActivity(ctx context.Context, ip string) (store.ServiceActivity, error)
	Sessions(ctx context.Context, p store.Page) ([]store.Session, int, error)
	Credentials(ctx context.Context, p store.Page) ([]store.Credential, int, error)
	Commands(ctx context.Context, ip string, limit, offset int) ([]store.Command, int, error)
	Deckies(ctx context.Context) ([]store.DeckyRow, error)

	// The attacker page's profile, intel, fingerprints, files and
	// behaviour (pages_attacker.go).
	AttackerIntel(ctx context.Context, attackerUUID string) (store.AttackerIntel, error)
	AttackerIdentity(ctx context.Context, attackerUUID string) (string, error)
	AttackerRotation(ctx context.Context, attackerUUID string) (int, *time.Time, error)
	AttackerFingerprintsUpTo(ctx context.Context, attackerIP string, limit int) ([]store.AttackerFingerprint, error)
	AttackerProbeFingerprints(ctx context.Context, attackerUUID string, limit int) ([]store.ProbeFingerprint, error)
	AttackerCapturedFiles(ctx context.Context, attackerIP string, limit int) ([]store.CapturedFile, error)
	LatestObservationPerPrimitive(ctx context.Context, attackerUUID string) (map[string]store.LatestObservation, error)
	AttributionStates(ctx context.Context, identityUUID string) ([]store.AttributionState, error)
}

// Config is what the dashboard needs from the process that runs it.
type Config struct {
	// Logger receives sign-ins, refusals and handler errors; nil discards.
	Logger *slog.Logger
	// SessionTTL is how long a sign-in lasts; zero means DefaultSessionTTL.
	SessionTTL time.Duration
	// Version is shown in the footer.
	Version string
	// Now is the clock; nil means time.Now. Tests fix it.
	Now func() time.Time
	// Fleet makes the Deckies screen's changes, the engine operations the
	// API's live routes use; nil leaves the screen read-only.
	Fleet api.Fleet
	// Services is the catalogue whose schemas render the config forms.
	Services *honeypot.Registry
	// Notify publishes a live operation's outcome as the API does; nil
	// publishes nothing.
	Notify func(subject string, payload any)
	// DataDir is where the node keeps its files; session recordings are
	// read under <DataDir>/deckies. Empty disables replay.
	DataDir string
	// TTP is the running tagging engine, whose rules the TTP rule list
	// shows (the API's Config.TTP); nil shows the embedded rules.
	TTP api.TTPRules
	// Settings describes the node on the Settings screen and changes what
	// may be changed there; nil shows what the dashboard knows by itself.
	Settings *Settings
}

// DefaultSessionTTL matches the API's default token lifetime.
const DefaultSessionTTL = 4 * time.Hour

// Dashboard is the web console as an http.Handler. It answers "/" and
// everything under "/ui/"; the caller routes the rest (the API) elsewhere.
type Dashboard struct {
	st       Store
	log      *slog.Logger
	now      func() time.Time
	version  string
	sessions *sessions
	logins   *limiter
	pages    *pages
	// counts are the overview's chart and top lists, advanced on each look.
	counts overviewCounts
	mux    *http.ServeMux
	// Admin actions (pages_admin.go).
	fleet    api.Fleet
	services *honeypot.Registry
	notifyFn func(subject string, payload any)
	dataDir  string
	settings Settings
	ttp      api.TTPRules

	// Stream timing; tests shorten them.
	pollEvery      time.Duration
	keepaliveEvery time.Duration
}

// New returns the dashboard over st. It panics when the embedded templates
// do not parse (a build defect, caught by every test).
func New(cfg Config, st Store) *Dashboard {
	d := &Dashboard{
		st:             st,
		log:            cfg.Logger,
		now:            cfg.Now,
		version:        cfg.Version,
		logins:         newLimiter(loginAttempts, loginWindow),
		pollEvery:      time.Second,
		keepaliveEvery: 15 * time.Second,
		mux:            http.NewServeMux(),
		fleet:          cfg.Fleet,
		services:       cfg.Services,
		notifyFn:       cfg.Notify,
		dataDir:        cfg.DataDir,
		ttp:            cfg.TTP,
	}
	if cfg.Settings != nil {
		d.settings = *cfg.Settings
	}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if d.now == nil {
		d.now = time.Now
	}
	ttl := cfg.SessionTTL
	if ttl <= 0 {
		ttl = DefaultSessionTTL
	}
	d.sessions = newSessions(ttl, d.now)
	p, err := parsePages()
	if err != nil {
		panic(err)
	}
	d.pages = p
	d.routes()
	return d
}

// routes registers every page. Each says who may see it.
func (d *Dashboard) routes() {
	static, _ := fs.Sub(staticFS, "static")
	d.mux.Handle("GET /ui/static/", http.StripPrefix("/ui/static/", cacheStatic(http.FileServerFS(static))))
	d.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/ui/", http.StatusSeeOther)
	})

	d.mux.HandleFunc("GET /ui/login", d.loginPage)
	d.mux.HandleFunc("POST /ui/login", d.login)
	d.handle("GET /ui/password", anySession, d.passwordPage)
	d.handle("POST /ui/password", anySession, d.changePassword)
	d.handle("POST /ui/logout", anySession, d.logout)

	d.handle("GET /ui/{$}", viewer, d.overview)
	d.handle("GET /ui/events", viewer, d.events)
	d.handle("GET /ui/events/{id}", viewer, d.eventDetail)
	d.handle("GET /ui/attackers", viewer, d.attackers)
	d.handle("GET /ui/attackers/{uuid}", viewer, d.attackerDetail)
	d.handle("GET /ui/deckies", viewer, d.deckies)
	d.handle("GET /ui/stream", viewer, d.stream)

	d.adminRoutes() // deckies' services and files, users (pages_admin.go)
	d.ttpRoutes()
	d.handle("GET /ui/recordings/{id}", viewer, d.replay)
	d.handle("GET /ui/recordings/{id}/events", viewer, d.replayEvents)
	d.handle("GET /ui/settings", viewer, d.settingsPage)
	d.handleBody("POST /ui/settings/deployment-limit", adminFormBytes, d.setDeploymentLimit)
}

// ServeHTTP sets the headers every dashboard response carries, then routes.
func (d *Dashboard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer d.recoverPanic(w, r)
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	// No inline script and no third-party origin: scripts come from
	// /ui/static only. Inline style attributes are allowed for the SVG chart.
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
	d.mux.ServeHTTP(w, r)
}

// handlerFunc is a page that needs a signed-in operator.
type handlerFunc func(w http.ResponseWriter, r *http.Request, s *session) error

// handle registers h behind the session check for level a. Errors a page
// returns become an error page; the operator never sees internals.
func (d *Dashboard) handle(pattern string, a access, h handlerFunc) {
	d.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		s, ok := d.authorize(w, r, a)
		if !ok {
			return
		}
		if err := h(w, r, s); err != nil {
			d.fail(w, r, s, err)
		}
	})
}

// errNotFound makes the 404 page.
var errNotFound = errors.New("not found")

// fail renders the error page for err: 404 for errNotFound and
// store.ErrNotFound, otherwise 500 with an id to find in the log.
func (d *Dashboard) fail(w http.ResponseWriter, r *http.Request, s *session, err error) {
	if errors.Is(err, errNotFound) || errors.Is(err, store.ErrNotFound) {
		d.renderError(w, r, s, http.StatusNotFound, "Not found", "Nothing lives at this address. It may have been removed.")
		return
	}
	if errors.Is(err, context.Canceled) {
		return // the browser went away
	}
	id := fmt.Sprintf("%08x", d.now().UnixNano()&0xffffffff)
	d.log.Error("web: page failed", "error_id", id, "path", r.URL.Path, "err", err)
	d.renderError(w, r, s, http.StatusInternalServerError, "Something went wrong", "The error was logged with id "+id+".")
}

// recoverPanic turns a panicking page into a 500 and logs the stack.
func (d *Dashboard) recoverPanic(w http.ResponseWriter, r *http.Request) {
	v := recover()
	if v == nil {
		return
	}
	if v == http.ErrAbortHandler {
		panic(v)
	}
	d.log.Error("web: handler panic", "path", r.URL.Path, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
	http.Error(w, "Internal Server Error", http.StatusInternalServerError)
}

// cacheStatic lets browsers keep the embedded assets for an hour; they only
// change with the binary.
func cacheStatic(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		h.ServeHTTP(w, r)
	})
}
