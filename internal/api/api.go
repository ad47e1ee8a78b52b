package api

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/decnet-go/decnet/internal/honeypot"
	"github.com/decnet-go/decnet/internal/metrics"
	"github.com/decnet-go/decnet/internal/store"
)

// DefaultTokenTTL is how long an access token lives when Config.TokenTTL is
// zero (DECNET_JWT_EXP_MINUTES defaults to 240).
const DefaultTokenTTL = 240 * time.Minute

// MinSecretLen is the shortest JWT signing secret New accepts.
const MinSecretLen = 32

// Config is what the API needs from the process that runs it.
type Config struct {
	// JWTSecret signs and verifies access tokens (HS256); at least
	// MinSecretLen bytes.
	JWTSecret []byte
	// TokenTTL is the lifetime of an access token; zero means DefaultTokenTTL.
	TokenTTL time.Duration
	// Checks are the health components reported by GET /api/v1/health, by
	// name ("database", "bus", "ingest", …). A nil error means healthy. When
	// no "database" check is given, the store's Ping is used.
	Checks map[string]func(context.Context) error
	// Logger receives request errors and security events; nil discards.
	Logger *slog.Logger
	// Version is reported by the authenticated health check.
	Version string
	// Fleet changes running deckies (the live operations under
	// /api/v1/deckies/…/services and /api/v1/deckies/files); nil makes
	// those routes answer 503. A Fleet that is also a Deployer deploys and
	// deletes whole deckies (POST /deckies/deploy, DELETE /deckies/{name}).
	Fleet Fleet
	// Services is the catalogue the schema route describes; nil makes it 404.
	Services *honeypot.Registry
	// Notify publishes a live operation's outcome (best effort), e.g. on
	// core NATS as JSON; nil publishes nothing.
	Notify func(subject string, payload any)
	// DeploymentLimit bounds the deckies one deploy may start (409 above
	// it); zero means DefaultDeploymentLimit.
	DeploymentLimit int
	// Metrics receives the request latency of every route and is what
	// GET /metrics serves; nil makes a registry of the API's own.
	Metrics *metrics.Metrics
	// CORSOrigins are the browser origins allowed to call the API from
	// another site (DECNET_CORS_ORIGINS), e.g. "https://soc.example.org".
	// Empty (the default) sends no CORS headers at all: browsers then allow
	// only same-origin pages.
	CORSOrigins []string
	// WebhookAllowPrivate lets webhook URLs name private, loopback,
	// link-local and metadata addresses (DECNET_WEBHOOK_ALLOW_PRIVATE).
	WebhookAllowPrivate bool
	// TTP is the running tagging engine, for the rule routes; nil serves
	// the embedded rules.
	TTP TTPRules
	// DataDir is where the node keeps its files; session recordings are read
	// under <DataDir>/deckies (GET /transcripts). Empty makes that route 404.
	DataDir string
	// Topics is the bus the live streams of attackers, identities and
	// campaigns follow (*bus.Bus implements it); nil makes those streams
	// send their snapshot and keepalives only.
	Topics Topics
	// Canary plants and revokes canary tokens (a *canary.Planter); nil
	// makes the canary write routes answer 503 (the reads still work).
	// CanaryHTTPBase and CanaryDNSZone are where tokens call home, for
	// the callback_url and callback_host the API shows.
	Canary                        CanaryPlanter
	CanaryHTTPBase, CanaryDNSZone string
}

// DefaultDeploymentLimit is the original's config_limits.deployment_limit.
const DefaultDeploymentLimit = 10

// Validate reports a configuration New would refuse, naming the setting.
func (c Config) Validate() error {
	if len(c.JWTSecret) < MinSecretLen {
		return fmt.Errorf("api: DECNET_JWT_SECRET must be at least %d bytes (got %d)", MinSecretLen, len(c.JWTSecret))
	}
	if c.TokenTTL < 0 {
		return errors.New("api: token TTL must not be negative")
	}
	for _, o := range c.CORSOrigins {
		if u, err := url.Parse(o); o == "*" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" {
			return fmt.Errorf("api: CORS origin %q must be scheme://host[:port], not a wildcard", o)
		}
	}
	return nil
}

// Store is what the API reads and writes. *store.Store implements it.
type Store interface {
	AdminStore
	WebhookStore
	IdentityStore
	LootStore
	TTPStore
	CanaryStore

	Events(ctx context.Context, p store.Page) ([]store.EventRow, int, error)
	EventsIn(ctx context.Context, q store.EventQuery) ([]store.EventRow, int, error)
	EventHistogram(ctx context.Context, q store.EventQuery, interval time.Duration) ([]store.HistogramBucket, error)
	EventsAfter(ctx context.Context, after int64, limit int) ([]store.EventRow, error)
	EventsAfterIn(ctx context.Context, q store.EventQuery, through int64) ([]store.EventRow, error)
	AttackerIdentity(ctx context.Context, attackerUUID string) (string, error)
	MaxEventID(ctx context.Context) (int64, error)
	AttackersSorted(ctx context.Context, p store.Page, sortBy string) ([]store.Attacker, int, error)
	AttackerServiceActivity(ctx context.Context, ip string) (store.ServiceActivity, error)
	AttackerByUUID(ctx context.Context, id string) (store.Attacker, error)
	Sessions(ctx context.Context, p store.Page) ([]store.Session, int, error)
	Credentials(ctx context.Context, p store.Page) ([]store.Credential, int, error)
	Commands(ctx context.Context, ip string, limit, offset int) ([]store.Command, int, error)
	Stats(ctx context.Context) (store.Stats, error)
	Deckies(ctx context.Context) ([]store.DeckyRow, error)
	CreateLifecycle(ctx context.Context, deckyName, operation string) (store.Lifecycle, error)
	UpdateLifecycle(ctx context.Context, id, status, errMsg string) error
	Lifecycles(ctx context.Context, ids []string) ([]store.Lifecycle, error)
	State(ctx context.Context, key string) (string, error)
	SetState(ctx context.Context, key, value string) error

	UserByName(ctx context.Context, name string) (store.User, error)
	UserByUUID(ctx context.Context, id string) (store.User, error)
	SetPassword(ctx context.Context, userUUID, hash string, mustChange bool, validFrom int64) error
	Users(ctx context.Context) ([]store.User, error)
	DeleteUser(ctx context.Context, id string) error
	SetRole(ctx context.Context, id, role string, validFrom int64) error
	RevokeToken(ctx context.Context, jti, userUUID string, expires time.Time) error
	TokenRevoked(ctx context.Context, jti string) (bool, error)
	Ping(ctx context.Context) error
}

// AdminStore is what EnsureAdmin needs: counting and creating accounts.
type AdminStore interface {
	CountUsers(ctx context.Context) (int, error)
	CreateUser(ctx context.Context, u store.User) error
}

// server is the API behind the handler New returns.
type server struct {
	deployLimit int
	st          Store
	log         *slog.Logger
	secret      []byte
	ttl         time.Duration
	version     string
	checks      map[string]func(context.Context) error
	mux         *http.ServeMux
	hasher      *hasher
	loginIP     *limiter // login attempts per client address
	loginUser   *limiter // login attempts per claimed user name
	changePW    *limiter // password changes per client address
	tickets     *tickets
	streams     *streamCounter
	fleet       Fleet
	services    *honeypot.Registry
	notify      func(subject string, payload any)
	users       *userCache
	metrics     *metrics.Metrics
	cors        map[string]bool
	routeList   []string        // every pattern registered, in order
	patterns    map[string]bool // the same, as a set
	deployMu    sync.Mutex      // deploys run one at a time
	deploys     sync.WaitGroup  // background deploys in flight
	drainMu     sync.Mutex      // guards draining and deploys.Add
	draining    bool            // Drain was called: no new deploys
	hooks       *webhooks       // webhook CRUD limits and test sender
	reuse       reuseRefresher  // keeps credential_reuse current for readers
	pages       *pageCache      // hot list pages (logs, attackers), see pagecache.go
	revoked     *revocations    // token revocations known to this process
	ttp         TTPRules        // the tagging engine's rules (nil: embedded)
	dataDir     string          // recordings live under <dataDir>/deckies
	topics      Topics          // derived bus topics for the live streams (nil: none)
	topicDrops  atomic.Int64    // bus frames dropped by full stream queues, all streams

	// Canary tokens: the planter (nil: off) and where tokens call home.
	canary                        CanaryPlanter
	canaryHTTPBase, canaryDNSZone string

	// SSE timing; tests shorten them.
	pollEvery      time.Duration
	keepaliveEvery time.Duration
	identityEvery  time.Duration // an attacker stream's identity re-reads, at most
}

// New returns the API as an http.Handler. It panics when cfg does not pass
// Validate (a programming error: callers validate configuration at start-up).
//
// Long-lived responses (the event stream) end when the request's context
// does, so the caller ends them on shutdown by cancelling the context it
// gives http.Server.BaseContext.
func New(cfg Config, st Store) http.Handler {
	return newServer(cfg, st)
}

func newServer(cfg Config, st Store) *server {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	s := &server{
		st:             st,
		log:            cfg.Logger,
		secret:         append([]byte(nil), cfg.JWTSecret...),
		ttl:            cfg.TokenTTL,
		version:        cfg.Version,
		checks:         map[string]func(context.Context) error{},
		mux:            http.NewServeMux(),
		hasher:         newHasher(),
		loginIP:        newLimiter(loginLimit, loginWindow, limiterKeys),
		loginUser:      newLimiter(loginLimit, loginWindow, limiterKeys),
		changePW:       newLimiter(changePasswordLimit, changePasswordWindow, limiterKeys),
		tickets:        newTickets(ticketTTL, maxTickets),
		streams:        newStreamCounter(maxStreamsPerUser),
		pollEvery:      250 * time.Millisecond,
		keepaliveEvery: 15 * time.Second,
		fleet:          cfg.Fleet,
		deployLimit:    cmp.Or(cfg.DeploymentLimit, DefaultDeploymentLimit),
		dataDir:        cfg.DataDir,
		services:       cfg.Services,
		notify:         cfg.Notify,
		users:          newUserCache(userCacheTTL),
		metrics:        cfg.Metrics,
		cors:           map[string]bool{},
		patterns:       map[string]bool{},
		hooks:          newWebhooks(cfg.WebhookAllowPrivate),
		pages:          newPageCache(st),
		revoked:        newRevocations(userCacheTTL),
		ttp:            cfg.TTP,
		topics:         cfg.Topics,
		canary:         cfg.Canary,
		canaryHTTPBase: cfg.CanaryHTTPBase,
		canaryDNSZone:  cfg.CanaryDNSZone,
		identityEvery:  identityRecheck,
	}
	if s.metrics == nil {
		s.metrics = metrics.New()
	}
	for _, o := range cfg.CORSOrigins {
		s.cors[o] = true
	}
	if s.notify == nil {
		s.notify = func(string, any) {}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.ttl == 0 {
		s.ttl = DefaultTokenTTL
	}
	maps.Copy(s.checks, cfg.Checks)
	if _, ok := s.checks["database"]; !ok {
		s.checks["database"] = st.Ping
	}
	s.routes()
	return s
}

// routes registers every endpoint. Each says who may call it. The OpenAPI
// document (openapi.go) describes each one; a test keeps the two equal.
func (s *server) routes() {
	// Open: login, and health, which reports more to a viewer's token.
	s.handle("POST /api/v1/auth/login", s.login)
	s.handle("GET /api/v1/health", s.health)
	s.handle("GET /api/v1/openapi.json", s.openAPI)

	// Any valid token, even one whose user must still change the password.
	s.handle("POST /api/v1/auth/change-password", s.authed(accessAny, s.changePassword))
	s.handle("POST /api/v1/auth/logout", s.authed(accessAny, s.logout))

	// Viewers and admins. Lists take limit and offset plus the filters named.
	s.handle("POST /api/v1/auth/sse-ticket", s.authed(accessViewer, s.sseTicket))
	s.handle("GET /api/v1/logs", s.authed(accessViewer, s.cached(s.logs)))
	s.handle("GET /api/v1/logs/histogram", s.authed(accessViewer, s.logHistogram))
	s.handle("GET /api/v1/stats", s.authed(accessViewer, s.stats))
	s.handle("GET /api/v1/attackers", s.authed(accessViewer, s.cached(s.attackers)))
	s.handle("GET /api/v1/attackers/{uuid}", s.authed(accessViewer, s.attacker))
	s.handle("GET /api/v1/attackers/{uuid}/commands", s.authed(accessViewer, s.attackerCommands))
	s.handle("GET /api/v1/identities/multi-actor", s.authed(accessViewer, s.multiActorIdentities))
	s.handle("GET /api/v1/credentials", s.authed(accessViewer, list(maxListLimit, s.st.Credentials, "search", "service", "attacker_ip")))
	s.handle("GET /api/v1/sessions", s.authed(accessViewer, list(maxListLimit, s.st.Sessions, "attacker_ip", "service")))
	s.handle("GET /api/v1/credential-reuse", s.authed(accessViewer, s.credentialReuses))
	s.handle("GET /api/v1/credential-reuse/{reuse_id}", s.authed(accessViewer, s.credentialReuse))
	s.handle("GET /api/v1/bounty", s.authed(accessViewer, s.bounties))
	s.handle("GET /api/v1/identities", s.authed(accessViewer, list(maxListLimit, pagedBy(s.st.Identities))))
	s.handle("GET /api/v1/identities/{uuid}", s.authed(accessViewer, s.identity))
	s.handle("GET /api/v1/identities/{uuid}/observations", s.authed(accessViewer, s.identityObservations))
	s.handle("GET /api/v1/campaigns", s.authed(accessViewer, list(maxListLimit, pagedBy(s.st.Campaigns))))
	s.handle("GET /api/v1/campaigns/{uuid}", s.authed(accessViewer, s.campaign))
	s.handle("GET /api/v1/campaigns/{uuid}/identities", s.authed(accessViewer, s.campaignIdentities))
	s.handle("GET /api/v1/deckies", s.authed(accessViewer, s.listDeckies))
	s.handle("GET /api/v1/deckies/lifecycle", s.authed(accessViewer, s.lifecycle))
	s.handle("GET /api/v1/config", s.authed(accessViewer, s.getConfig))
	s.handle("GET /api/v1/transcripts/{decky}/{sid}", s.authed(accessAdmin, s.getTranscript))
	s.handle("GET /metrics", s.authed(accessViewer, s.serveMetrics))

	s.handle("GET /api/v1/topologies/services/{svc}/schema", s.authed(accessViewer, s.serviceSchema))

	// Admins: settings and accounts.
	s.handle("PUT /api/v1/config/deployment-limit", s.authed(accessAdmin, s.putDeploymentLimit))
	s.handle("GET /api/v1/config/users", s.authed(accessAdmin, s.listUsers))
	s.handle("POST /api/v1/config/users", s.authed(accessAdmin, s.createUser))
	s.handle("DELETE /api/v1/config/users/{uuid}", s.authed(accessAdmin, s.deleteUser))
	s.handle("PUT /api/v1/config/users/{uuid}/role", s.authed(accessAdmin, s.setUserRole))
	s.handle("PUT /api/v1/config/users/{uuid}/reset-password", s.authed(accessAdmin, s.resetUserPassword))
	s.handle("GET /api/v1/webhooks", s.authed(accessAdmin, s.listWebhooks))
	s.handle("POST /api/v1/webhooks", s.authed(accessAdmin, s.createWebhook))
	s.handle("GET /api/v1/webhooks/{uuid}", s.authed(accessAdmin, s.getWebhook))
	s.handle("PATCH /api/v1/webhooks/{uuid}", s.authed(accessAdmin, s.patchWebhook))
	s.handle("DELETE /api/v1/webhooks/{uuid}", s.authed(accessAdmin, s.deleteWebhook))
	s.handle("POST /api/v1/webhooks/{uuid}/test", s.authed(accessAdmin, s.testWebhook))

	// Admins: live operations on running deckies.
	s.handle("POST /api/v1/deckies/{name}/services", s.authed(accessAdmin, s.live(s.addService)))
	s.handle("DELETE /api/v1/deckies/{name}/services/{svc}", s.authed(accessAdmin, s.live(s.removeService)))
	s.handle("PUT /api/v1/deckies/{name}/services/{svc}/config", s.authed(accessAdmin, s.live(s.saveServiceConfig)))
	s.handle("POST /api/v1/deckies/{name}/services/{svc}/apply", s.authed(accessAdmin, s.live(s.applyServiceConfig)))
	s.handle("POST "+deployPath, s.authed(accessAdmin, s.live(s.deployDeckies)))
	s.handle("DELETE /api/v1/deckies/{name}", s.authed(accessAdmin, s.live(s.deleteDecky)))
	s.handle("POST "+dropPath, s.authed(accessAdmin, s.live(s.writeFile)))
	s.handle("DELETE "+dropPath, s.authed(accessAdmin, s.live(s.removeFile)))

	// Viewers and admins, by bearer token or single-use ticket.
	s.handle("GET /api/v1/stream", s.authed(accessStream, s.stream))
	s.handle("GET /api/v1/attackers/{uuid}/events", s.authed(accessStream, s.attackerEvents))
	s.handle("GET /api/v1/identities/events", s.authed(accessStream, s.identityEvents))
	s.handle("GET /api/v1/campaigns/events", s.authed(accessStream, s.campaignEvents))
	s.ttpRoutes()
	s.canaryRoutes()
}

// handlerFunc is an endpoint that reports failure by returning an error,
// which writeError turns into a response.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

func (s *server) handle(pattern string, h handlerFunc) {
	s.routeList = append(s.routeList, pattern)
	s.patterns[pattern] = true
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}
