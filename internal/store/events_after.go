package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// EventsAfterIn returns the events q matches with q.AfterID < id <= through,
// oldest first, at most q.Limit of them (its Offset is ignored); through <= 0
// means no upper bound. It is what a filtered live stream polls: bounding
// each poll by the newest id lets the stream move its cursor past events
// the filter skipped, so a filter that matches nothing does not rescan them.
func (s *Store) EventsAfterIn(ctx context.Context, q EventQuery, through int64) ([]EventRow, error) {
	w := q.filter()
	if through > 0 {
		w.add("id <= ?", through)
	}
	rows, err := selectAll(ctx, s, "events after", "SELECT "+eventCols+" FROM events"+w.String()+" ORDER BY id ASC LIMIT ?",
		append(w.args, q.Limit), scanEvent)
	if err != nil {
		return nil, fmt.Errorf("store: events after %d: %w", q.Page.AfterID, err)
	}
	return rows, nil
}

// AttackerIdentity is the identity an attacker is linked to, as stored (not
// following merges); "" when it has none yet, ErrNotFound when there is no
// such attacker.
func (s *Store) AttackerIdentity(ctx context.Context, attackerUUID string) (string, error) {
	var id sql.NullString
	err := s.db.QueryRowContext(ctx, s.q("SELECT identity_id FROM attackers WHERE uuid = ?"), attackerUUID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("store: identity of attacker %s: %w", attackerUUID, err)
	}
	return id.String, nil
}
