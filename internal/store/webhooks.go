package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Webhook is a subscription: bus topics matching TopicPatterns are POSTed
// to URL, signed with Secret. Consecutive failures trip a circuit breaker
// that disables it (AutoDisabledAt).
type Webhook struct {
	UUID                string     `json:"uuid"`
	Name                string     `json:"name"`
	URL                 string     `json:"url"`
	Secret              string     `json:"-"`
	TopicPatterns       []string   `json:"topic_patterns"`
	Enabled             bool       `json:"enabled"`
	ConsecutiveFailures int        `json:"consecutive_failures"`
	LastSuccessAt       *time.Time `json:"last_success_at"`
	LastFailureAt       *time.Time `json:"last_failure_at"`
	LastError           string     `json:"last_error"`
	AutoDisabledAt      *time.Time `json:"auto_disabled_at"`
	CreatedAt           time.Time  `json:"created_at"`
	UpdatedAt           time.Time  `json:"updated_at"`
}

// WebhookPatch changes the fields that are not nil.
type WebhookPatch struct {
	Name, URL, Secret *string
	TopicPatterns     *[]string
	Enabled           *bool
}

// maxWebhookError bounds the stored text of a delivery error.
const maxWebhookError = 512

const webhookCols = `uuid, name, url, secret, topic_patterns, enabled, consecutive_failures, last_success_at,
	last_failure_at, last_error, auto_disabled_at, created_at, updated_at`

func scanWebhook(sc interface{ Scan(...any) error }) (Webhook, error) {
	var w Webhook
	var topics, created, updated string
	var ok, fail, off sql.NullString
	err := sc.Scan(&w.UUID, &w.Name, &w.URL, &w.Secret, &topics, &w.Enabled, &w.ConsecutiveFailures, &ok, &fail,
		&w.LastError, &off, &created, &updated)
	w.TopicPatterns = stringList(topics)
	w.LastSuccessAt, w.LastFailureAt, w.AutoDisabledAt = optTime(ok), optTime(fail), optTime(off)
	w.CreatedAt, w.UpdatedAt = parseTime(created), parseTime(updated)
	return w, err
}

// CreateWebhook stores a new subscription (a fresh UUID when w.UUID is
// empty) and returns it as stored; ErrConflict when the name is taken.
func (s *Store) CreateWebhook(ctx context.Context, w Webhook) (Webhook, error) {
	if w.Name == "" || w.URL == "" {
		return w, fmt.Errorf("%w: webhook needs name and url", ErrInvalid)
	}
	if w.UUID == "" {
		w.UUID = newUUID()
	}
	if w.TopicPatterns == nil {
		w.TopicPatterns = []string{}
	}
	topics, _ := json.Marshal(w.TopicPatterns)
	now := fmtTime(time.Now())
	_, err := s.execWrite(ctx, s.q(`INSERT INTO webhook_subscriptions (uuid, name, url, secret, topic_patterns,
		enabled, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?)`),
		w.UUID, w.Name, w.URL, w.Secret, string(topics), boolInt(w.Enabled), now, now)
	if isConflict(err) {
		return w, fmt.Errorf("%w: webhook %q exists", ErrConflict, w.Name)
	}
	if err != nil {
		return w, fmt.Errorf("store: create webhook: %w", err)
	}
	return s.Webhook(ctx, w.UUID)
}

// Webhook returns a subscription by id, or ErrNotFound.
func (s *Store) Webhook(ctx context.Context, id string) (Webhook, error) {
	return s.webhookWhere(ctx, "uuid = ?", id)
}

// WebhookByName returns a subscription by name, or ErrNotFound.
func (s *Store) WebhookByName(ctx context.Context, name string) (Webhook, error) {
	return s.webhookWhere(ctx, "name = ?", name)
}

func (s *Store) webhookWhere(ctx context.Context, cond string, arg any) (Webhook, error) {
	w, err := scanWebhook(s.db.QueryRowContext(ctx, s.q("SELECT "+webhookCols+" FROM webhook_subscriptions WHERE "+cond), arg))
	if errors.Is(err, sql.ErrNoRows) {
		return w, ErrNotFound
	}
	return w, err
}

// Webhooks lists subscriptions by name; only the enabled ones when
// enabledOnly.
func (s *Store) Webhooks(ctx context.Context, enabledOnly bool) ([]Webhook, error) {
	q := "SELECT " + webhookCols + " FROM webhook_subscriptions"
	if enabledOnly {
		q += " WHERE enabled = 1"
	}
	rs, err := s.db.QueryContext(ctx, q+" ORDER BY name")
	if err != nil {
		return nil, fmt.Errorf("store: list webhooks: %w", err)
	}
	defer rs.Close()
	out := []Webhook{}
	for rs.Next() {
		w, err := scanWebhook(rs)
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, rs.Err()
}

// UpdateWebhook applies a patch; ErrNotFound for an unknown id,
// ErrConflict when the new name is taken. Enabling a subscription resets
// its failure count and circuit breaker.
func (s *Store) UpdateWebhook(ctx context.Context, id string, p WebhookPatch) error {
	sets, args := []string{"updated_at = ?"}, []any{fmtTime(time.Now())}
	if p.Name != nil {
		sets, args = append(sets, "name = ?"), append(args, *p.Name)
	}
	if p.URL != nil {
		sets, args = append(sets, "url = ?"), append(args, *p.URL)
	}
	if p.Secret != nil {
		sets, args = append(sets, "secret = ?"), append(args, *p.Secret)
	}
	if p.TopicPatterns != nil {
		l := *p.TopicPatterns
		if l == nil {
			l = []string{}
		}
		j, _ := json.Marshal(l)
		sets, args = append(sets, "topic_patterns = ?"), append(args, string(j))
	}
	if p.Enabled != nil {
		sets, args = append(sets, "enabled = ?"), append(args, boolInt(*p.Enabled))
		if *p.Enabled {
			sets = append(sets, "consecutive_failures = 0", "auto_disabled_at = NULL", "last_error = ''")
		}
	}
	r, err := s.execWrite(ctx, s.q("UPDATE webhook_subscriptions SET "+strings.Join(sets, ", ")+" WHERE uuid = ?"), append(args, id)...)
	if isConflict(err) {
		return fmt.Errorf("%w: webhook name %q exists", ErrConflict, *p.Name)
	}
	if err != nil {
		return fmt.Errorf("store: update webhook %s: %w", id, err)
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// DeleteWebhook removes a subscription; ErrNotFound for an unknown id.
func (s *Store) DeleteWebhook(ctx context.Context, id string) error {
	r, err := s.execWrite(ctx, s.q("DELETE FROM webhook_subscriptions WHERE uuid = ?"), id)
	if err != nil {
		return fmt.Errorf("store: delete webhook %s: %w", id, err)
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// RecordWebhookSuccess notes a delivery: failures reset to zero.
func (s *Store) RecordWebhookSuccess(ctx context.Context, id string, at time.Time) error {
	_, err := s.execWrite(ctx, s.q(`UPDATE webhook_subscriptions SET consecutive_failures = 0, last_success_at = ?
		WHERE uuid = ?`), fmtTime(at), id)
	return err
}

// RecordWebhookFailure notes a failed delivery and returns the number of
// consecutive failures so far. The error text is kept to 512 characters.
func (s *Store) RecordWebhookFailure(ctx context.Context, id, errText string, at time.Time) (int, error) {
	errText = cleanText(errText, maxWebhookError)
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, s.q(`UPDATE webhook_subscriptions SET consecutive_failures = consecutive_failures + 1,
		last_failure_at = ?, last_error = ? WHERE uuid = ?`), fmtTime(at), errText, id); err != nil {
		return 0, err
	}
	var n int
	err = tx.QueryRowContext(ctx, s.q("SELECT consecutive_failures FROM webhook_subscriptions WHERE uuid = ?"), id).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, ErrNotFound
	}
	if err != nil {
		return 0, err
	}
	return n, tx.Commit()
}

// TripWebhookCircuit disables a subscription after too many failures.
func (s *Store) TripWebhookCircuit(ctx context.Context, id string, at time.Time) error {
	_, err := s.execWrite(ctx, s.q("UPDATE webhook_subscriptions SET enabled = 0, auto_disabled_at = ? WHERE uuid = ?"), fmtTime(at), id)
	return err
}
