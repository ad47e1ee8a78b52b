package api

import (
	"context"
	"time"
)

// The dashboard (internal/web) signs operators in with the same accounts and
// password rules as the API. These helpers expose exactly that, no more.

// dashboardHasher bounds the dashboard's bcrypt work apart from any API
// server's, so neither can starve the other.
var dashboardHasher = newHasher()

// VerifyPassword reports whether pw matches the stored bcrypt hash. An empty
// hash (an unknown user) is checked against a dummy of the same cost, so a
// wrong name takes as long to refuse as a wrong password.
func VerifyPassword(ctx context.Context, hash, pw string) (bool, error) {
	return dashboardHasher.verify(ctx, hash, pw)
}

// HashPassword returns the bcrypt hash the store keeps for pw.
func HashPassword(ctx context.Context, pw string) (string, error) {
	return dashboardHasher.hash(ctx, pw)
}

// CheckNewPassword enforces the rules for a password being set (12 to 72
// characters, at most 72 bytes); the error says what is wrong.
func CheckNewPassword(pw string) error { return checkNewPassword(pw) }

// MaxPasswordBytes is the longest password accepted (bcrypt's limit).
const MaxPasswordBytes = maxPasswordBytes

// NextTokenCutoff is the tokens_valid_from that voids every token and
// dashboard session a user holds whose current cut-off is current.
func NextTokenCutoff(current int64, now time.Time) int64 { return nextCutoff(current, now) }

// RoleAllows reports whether role has at least the rights of need
// (RoleAdmin includes RoleViewer).
func RoleAllows(role, need string) bool { return roleAllows(role, need) }
