package http

import (
	"fmt"
	"html/template"
	"net/url"
	"strings"

	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/persona"
)

// Versions a fake application may show, drawn per decky unless the
// operator sets app_version: releases that were common in the wild.
var (
	wordpressVersions  = []string{"6.4.3", "6.5.5", "6.6.2", "6.7.1", "6.8.1"}
	phpMyAdminVersions = []string{"4.9.5", "5.1.1", "5.2.1", "5.2.2"}
	tomcatVersions     = []string{"9.0.58", "9.0.70", "9.0.85", "10.1.6", "10.1.24"}
	jenkinsVersions    = []string{"2.426.3", "2.440.3", "2.452.4", "2.462.3", "2.479.3"}
)

// appVersion is the operator's version, else one drawn for the decky.
func appVersion(p *persona.Persona, app, configured string, choices []string) string {
	if configured != "" {
		return configured
	}
	return pick(p.Rand("http-app-"+app), choices)
}

// addCommonRoutes adds what every application has besides its pages: a
// robots.txt and a favicon, both 404 for a bare server as on a fresh
// install. An application's own routes win.
func (s *site) addCommonRoutes(p *persona.Persona, nginxFlavor bool) {
	robots, icon := "", []byte(nil)
	switch s.app {
	case "login":
		robots = "User-agent: *\nDisallow: /\n"
		icon = favicon(accentOf(p), 0)
	case "wordpress":
		icon = favicon([3]uint8{0x21, 0x75, 0x9b}, 1)
	case "phpmyadmin":
		robots = "User-agent: *\nDisallow: /\n"
		icon = favicon([3]uint8{0xf8, 0x9c, 0x0e}, 2)
	case "tomcat":
		icon = favicon([3]uint8{0xd1, 0xa4, 0x1a}, 1)
	case "jenkins":
		robots = "# we don't want robots to click \"build\" links\nUser-agent: *\nDisallow: /\n"
		icon = favicon([3]uint8{0xd2, 0x49, 0x39}, 0)
	}
	mtime := installTime(p)
	if _, ok := s.routes["/robots.txt"]; !ok && robots != "" {
		page := &staticPage{body: []byte(robots), mtime: mtime, contentType: "text/plain"}
		s.routes["/robots.txt"] = func(_ *request, _ url.Values, f flavor, _ pageInfo) *response { return page.response(f) }
	}
	if icon != nil {
		ct := "image/vnd.microsoft.icon" // Debian's /etc/mime.types, which httpd reads
		if nginxFlavor {
			ct = "image/x-icon" // nginx's own mime.types
		}
		page := &staticPage{body: icon, mtime: mtime, contentType: ct}
		s.routes["/favicon.ico"] = func(_ *request, _ url.Values, f flavor, _ pageInfo) *response { return page.response(f) }
	}
}

// accentOf is the accent colour of the generic login page, for its icon.
func accentOf(p *persona.Persona) [3]uint8 {
	var c [3]uint8
	fmt.Sscanf(string(genericLogin(p).data.Accent), "#%02x%02x%02x", &c[0], &c[1], &c[2])
	return c
}

// phpRedirect is a 302 from PHP's header("Location: …"): an empty body,
// PHP's default content type.
func phpRedirect(location string, extra ...header) *response {
	return &response{status: 302, contentType: "text/html; charset=UTF-8", extra: append(extra, header{"Location", location})}
}

// --- WordPress ---------------------------------------------------------

// wordpressApp is a WordPress blog: its home page, wp-login.php,
// wp-admin/ redirecting to the login, xmlrpc.php and its virtual
// robots.txt.
func wordpressApp(s *site, p *persona.Persona, version string) {
	version = appVersion(p, "wordpress", version, wordpressVersions)
	s.login = wordpressLogin(p, version)
	name := s.login.data.Heading
	home := template.Must(template.New("wphome").Parse(wordpressHome))
	s.routes["/"] = func(req *request, _ url.Values, _ flavor, info pageInfo) *response {
		if req.Method == "POST" {
			return nil
		}
		var b strings.Builder
		home.Execute(&b, map[string]string{"Name": name, "Version": version, "Origin": info.Scheme + "://" + info.Authority})
		return &response{status: s.status, contentType: "text/html; charset=UTF-8", body: []byte(b.String()),
			extra: []header{{"Link", "<" + info.Scheme + "://" + info.Authority + "/wp-json/>; rel=\"https://api.w.org/\""}}}
	}
	toLogin := func(_ *request, _ url.Values, _ flavor, info pageInfo) *response {
		origin := info.Scheme + "://" + info.Authority
		return phpRedirect(origin+"/wp-login.php?redirect_to="+url.QueryEscape(origin+"/wp-admin/")+"&reauth=1",
			header{"Expires", "Wed, 11 Jan 1984 05:00:00 GMT"},
			header{"Cache-Control", "no-cache, must-revalidate, max-age=0, no-store, private"})
	}
	s.routes["/wp-admin"] = func(_ *request, _ url.Values, f flavor, info pageInfo) *response {
		return f.redirect(301, info.Scheme+"://"+info.Authority+"/wp-admin/", info) // the server's DirectorySlash
	}
	s.routes["/wp-admin/"] = toLogin
	s.routes["/wp-admin/index.php"] = toLogin
	s.routes["/xmlrpc.php"] = func(req *request, _ url.Values, _ flavor, _ pageInfo) *response {
		if req.Method != "POST" {
			return &response{status: 405, contentType: "text/plain;charset=UTF-8", extra: []header{{"Allow", "POST"}},
				body: []byte("XML-RPC server accepts POST requests only.")}
		}
		return xmlrpcAnswer(req.Body)
	}
	s.routes["/robots.txt"] = func(_ *request, _ url.Values, _ flavor, info pageInfo) *response {
		body := "User-agent: *\nDisallow: /wp-admin/\nAllow: /wp-admin/admin-ajax.php\n\nSitemap: " + info.Scheme + "://" + info.Authority + "/wp-sitemap.xml\n"
		return &response{status: 200, contentType: "text/plain; charset=utf-8", body: []byte(body),
			extra: []header{{"X-Robots-Tag", "noindex, follow"}}}
	}
}

// xmlrpcAnswer answers an XML-RPC call the way WordPress answers a call
// with a wrong login: fault 403, and the credential it carried captured.
func xmlrpcAnswer(body []byte) *response {
	call := parseXMLRPC(body)
	resp := &response{status: 200, contentType: "text/xml; charset=UTF-8"}
	switch {
	case call.method == "":
		resp.body = []byte(xmlrpcFault(-32700, "parse error. not well formed"))
	case call.method == "system.listMethods" || call.method == "demo.sayHello":
		resp.body = []byte(xmlrpcString(map[bool]string{true: "Hello!", false: "wp.getUsersBlogs"}[call.method == "demo.sayHello"]))
	default:
		resp.body = []byte(xmlrpcFault(403, "Incorrect username or password."))
	}
	if user, pass, ok := call.login(); ok {
		resp.cred = event.NewCredential(user, event.SecretPlaintext, []byte(pass), event.OutcomeFailure)
		resp.credVia = "xmlrpc"
	}
	return resp
}

func xmlrpcFault(code int, msg string) string {
	return fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?>
<methodResponse>
  <fault>
    <value>
      <struct>
        <member>
          <name>faultCode</name>
          <value><int>%d</int></value>
        </member>
        <member>
          <name>faultString</name>
          <value><string>%s</string></value>
        </member>
      </struct>
    </value>
  </fault>
</methodResponse>
`, code, template.HTMLEscapeString(msg))
}

func xmlrpcString(s string) string {
	return `<?xml version="1.0" encoding="UTF-8"?>
<methodResponse>
  <params>
    <param>
      <value>
      <string>` + s + `</string>
      </value>
    </param>
  </params>
</methodResponse>
`
}

// --- phpMyAdmin --------------------------------------------------------

// phpMyAdminApp is phpMyAdmin's cookie-auth login at / and /phpmyadmin/.
func phpMyAdminApp(s *site, p *persona.Persona, version string) {
	s.login = phpMyAdminLogin(p, appVersion(p, "phpmyadmin", version, phpMyAdminVersions))
	s.routes["/phpmyadmin"] = func(_ *request, _ url.Values, f flavor, info pageInfo) *response {
		// The directory without its slash: the server's own redirect.
		return f.redirect(301, info.Scheme+"://"+info.Authority+"/phpmyadmin/", info)
	}
}

// --- Tomcat ------------------------------------------------------------

// tomcatApp is Apache Tomcat behind the web server: the ROOT webapp's
// page, and the Manager and Host Manager behind Basic auth with Tomcat's
// realms and 401 page. It returns the ROOT page.
func tomcatApp(s *site, p *persona.Persona, version string) *staticPage {
	version = appVersion(p, "tomcat", version, tomcatVersions)
	realms := map[string]string{
		"/manager/html": "Tomcat Manager Application", "/manager/status": "Tomcat Manager Application",
		"/manager/text": "Tomcat Manager Application", "/manager/jmxproxy": "Tomcat Manager Application",
		"/host-manager/html": "Tomcat Host Manager Application", "/host-manager/text": "Tomcat Host Manager Application",
	}
	for path, realm := range realms {
		s.routes[path] = func(_ *request, _ url.Values, _ flavor, _ pageInfo) *response {
			return &response{status: 401, contentType: "text/html;charset=ISO-8859-1", body: []byte(tomcat401),
				extra: []header{
					{"Cache-Control", "private"},
					{"WWW-Authenticate", `Basic realm="` + realm + `"`},
				}}
		}
	}
	for _, dir := range []string{"/manager", "/manager/", "/host-manager", "/host-manager/"} {
		target := strings.TrimSuffix(dir, "/") + "/html"
		s.routes[dir] = func(_ *request, _ url.Values, _ flavor, _ pageInfo) *response {
			return &response{status: 302, extra: []header{{"Location", target}}}
		}
	}
	return &staticPage{paths: []string{"/", "/index.jsp"}, mtime: installTime(p), contentType: "text/html;charset=UTF-8",
		body: []byte(strings.ReplaceAll(tomcatRoot, "{{VERSION}}", version))}
}

// --- Jenkins -----------------------------------------------------------

// jenkinsApp is Jenkins with security on: everything redirects anonymous
// users to /login, whose form posts to j_spring_security_check (Jenkins
// 2) or j_acegi_security_check (1.x) and lands on /loginError.
func jenkinsApp(s *site, p *persona.Persona, version string) {
	version = appVersion(p, "jenkins", version, jenkinsVersions)
	r := p.Rand("http-jenkins")
	check := "j_spring_security_check"
	if strings.HasPrefix(version, "1.") {
		check = "j_acegi_security_check"
	}
	static := fmt.Sprintf("/static/%08x", r.Uint32())
	cookie := fmt.Sprintf("JSESSIONID.%08x", r.Uint32())
	session := fmt.Sprintf("%08x", r.Uint32())
	headers := func() []header {
		return []header{
			{"X-Content-Type-Options", "nosniff"},
			{"Set-Cookie", cookie + "=node0" + phpSessionID() + ".node0; Path=/; HttpOnly"},
			{"Expires", "Thu, 01 Jan 1970 00:00:00 GMT"},
			{"X-Hudson", "1.395"},
			{"X-Jenkins", version},
			{"X-Jenkins-Session", session},
		}
	}
	page := template.Must(template.New("jenkins").Parse(jenkinsLogin))
	login := func(failed bool) route {
		return func(req *request, _ url.Values, _ flavor, _ pageInfo) *response {
			var b strings.Builder
			page.Execute(&b, map[string]any{"Static": static, "Action": check, "Failed": failed, "From": req.queryValue("from")})
			status := 200
			if failed {
				status = 401
			}
			return &response{status: status, contentType: "text/html;charset=utf-8", extra: headers(), body: []byte(b.String())}
		}
	}
	s.routes["/login"] = login(false)
	s.routes["/loginError"] = login(true)
	s.routes["/"+check] = func(req *request, _ url.Values, f flavor, info pageInfo) *response {
		if req.Method != "POST" {
			return nil
		}
		return &response{status: 302, extra: append(headers(), header{"Location", info.Scheme + "://" + info.Authority + "/loginError"})}
	}
	forbidden := func(req *request, _ url.Values, _ flavor, _ pageInfo) *response {
		from := url.QueryEscape(req.Path())
		body := "<html><head><meta http-equiv='refresh' content='1;url=/login?from=" + from + "'/><script id='redirect' data-redirect-url='/login?from=" +
			from + "' src='" + static + "/scripts/redirect.js'></script></head><body style='background-color:white; color:white;'>\n" +
			"Authentication required\n<!--\n-->\n\n</body></html>"
		return &response{status: 403, contentType: "text/html;charset=utf-8", body: []byte(body),
			extra: append(headers(), header{"X-You-Are-Authenticated-As", "anonymous"},
				header{"X-Required-Permission", "hudson.model.Hudson.Read"})}
	}
	for _, path := range []string{"/", "/manage", "/script", "/asynchPeople/", "/computer/", "/view/all/", "/api/json", "/api/xml", "/whoAmI/"} {
		s.routes[path] = forbidden
	}
}

// queryValue returns one parameter of the request's query string.
func (r *request) queryValue(name string) string {
	_, q, _ := strings.Cut(r.Target, "?")
	v, _ := url.ParseQuery(q)
	return v.Get(name)
}
