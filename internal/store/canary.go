package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/decnet-go/decnet/internal/canary"
)

// The canary repository: tokens planted in deckies (canary_tokens) and the
// uses they saw (canary_triggers). *Store implements canary.Tokens, which
// the planter and the trigger listeners use, plus the reads of the API.

var _ canary.Tokens = (*Store)(nil)

// Bounds of what a trigger stores. Everything but the token id comes from
// an attacker's request (headers, a DNS name, a beacon), so every text is
// cut and cleaned (cleanText) and the JSON columns have a ceiling; the
// limits are the same on every dialect (dns_qname is VARCHAR(255) on MySQL,
// src_ip VARCHAR(45)).
const (
	maxTriggerIP          = 45
	maxTriggerUserAgent   = 1024
	maxTriggerPath        = 2048
	maxTriggerQName       = 255
	maxTriggerVia         = 16
	maxTriggerHeaders     = 64
	maxTriggerHeaderName  = 128
	maxTriggerHeaderValue = 1024
	maxTriggerMetrics     = 32
	maxTriggerMetricText  = 512
	maxTriggerFingerprint = 64 << 10 // bytes of the fingerprint's JSON
	maxTokenError         = 512
	defaultCanaryPage     = 50
)

// CanaryTokenFilter selects tokens for CanaryTokens; empty fields match
// everything. Limit ≤ 0 means 50.
type CanaryTokenFilter struct {
	Decky, State, Kind string
	Limit, Offset      int
}

const canaryTokenCols = `uuid, kind, decky_name, generator, placement_path, callback_token, secret_seed,
	fingerprint_nonce, access_key_id, state, trigger_count, last_triggered_at, placed_at, created_by, last_error`

func scanCanaryToken(sc scanner) (canary.Token, error) {
	var t canary.Token
	var last, placed sql.NullString
	err := sc.Scan(&t.UUID, &t.Kind, &t.DeckyName, &t.Generator, &t.PlacementPath, &t.Slug, &t.SecretSeed,
		&t.FingerprintNonce, &t.AccessKeyID, &t.State, &t.TriggerCount, &last, &placed, &t.CreatedBy, &t.LastError)
	if last.Valid && last.String != "" {
		t.LastTriggeredAt = parseTime(last.String)
	}
	if placed.Valid && placed.String != "" {
		t.CreatedAt = parseTime(placed.String)
	}
	return t, err
}

// CreateToken stores a new token (canary.Tokens). Its UUID and slug must be
// set; a zero CreatedAt means now and an empty State planted. ErrConflict
// when the UUID or slug is taken.
func (s *Store) CreateToken(ctx context.Context, t canary.Token) error {
	if t.UUID == "" || t.Slug == "" || t.Kind == "" || t.DeckyName == "" {
		return fmt.Errorf("%w: canary token needs uuid, slug, kind and decky", ErrInvalid)
	}
	if t.State == "" {
		t.State = canary.StatePlanted
	}
	if !validTokenState(t.State) {
		return fmt.Errorf("%w: canary token state %q", ErrInvalid, t.State)
	}
	if t.CreatedAt.IsZero() {
		t.CreatedAt = time.Now()
	}
	var last any
	if !t.LastTriggeredAt.IsZero() {
		last = fmtTime(t.LastTriggeredAt)
	}
	_, err := s.execWrite(ctx, s.q(`INSERT INTO canary_tokens (uuid, kind, decky_name, generator, placement_path,
		callback_token, secret_seed, fingerprint_nonce, access_key_id, state, trigger_count, last_triggered_at, placed_at,
		created_by, last_error) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`),
		t.UUID, t.Kind, t.DeckyName, t.Generator, t.PlacementPath, t.Slug, t.SecretSeed, t.FingerprintNonce, t.AccessKeyID,
		t.State, t.TriggerCount, last, fmtTime(t.CreatedAt), t.CreatedBy, cleanText(t.LastError, maxTokenError))
	if isConflict(err) {
		return fmt.Errorf("%w: canary token %s or slug exists", ErrConflict, t.UUID)
	}
	if err != nil {
		return fmt.Errorf("store: create canary token: %w", err)
	}
	return nil
}

func validTokenState(s string) bool {
	switch s {
	case canary.StatePlanted, canary.StateRevoked, canary.StateFailed:
		return true
	}
	return false
}

// CanaryToken returns a token by UUID, or ErrNotFound.
func (s *Store) CanaryToken(ctx context.Context, uuid string) (canary.Token, error) {
	t, found, err := s.tokenWhere(ctx, "uuid = ?", uuid)
	if err == nil && !found {
		err = ErrNotFound
	}
	return t, err
}

// TokenBySlug finds a token by its callback slug (canary.Tokens).
func (s *Store) TokenBySlug(ctx context.Context, slug string) (canary.Token, bool, error) {
	if slug == "" {
		return canary.Token{}, false, nil
	}
	return s.tokenWhere(ctx, "callback_token = ?", slug)
}

// TokenByAccessKey finds the token that planted a cloud key id
// (canary.Tokens). Should two tokens carry the same key id, a planted one
// wins over a revoked one, then the newest.
func (s *Store) TokenByAccessKey(ctx context.Context, keyID string) (canary.Token, bool, error) {
	if keyID == "" {
		return canary.Token{}, false, nil
	}
	return s.tokenWhere(ctx, "access_key_id = ? ORDER BY CASE WHEN state = 'planted' THEN 0 ELSE 1 END, placed_at DESC LIMIT 1", keyID)
}

func (s *Store) tokenWhere(ctx context.Context, cond string, arg any) (canary.Token, bool, error) {
	t, err := scanCanaryToken(s.db.QueryRowContext(ctx, s.q("SELECT "+canaryTokenCols+" FROM canary_tokens WHERE "+cond), arg))
	if errors.Is(err, sql.ErrNoRows) {
		return canary.Token{}, false, nil
	}
	if err != nil {
		return canary.Token{}, false, fmt.Errorf("store: read canary token: %w", err)
	}
	return t, true, nil
}

// SetTokenState moves a token to another state (canary.Tokens);
// ErrNotFound for an unknown token.
func (s *Store) SetTokenState(ctx context.Context, uuid, state string) error {
	if !validTokenState(state) {
		return fmt.Errorf("%w: canary token state %q", ErrInvalid, state)
	}
	return s.setTokenColumn(ctx, uuid, "state", state)
}

// setTokenColumn sets one column of a token; ErrNotFound for an unknown
// token.
func (s *Store) setTokenColumn(ctx context.Context, uuid, column string, value any) error {
	r, err := s.execWrite(ctx, s.q("UPDATE canary_tokens SET "+column+" = ? WHERE uuid = ?"), value, uuid)
	if err != nil {
		return fmt.Errorf("store: set canary token %s %s: %w", uuid, column, err)
	}
	if n, _ := r.RowsAffected(); n == 0 {
		// MySQL counts changed rows, not matched ones: the value may
		// already have been this one.
		if _, found, err := s.tokenWhere(ctx, "uuid = ?", uuid); err != nil {
			return err
		} else if !found {
			return ErrNotFound
		}
	}
	return nil
}

// SetCanaryTokenCreator records who planted a token: the planter stores
// tokens without knowing the operator, the API knows. ErrNotFound for an
// unknown token.
func (s *Store) SetCanaryTokenCreator(ctx context.Context, uuid, user string) error {
	return s.setTokenColumn(ctx, uuid, "created_by", cleanText(user, 64))
}

// CanaryTokens lists the tokens f selects, newest first, with their total.
func (s *Store) CanaryTokens(ctx context.Context, f CanaryTokenFilter) ([]canary.Token, int, error) {
	var conds []string
	var args []any
	for _, c := range []struct{ col, v string }{{"decky_name", f.Decky}, {"state", f.State}, {"kind", f.Kind}} {
		if c.v != "" {
			conds, args = append(conds, c.col+" = ?"), append(args, c.v)
		}
	}
	where := ""
	if len(conds) > 0 {
		where = " WHERE " + strings.Join(conds, " AND ")
	}
	var total int
	if err := s.db.QueryRowContext(ctx, s.q("SELECT COUNT(*) FROM canary_tokens"+where), args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("store: count canary tokens: %w", err)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = defaultCanaryPage
	}
	rows, err := selectAll(ctx, s, "list canary tokens", "SELECT "+canaryTokenCols+" FROM canary_tokens"+where+
		" ORDER BY placed_at DESC, uuid LIMIT ? OFFSET ?", append(args, limit, max(f.Offset, 0)), scanCanaryToken)
	return rows, total, err
}

// PlantedCanaryTokens lists every token in state planted, oldest first:
// what a restart plants again.
func (s *Store) PlantedCanaryTokens(ctx context.Context) ([]canary.Token, error) {
	return selectAll(ctx, s, "list planted canary tokens", "SELECT "+canaryTokenCols+
		" FROM canary_tokens WHERE state = ? ORDER BY placed_at, uuid", []any{canary.StatePlanted}, scanCanaryToken)
}

// metricJSON is how a fingerprint conclusion is kept in canary_triggers.metrics.
type metricJSON struct {
	Name      string `json:"name"`
	Signature string `json:"signature"`
}

// RecordTrigger stores a use of a token and, in the same transaction,
// bumps the token's trigger_count and last_triggered_at (canary.Tokens).
// An empty UUID gets a fresh one, a zero OccurredAt now. ErrNotFound for
// an unknown token.
func (s *Store) RecordTrigger(ctx context.Context, tr canary.Trigger) error {
	if tr.UUID == "" {
		tr.UUID = newUUID()
	}
	if tr.OccurredAt.IsZero() {
		tr.OccurredAt = time.Now()
	}
	at := fmtTime(tr.OccurredAt)
	headers, fingerprint, metrics := triggerJSON(tr)
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return fmt.Errorf("store: record canary trigger: %w", err)
	}
	defer tx.Rollback()
	r, err := tx.ExecContext(ctx, s.q(`UPDATE canary_tokens SET trigger_count = trigger_count + 1,
		last_triggered_at = CASE WHEN last_triggered_at IS NULL OR last_triggered_at < ? THEN ? ELSE last_triggered_at END
		WHERE uuid = ?`), at, at, tr.TokenUUID)
	if err != nil {
		return fmt.Errorf("store: record canary trigger: %w", err)
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO canary_triggers (uuid, token_uuid, occurred_at, src_ip, user_agent,
		request_path, dns_qname, raw_headers, via, fingerprint, metrics) VALUES (?,?,?,?,?,?,?,?,?,?,?)`),
		tr.UUID, tr.TokenUUID, at, cleanText(tr.SrcIP, maxTriggerIP), cleanText(tr.UserAgent, maxTriggerUserAgent),
		cleanText(tr.RequestPath, maxTriggerPath), cleanText(tr.DNSQName, maxTriggerQName), headers,
		cleanText(tr.Via, maxTriggerVia), fingerprint, metrics); err != nil {
		if isConflict(err) {
			return fmt.Errorf("%w: canary trigger %s exists", ErrConflict, tr.UUID)
		}
		return fmt.Errorf("store: record canary trigger: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: record canary trigger: %w", err)
	}
	return nil
}

// triggerJSON encodes a trigger's JSON columns within their bounds: the
// first maxTriggerHeaders headers by name, the first maxTriggerMetrics
// metrics, and a fingerprint whose JSON is over maxTriggerFingerprint
// replaced by a marker saying so.
func triggerJSON(tr canary.Trigger) (headers, fingerprint, metrics string) {
	h := make(map[string]string, min(len(tr.RawHeaders), maxTriggerHeaders))
	names := make([]string, 0, len(tr.RawHeaders))
	for k := range tr.RawHeaders {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if len(h) == maxTriggerHeaders {
			break
		}
		h[cleanText(k, maxTriggerHeaderName)] = cleanText(tr.RawHeaders[k], maxTriggerHeaderValue)
	}
	hb, _ := json.Marshal(h)
	if tr.Fingerprint != nil {
		fb, err := json.Marshal(tr.Fingerprint)
		switch {
		case err != nil:
			fb = []byte(`{"_invalid":true}`)
		case len(fb) > maxTriggerFingerprint:
			fb = []byte(fmt.Sprintf(`{"_truncated":true,"bytes":%d}`, len(fb)))
		}
		fingerprint = string(fb)
	}
	ms := make([]metricJSON, 0, min(len(tr.Metrics), maxTriggerMetrics))
	for _, m := range tr.Metrics[:min(len(tr.Metrics), maxTriggerMetrics)] {
		ms = append(ms, metricJSON{Name: cleanText(m.Name, maxTriggerMetricText), Signature: cleanText(m.Signature, maxTriggerMetricText)})
	}
	mb, _ := json.Marshal(ms)
	return string(hb), fingerprint, string(mb)
}

const canaryTriggerCols = `uuid, token_uuid, occurred_at, src_ip, user_agent, request_path, dns_qname, raw_headers,
	via, fingerprint, metrics`

func scanCanaryTrigger(sc scanner) (canary.Trigger, error) {
	var tr canary.Trigger
	var at, headers, fingerprint, metrics string
	if err := sc.Scan(&tr.UUID, &tr.TokenUUID, &at, &tr.SrcIP, &tr.UserAgent, &tr.RequestPath, &tr.DNSQName, &headers,
		&tr.Via, &fingerprint, &metrics); err != nil {
		return tr, err
	}
	tr.OccurredAt = parseTime(at)
	tr.RawHeaders = map[string]string{}
	json.Unmarshal([]byte(headers), &tr.RawHeaders)
	if fingerprint != "" {
		json.Unmarshal([]byte(fingerprint), &tr.Fingerprint)
	}
	var ms []metricJSON
	json.Unmarshal([]byte(metrics), &ms)
	tr.Metrics = make([]canary.Metric, 0, len(ms))
	for _, m := range ms {
		tr.Metrics = append(tr.Metrics, canary.Metric{Name: m.Name, Signature: m.Signature})
	}
	return tr, nil
}

// CanaryTriggers lists the uses of a token, newest first, with their
// total. Limit ≤ 0 means 50.
func (s *Store) CanaryTriggers(ctx context.Context, tokenUUID string, limit, offset int) ([]canary.Trigger, int, error) {
	var total int
	if err := s.db.QueryRowContext(ctx, s.q("SELECT COUNT(*) FROM canary_triggers WHERE token_uuid = ?"), tokenUUID).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("store: count canary triggers: %w", err)
	}
	if limit <= 0 {
		limit = defaultCanaryPage
	}
	rows, err := selectAll(ctx, s, "list canary triggers", "SELECT "+canaryTriggerCols+
		" FROM canary_triggers WHERE token_uuid = ? ORDER BY occurred_at DESC, uuid LIMIT ? OFFSET ?",
		[]any{tokenUUID, limit, max(offset, 0)}, scanCanaryTrigger)
	return rows, total, err
}
