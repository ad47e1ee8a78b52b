package http

import (
	"net/url"
	"slices"

	"github.com/decnet-go/decnet/internal/honeypot"
)

// site is the content a decky serves: one fake application, optionally a
// custom body at "/", and the server's own 404 and 405 for everything else.
type site struct {
	app        string      // the fake_app it serves
	login      *loginApp   // the application's login form, if it has one
	static     *staticPage // a page served as a file, if any
	customBody []byte      // replaces the page at "/" when set
	status     int         // status of the application's pages
	// routes are the application's other paths (robots.txt, redirects,
	// XML-RPC, a manager behind Basic auth, …), by exact path.
	routes map[string]route
	// auth, when set, puts the whole site behind HTTP authentication.
	auth *challenge
}

// route answers one path of an application; nil falls through to the
// login form, the static page or the server's 404.
type route func(req *request, form url.Values, f flavor, info pageInfo) *response

// serve answers a GET, HEAD or POST.
func (s *site) serve(req *request, form url.Values, f flavor, info pageInfo) *response {
	if s.auth != nil {
		return s.auth.deny(f, info)
	}
	path := req.Path()
	if s.customBody != nil && path == "/" {
		return &response{status: s.status, contentType: "text/html; charset=UTF-8", body: s.customBody}
	}
	if r, ok := s.routes[path]; ok {
		if resp := r(req, form, f, info); resp != nil {
			return resp
		}
	}
	switch {
	case s.login != nil && slices.Contains(s.login.paths, path):
		user := ""
		if c, ok := honeypot.FormCredentials(form); ok {
			user = c.Principal
		}
		return &response{
			status:      s.status,
			contentType: "text/html; charset=UTF-8",
			extra:       s.login.headers(),
			body:        s.login.render(path, user, req.Method == "POST"),
		}
	case s.static != nil && slices.Contains(s.static.paths, path):
		if req.Method == "POST" {
			if resp := f.staticPOST(info); resp != nil {
				return resp
			}
		}
		resp := s.static.response(f)
		resp.status = s.status
		return resp
	}
	return f.errorPage(404, info)
}
