package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// User is an operator account of the API and dashboard.
type User struct {
	UUID               string    `json:"uuid"`
	Username           string    `json:"username"`
	PasswordHash       string    `json:"-"`
	Role               string    `json:"role"`
	MustChangePassword bool      `json:"must_change_password"`
	TokensValidFrom    int64     `json:"-"` // unix seconds; tokens issued before are void
	CreatedAt          time.Time `json:"created_at"`
}

const userCols = `uuid, username, password_hash, role, must_change_password, tokens_valid_from, created_at`

func scanUser(row *sql.Row) (User, error) {
	var u User
	var created string
	err := row.Scan(&u.UUID, &u.Username, &u.PasswordHash, &u.Role, &u.MustChangePassword, &u.TokensValidFrom, &created)
	if err == sql.ErrNoRows {
		return u, ErrNotFound
	}
	u.CreatedAt = parseTime(created)
	return u, err
}

// UserByName returns the account with that user name, or ErrNotFound.
func (s *Store) UserByName(ctx context.Context, name string) (User, error) {
	return scanUser(s.db.QueryRowContext(ctx, s.q("SELECT "+userCols+" FROM users WHERE username = ?"), name))
}

// UserByUUID returns the account with that id, or ErrNotFound.
func (s *Store) UserByUUID(ctx context.Context, id string) (User, error) {
	return scanUser(s.db.QueryRowContext(ctx, s.q("SELECT "+userCols+" FROM users WHERE uuid = ?"), id))
}

// CreateUser adds an account; ErrConflict when the user name is taken.
func (s *Store) CreateUser(ctx context.Context, u User) error {
	if u.CreatedAt.IsZero() {
		u.CreatedAt = time.Now()
	}
	_, err := s.execWrite(ctx, s.q("INSERT INTO users ("+userCols+") VALUES (?,?,?,?,?,?,?)"),
		u.UUID, u.Username, u.PasswordHash, u.Role, boolInt(u.MustChangePassword), u.TokensValidFrom, fmtTime(u.CreatedAt))
	if isConflict(err) {
		return fmt.Errorf("%w: user %q exists", ErrConflict, u.Username)
	}
	return err
}

// SetPassword stores a new password hash, sets the must-change flag and voids
// every token issued before validFrom (unix seconds).
func (s *Store) SetPassword(ctx context.Context, userUUID, hash string, mustChange bool, validFrom int64) error {
	r, err := s.execWrite(ctx, s.q("UPDATE users SET password_hash = ?, must_change_password = ?, tokens_valid_from = ? WHERE uuid = ?"),
		hash, boolInt(mustChange), validFrom, userUUID)
	if err != nil {
		return err
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// CountUsers counts the accounts.
func (s *Store) CountUsers(ctx context.Context) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM users").Scan(&n)
	return n, err
}

// RevokeToken denylists a token id until it would have expired anyway, and
// forgets tokens whose expiry has passed.
func (s *Store) RevokeToken(ctx context.Context, jti, userUUID string, expires time.Time) error {
	if _, err := s.execWrite(ctx, s.q("DELETE FROM revoked_tokens WHERE expires_at < ?"), time.Now().Unix()); err != nil {
		return err
	}
	_, err := s.execWrite(ctx, s.q("INSERT INTO revoked_tokens (jti, user_uuid, expires_at) VALUES (?,?,?) ON CONFLICT (jti) DO NOTHING"),
		jti, userUUID, expires.Unix())
	return err
}

// TokenRevoked reports whether a token id is denylisted.
func (s *Store) TokenRevoked(ctx context.Context, jti string) (bool, error) {
	st, err := s.dbStmt(ctx, "SELECT COUNT(*) FROM revoked_tokens WHERE jti = ?")
	if err != nil {
		return false, err
	}
	var n int
	err = st.QueryRowContext(ctx, jti).Scan(&n)
	return n > 0, err
}
