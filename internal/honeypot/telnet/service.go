package telnet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"

	"github.com/decnet-go/decnet/internal/honeypot"
)

// maxBanner bounds the operator's banner.
const maxBanner = 2048

// Service is the telnet honeypot. The zero value is not usable; call New.
type Service struct {
	limits honeypot.Limits
}

// New returns the telnet service.
func New() honeypot.Service {
	return &Service{limits: honeypot.DefaultLimits}
}

// Name is the registry slug "telnet".
func (*Service) Name() string { return "telnet" }

// Ports is 23/tcp.
func (*Service) Ports() []honeypot.Port { return []honeypot.Port{{Number: 23, Proto: "tcp"}} }

// Schema lists the keys an operator may set.
func (*Service) Schema() honeypot.Schema {
	return honeypot.Schema{
		{
			Key: "flavor", Type: "enum", Enum: []string{"debian", "busybox"},
			Help: "telnetd to imitate: debian (inetutils-telnetd and shadow login) or busybox " +
				"(BusyBox telnetd and login, as on routers and cameras); default: busybox on an Alpine persona, debian otherwise",
		},
		{
			Key: "banner", Type: "string",
			Help: `text shown before the first login prompt, like /etc/issue.net ("\n" for a new line); ` +
				"default: the host line of inetutils-telnetd (debian) or the persona's issue.net (busybox)",
		},
	}
}

// server holds what every connection of one decky shares.
type server struct {
	env    honeypot.Env
	flavor flavor
	banner string
	active atomic.Int32 // open sessions, for the pts number
}

// Serve answers telnet connections on l until ctx ends.
func (s *Service) Serve(ctx context.Context, l net.Listener, env honeypot.Env) error {
	srv, err := newServer(env, s.Schema())
	if err != nil {
		return err
	}
	return honeypot.Serve(ctx, l, env, "telnet", s.limits, srv.handle)
}

func newServer(env honeypot.Env, schema honeypot.Schema) (*server, error) {
	if env.Persona == nil {
		return nil, errors.New("telnet: env.Persona is nil")
	}
	if err := schema.Validate(env.Config); err != nil {
		return nil, fmt.Errorf("telnet config: %w", err)
	}
	srv := &server{env: env, flavor: defaultFlavor(env.Persona)}
	if v, ok := env.Config["flavor"]; ok {
		srv.flavor, _ = parseFlavor(v) // the schema's enum has checked it
	}
	if b, ok := env.Config["banner"]; ok {
		b = strings.ReplaceAll(b, `\n`, "\n")
		if len(b) > maxBanner {
			return nil, fmt.Errorf("telnet config: key \"banner\" is %d bytes long (at most %d)", len(b), maxBanner)
		}
		for _, r := range b {
			if r < 0x20 && r != '\n' && r != '\t' || r == 0x7f {
				return nil, fmt.Errorf("telnet config: key \"banner\": %q holds a control character", b)
			}
		}
		srv.banner = b
	}
	return srv, nil
}

// handle serves one accepted connection until it closes.
func (srv *server) handle(ctx context.Context, c *honeypot.Conn) {
	c.EmitConnect()
	defer c.EmitDisconnect()
	pts := int(srv.active.Add(1)) - 1
	defer srv.active.Add(-1)
	log := srv.env.Log
	if log == nil {
		log = slog.Default()
	}
	t := newConn(c, srv.flavor, log.With("decky", srv.env.Decky.Name, "service", "telnet"))
	defer t.close()
	s := &session{srv: srv, t: t, ctx: ctx, p: srv.env.Persona, pts: pts}
	s.run()
}
