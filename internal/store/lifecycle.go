package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Lifecycle statuses and operations of a decky_lifecycle row.
const (
	LifecyclePending   = "pending"
	LifecycleRunning   = "running"
	LifecycleSucceeded = "succeeded"
	LifecycleFailed    = "failed"

	OpDeploy = "deploy"
	OpRemove = "remove"
)

// Lifecycle is one asynchronous operation on a decky: pending → running →
// succeeded|failed. Terminal rows never change again.
type Lifecycle struct {
	ID          string     `json:"id"`
	DeckyName   string     `json:"decky_name"`
	HostUUID    *string    `json:"host_uuid"` // always null: no swarm hosts yet
	Operation   string     `json:"operation"`
	Status      string     `json:"status"`
	Error       *string    `json:"error"`
	StartedAt   time.Time  `json:"started_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
	CompletedAt *time.Time `json:"completed_at"`
}

// Terminal reports whether a status ends a lifecycle.
func Terminal(status string) bool { return status == LifecycleSucceeded || status == LifecycleFailed }

// CreateLifecycle records a new pending operation on a decky.
func (s *Store) CreateLifecycle(ctx context.Context, deckyName, operation string) (Lifecycle, error) {
	now := time.Now().UTC()
	l := Lifecycle{ID: uuid.NewString(), DeckyName: deckyName, Operation: operation, Status: LifecyclePending,
		StartedAt: now, UpdatedAt: now}
	_, err := s.execWrite(ctx, s.q(`INSERT INTO decky_lifecycle (id, decky_name, operation, status, started_at, updated_at)
		VALUES (?,?,?,?,?,?)`), l.ID, deckyName, operation, l.Status, fmtTime(now), fmtTime(now))
	if err != nil {
		return Lifecycle{}, err
	}
	return l, nil
}

// UpdateLifecycle moves a row to status (with errMsg for a failure). A
// terminal status stamps completed_at. ErrNotFound for an unknown id;
// ErrConflict when the row is already terminal (rows are immutable then).
func (s *Store) UpdateLifecycle(ctx context.Context, id, status, errMsg string) error {
	now := fmtTime(time.Now())
	var completed any
	if Terminal(status) {
		completed = now
	}
	res, err := s.execWrite(ctx, s.q(`UPDATE decky_lifecycle SET status = ?, error = ?, updated_at = ?, completed_at = ?
		WHERE id = ? AND status NOT IN ('succeeded', 'failed')`), status, errMsg, now, completed, id)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n > 0 {
		return err
	}
	var st string
	if err := s.db.QueryRowContext(ctx, s.q("SELECT status FROM decky_lifecycle WHERE id = ?"), id).Scan(&st); errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	} else if err != nil {
		return err
	}
	return ErrConflict
}

// Lifecycles returns the rows with the given ids (unknown ids are left
// out), oldest first.
func (s *Store) Lifecycles(ctx context.Context, ids []string) ([]Lifecycle, error) {
	out := []Lifecycle{}
	if len(ids) == 0 {
		return out, nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	q := `SELECT id, decky_name, operation, status, error, started_at, updated_at, completed_at FROM decky_lifecycle
		WHERE id IN (` + strings.TrimSuffix(strings.Repeat("?,", len(ids)), ",") + `) ORDER BY started_at, id`
	rs, err := s.db.QueryContext(ctx, s.q(q), args...)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	for rs.Next() {
		var l Lifecycle
		var errMsg, started, updated string
		var completed sql.NullString
		if err := rs.Scan(&l.ID, &l.DeckyName, &l.Operation, &l.Status, &errMsg, &started, &updated, &completed); err != nil {
			return nil, err
		}
		if errMsg != "" {
			l.Error = &errMsg
		}
		l.StartedAt, l.UpdatedAt = parseTime(started), parseTime(updated)
		if completed.Valid {
			t := parseTime(completed.String)
			l.CompletedAt = &t
		}
		out = append(out, l)
	}
	return out, rs.Err()
}

// DeleteDecky forgets a decky: its row for GET /deckies and its recorded
// spec. ErrNotFound when there is no such row.
func (s *Store) DeleteDecky(ctx context.Context, name string) error {
	res, err := s.execWrite(ctx, s.q("DELETE FROM deckies WHERE name = ?"), name)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return ErrNotFound
	}
	return err
}
