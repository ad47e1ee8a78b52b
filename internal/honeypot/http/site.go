package http

import (
	"net/url"
	"slices"

	"github.com/decnet-go/decnet/internal/honeypot"
)

// site is the content a decky serves: one fake application, optionally a
// custom body at "/", and the server's own 404 and 405 for everything else.
type site struct {
	login      *loginApp   // nil when the application has no login form
	static     *staticPage // nil when the application is a login form
	customBody []byte      // replaces the page at "/" when set
	status     int         // status of the application's pages
}

// serve answers a GET, HEAD or POST.
func (s *site) serve(req *request, form url.Values, f flavor, info pageInfo) *response {
	path := req.Path()
	switch {
	case s.customBody != nil && path == "/":
		return &response{status: s.status, contentType: "text/html; charset=UTF-8", body: s.customBody}
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
