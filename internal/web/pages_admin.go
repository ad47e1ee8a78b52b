package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/decnet-go/decnet/internal/api"
	"github.com/decnet-go/decnet/internal/engine"
	"github.com/decnet-go/decnet/internal/store"
)

// The admin actions of the Deckies and Users screens. Every action is a
// plain form POST (works without JavaScript), checked for the session's
// CSRF token and the admin role on the server, and answered with a redirect
// back to the screen (success) or the screen again with the error beside
// the field it is about.

// Bounds of admin form bodies.
const (
	adminFormBytes = 64 << 10
	// dropFormBytes matches the API's file drop bound (8 MiB), plus room
	// for the multipart framing.
	dropFormBytes = 8<<20 + 64<<10
	maxDropBytes  = 8 << 20
)

// userAdminStore is the account writes of the Users screen, the same store
// operations /api/v1/config/users uses. *store.Store implements it.
type userAdminStore interface {
	CreateUser(ctx context.Context, u store.User) error
	SetRole(ctx context.Context, id, role string, validFrom int64) error
	DeleteUser(ctx context.Context, id string) error
}

// adminRoutes registers the admin screens' pages and actions.
func (d *Dashboard) adminRoutes() {
	d.handle("GET /ui/deckies/{name}", viewer, d.deckyPage)
	d.handleBody("POST /ui/deckies/deploy", adminFormBytes, d.deployDeckies)
	d.handleBody("POST /ui/deckies/{name}/services", adminFormBytes, d.addService)
	d.handleBody("POST /ui/deckies/{name}/services/{svc}/remove", adminFormBytes, d.removeService)
	d.handleBody("POST /ui/deckies/{name}/services/{svc}/config", adminFormBytes, d.configureService)
	d.handleBody("POST /ui/deckies/{name}/files", dropFormBytes, d.dropFile)

	d.handle("GET /ui/users", admin, d.usersPage)
	d.handleBody("POST /ui/users", adminFormBytes, d.createUser)
	d.handleBody("POST /ui/users/{uuid}/role", adminFormBytes, d.setUserRole)
	d.handleBody("POST /ui/users/{uuid}/password", adminFormBytes, d.resetUserPassword)
	d.handleBody("POST /ui/users/{uuid}/delete", adminFormBytes, d.deleteUser)
}

// handleBody registers an admin action whose body is bounded by limit
// before anything (the CSRF check included) reads it.
func (d *Dashboard) handleBody(pattern string, limit int64, h handlerFunc) {
	d.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		var err error
		if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/") {
			err = r.ParseMultipartForm(1 << 20)
		} else {
			err = r.ParseForm()
		}
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			d.renderError(w, r, nil, http.StatusRequestEntityTooLarge, "Too large", "The form was larger than this action accepts.")
			return
		}
		s, ok := d.authorize(w, r, admin)
		if !ok {
			return
		}
		if err := h(w, r, s); err != nil {
			d.fail(w, r, s, err)
		}
	})
}

// --- Deckies ---------------------------------------------------------------

// fieldView is one configuration key of a service as its form shows it.
type fieldView struct {
	Key, Label, Type, Value, Default, Help string
	Enum                                   []string
	Err                                    string
}

// serviceView is one service of a decky with its configuration form.
type serviceView struct {
	Name     string
	Bindings []store.ServiceBinding
	Fields   []fieldView
	Err      string // an error not about one field
}

// fileForm is the file drop form.
type fileForm struct {
	Path, Mode string
	Err        string
	Field      string // "path", "mode" or "file" when Err is about one
}

// deckyData is one decky's page.
type deckyData struct {
	Now       time.Time
	Decky     store.DeckyRow
	Live      bool // the decky runs here and may be changed
	Services  []serviceView
	Available []string // services that may be added
	Add       struct{ Service, Err string }
	File      fileForm
	Notice    string
}

// deckyPage shows a decky's services, their configuration and the file
// drop; the forms only for admins. GET /ui/deckies/{name}.
func (d *Dashboard) deckyPage(w http.ResponseWriter, r *http.Request, s *session) error {
	v, err := d.deckyData(r, r.PathValue("name"))
	if err != nil {
		return err
	}
	v.Notice = noticeText(r.URL.Query())
	v.File.Mode = "0644"
	return d.renderDecky(w, r, s, http.StatusOK, v)
}

func (d *Dashboard) renderDecky(w http.ResponseWriter, r *http.Request, s *session, status int, v *deckyData) error {
	return d.renderPage(w, r, s, status, "decky_detail", "Decky "+v.Decky.Name, v)
}

// deckyData reads a decky as the store records it and, with a fleet, the
// services it runs now with their saved configuration.
func (d *Dashboard) deckyData(r *http.Request, name string) (*deckyData, error) {
	ctx := r.Context()
	rows, err := d.st.Deckies(ctx)
	if err != nil {
		return nil, err
	}
	v := &deckyData{Now: d.now()}
	i := slices.IndexFunc(rows, func(row store.DeckyRow) bool { return row.Name == name })
	if i >= 0 {
		v.Decky = rows[i]
	}
	var names []string
	if d.fleet != nil {
		names, err = d.fleet.Services(ctx, name)
		switch {
		case err == nil:
			v.Live = true
		case errors.Is(err, engine.ErrUnknownDecky):
		default:
			return nil, err
		}
	}
	if i < 0 && !v.Live {
		return nil, errNotFound
	}
	if v.Decky.Name == "" {
		v.Decky = store.DeckyRow{Name: name, Status: "running"}
	}
	if !v.Live {
		for _, b := range v.Decky.Services {
			if !slices.Contains(names, b.Name) {
				names = append(names, b.Name)
			}
		}
	}
	for _, svc := range names {
		sv := serviceView{Name: svc}
		for _, b := range v.Decky.Services {
			if b.Name == svc {
				sv.Bindings = append(sv.Bindings, b)
			}
		}
		var cfg map[string]string
		if v.Live {
			if cfg, err = d.fleet.ServiceConfig(ctx, name, svc); err != nil && !errors.Is(err, engine.ErrServiceAbsent) {
				return nil, err
			}
		}
		sv.Fields = d.schemaFields(svc, cfg)
		v.Services = append(v.Services, sv)
	}
	if v.Live && d.services != nil {
		for _, n := range d.services.Names() {
			if !slices.Contains(names, n) {
				v.Available = append(v.Available, n)
			}
		}
	}
	return v, nil
}

// schemaFields is svc's configuration schema (as GET
// /api/v1/topologies/services/{svc}/schema describes it) filled with cfg.
func (d *Dashboard) schemaFields(svc string, cfg map[string]string) []fieldView {
	if d.services == nil {
		return nil
	}
	sv, err := d.services.New(svc)
	if err != nil {
		return nil
	}
	var out []fieldView
	for _, f := range sv.Schema() {
		out = append(out, fieldView{Key: f.Key, Label: fieldLabel(f.Key), Type: f.Type, Value: cfg[f.Key],
			Default: f.Default, Help: f.Help, Enum: f.Enum})
	}
	return out
}

// fieldLabel makes a key readable: "server_header" → "Server header".
func fieldLabel(key string) string {
	l := strings.ReplaceAll(key, "_", " ")
	if l == "" {
		return l
	}
	return strings.ToUpper(l[:1]) + l[1:]
}

// notices are the messages a successful action redirects with; only these
// codes are shown, the service name is escaped text.
var notices = map[string]string{
	"added":   "Service %s added; it is listening.",
	"removed": "Service %s removed; its ports are closed.",
	"saved":   "Configuration of %s saved; it takes effect at the next restart.",
	"applied": "Configuration of %s applied; the service restarted.",
	"dropped": "File %s written.",
	"created": "User %s created; they must change the password at first sign-in.",
	"role":    "Role of %s changed; their sessions ended.",
	"reset":   "Password of %s reset; they must change it at next sign-in.",
	"deleted": "User %s deleted.",
	"limit":   "Deployment limit set to %s.",
	// Deploys and TTP rules (pages_deploy.go, pages_ttp_rules.go).
	"deployed": "Deployed %s.",
	"enabled":  "Rule %s enabled; the tagging engine applies it again.",
	"disabled": "Rule %s disabled; the tagging engine skips it.",
}

func noticeText(q url.Values) string {
	f, ok := notices[q.Get("ok")]
	if !ok {
		return ""
	}
	return fmt.Sprintf(f, truncate(200, q.Get("what")))
}

// back redirects to the screen with a notice.
func back(w http.ResponseWriter, r *http.Request, path, code, what string) {
	http.Redirect(w, r, path+"?"+url.Values{"ok": {code}, "what": {what}}.Encode(), http.StatusSeeOther)
}

// errNoFleet answers actions when no driver runs the deckies.
var errNoFleet = errors.New("no fleet")

// liveDecky reads the decky page for an action, refusing a decky that is
// not running here.
func (d *Dashboard) liveDecky(r *http.Request) (*deckyData, error) {
	if d.fleet == nil {
		return nil, errNoFleet
	}
	v, err := d.deckyData(r, r.PathValue("name"))
	if err != nil {
		return nil, err
	}
	if !v.Live {
		return nil, errNotFound
	}
	v.File.Mode = "0644"
	return v, nil
}

// opStatus is the status of a page showing a failed live operation.
func opStatus(err error) int {
	switch {
	case errors.Is(err, engine.ErrServiceExists), errors.Is(err, engine.ErrDriver), errors.Is(err, engine.ErrDeckyExists):
		return http.StatusConflict
	case errors.Is(err, engine.ErrServiceAbsent):
		return http.StatusNotFound
	}
	return http.StatusUnprocessableEntity
}

// userFacing reports whether err is an engine refusal worth showing the
// operator (anything else is a fault, logged with an id).
func userFacing(err error) bool {
	for _, e := range []error{engine.ErrUnknownService, engine.ErrServiceExists, engine.ErrServiceAbsent,
		engine.ErrBadConfig, engine.ErrBadPath, engine.ErrDriver} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// configKey finds the key a schema error names (Schema.Validate says
// `key "port": …` or `unknown key "x" …`).
var configKey = regexp.MustCompile(`key "([^"]+)"`)

// addService starts a service on the decky. POST
// /ui/deckies/{name}/services {csrf, service}.
func (d *Dashboard) addService(w http.ResponseWriter, r *http.Request, s *session) error {
	v, err := d.liveDecky(r)
	if err != nil {
		return d.actionError(w, r, s, err)
	}
	name, svc := v.Decky.Name, strings.TrimSpace(r.PostFormValue("service"))
	v.Add.Service = svc
	if svc == "" {
		v.Add.Err = "Service: choose a service to add."
		return d.renderDecky(w, r, s, http.StatusUnprocessableEntity, v)
	}
	if err := d.fleet.AddService(r.Context(), name, svc, nil); err != nil {
		if !userFacing(err) {
			return err
		}
		v.Add.Err = "Service " + svc + ": " + err.Error()
		return d.renderDecky(w, r, s, opStatus(err), v)
	}
	d.log.Info("web: service added", "user", s.user.Username, "decky", name, "service", svc)
	d.notifyServices(r.Context(), name, svc, "added")
	back(w, r, "/ui/deckies/"+url.PathEscape(name), "added", svc)
	return nil
}

// removeService stops a service of the decky. POST
// /ui/deckies/{name}/services/{svc}/remove {csrf}.
func (d *Dashboard) removeService(w http.ResponseWriter, r *http.Request, s *session) error {
	v, err := d.liveDecky(r)
	if err != nil {
		return d.actionError(w, r, s, err)
	}
	name, svc := v.Decky.Name, r.PathValue("svc")
	if err := d.fleet.RemoveService(r.Context(), name, svc); err != nil {
		if !userFacing(err) {
			return err
		}
		v.setServiceErr(svc, err.Error())
		return d.renderDecky(w, r, s, opStatus(err), v)
	}
	d.log.Info("web: service removed", "user", s.user.Username, "decky", name, "service", svc)
	d.notifyServices(r.Context(), name, svc, "removed")
	back(w, r, "/ui/deckies/"+url.PathEscape(name), "removed", svc)
	return nil
}

// setServiceErr puts a form-level error on svc's card, or on the add form
// when the decky has no such service.
func (v *deckyData) setServiceErr(svc, msg string) {
	for i := range v.Services {
		if v.Services[i].Name == svc {
			v.Services[i].Err = msg
			return
		}
	}
	v.Add.Err = "Service " + svc + ": " + msg
}

// configureService saves (action=save) or applies (action=apply, restart)
// a service's configuration. POST /ui/deckies/{name}/services/{svc}/config
// {csrf, action, cfg.<key>…}. Empty fields are dropped, as the API drops
// them: the service's default applies.
func (d *Dashboard) configureService(w http.ResponseWriter, r *http.Request, s *session) error {
	v, err := d.liveDecky(r)
	if err != nil {
		return d.actionError(w, r, s, err)
	}
	name, svc := v.Decky.Name, r.PathValue("svc")
	i := slices.IndexFunc(v.Services, func(sv serviceView) bool { return sv.Name == svc })
	if i < 0 {
		return errNotFound
	}
	sv := &v.Services[i]
	apply := r.PostFormValue("action") == "apply"
	cfg := map[string]string{}
	for j := range sv.Fields {
		f := &sv.Fields[j]
		f.Value = strings.TrimSpace(r.PostFormValue("cfg." + f.Key))
		if f.Value != "" {
			cfg[f.Key] = f.Value
		}
	}
	recreated, err := d.fleet.ConfigureService(r.Context(), name, svc, cfg, apply)
	if err != nil {
		if !userFacing(err) {
			return err
		}
		placed := false
		if m := configKey.FindStringSubmatch(err.Error()); m != nil {
			for j := range sv.Fields {
				if sv.Fields[j].Key == m[1] {
					sv.Fields[j].Err = sv.Fields[j].Label + ": " + err.Error()
					placed = true
				}
			}
		}
		if !placed {
			sv.Err = err.Error()
		}
		return d.renderDecky(w, r, s, opStatus(err), v)
	}
	d.log.Info("web: service configured", "user", s.user.Username, "decky", name, "service", svc, "apply", apply)
	d.notify("decky."+name+".service_config_changed", map[string]any{"decky": name, "service": svc, "service_config": cfg, "recreated": recreated})
	code := "saved"
	if apply {
		code = "applied"
	}
	back(w, r, "/ui/deckies/"+url.PathEscape(name), code, svc)
	return nil
}

// dropFile writes a file into the decky. POST /ui/deckies/{name}/files
// (multipart) {csrf, path, mode, file | content}.
func (d *Dashboard) dropFile(w http.ResponseWriter, r *http.Request, s *session) error {
	v, err := d.liveDecky(r)
	if err != nil {
		return d.actionError(w, r, s, err)
	}
	name := v.Decky.Name
	v.File = fileForm{Path: strings.TrimSpace(r.PostFormValue("path")), Mode: strings.TrimSpace(r.PostFormValue("mode"))}
	fail := func(field, msg string) error {
		v.File.Field, v.File.Err = field, msg
		return d.renderDecky(w, r, s, http.StatusUnprocessableEntity, v)
	}
	if v.File.Path == "" || !strings.HasPrefix(v.File.Path, "/") {
		return fail("path", "Path: give an absolute path, such as /home/admin/notes.txt.")
	}
	mode := fs.FileMode(0o644)
	if v.File.Mode != "" {
		m, err := strconv.ParseUint(v.File.Mode, 8, 32)
		if err != nil || m > 0o777 {
			return fail("mode", "Mode: give an octal permission mode, 0 to 0777, such as 0644.")
		}
		mode = fs.FileMode(m)
	}
	content := []byte(r.PostFormValue("content"))
	if f, _, err := r.FormFile("file"); err == nil {
		content, err = io.ReadAll(io.LimitReader(f, maxDropBytes+1))
		f.Close()
		if err != nil {
			return err
		}
		if len(content) > maxDropBytes {
			return fail("file", "File: at most 8 MiB.")
		}
	}
	if err := d.fleet.WriteFile(r.Context(), name, v.File.Path, content, mode, time.Time{}); err != nil {
		if !userFacing(err) {
			return err
		}
		if errors.Is(err, engine.ErrBadPath) {
			return fail("path", "Path: "+err.Error())
		}
		v.File.Err = err.Error()
		return d.renderDecky(w, r, s, opStatus(err), v)
	}
	d.log.Info("web: file dropped", "user", s.user.Username, "decky", name, "path", v.File.Path, "size", len(content))
	back(w, r, "/ui/deckies/"+url.PathEscape(name), "dropped", v.File.Path)
	return nil
}

// actionError answers an action that cannot run at all.
func (d *Dashboard) actionError(w http.ResponseWriter, r *http.Request, s *session, err error) error {
	if errors.Is(err, errNoFleet) {
		d.renderError(w, r, s, http.StatusServiceUnavailable, "Not available", "This node runs no deckies it could change.")
		return nil
	}
	return err
}

// notifyServices tells the bus, as the API does, that a decky's services
// changed.
func (d *Dashboard) notifyServices(ctx context.Context, name, svc, what string) {
	if d.notifyFn == nil {
		return
	}
	services, err := d.fleet.Services(ctx, name)
	if err != nil {
		return
	}
	d.notify("decky."+name+".service."+what, map[string]any{"decky": name, "service": svc, "services": services})
}

func (d *Dashboard) notify(subject string, payload any) {
	if d.notifyFn != nil {
		d.notifyFn(subject, payload)
	}
}

// --- Users -----------------------------------------------------------------

// userRowView is one account on the Users screen.
type userRowView struct {
	store.User
	Self  bool
	Err   string // beside the row's forms
	Field string // "role", "password" or "delete"
}

// usersData is the Users screen.
type usersData struct {
	Now    time.Time
	Users  []userRowView
	Create struct {
		Username, Role string
		Err, Field     string
	}
	Notice string
}

// usersPage lists the accounts with their admin forms (admins only).
// GET /ui/users.
func (d *Dashboard) usersPage(w http.ResponseWriter, r *http.Request, s *session) error {
	v, err := d.usersData(r, s)
	if err != nil {
		return err
	}
	v.Notice = noticeText(r.URL.Query())
	return d.renderUsers(w, r, s, http.StatusOK, v)
}

func (d *Dashboard) usersData(r *http.Request, s *session) (*usersData, error) {
	us, err := d.st.Users(r.Context())
	if err != nil {
		return nil, err
	}
	v := &usersData{Now: d.now()}
	v.Create.Role = api.RoleViewer
	for _, u := range us {
		v.Users = append(v.Users, userRowView{User: u, Self: u.UUID == s.user.UUID})
	}
	return v, nil
}

func (d *Dashboard) renderUsers(w http.ResponseWriter, r *http.Request, s *session, status int, v *usersData) error {
	return d.renderPage(w, r, s, status, "users", "Users", v)
}

// userAdmin is the store's account writes; a Store without them cannot
// change accounts.
func (d *Dashboard) userAdmin() (userAdminStore, error) {
	ua, ok := d.st.(userAdminStore)
	if !ok {
		return nil, errors.New("web: the store cannot change accounts")
	}
	return ua, nil
}

// createUser adds an account that must change its password at first
// sign-in. POST /ui/users {csrf, username, password, role}.
func (d *Dashboard) createUser(w http.ResponseWriter, r *http.Request, s *session) error {
	ua, err := d.userAdmin()
	if err != nil {
		return err
	}
	v, err := d.usersData(r, s)
	if err != nil {
		return err
	}
	name, pw, role := r.PostFormValue("username"), r.PostFormValue("password"), r.PostFormValue("role")
	v.Create.Username, v.Create.Role = name, role
	fail := func(status int, field, msg string) error {
		v.Create.Field, v.Create.Err = field, msg
		return d.renderUsers(w, r, s, status, v)
	}
	if err := api.CheckUsername(name); err != nil {
		return fail(http.StatusUnprocessableEntity, "username", "User name "+err.Error()+".")
	}
	if err := api.CheckNewPassword(pw); err != nil {
		return fail(http.StatusUnprocessableEntity, "password", "Password "+err.Error()+".")
	}
	if !api.ValidRole(role) {
		return fail(http.StatusUnprocessableEntity, "role", "Role must be admin or viewer.")
	}
	hash, err := api.HashPassword(r.Context(), pw)
	if err != nil {
		return err
	}
	u := store.User{UUID: uuid.NewString(), Username: name, PasswordHash: hash, Role: role, MustChangePassword: true}
	if err := ua.CreateUser(r.Context(), u); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return fail(http.StatusConflict, "username", "User name "+name+" is taken.")
		}
		return err
	}
	d.log.Info("web: user created", "by", s.user.Username, "user", name, "role", role)
	back(w, r, "/ui/users", "created", name)
	return nil
}

// userAction runs one action on the account {uuid}, showing a refusal
// beside that account's field.
func (d *Dashboard) userAction(w http.ResponseWriter, r *http.Request, s *session, field string,
	act func(ua userAdminStore, u store.User) (status int, msg string, err error), code string) error {
	ua, err := d.userAdmin()
	if err != nil {
		return err
	}
	target := r.PathValue("uuid")
	u, err := d.st.UserByUUID(r.Context(), target)
	if err != nil {
		return err // store.ErrNotFound: 404
	}
	status, msg, err := act(ua, u)
	if errors.Is(err, store.ErrLastAdmin) {
		status, msg = http.StatusConflict, "There must stay at least one admin."
	} else if err != nil {
		return err // store.ErrNotFound (deleted meanwhile) is a 404
	}
	if msg != "" {
		v, err := d.usersData(r, s)
		if err != nil {
			return err
		}
		for i := range v.Users {
			if v.Users[i].UUID == target {
				v.Users[i].Field, v.Users[i].Err = field, msg
			}
		}
		return d.renderUsers(w, r, s, status, v)
	}
	d.log.Info("web: user "+code, "by", s.user.Username, "user", u.Username)
	back(w, r, "/ui/users", code, u.Username)
	return nil
}

// setUserRole changes another account's role and ends its sessions.
// POST /ui/users/{uuid}/role {csrf, role}.
func (d *Dashboard) setUserRole(w http.ResponseWriter, r *http.Request, s *session) error {
	role := r.PostFormValue("role")
	return d.userAction(w, r, s, "role", func(ua userAdminStore, u store.User) (int, string, error) {
		if !api.ValidRole(role) {
			return http.StatusUnprocessableEntity, "Role must be admin or viewer.", nil
		}
		if u.UUID == s.user.UUID {
			return http.StatusForbidden, "Role: you cannot change your own role.", nil
		}
		return 0, "", ua.SetRole(r.Context(), u.UUID, role, api.NextTokenCutoff(u.TokensValidFrom, d.now()))
	}, "role")
}

// resetUserPassword sets an account's password, ends its sessions and
// makes it change the password at next sign-in.
// POST /ui/users/{uuid}/password {csrf, new_password}.
func (d *Dashboard) resetUserPassword(w http.ResponseWriter, r *http.Request, s *session) error {
	pw := r.PostFormValue("new_password")
	return d.userAction(w, r, s, "password", func(_ userAdminStore, u store.User) (int, string, error) {
		if err := api.CheckNewPassword(pw); err != nil {
			return http.StatusUnprocessableEntity, "New password " + err.Error() + ".", nil
		}
		hash, err := api.HashPassword(r.Context(), pw)
		if err != nil {
			return 0, "", err
		}
		return 0, "", d.st.SetPassword(r.Context(), u.UUID, hash, true, api.NextTokenCutoff(u.TokensValidFrom, d.now()))
	}, "reset")
}

// deleteUser removes another account. POST /ui/users/{uuid}/delete {csrf}.
func (d *Dashboard) deleteUser(w http.ResponseWriter, r *http.Request, s *session) error {
	return d.userAction(w, r, s, "delete", func(ua userAdminStore, u store.User) (int, string, error) {
		if u.UUID == s.user.UUID {
			return http.StatusForbidden, "You cannot delete your own account.", nil
		}
		return 0, "", ua.DeleteUser(r.Context(), u.UUID)
	}, "deleted")
}
