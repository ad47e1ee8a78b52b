// Package pop3 is the POP3 honeypot of a decky: a Dovecot look-alike (the
// wording, capability list, error codes and limits of Dovecot 2.3's
// pop3-login and pop3 processes) that records every USER/PASS and AUTH PLAIN
// login, lets in an attacker who guessed one of the persona's weak
// passwords, and then serves the persona's bait mailbox
// (internal/honeypot/mailbox). STLS upgrades to real TLS with the decky's
// self-signed certificate.
//
// Its edges: the persona says who the machine is and which logins work; the
// framework (internal/honeypot) owns the accept loop and connection limits;
// the mailbox package owns the messages. This package owns the POP3 wire
// behaviour. Nothing an attacker does changes anything outside the session:
// DELE marks are forgotten when the connection ends.
package pop3

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/decnet-go/decnet/internal/honeypot"
	"github.com/decnet-go/decnet/internal/honeypot/mailbox"
)

// Service is the pop3 honeypot.
type Service struct{}

// New returns the pop3 service.
func New() honeypot.Service { return Service{} }

// Name is the registry slug "pop3".
func (Service) Name() string { return "pop3" }

// Ports is 110/tcp.
func (Service) Ports() []honeypot.Port { return []honeypot.Port{{Number: 110, Proto: "tcp"}} }

// Schema lists the keys an operator may set.
func (Service) Schema() honeypot.Schema {
	return honeypot.Schema{
		{Key: "banner", Type: "string",
			Help: `text of the greeting after "+OK ", e.g. "Dovecot ready."; default: the persona's Dovecot package greeting`},
		{Key: "starttls", Type: "bool", Default: "true",
			Help: "offer STLS with the decky's self-signed certificate (kept in the service's state directory)"},
		{Key: "auth_fail_delay_ms", Type: "int", Default: "2000",
			Help: "pause before a failed login is answered, like Dovecot's auth_failure_delay"},
	}
}

// limits bound one POP3 connection. Dovecot's login process cuts idle
// clients after 3 minutes; a mail session may stay much longer.
var limits = honeypot.Limits{
	IdleTimeout:  3 * time.Minute,
	MaxDuration:  30 * time.Minute,
	MaxBytes:     4 << 20,
	MaxPerSource: 10, // Dovecot's mail_max_userip_connections
	MaxConns:     1024,
}

// config is what the operator chose, with the persona's defaults filled in.
type config struct {
	greeting  string
	tls       *tls.Config // nil: STLS is refused
	failDelay time.Duration
}

// Serve answers POP3 on l until ctx ends.
func (s Service) Serve(ctx context.Context, l net.Listener, env honeypot.Env) error {
	cfg, err := s.configure(env)
	if err != nil {
		return fmt.Errorf("pop3 service on %s: %w", env.Decky.Name, err)
	}
	return honeypot.Serve(ctx, l, env, "pop3", limits, func(ctx context.Context, c *honeypot.Conn) {
		newSession(c, env, cfg).run(ctx)
	})
}

func (s Service) configure(env honeypot.Env) (config, error) {
	if env.Persona == nil {
		return config{}, errors.New("no persona")
	}
	if err := s.Schema().Validate(env.Config); err != nil {
		return config{}, err
	}
	cfg := config{greeting: mailbox.Greeting(env.Persona), failDelay: 2 * time.Second}
	if v, ok := env.Config["banner"]; ok {
		v = strings.TrimSpace(v)
		if v == "" || strings.ContainsAny(v, "\r\n") || len(v) > 200 {
			return config{}, errors.New(`key "banner": must be one line of 1 to 200 characters (leave it out for the persona's greeting)`)
		}
		cfg.greeting = v
	}
	if v, ok := env.Config["auth_fail_delay_ms"]; ok {
		ms, _ := strconv.Atoi(v) // Validate checked it
		if ms < 0 || ms > 60000 {
			return config{}, fmt.Errorf(`key "auth_fail_delay_ms": %d is outside 0-60000`, ms)
		}
		cfg.failDelay = time.Duration(ms) * time.Millisecond
	}
	if on, ok := env.Config["starttls"]; !ok || mustBool(on) {
		tc, err := mailbox.TLSConfig(env.StateDir, env.Persona)
		if err != nil {
			return config{}, err
		}
		cfg.tls = tc
	}
	return cfg, nil
}

// mustBool reads a bool the schema already validated.
func mustBool(s string) bool {
	b, _ := strconv.ParseBool(s)
	return b
}
