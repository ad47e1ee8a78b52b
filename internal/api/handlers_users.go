package api

import (
	"errors"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/decnet-go/decnet/internal/store"
)

// maxUsernameChars bounds a user name (spec/data-api.md §3.8).
const maxUsernameChars = 64

var (
	errUserNotFound   = newError(http.StatusNotFound, "User not found")
	errUserExists     = newError(http.StatusConflict, "Username already exists")
	errDeleteSelf     = newError(http.StatusForbidden, "Cannot delete your own account")
	errChangeOwnRole  = newError(http.StatusForbidden, "Cannot change your own role")
	errLastAdmin      = newError(http.StatusConflict, "Cannot remove or demote the last admin")
	errInvalidRoleVal = invalidField("role must be admin or viewer")
)

// userResponse is an account as the API shows it: never the hash.
type userResponse struct {
	UUID               string `json:"uuid"`
	Username           string `json:"username"`
	Role               string `json:"role"`
	MustChangePassword bool   `json:"must_change_password"`
}

func userView(u store.User) userResponse {
	return userResponse{UUID: u.UUID, Username: u.Username, Role: u.Role, MustChangePassword: u.MustChangePassword}
}

// validRole reports whether role is one an account may be given.
func validRole(role string) bool { return role == RoleAdmin || role == RoleViewer }

// listUsers answers every account. GET /api/v1/config/users (admin).
func (s *server) listUsers(w http.ResponseWriter, r *http.Request, _ *identity) error {
	users, err := s.st.Users(r.Context())
	if err != nil {
		return err
	}
	out := make([]userResponse, 0, len(users))
	for _, u := range users {
		out = append(out, userView(u))
	}
	return writeJSON(w, http.StatusOK, out)
}

type createUserRequest struct {
	Username *string `json:"username"`
	Password *string `json:"password"`
	Role     *string `json:"role"`
}

// createUser adds an account that must change its password at first login.
// POST /api/v1/config/users {username, password, role} (admin).
func (s *server) createUser(w http.ResponseWriter, r *http.Request, id *identity) error {
	var req createUserRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	switch {
	case req.Username == nil:
		return missingField("username")
	case req.Password == nil:
		return missingField("password")
	case req.Role == nil:
		return missingField("role")
	}
	name := *req.Username
	if n := utf8.RuneCountInString(name); n < 1 || n > maxUsernameChars || strings.TrimSpace(name) != name || !utf8.ValidString(name) {
		return invalidField("username must be 1 to 64 characters without surrounding spaces")
	}
	if err := checkNewPassword(*req.Password); err != nil {
		return invalidField("password " + err.Error())
	}
	if !validRole(*req.Role) {
		return errInvalidRoleVal
	}
	hash, err := s.hasher.hash(r.Context(), *req.Password)
	if err != nil {
		return err
	}
	u := store.User{UUID: uuid.NewString(), Username: name, PasswordHash: hash, Role: *req.Role, MustChangePassword: true}
	if err := s.st.CreateUser(r.Context(), u); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return errUserExists
		}
		return err
	}
	s.log.Info("api: user created", "by", id.user.Username, "user", u.Username, "role", u.Role)
	return writeJSON(w, http.StatusOK, userView(u))
}

// deleteUser removes an account. Admins cannot delete themselves, and the
// last admin stays. DELETE /api/v1/config/users/{uuid} (admin).
func (s *server) deleteUser(w http.ResponseWriter, r *http.Request, id *identity) error {
	target := r.PathValue("uuid")
	if target == id.user.UUID {
		return errDeleteSelf
	}
	err := s.st.DeleteUser(r.Context(), target)
	s.users.forget(target)
	if err := userError(err); err != nil {
		return err
	}
	s.log.Info("api: user deleted", "by", id.user.Username, "user_uuid", target)
	return writeJSON(w, http.StatusOK, messageResponse{Message: "User deleted"})
}

type roleRequest struct {
	Role *string `json:"role"`
}

// setUserRole changes another account's role and voids its tokens, so the
// user logs in again under the new role. PUT /api/v1/config/users/{uuid}/role
// {role} (admin).
func (s *server) setUserRole(w http.ResponseWriter, r *http.Request, id *identity) error {
	var req roleRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if req.Role == nil {
		return missingField("role")
	}
	if !validRole(*req.Role) {
		return errInvalidRoleVal
	}
	target := r.PathValue("uuid")
	if target == id.user.UUID {
		return errChangeOwnRole
	}
	u, err := s.st.UserByUUID(r.Context(), target)
	if err != nil {
		return userError(err)
	}
	err = s.st.SetRole(r.Context(), target, *req.Role, nextCutoff(u.TokensValidFrom, time.Now()))
	s.users.forget(target)
	if err := userError(err); err != nil {
		return err
	}
	s.log.Info("api: user role changed", "by", id.user.Username, "user_uuid", target, "role", *req.Role)
	return writeJSON(w, http.StatusOK, messageResponse{Message: "User role updated"})
}

type resetPasswordRequest struct {
	NewPassword *string `json:"new_password"`
}

// resetUserPassword sets an account's password, voids its tokens and makes
// it change the password at next login.
// PUT /api/v1/config/users/{uuid}/reset-password {new_password} (admin).
func (s *server) resetUserPassword(w http.ResponseWriter, r *http.Request, id *identity) error {
	var req resetPasswordRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if req.NewPassword == nil {
		return missingField("new_password")
	}
	if err := checkNewPassword(*req.NewPassword); err != nil {
		return invalidField("new_password " + err.Error())
	}
	target := r.PathValue("uuid")
	u, err := s.st.UserByUUID(r.Context(), target)
	if err != nil {
		return userError(err)
	}
	hash, err := s.hasher.hash(r.Context(), *req.NewPassword)
	if err != nil {
		return err
	}
	err = s.st.SetPassword(r.Context(), target, hash, true, nextCutoff(u.TokensValidFrom, time.Now()))
	s.users.forget(target)
	if err := userError(err); err != nil {
		return err
	}
	s.log.Info("api: user password reset", "by", id.user.Username, "user_uuid", target)
	return writeJSON(w, http.StatusOK, messageResponse{Message: "Password reset; the user must change it at next login"})
}

// userError maps the store's answers about accounts to responses.
func userError(err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return errUserNotFound
	case errors.Is(err, store.ErrLastAdmin):
		return errLastAdmin
	}
	return err
}
