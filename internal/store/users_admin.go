package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// ErrLastAdmin is returned when a change would leave no account with the
// admin role.
var ErrLastAdmin = errors.New("store: the last admin cannot be removed or demoted")

// roleAdmin is the role ErrLastAdmin protects.
const roleAdmin = "admin"

// Users lists every account by user name.
func (s *Store) Users(ctx context.Context) ([]User, error) {
	rs, err := s.db.QueryContext(ctx, "SELECT "+userCols+" FROM users ORDER BY username")
	if err != nil {
		return nil, fmt.Errorf("store: list users: %w", err)
	}
	defer rs.Close()
	out := []User{}
	for rs.Next() {
		var u User
		var created string
		if err := rs.Scan(&u.UUID, &u.Username, &u.PasswordHash, &u.Role, &u.MustChangePassword, &u.TokensValidFrom, &created); err != nil {
			return nil, err
		}
		u.CreatedAt = parseTime(created)
		out = append(out, u)
	}
	return out, rs.Err()
}

// DeleteUser removes an account; ErrNotFound when there is none, and
// ErrLastAdmin when it is the only admin. The check and the delete share a
// transaction, so two admins deleting each other cannot both succeed.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	return s.guardAdmins(ctx, id, func(tx execer) (int64, error) {
		r, err := tx.ExecContext(ctx, s.q("DELETE FROM users WHERE uuid = ?"), id)
		if err != nil {
			return 0, err
		}
		return r.RowsAffected()
	}, true)
}

// SetRole changes an account's role and voids every token issued before
// validFrom (unix seconds); ErrNotFound when there is none, ErrLastAdmin
// when it would demote the only admin.
func (s *Store) SetRole(ctx context.Context, id, role string, validFrom int64) error {
	return s.guardAdmins(ctx, id, func(tx execer) (int64, error) {
		r, err := tx.ExecContext(ctx, s.q("UPDATE users SET role = ?, tokens_valid_from = ? WHERE uuid = ?"), role, validFrom, id)
		if err != nil {
			return 0, err
		}
		return r.RowsAffected()
	}, role != roleAdmin)
}

// CountAdmins counts the accounts with the admin role.
func (s *Store) CountAdmins(ctx context.Context) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, s.q("SELECT COUNT(*) FROM users WHERE role = ?"), roleAdmin).Scan(&n)
	return n, err
}

// guardAdmins runs change on the account id in a transaction. When
// removesAdmin says the change takes the admin role away, an admin target
// that is the only admin fails with ErrLastAdmin and nothing changes.
func (s *Store) guardAdmins(ctx context.Context, id string, change func(execer) (int64, error), removesAdmin bool) error {
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var role string
	if err := tx.QueryRowContext(ctx, s.q("SELECT role FROM users WHERE uuid = ?"), id).Scan(&role); err != nil {
		if isNoRows(err) {
			return ErrNotFound
		}
		return err
	}
	if removesAdmin && role == roleAdmin {
		var n int
		if err := tx.QueryRowContext(ctx, s.q("SELECT COUNT(*) FROM users WHERE role = ?"), roleAdmin).Scan(&n); err != nil {
			return err
		}
		if n <= 1 {
			return ErrLastAdmin
		}
	}
	n, err := change(tx)
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrNotFound
	}
	return tx.Commit()
}

// execer is the part of *sql.Tx a guarded change uses.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }
