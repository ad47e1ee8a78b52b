package web

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"

	"github.com/decnet-go/decnet/internal/api"
	"github.com/decnet-go/decnet/internal/store"
)

// loginView is the data of the login page.
type loginView struct {
	CSRF    string
	Next    string
	User    string
	Error   string
	Notice  string
	Version string
}

// loginPage shows the sign-in form. A signed-in operator goes straight on.
func (d *Dashboard) loginPage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if _, err := d.session(r); err == nil {
		http.Redirect(w, r, "/ui/", http.StatusSeeOther)
		return
	}
	v := loginView{Next: safeNext(r.URL.Query().Get("next")), Version: d.version}
	if r.URL.Query().Get("changed") == "1" {
		v.Notice = "Password changed. Sign in with the new one."
	}
	d.renderLogin(w, r, http.StatusOK, v)
}

// renderLogin renders the login form with a fresh double-submit token.
func (d *Dashboard) renderLogin(w http.ResponseWriter, r *http.Request, status int, v loginView) {
	v.CSRF = randomToken()
	setCookie(w, r, loginCSRFCookie, v.CSRF, 3600)
	d.render(w, status, "login", v)
}

// login checks the form against the account store and starts a session.
// POST /ui/login {csrf, username, password, next}.
func (d *Dashboard) login(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	c, err := r.Cookie(loginCSRFCookie)
	if err != nil || c.Value == "" || !d.checkCSRF(r, c.Value) {
		d.log.Warn("web: login CSRF check failed", "src_ip", clientIP(r))
		d.renderError(w, r, nil, http.StatusForbidden, "Request refused", "The sign-in form had expired or came from another site. Reload the page and try again.")
		return
	}
	name, pw := r.PostFormValue("username"), r.PostFormValue("password")
	v := loginView{Next: safeNext(r.PostFormValue("next")), User: name, Version: d.version}
	if !d.logins.allow(clientIP(r), d.now()) {
		d.log.Warn("web: login rate limited", "src_ip", clientIP(r))
		v.Error = "Too many sign-in attempts. Wait a minute and try again."
		d.renderLogin(w, r, http.StatusTooManyRequests, v)
		return
	}
	if name == "" || pw == "" || len(pw) > api.MaxPasswordBytes {
		v.Error = "Enter your user name and password."
		d.renderLogin(w, r, http.StatusUnprocessableEntity, v)
		return
	}
	u, err := d.st.UserByName(r.Context(), name)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		d.fail(w, r, nil, err)
		return
	}
	ok, err := api.VerifyPassword(r.Context(), u.PasswordHash, pw) // "" hash for unknown users
	if err != nil {
		d.fail(w, r, nil, err)
		return
	}
	if !ok {
		d.log.Warn("web: login failed", "src_ip", clientIP(r))
		v.Error = "Wrong user name or password."
		d.renderLogin(w, r, http.StatusUnauthorized, v)
		return
	}
	s := d.sessions.create(u)
	setCookie(w, r, sessionCookie, s.id, int(d.sessions.ttl.Seconds()))
	setCookie(w, r, loginCSRFCookie, "", -1)
	d.log.Info("web: login", "user", u.Username, "src_ip", clientIP(r), "must_change_password", u.MustChangePassword)
	next := v.Next
	if u.MustChangePassword {
		next = "/ui/password"
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// safeNext keeps a post-login target only when it is a dashboard path on
// this site, so the login page cannot be used as an open redirect.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/ui/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return "/ui/"
	}
	return next
}

// passwordView is the data of the password page.
type passwordView struct {
	Forced bool
	Error  string
}

// passwordPage shows the change-password form; forced after first sign-in.
func (d *Dashboard) passwordPage(w http.ResponseWriter, r *http.Request, s *session) error {
	return d.renderPage(w, r, s, http.StatusOK, "password", "Change password", passwordView{Forced: s.user.MustChangePassword})
}

// changePassword sets a new password and ends every session and token of
// the user, this one included; the operator signs in again.
// POST /ui/password {csrf, old_password, new_password, confirm}.
func (d *Dashboard) changePassword(w http.ResponseWriter, r *http.Request, s *session) error {
	oldPW, newPW, confirm := r.PostFormValue("old_password"), r.PostFormValue("new_password"), r.PostFormValue("confirm")
	v := passwordView{Forced: s.user.MustChangePassword}
	fail := func(status int, msg string) error {
		v.Error = msg
		return d.renderPage(w, r, s, status, "password", "Change password", v)
	}
	if !d.logins.allow("pw:"+clientIP(r), d.now()) {
		return fail(http.StatusTooManyRequests, "Too many attempts. Wait a minute and try again.")
	}
	if err := api.CheckNewPassword(newPW); err != nil {
		return fail(http.StatusUnprocessableEntity, "The new password "+err.Error()+".")
	}
	if subtle.ConstantTimeCompare([]byte(newPW), []byte(confirm)) != 1 {
		return fail(http.StatusUnprocessableEntity, "The two new passwords differ.")
	}
	if newPW == oldPW {
		return fail(http.StatusUnprocessableEntity, "The new password must differ from the current one.")
	}
	ok, err := api.VerifyPassword(r.Context(), s.user.PasswordHash, oldPW)
	if err != nil {
		return err
	}
	if !ok {
		d.log.Warn("web: change-password with wrong current password", "user", s.user.Username, "src_ip", clientIP(r))
		return fail(http.StatusUnprocessableEntity, "The current password is wrong.")
	}
	hash, err := api.HashPassword(r.Context(), newPW)
	if err != nil {
		return err
	}
	if err := d.st.SetPassword(r.Context(), s.user.UUID, hash, false, api.NextTokenCutoff(s.user.TokensValidFrom, d.now())); err != nil {
		return err
	}
	d.sessions.delete(s.id)
	setCookie(w, r, sessionCookie, "", -1)
	d.log.Info("web: password changed", "user", s.user.Username, "src_ip", clientIP(r))
	http.Redirect(w, r, "/ui/login?changed=1", http.StatusSeeOther)
	return nil
}

// logout ends the session. POST /ui/logout {csrf}.
func (d *Dashboard) logout(w http.ResponseWriter, r *http.Request, s *session) error {
	d.sessions.delete(s.id)
	setCookie(w, r, sessionCookie, "", -1)
	http.Redirect(w, r, "/ui/login", http.StatusSeeOther)
	return nil
}
