package api

import (
	"errors"
	"strings"
	"unicode/utf8"
)

// Account rules the dashboard's Users screen shares with
// /api/v1/config/users, so an account made in either place obeys the same
// rules.

// ErrBadUsername is what CheckUsername returns.
var ErrBadUsername = errors.New("must be 1 to 64 characters without surrounding spaces")

// CheckUsername enforces the user name rule of createUser.
func CheckUsername(name string) error {
	if n := utf8.RuneCountInString(name); n < 1 || n > maxUsernameChars || strings.TrimSpace(name) != name || !utf8.ValidString(name) {
		return ErrBadUsername
	}
	return nil
}

// ValidRole reports whether role is one an account may be given (admin or
// viewer).
func ValidRole(role string) bool { return validRole(role) }
