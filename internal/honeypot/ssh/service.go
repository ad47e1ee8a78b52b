// Package ssh is the SSH honeypot of a decky: an OpenSSH look-alike built on
// golang.org/x/crypto/ssh that captures every password and keyboard-
// interactive login, refuses public keys (noting their fingerprints), and
// lets an attacker who guessed the persona's weak password into an emulated
// bash over a fake filesystem. Every interaction becomes an event; nothing is
// ever executed on the host.
//
// Its edges: the persona (internal/persona) says who the machine is; the
// framework (internal/honeypot) owns the accept loop and limits; this package
// owns the SSH wire behaviour, host keys and the shell emulation.
package ssh

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/decnet-go/decnet/internal/honeypot"
)

// Service is the ssh honeypot. The zero value is not usable; call New.
type Service struct {
	limits honeypot.Limits
}

// New returns the ssh service.
func New() honeypot.Service {
	return &Service{limits: honeypot.DefaultLimits}
}

// Name is the registry slug "ssh".
func (*Service) Name() string { return "ssh" }

// Ports is 22/tcp.
func (*Service) Ports() []honeypot.Port { return []honeypot.Port{{Number: 22, Proto: "tcp"}} }

// Schema lists the keys an operator may set: the identification string and
// whether the shell's download tools really fetch.
func (*Service) Schema() honeypot.Schema {
	return honeypot.Schema{{
		Key:  "banner",
		Type: "string",
		Help: `software version after "SSH-2.0-", e.g. "OpenSSH_8.4p1 Debian-5+deb11u3"; default: the persona's OpenSSH build`,
	}, {
		Key:     "downloads",
		Type:    "bool",
		Default: "false",
		Help:    "let wget and curl in the shell fetch the URLs attackers give them (from public addresses only) and keep the payloads as artifacts; when false they fail as on a host without a route out",
	}, {
		Key:     "download_max_bytes",
		Type:    "int",
		Default: "10485760",
		Help:    "bytes kept of one fetched payload (at most 52428800)",
	}}
}

// Serve answers SSH connections on l until ctx ends.
func (s *Service) Serve(ctx context.Context, l net.Listener, env honeypot.Env) error {
	if env.Persona == nil {
		return errors.New("ssh: env.Persona is nil")
	}
	if err := s.Schema().Validate(env.Config); err != nil {
		return fmt.Errorf("ssh config: %w", err)
	}
	version, err := serverVersion(env)
	if err != nil {
		return err
	}
	keys, err := loadHostKeys(env.StateDir)
	if err != nil {
		return err
	}
	srv, err := newServer(env, version, keys)
	if err != nil {
		return err
	}
	return honeypot.Serve(ctx, l, env, "ssh", s.limits, srv.handle)
}

// serverVersion is the identification line the server sends, from the
// "banner" key or the persona.
func serverVersion(env honeypot.Env) (string, error) {
	v := env.Persona.SSHVersion
	if b, ok := env.Config["banner"]; ok {
		v = strings.TrimPrefix(strings.TrimSpace(b), "SSH-2.0-")
		if v == "" {
			return "", errors.New(`ssh config: key "banner" is empty (leave it out to use the persona's OpenSSH version)`)
		}
	}
	// RFC 4253 §4.2: printable US-ASCII, no spaces before the comment, at most 255 bytes in all.
	for _, c := range v {
		if c < 0x20 || c > 0x7e {
			return "", fmt.Errorf("ssh config: key \"banner\": %q holds a control or non-ASCII character", v)
		}
	}
	if len(v) > 240 {
		return "", fmt.Errorf("ssh config: key \"banner\" is %d bytes long (at most 240)", len(v))
	}
	return "SSH-2.0-" + v, nil
}
