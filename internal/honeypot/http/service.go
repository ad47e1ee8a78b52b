// Package http is the http and https honeypots: a web server that looks
// like the decky's Apache httpd or nginx, serves a fake application (by
// default an admin login form whose look is drawn from the persona; or
// WordPress, phpMyAdmin, Tomcat or Jenkins) and turns every request into a
// "request" event and every credential it carries (Basic, Digest, Bearer,
// a login form, an XML-RPC call) into a "login_attempt" event. The https
// service serves the same sites over TLS with the decky's certificate and
// adds the client's JA3 and JA4 fingerprints to its events.
//
// It parses HTTP/1.x itself instead of using net/http, so that every byte
// on the wire — malformed-request answers, error pages, header order and
// casing, keep-alive behaviour — is the imitated server's, not Go's, and so
// that request headers are recorded in wire order. It never imports the
// store, the bus or the API: it only emits events.
package http

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/decnet-go/decnet/internal/honeypot"
	"github.com/decnet-go/decnet/internal/persona"
)

// Service is the http honeypot service, or the https one.
type Service struct {
	tls bool
}

// New returns the http service.
func New() honeypot.Service { return Service{} }

// NewHTTPS returns the https service: the http service over TLS.
func NewHTTPS() honeypot.Service { return Service{tls: true} }

// Name is the registry slug.
func (s Service) Name() string {
	if s.tls {
		return "https"
	}
	return "http"
}

// Ports is the default listening port.
func (s Service) Ports() []honeypot.Port {
	if s.tls {
		return []honeypot.Port{{Number: 443, Proto: "tcp"}}
	}
	return []honeypot.Port{{Number: 80, Proto: "tcp"}}
}

// Fake applications an operator may choose.
var fakeApps = []string{"none", "login", "apache_default", "nginx_default", "wordpress", "phpmyadmin", "tomcat", "jenkins"}

// Schema lists the operator's keys.
func (s Service) Schema() honeypot.Schema {
	schema := honeypot.Schema{
		{Key: "server_header", Type: "string", Help: "Server header; picks Apache or nginx behaviour (default: the persona's server)"},
		{Key: "response_code", Type: "int", Default: "200", Help: "status of the application's pages"},
		{Key: "fake_app", Type: "enum", Enum: fakeApps, Default: "login",
			Help: "what the site serves: a login form, a stock server page (none = the server's own) or a known application"},
		{Key: "app_version", Type: "string", Help: "version the fake application shows (default: drawn from the persona)"},
		{Key: "custom_body", Type: "string", Help: "HTML served at / instead of the application's page"},
		{Key: "auth", Type: "enum", Enum: []string{"none", "basic", "digest"}, Default: "none",
			Help: "protect the whole site with HTTP authentication (every attempt fails and is captured)"},
		{Key: "auth_realm", Type: "string", Default: "Restricted", Help: "realm of the auth challenge"},
	}
	if s.tls {
		schema = append(schema,
			honeypot.Field{Key: "tls_cn", Type: "string", Help: "host name of the generated certificate (default: the persona's host name)"},
			honeypot.Field{Key: "tls_cert", Type: "string", Help: "the operator's certificate chain: PEM text or a file path (with tls_key)"},
			honeypot.Field{Key: "tls_key", Type: "string", Help: "the private key of tls_cert: PEM text or a file path"},
		)
	}
	return schema
}

// limits bound one HTTP connection: header and body reads have their own
// caps in the parser; an attacker waiting a minute mid-request is cut off,
// as Apache's and nginx's request timeouts do.
var limits = honeypot.Limits{
	IdleTimeout:  60 * time.Second,
	MaxDuration:  15 * time.Minute,
	MaxBytes:     64 << 20,
	MaxPerSource: 16,
	MaxConns:     1024,
}

// Serve answers HTTP on l until ctx ends.
func (svc Service) Serve(ctx context.Context, l net.Listener, env honeypot.Env) error {
	s, err := svc.newServer(env)
	if err != nil {
		return fmt.Errorf("%s service on %s: %w", svc.Name(), env.Decky.Name, err)
	}
	if svc.tls {
		if s.tls, err = tlsConfig(env); err != nil {
			return fmt.Errorf("%s service on %s: %w", svc.Name(), env.Decky.Name, err)
		}
		s.port = 443
	}
	return honeypot.Serve(ctx, l, env, svc.Name(), limits, s.handle)
}

// newServer builds the server of one decky from its persona and config.
func (svc Service) newServer(env honeypot.Env) (*server, error) {
	p := env.Persona
	if p == nil {
		return nil, fmt.Errorf("no persona")
	}
	cfg := env.Config
	if err := svc.Schema().Validate(cfg); err != nil {
		return nil, err
	}
	banner := p.HTTPServer
	if v := cfg["server_header"]; v != "" {
		banner = v
	}
	status := 200
	if v := cfg["response_code"]; v != "" {
		status, _ = strconv.Atoi(v) // Validate checked it is a number
		if status < 200 || status > 599 {
			return nil, fmt.Errorf("key \"response_code\": %d is not a final HTTP status (200-599)", status)
		}
	}
	app := cfg["fake_app"]
	if app == "" {
		app = "login"
	}
	st := &site{status: status, app: app, routes: map[string]route{}}
	if v := cfg["custom_body"]; v != "" {
		st.customBody = []byte(v)
	}
	isNginx := strings.HasPrefix(strings.ToLower(banner), "nginx")
	switch app {
	case "login":
		st.login = genericLogin(p)
	case "wordpress":
		wordpressApp(st, p, cfg["app_version"])
	case "phpmyadmin":
		phpMyAdminApp(st, p, cfg["app_version"])
	case "tomcat":
		st.static = tomcatApp(st, p, cfg["app_version"])
	case "jenkins":
		jenkinsApp(st, p, cfg["app_version"])
	default:
		st.static = defaultPage(app, p, banner)
	}
	st.addCommonRoutes(p, isNginx)
	switch cfg["auth"] {
	case "basic", "digest":
		realm := cfg["auth_realm"]
		if realm == "" {
			realm = "Restricted"
		}
		st.auth = &challenge{scheme: cfg["auth"], realm: realm}
	}
	host := defaultServerName(p)
	seed := p.Rand("http-server-start").IntN(1 << 16)
	return &server{flavor: newFlavor(banner, host, seed), site: st, defaultHost: host, port: 80}, nil
}

// defaultServerName is the name httpd reports when no ServerName is set: on
// Debian and Ubuntu the host name resolves to 127.0.1.1 through /etc/hosts.
func defaultServerName(p *persona.Persona) string {
	if p.Distro.Family == "debian" {
		return "127.0.1.1"
	}
	return p.Hostname
}
