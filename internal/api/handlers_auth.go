package api

import (
	"errors"
	"math"
	"net/http"
	"time"

	"github.com/decnet-go/decnet/internal/store"
)

type loginRequest struct {
	Username *string `json:"username"`
	Password *string `json:"password"`
}

type loginResponse struct {
	AccessToken        string `json:"access_token"`
	TokenType          string `json:"token_type"`
	MustChangePassword bool   `json:"must_change_password"`
}

type messageResponse struct {
	Message string `json:"message"`
}

// login exchanges a user name and password for an access token.
// POST /api/v1/auth/login {username, password}.
func (s *server) login(w http.ResponseWriter, r *http.Request) error {
	var req loginRequest
	bodyErr := decodeJSON(r, &req)
	name := "" // unreadable bodies share one bucket
	if bodyErr == nil && req.Username != nil {
		name = *req.Username
	}
	ip := clientIP(r)
	okIP, waitIP := s.loginIP.allow(ip)
	okUser, waitUser := s.loginUser.allow(name)
	if !okIP || !okUser {
		s.log.Warn("api: login rate limited", "src_ip", ip)
		return tooManyRequests("Too many login attempts; try again later", seconds(max(waitIP, waitUser)))
	}
	if bodyErr != nil {
		return bodyErr
	}
	switch {
	case req.Username == nil:
		return missingField("username")
	case req.Password == nil:
		return missingField("password")
	case len(*req.Password) > maxPasswordBytes:
		return invalidField("password must be at most 72 bytes")
	}

	u, err := s.st.UserByName(r.Context(), name)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	ok, err := s.hasher.verify(r.Context(), u.PasswordHash, *req.Password) // "" hash for unknown users
	if err != nil {
		return err
	}
	if !ok {
		s.log.Warn("api: login failed", "src_ip", ip)
		return errBadCredentials
	}
	tok, err := s.mintToken(u, time.Now())
	if err != nil {
		return err
	}
	s.log.Info("api: login", "user", u.Username, "src_ip", ip, "must_change_password", u.MustChangePassword)
	return writeJSON(w, http.StatusOK, loginResponse{AccessToken: tok, TokenType: "bearer", MustChangePassword: u.MustChangePassword})
}

type changePasswordRequest struct {
	OldPassword *string `json:"old_password"`
	NewPassword *string `json:"new_password"`
}

// changePassword sets a new password, clears the must-change flag and voids
// every token of the user, this one included.
// POST /api/v1/auth/change-password {old_password, new_password}.
func (s *server) changePassword(w http.ResponseWriter, r *http.Request, id *identity) error {
	if ok, wait := s.changePW.allow(clientIP(r)); !ok {
		return tooManyRequests("Too many password changes; try again later", seconds(wait))
	}
	var req changePasswordRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	switch {
	case req.OldPassword == nil:
		return missingField("old_password")
	case req.NewPassword == nil:
		return missingField("new_password")
	case len(*req.OldPassword) > maxPasswordBytes:
		return invalidField("old_password must be at most 72 bytes")
	}
	if err := checkNewPassword(*req.NewPassword); err != nil {
		return invalidField("new_password " + err.Error())
	}
	ok, err := s.hasher.verify(r.Context(), id.user.PasswordHash, *req.OldPassword)
	if err != nil {
		return err
	}
	if !ok {
		s.log.Warn("api: change-password with wrong old password", "user", id.user.Username, "src_ip", clientIP(r))
		return errWrongOldPassword
	}
	if *req.NewPassword == *req.OldPassword {
		return invalidField("new_password must differ from old_password")
	}
	hash, err := s.hasher.hash(r.Context(), *req.NewPassword)
	if err != nil {
		return err
	}
	err = s.st.SetPassword(r.Context(), id.user.UUID, hash, false, nextCutoff(id.user.TokensValidFrom, time.Now()))
	s.users.forget(id.user.UUID)
	if err != nil {
		return err
	}
	s.log.Info("api: password changed", "user", id.user.Username, "src_ip", clientIP(r))
	return writeJSON(w, http.StatusOK, messageResponse{Message: "Password changed successfully; log in again"})
}

// logout revokes the caller's token until it would have expired.
// POST /api/v1/auth/logout.
func (s *server) logout(w http.ResponseWriter, r *http.Request, id *identity) error {
	if err := s.st.RevokeToken(r.Context(), id.jti, id.user.UUID, id.expires); err != nil {
		return err
	}
	s.revoked.revoke(id.jti)
	return writeJSON(w, http.StatusOK, messageResponse{Message: "Logged out"})
}

type ticketResponse struct {
	Ticket    string `json:"ticket"`
	ExpiresIn int    `json:"expires_in"`
}

// sseTicket issues a single-use ticket for GET /api/v1/stream?ticket=…
// POST /api/v1/auth/sse-ticket.
func (s *server) sseTicket(w http.ResponseWriter, r *http.Request, id *identity) error {
	t, err := s.tickets.issue(id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, ticketResponse{Ticket: t, ExpiresIn: int(ticketTTL / time.Second)})
}

// seconds rounds a wait up to whole seconds for Retry-After.
func seconds(d time.Duration) int { return int(math.Ceil(d.Seconds())) }
