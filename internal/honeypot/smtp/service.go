// Package smtp is the smtp and smtp_relay honeypots of a decky: an ESMTP
// server that answers like the Postfix smtpd of the persona's distro.
//
// The smtp service is a mail server that refuses to relay: it captures AUTH
// PLAIN and LOGIN credentials (and always refuses them), takes mail only for
// the decky's own users and rejects every other recipient as Postfix does
// ("Relay access denied"). The smtp_relay service is open-relay bait: it
// accepts any login and any recipient, and keeps every message as an .eml
// artifact with a summary of its headers and attachments.
//
// The protocol is written by hand — command parsing, reply wording, error
// counting, pipelining, BDAT, the STARTTLS upgrade — so every byte on the
// wire is Postfix's. The package turns attacker bytes into events; it never
// imports the store, the bus or the API.
package smtp

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/decnet-go/decnet/internal/honeypot"
	"github.com/decnet-go/decnet/internal/honeypot/tlsfp"
	"github.com/decnet-go/decnet/internal/persona"
)

// Service is the smtp or smtp_relay honeypot; New and NewRelay make them.
type Service struct {
	relay bool
}

// New returns the smtp service: a Postfix that refuses to relay.
func New() honeypot.Service { return &Service{} }

// NewRelay returns the smtp_relay service: a Postfix that relays for anyone.
func NewRelay() honeypot.Service { return &Service{relay: true} }

// Name is the registry slug, "smtp" or "smtp_relay".
func (s *Service) Name() string {
	if s.relay {
		return "smtp_relay"
	}
	return "smtp"
}

// Ports is 25/tcp for both services.
func (*Service) Ports() []honeypot.Port { return []honeypot.Port{{Number: 25, Proto: "tcp"}} }

// Postfix's defaults that the configuration may change.
const (
	// defaultMaxSize is Postfix's message_size_limit.
	defaultMaxSize = 10240000
	// maxMaxSize is the most bytes of one message the decky keeps (10 MiB).
	maxMaxSize = 10 << 20
	minMaxSize = 1024
)

// Schema lists the keys an operator may set.
func (*Service) Schema() honeypot.Schema {
	return honeypot.Schema{
		{Key: "banner", Type: "string",
			Help: `greeting after "220 ", e.g. "mail.example.com ESMTP Postfix (Ubuntu)"; default: the persona's hostname and its distro's Postfix banner`},
		{Key: "hostname", Type: "string",
			Help: "myhostname: the name in the greeting, EHLO reply and TLS certificate; default: the persona's hostname"},
		{Key: "mail_domain", Type: "string",
			Help: "an extra domain the server takes mail for (mydestination), e.g. example.com"},
		{Key: "max_message_size", Type: "int", Default: strconv.Itoa(defaultMaxSize),
			Help: "message_size_limit in bytes, advertised as SIZE (1024 to 10485760)"},
		{Key: "starttls", Type: "bool", Default: "true",
			Help: "offer STARTTLS with a self-signed certificate for the hostname"},
	}
}

// limits bound one SMTP connection. IdleTimeout is Postfix's smtpd_timeout;
// MaxBytes allows a few full-size messages per connection.
var limits = honeypot.Limits{
	IdleTimeout:  300 * time.Second,
	MaxDuration:  30 * time.Minute,
	MaxBytes:     64 << 20,
	MaxPerSource: 16,
	MaxConns:     1024,
}

// Serve answers SMTP on l until ctx ends.
func (s *Service) Serve(ctx context.Context, l net.Listener, env honeypot.Env) error {
	srv, err := s.newServer(env)
	if err != nil {
		return fmt.Errorf("%s service on %s: %w", s.Name(), env.Decky.Name, err)
	}
	return honeypot.Serve(ctx, l, env, s.Name(), limits, srv.handle)
}

// newServer builds the server of one decky from its persona and config.
func (s *Service) newServer(env honeypot.Env) (*server, error) {
	p := env.Persona
	if p == nil {
		return nil, fmt.Errorf("no persona")
	}
	cfg := env.Config
	if err := s.Schema().Validate(cfg); err != nil {
		return nil, err
	}
	srv := &server{
		relay:      s.relay,
		hostname:   p.Hostname,
		maxSize:    defaultMaxSize,
		users:      localUsers(p),
		artifacts:  env.Artifacts(),
		errorSleep: time.Second,
		queueIDs:   newQueueIDs(p),
		cramSeq:    100000 + p.Rand("smtp-cram").Uint64N(800000),
	}
	if v := strings.TrimSpace(cfg["hostname"]); v != "" {
		if !validDomain(v) {
			return nil, fmt.Errorf("key \"hostname\": %q is not a host name", v)
		}
		srv.hostname = v
	}
	srv.greeting = srv.hostname + " ESMTP Postfix" + bannerFlavour(p.Distro)
	if v := cfg["banner"]; v != "" {
		if strings.ContainsAny(v, "\r\n") {
			return nil, fmt.Errorf("key \"banner\": must be one line")
		}
		srv.greeting = v
	}
	if v := cfg["max_message_size"]; v != "" {
		n, _ := strconv.Atoi(v) // Validate checked it is a number
		if n < minMaxSize || n > maxMaxSize {
			return nil, fmt.Errorf("key \"max_message_size\": %d is not between %d and %d", n, minMaxSize, maxMaxSize)
		}
		srv.maxSize = int64(n)
	}
	srv.artifacts.MaxSize = srv.maxSize
	// mydestination as Debian's postinst writes it: $myhostname, the mail
	// name, localhost.localdomain, localhost.
	srv.domains = map[string]bool{strings.ToLower(srv.hostname): true, "localhost.localdomain": true, "localhost": true}
	if v := strings.TrimSpace(cfg["mail_domain"]); v != "" {
		if !validDomain(v) {
			return nil, fmt.Errorf("key \"mail_domain\": %q is not a domain name", v)
		}
		srv.domains[strings.ToLower(strings.TrimSuffix(v, "."))] = true
	}
	if v := cfg["starttls"]; v == "" || mustBool(v) {
		cert, err := tlsfp.PersonaCertificate(env.StateDir, srv.hostname, env.Persona.InstallTime())
		if err != nil {
			return nil, fmt.Errorf("smtp STARTTLS: %w", err)
		}
		// TLS 1.0 and later, as Debian's Postfix allows (smtpd_tls_protocols
		// = !SSLv2, !SSLv3).
		srv.tls = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS10}
	}
	return srv, nil
}

func mustBool(v string) bool {
	b, _ := strconv.ParseBool(v) // Validate checked it
	return b
}

// bannerFlavour is what the distro's postfix package puts after "Postfix"
// in smtpd_banner: Debian's postinst writes "(Debian/GNU)", Ubuntu's
// "(Ubuntu)"; RHEL, Alpine and Arch keep upstream's bare banner.
func bannerFlavour(d persona.Distro) string {
	switch d.ID {
	case "ubuntu":
		return " (Ubuntu)"
	case "debian", "kali":
		return " (Debian/GNU)"
	}
	return ""
}

// localUsers are the names the local recipient table knows: the accounts of
// the persona's /etc/passwd and the postmaster alias of /etc/aliases.
func localUsers(p *persona.Persona) map[string]bool {
	users := map[string]bool{"postmaster": true}
	if f, ok := p.Files()["/etc/passwd"]; ok {
		for line := range strings.Lines(f.Content) {
			if name, _, ok := strings.Cut(line, ":"); ok && name != "" {
				users[strings.ToLower(name)] = true
			}
		}
	}
	for _, l := range p.Logins {
		users[strings.ToLower(l.User)] = true
	}
	return users
}

// validDomain reports whether s looks like a host name: dot-separated labels
// of letters, digits and dashes.
func validDomain(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}
