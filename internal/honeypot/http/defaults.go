package http

import (
	"strings"
	"time"

	"github.com/decnet-go/decnet/internal/persona"
)

// staticPage is a file the server sends as is, with the validators a static
// file gets (Last-Modified, ETag, Accept-Ranges).
type staticPage struct {
	paths       []string
	body        []byte
	mtime       time.Time
	contentType string // "text/html" when empty
}

// response returns the page with its static-file fields.
func (s *staticPage) response(f flavor) *response {
	ct := s.contentType
	if ct == "" {
		ct = "text/html"
	}
	return &response{
		status:      200,
		contentType: ct,
		body:        s.body,
		extra: []header{
			{"Last-Modified", httpDate(s.mtime)},
			{"ETag", f.staticETag(len(s.body), s.mtime)},
			{"Accept-Ranges", "bytes"},
		},
	}
}

// installTime is when the persona's web server was installed: a fixed
// moment per decky, so Last-Modified and ETag stay stable across restarts.
func installTime(p *persona.Persona) time.Time {
	r := p.Rand("http-install")
	base := time.Date(2023, 3, 1, 0, 0, 0, 0, time.UTC)
	return base.Add(time.Duration(r.IntN(600*24*3600)) * time.Second)
}

// defaultPage is the page a fresh package install serves at "/".
func defaultPage(app string, p *persona.Persona, banner string) *staticPage {
	page := &staticPage{paths: []string{"/", "/index.html"}, mtime: installTime(p)}
	if app == "nginx_default" || (app == "none" && strings.HasPrefix(strings.ToLower(banner), "nginx")) {
		// Debian's nginx package installs only index.nginx-debian.html.
		page.paths = []string{"/", "/index.nginx-debian.html"}
		page.body = []byte(nginxWelcome)
		return page
	}
	// The page names the distribution the Server header names, else the
	// persona's.
	dist := "Debian"
	switch {
	case strings.Contains(banner, "(Debian)"):
	case strings.Contains(banner, "(Ubuntu)") || p.Distro.ID == "ubuntu":
		dist = "Ubuntu"
	}
	page.body = []byte(strings.ReplaceAll(apacheWelcome, "{{DIST}}", dist))
	return page
}

// nginxWelcome is nginx's stock index.html.
const nginxWelcome = `<!DOCTYPE html>
<html>
<head>
<title>Welcome to nginx!</title>
<style>
html { color-scheme: light dark; }
body { width: 35em; margin: 0 auto;
font-family: Tahoma, Verdana, Arial, sans-serif; }
</style>
</head>
<body>
<h1>Welcome to nginx!</h1>
<p>If you see this page, the nginx web server is successfully installed and
working. Further configuration is required.</p>

<p>For online documentation and support please refer to
<a href="http://nginx.org/">nginx.org</a>.<br/>
Commercial support is available at
<a href="http://nginx.com/">nginx.com</a>.</p>

<p><em>Thank you for using nginx.</em></p>
</body>
</html>
`

// apacheWelcome is the Debian family's "It works" page, shortened.
const apacheWelcome = `<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html xmlns="http://www.w3.org/1999/xhtml">
  <head>
    <meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />
    <title>Apache2 {{DIST}} Default Page: It works</title>
    <style type="text/css" media="screen">
  * { margin: 0px 0px 0px 0px; padding: 0px 0px 0px 0px; }
  body, html { padding: 3px 3px 3px 3px; background-color: #D8DBE2; font-family: Ubuntu, Verdana, sans-serif; font-size: 11pt; text-align: center; }
  div.main_page { position: relative; display: table; width: 800px; margin-bottom: 3px; margin-left: auto; margin-right: auto; padding: 0px 0px 0px 0px; border-width: 2px; border-color: #212738; border-style: solid; background-color: #FFFFFF; text-align: center; }
  div.page_header { height: 180px; width: 100%; background-color: #F5F6F7; }
  div.page_header span { margin: 15px 0px 0px 50px; font-size: 180%; font-weight: bold; }
  div.section_header { padding: 3px 6px 3px 6px; background-color: #8E9CB2; color: #FFFFFF; font-weight: bold; font-size: 112%; text-align: center; }
  div.content_section_text { padding: 4px 8px 4px 8px; color: #000000; font-size: 100%; }
  div.content_section_text pre { margin: 8px 0px 8px 0px; padding: 8px 8px 8px 8px; border-width: 1px; border-style: dotted; border-color: #000000; background-color: #F5F6F7; font-style: italic; }
  div.content_section_text p { margin-bottom: 6px; }
  div.validator { }
    </style>
  </head>
  <body>
    <div class="main_page">
      <div class="page_header floating_element">
        <img src="/icons/openlogo-75.png" alt="{{DIST}} Logo" class="floating_element"/>
        <div>
          <span style="margin-top: 1.5em;" class="floating_element">
            Apache2 {{DIST}} Default Page
          </span>
        </div>
      </div>
      <div class="content_section floating_element">
        <div class="section_header section_header_red">
          <div id="about"></div>
          It works!
        </div>
        <div class="content_section_text">
          <p>
                This is the default welcome page used to test the correct 
                operation of the Apache2 server after installation on {{DIST}} systems.
                If you can read this page, it means that the Apache HTTP server installed at
                this site is working properly. You should <b>replace this file</b> (located at
                <tt>/var/www/html/index.html</tt>) before continuing to operate your HTTP server.
          </p>
          <p>
                If you are a normal user of this web site and don't know what this page is
                about, this probably means that the site is currently unavailable due to
                maintenance.
                If the problem persists, please contact the site's administrator.
          </p>
        </div>
        <div class="section_header">
          <div id="docroot"></div>
                Document Roots
        </div>
        <div class="content_section_text">
          <p>
                By default, {{DIST}} does not allow access through the web browser to
                <em>any</em> file apart of those located in <tt>/var/www</tt>,
                <a href="http://httpd.apache.org/docs/2.4/mod/mod_userdir.html" rel="nofollow">public_html</a>
                directories (when enabled) and <tt>/usr/share</tt> (for web
                applications). If your site is using a web document root
                located elsewhere (such as in <tt>/srv</tt>) you may need to whitelist your
                document root directory in <tt>/etc/apache2/apache2.conf</tt>.
          </p>
        </div>
      </div>
    </div>
    <div class="validator">
    </div>
  </body>
</html>
`
