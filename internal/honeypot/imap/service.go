// Package imap is the IMAP honeypot of a decky: a Dovecot look-alike
// (IMAP4rev1 with the capability lists, response codes, error wording and
// limits of Dovecot 2.3's imap-login and imap processes) that records every
// LOGIN and AUTHENTICATE PLAIN, lets in an attacker who guessed one of the
// persona's weak passwords, and then serves the persona's bait mailbox
// (internal/honeypot/mailbox) through SELECT, FETCH, SEARCH and STATUS.
// STARTTLS upgrades to real TLS with the decky's self-signed certificate.
//
// Its edges: the persona says who the machine is and which logins work; the
// framework (internal/honeypot) owns the accept loop and connection limits;
// the mailbox package owns the messages. This package owns the IMAP wire
// behaviour. Nothing an attacker does outlives the session: flags, stores
// and created folders are forgotten when the connection ends.
package imap

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/decnet-go/decnet/internal/honeypot"
	"github.com/decnet-go/decnet/internal/honeypot/mailbox"
)

// Service is the imap honeypot.
type Service struct{}

// New returns the imap service.
func New() honeypot.Service { return Service{} }

// Name is the registry slug "imap".
func (Service) Name() string { return "imap" }

// Ports is 143/tcp.
func (Service) Ports() []honeypot.Port { return []honeypot.Port{{Number: 143, Proto: "tcp"}} }

// Schema lists the keys an operator may set.
func (Service) Schema() honeypot.Schema { return mailbox.Schema("STARTTLS", `the capability code`) }

// limits bound one IMAP connection: Dovecot's login process cuts idle
// clients after 3 minutes; IDLE clients in the mail process stay longer.
var limits = honeypot.Limits{
	IdleTimeout:  30 * time.Minute,
	MaxDuration:  2 * time.Hour,
	MaxBytes:     8 << 20,
	MaxPerSource: 10, // Dovecot's mail_max_userip_connections
	MaxConns:     1024,
}

// loginIdle is how long the login process waits for a command.
const loginIdle = 3 * time.Minute

// Serve answers IMAP on l until ctx ends.
func (s Service) Serve(ctx context.Context, l net.Listener, env honeypot.Env) error {
	cfg, err := s.configure(env)
	if err != nil {
		return fmt.Errorf("imap service on %s: %w", env.Decky.Name, err)
	}
	return honeypot.Serve(ctx, l, env, "imap", limits, func(ctx context.Context, c *honeypot.Conn) {
		newSession(c, env, cfg).run(ctx)
	})
}

func (s Service) configure(env honeypot.Env) (mailbox.Config, error) {
	return mailbox.Configure(env, s.Schema())
}
