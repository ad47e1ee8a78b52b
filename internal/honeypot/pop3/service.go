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
	"fmt"
	"net"
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
func (Service) Schema() honeypot.Schema { return mailbox.Schema("STLS", `"+OK "`) }

// limits bound one POP3 connection. Dovecot's login process cuts idle
// clients after 3 minutes; a mail session may stay much longer.
var limits = honeypot.Limits{
	IdleTimeout:  3 * time.Minute,
	MaxDuration:  30 * time.Minute,
	MaxBytes:     4 << 20,
	MaxPerSource: 10, // Dovecot's mail_max_userip_connections
	MaxConns:     1024,
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

func (s Service) configure(env honeypot.Env) (mailbox.Config, error) {
	return mailbox.Configure(env, s.Schema())
}
