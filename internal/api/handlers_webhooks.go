package api

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/decnet-go/decnet/internal/store"
	"github.com/decnet-go/decnet/internal/webhook"
)

// WebhookStore is what the webhook routes read and write.
type WebhookStore interface {
	CreateWebhook(ctx context.Context, w store.Webhook) (store.Webhook, error)
	Webhook(ctx context.Context, id string) (store.Webhook, error)
	Webhooks(ctx context.Context, enabledOnly bool) ([]store.Webhook, error)
	UpdateWebhook(ctx context.Context, id string, p store.WebhookPatch) error
	DeleteWebhook(ctx context.Context, id string) error
}

// Webhook bounds (spec/data-api.md §3.9).
const (
	maxWebhookName     = 64
	minWebhookSecret   = 16
	maxWebhookSecret   = 256
	maxTopicPatterns   = 32
	maxTopicPattern    = 255
	webhookCreateLimit = 20 // creations per minute per admin
	webhookTestTimeout = 10 * time.Second
	webhooksChanged    = "system.webhook.subscriptions_changed"
)

var (
	errWebhookNotFound = newError(http.StatusNotFound, "Webhook not found")
	errWebhookExists   = newError(http.StatusConflict, "A webhook with this name already exists")
	errNoPatterns      = badRequest("at least one simple event or topic pattern is required")
)

// webhooks is the state the webhook routes share.
type webhooks struct {
	allowPrivate bool
	create       *limiter
	sender       *webhook.Sender
}

func newWebhooks(allowPrivate bool) *webhooks {
	return &webhooks{allowPrivate: allowPrivate, create: newLimiter(webhookCreateLimit, time.Minute, limiterKeys),
		sender: webhook.NewSender(allowPrivate, webhookTestTimeout)}
}

// webhookResponse is a subscription as the API shows it: never the secret.
// SimpleEvents are the presets whose patterns are all subscribed;
// Warnings flag risky settings such as an unencrypted URL.
type webhookResponse struct {
	store.Webhook
	SimpleEvents []string `json:"simple_events"`
	Warnings     []string `json:"warnings"`
}

// webhookCreateResponse is the answer to a creation: the only time the
// signing secret is shown.
type webhookCreateResponse struct {
	webhookResponse
	Secret string `json:"secret"`
}

// webhookRequest is the body of a creation (every field) or a patch (any).
type webhookRequest struct {
	Name          *string   `json:"name"`
	URL           *string   `json:"url"`
	Secret        *string   `json:"secret"`
	SimpleEvents  *[]string `json:"simple_events"`
	TopicPatterns *[]string `json:"topic_patterns"`
	Enabled       *bool     `json:"enabled"`
}

// webhookTestResult is what a test delivery did.
type webhookTestResult = webhook.Result

func webhookView(w store.Webhook) webhookResponse {
	out := webhookResponse{Webhook: w, SimpleEvents: []string{}, Warnings: []string{}}
	_, out.SimpleEvents = splitPatterns(w.TopicPatterns)
	if strings.HasPrefix(strings.ToLower(w.URL), "http://") {
		out.Warnings = append(out.Warnings, "insecure_url")
	}
	return out
}

// splitPatterns separates a stored pattern list into the raw patterns and
// the presets it contains in full.
func splitPatterns(all []string) (raw, presets []string) {
	presets = []string{}
	inPreset := map[string]bool{}
	for _, name := range webhook.PresetNames {
		pats := webhook.Presets[name]
		if len(pats) > 0 && !slices.ContainsFunc(pats, func(p string) bool { return !slices.Contains(all, p) }) {
			presets = append(presets, name)
			for _, p := range pats {
				inPreset[p] = true
			}
		}
	}
	raw = []string{}
	for _, p := range all {
		if !inPreset[p] {
			raw = append(raw, p)
		}
	}
	return raw, presets
}

// joinPatterns expands presets and adds raw patterns, without duplicates.
func joinPatterns(presets, raw []string) []string {
	out := []string{}
	for _, name := range presets {
		for _, p := range webhook.Presets[name] {
			if !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	for _, p := range raw {
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

// validTopicPattern reports whether p is a bus subject pattern: dot
// separated non-empty tokens of printable characters without spaces, "*"
// only as a whole token, ">" only as the whole last token.
func validTopicPattern(p string) bool {
	if p == "" || len(p) > maxTopicPattern {
		return false
	}
	toks := strings.Split(p, ".")
	for i, t := range toks {
		switch {
		case t == "":
			return false
		case t == ">":
			if i != len(toks)-1 {
				return false
			}
		case t == "*":
		default:
			for _, r := range t {
				if r <= ' ' || r == 0x7f || r == '*' || r == '>' || !utf8.ValidRune(r) {
					return false
				}
			}
		}
	}
	return true
}

// check validates the fields present in req; create requires the name and
// URL. It returns the 4xx to answer, or nil.
func (h *webhooks) check(req *webhookRequest, create bool) error {
	if create {
		switch {
		case req.Name == nil:
			return missingField("name")
		case req.URL == nil:
			return missingField("url")
		}
	}
	if req.Name != nil {
		n := *req.Name
		if c := utf8.RuneCountInString(n); c < 1 || c > maxWebhookName || strings.TrimSpace(n) != n {
			return invalidField("name must be 1 to 64 characters without surrounding spaces")
		}
	}
	if req.URL != nil {
		if err := webhook.CheckURL(*req.URL, h.allowPrivate); err != nil {
			return invalidField("url " + strings.TrimPrefix(err.Error(), webhook.ErrForbiddenURL.Error()+": ") +
				" (private, loopback, link-local and metadata targets need DECNET_WEBHOOK_ALLOW_PRIVATE=true)")
		}
	}
	if req.Secret != nil {
		if n := len(*req.Secret); n < minWebhookSecret || n > maxWebhookSecret {
			return invalidField("secret must be 16 to 256 characters")
		}
	}
	if req.SimpleEvents != nil {
		for _, e := range *req.SimpleEvents {
			if _, ok := webhook.Presets[e]; !ok {
				return invalidField("simple_events entries must be one of " + strings.Join(webhook.PresetNames, ", "))
			}
		}
	}
	if req.TopicPatterns != nil {
		if len(*req.TopicPatterns) > maxTopicPatterns {
			return invalidField("topic_patterns must have at most 32 entries")
		}
		for _, p := range *req.TopicPatterns {
			if !validTopicPattern(p) {
				return invalidField("topic_patterns entry " + quoteShort(p) + " is not a subject pattern (tokens separated by '.', '*' for one token, '>' last)")
			}
		}
	}
	return nil
}

// quoteShort quotes s for an error detail, cut to 64 bytes.
func quoteShort(s string) string {
	if len(s) > 64 {
		s = strings.ToValidUTF8(s[:64], "") + "…"
	}
	return `"` + s + `"`
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// createWebhook adds a subscription. POST /api/v1/webhooks (admin).
func (s *server) createWebhook(w http.ResponseWriter, r *http.Request, id *identity) error {
	if ok, retry := s.hooks.create.allow(id.user.UUID); !ok {
		return tooManyRequests("Too many webhook creations; try again later", int(retry.Seconds()+1))
	}
	var req webhookRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if err := s.hooks.check(&req, true); err != nil {
		return err
	}
	patterns := joinPatterns(deref(req.SimpleEvents), deref(req.TopicPatterns))
	if len(patterns) == 0 {
		return errNoPatterns
	}
	secret := deref(req.Secret)
	if secret == "" {
		secret = webhook.NewSecret()
	}
	enabled := req.Enabled == nil || *req.Enabled
	hook, err := s.st.CreateWebhook(r.Context(), store.Webhook{Name: *req.Name, URL: *req.URL, Secret: secret,
		TopicPatterns: patterns, Enabled: enabled})
	if errors.Is(err, store.ErrConflict) {
		return errWebhookExists
	}
	if err != nil {
		return err
	}
	s.webhooksChanged(id, "created", hook.UUID)
	return writeJSON(w, http.StatusCreated, webhookCreateResponse{webhookResponse: webhookView(hook), Secret: secret})
}

// listWebhooks answers every subscription. GET /api/v1/webhooks (admin).
func (s *server) listWebhooks(w http.ResponseWriter, r *http.Request, _ *identity) error {
	hooks, err := s.st.Webhooks(r.Context(), false)
	if err != nil {
		return err
	}
	out := make([]webhookResponse, 0, len(hooks))
	for _, h := range hooks {
		out = append(out, webhookView(h))
	}
	return writeJSON(w, http.StatusOK, out)
}

// getWebhook answers one subscription. GET /api/v1/webhooks/{uuid} (admin).
func (s *server) getWebhook(w http.ResponseWriter, r *http.Request, _ *identity) error {
	hook, err := s.webhookByID(r)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, webhookView(hook))
}

func (s *server) webhookByID(r *http.Request) (store.Webhook, error) {
	hook, err := s.st.Webhook(r.Context(), r.PathValue("uuid"))
	if errors.Is(err, store.ErrNotFound) {
		return hook, errWebhookNotFound
	}
	return hook, err
}

// patchWebhook changes the fields given. simple_events replaces the
// presets and topic_patterns the raw patterns; the other part stays.
// Re-enabling clears the circuit breaker. PATCH /api/v1/webhooks/{uuid}
// (admin).
func (s *server) patchWebhook(w http.ResponseWriter, r *http.Request, id *identity) error {
	var req webhookRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if err := s.hooks.check(&req, false); err != nil {
		return err
	}
	hook, err := s.webhookByID(r)
	if err != nil {
		return err
	}
	p := store.WebhookPatch{Name: req.Name, URL: req.URL, Secret: req.Secret, Enabled: req.Enabled}
	if req.SimpleEvents != nil || req.TopicPatterns != nil {
		raw, presets := splitPatterns(hook.TopicPatterns)
		if req.SimpleEvents != nil {
			presets = *req.SimpleEvents
		}
		if req.TopicPatterns != nil {
			raw = *req.TopicPatterns
		}
		patterns := joinPatterns(presets, raw)
		if len(patterns) == 0 {
			return errNoPatterns
		}
		p.TopicPatterns = &patterns
	}
	switch err := s.st.UpdateWebhook(r.Context(), hook.UUID, p); {
	case errors.Is(err, store.ErrConflict):
		return errWebhookExists
	case errors.Is(err, store.ErrNotFound):
		return errWebhookNotFound
	case err != nil:
		return err
	}
	if hook, err = s.webhookByID(r); err != nil {
		return err
	}
	s.webhooksChanged(id, "updated", hook.UUID)
	return writeJSON(w, http.StatusOK, webhookView(hook))
}

// deleteWebhook removes a subscription. DELETE /api/v1/webhooks/{uuid}
// (admin).
func (s *server) deleteWebhook(w http.ResponseWriter, r *http.Request, id *identity) error {
	target := r.PathValue("uuid")
	err := s.st.DeleteWebhook(r.Context(), target)
	if errors.Is(err, store.ErrNotFound) {
		return errWebhookNotFound
	}
	if err != nil {
		return err
	}
	s.webhooksChanged(id, "deleted", target)
	return writeJSON(w, http.StatusOK, messageResponse{Message: "Webhook deleted"})
}

// testWebhook posts a synthetic test.ping to a subscription, once, and
// says what happened. POST /api/v1/webhooks/{uuid}/test (admin).
func (s *server) testWebhook(w http.ResponseWriter, r *http.Request, id *identity) error {
	hook, err := s.webhookByID(r)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), webhookTestTimeout)
	defer cancel()
	res := s.hooks.sender.Send(ctx, hook.URL, hook.Secret, webhook.Message{ID: uuid.NewString(), TS: time.Now(),
		Topic: "test.ping", Type: "test.ping", Payload: map[string]any{"webhook_uuid": hook.UUID, "requested_by": id.user.Username}})
	s.log.Info("api: webhook test", "by", id.user.Username, "webhook", hook.UUID, "delivered", res.Delivered, "status", res.StatusCode)
	return writeJSON(w, http.StatusOK, res)
}

// webhooksChanged tells the delivery worker to reload and logs who did what.
func (s *server) webhooksChanged(id *identity, what, hookID string) {
	s.log.Info("api: webhook "+what, "by", id.user.Username, "webhook", hookID)
	s.notify(webhooksChanged, map[string]any{"webhook_uuid": hookID, "action": what, "ts": time.Now().UTC().Format(time.RFC3339)})
}
