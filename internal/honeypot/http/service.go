// Package http is the http honeypot: a web server that looks like the
// decky's Apache httpd or nginx, serves a fake application (by default an
// admin login form whose look is drawn from the persona) and turns every
// request into a "request" event, with any credential it carries.
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
	"time"

	"github.com/decnet-go/decnet/internal/honeypot"
	"github.com/decnet-go/decnet/internal/persona"
)

// Service is the http honeypot service.
type Service struct{}

// New returns the http service.
func New() honeypot.Service { return Service{} }

// Name is the registry slug.
func (Service) Name() string { return "http" }

// Ports is the default listening port.
func (Service) Ports() []honeypot.Port { return []honeypot.Port{{Number: 80, Proto: "tcp"}} }

// Fake applications an operator may choose.
var fakeApps = []string{"none", "login", "apache_default", "nginx_default", "wordpress", "phpmyadmin"}

// Schema lists the operator's keys.
func (Service) Schema() honeypot.Schema {
	return honeypot.Schema{
		{Key: "server_header", Type: "string", Help: "Server header; picks Apache or nginx behaviour (default: the persona's server)"},
		{Key: "response_code", Type: "int", Default: "200", Help: "status of the application's pages"},
		{Key: "fake_app", Type: "enum", Enum: fakeApps, Default: "login",
			Help: "what the site serves: a login form, a stock server page (none = the server's own) or a known application"},
		{Key: "custom_body", Type: "string", Help: "HTML served at / instead of the application's page"},
	}
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
		return fmt.Errorf("http service on %s: %w", env.Decky.Name, err)
	}
	return honeypot.Serve(ctx, l, env, "http", limits, s.handle)
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
	st := &site{status: status}
	if v := cfg["custom_body"]; v != "" {
		st.customBody = []byte(v)
	}
	switch app {
	case "login":
		st.login = genericLogin(p)
	case "wordpress":
		st.login = wordpressLogin(p)
	case "phpmyadmin":
		st.login = phpMyAdminLogin(p)
	default:
		st.static = defaultPage(app, p, banner)
	}
	host := defaultServerName(p)
	seed := p.Rand("http-server-start").IntN(1 << 16)
	return &server{flavor: newFlavor(banner, host, seed), site: st, defaultHost: host}, nil
}

// defaultServerName is the name httpd reports when no ServerName is set: on
// Debian and Ubuntu the host name resolves to 127.0.1.1 through /etc/hosts.
func defaultServerName(p *persona.Persona) string {
	if p.Distro.Family == "debian" {
		return "127.0.1.1"
	}
	return p.Hostname
}
