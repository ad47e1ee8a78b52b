package mailbox

import (
	"crypto/tls"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/honeypot"
	"github.com/decnet-go/decnet/internal/persona"
)

// Schema is the configuration both Dovecot services (pop3, imap) take;
// starttls names the command that upgrades ("STLS", "STARTTLS") and
// greetingAfter what the greeting follows ("+OK ", "the capability code").
func Schema(starttls, greetingAfter string) honeypot.Schema {
	return honeypot.Schema{
		{Key: "banner", Type: "string",
			Help: `text of the greeting after ` + greetingAfter + `, e.g. "Dovecot ready."; default: the persona's Dovecot package greeting`},
		{Key: "starttls", Type: "bool", Default: "true",
			Help: "offer " + starttls + " with the decky's self-signed certificate (kept in the service's state directory)"},
		{Key: "auth_fail_delay_ms", Type: "int", Default: "2000",
			Help: "pause before a failed login is answered, like Dovecot's auth_failure_delay"},
	}
}

// Config is what the operator chose for a Dovecot service, with the
// persona's defaults filled in.
type Config struct {
	Greeting  string
	TLS       *tls.Config // nil: the upgrade is refused
	FailDelay time.Duration
}

// Configure validates env.Config against schema and resolves it.
func Configure(env honeypot.Env, schema honeypot.Schema) (Config, error) {
	if env.Persona == nil {
		return Config{}, errors.New("no persona")
	}
	if err := schema.Validate(env.Config); err != nil {
		return Config{}, err
	}
	cfg := Config{Greeting: Greeting(env.Persona), FailDelay: 2 * time.Second}
	if v, ok := env.Config["banner"]; ok {
		v = strings.TrimSpace(v)
		if v == "" || strings.ContainsAny(v, "\r\n") || len(v) > 200 {
			return Config{}, errors.New(`key "banner": must be one line of 1 to 200 characters (leave it out for the persona's greeting)`)
		}
		cfg.Greeting = v
	}
	if v, ok := env.Config["auth_fail_delay_ms"]; ok {
		ms, _ := strconv.Atoi(v) // Validate checked it
		if ms < 0 || ms > 60000 {
			return Config{}, fmt.Errorf(`key "auth_fail_delay_ms": %d is outside 0-60000`, ms)
		}
		cfg.FailDelay = time.Duration(ms) * time.Millisecond
	}
	if on, ok := env.Config["starttls"]; !ok || mustBool(on) {
		tc, err := TLSConfig(env.StateDir, env.Persona)
		if err != nil {
			return Config{}, err
		}
		cfg.TLS = tc
	}
	return cfg, nil
}

// mustBool reads a bool the schema already validated.
func mustBool(s string) bool {
	b, _ := strconv.ParseBool(s)
	return b
}

// Login checks a mail login against the persona — Dovecot refuses to act
// as another user (authz) without a master login — and emits its
// login_attempt event on c. It returns the account when the login is
// accepted.
func Login(c *honeypot.Conn, p *persona.Persona, method, user, authz string, secret []byte, tlsOn bool) (persona.Login, bool) {
	acct, accepted := p.Accepts(user, string(secret))
	if accepted && authz != "" && authz != user {
		accepted = false
	}
	outcome := event.OutcomeFailure
	if accepted {
		outcome = event.OutcomeSuccess
	}
	e := c.Event(event.TypeLoginAttempt)
	e.Fields = map[string]any{"username": user, "method": method, "tls": tlsOn}
	if authz != "" {
		e.Fields["authzid"] = authz
	}
	e.Credential = event.NewCredential(user, event.SecretPlaintext, secret, outcome)
	c.Emit(e)
	return acct, accepted
}
