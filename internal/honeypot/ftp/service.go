// Package ftp is the FTP honeypot of a decky: a vsftpd (or ProFTPD) look-
// alike over the decky's fake filesystem (internal/honeypot/shell), the
// same one its shell shows, with the operator's file drops. Every USER/PASS
// pair is captured; the persona's weak passwords let an attacker in, to
// list, fetch and upload files. Uploads are kept as inert artifacts and
// then show in the session's listings; nothing changes on the host.
//
// Active-mode data connections go only to the control connection's own
// address and never to a privileged port, so the decky cannot be used for
// FTP bounce scans; passive listeners accept only that address too.
//
// Its edges: the persona says who the machine is; the framework
// (internal/honeypot) owns the accept loop, limits and artifacts; this
// package owns the FTP wire behaviour.
package ftp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/decnet-go/decnet/internal/honeypot"
)

// Service is the ftp honeypot.
type Service struct{}

// New returns the ftp service.
func New() honeypot.Service { return Service{} }

// Name is the registry slug "ftp".
func (Service) Name() string { return "ftp" }

// Ports is 21/tcp.
func (Service) Ports() []honeypot.Port { return []honeypot.Port{{Number: 21, Proto: "tcp"}} }

// Schema lists the keys an operator may set.
func (Service) Schema() honeypot.Schema {
	return honeypot.Schema{
		{Key: "flavor", Type: "enum", Enum: []string{"vsftpd", "proftpd"}, Default: "vsftpd",
			Help: "which daemon to imitate: wording, listing format, banner"},
		{Key: "banner", Type: "string",
			Help: `greeting after "220 "; default: the flavor's, e.g. "(vsFTPd 3.0.3)" on Debian 12`},
		{Key: "anonymous", Type: "bool", Default: "false",
			Help: "accept the ftp/anonymous login (read-only, locked into /srv/ftp), as anonymous_enable=YES"},
		{Key: "max_upload", Type: "int", Default: strconv.Itoa(honeypot.DefaultMaxArtifact),
			Help: "bytes kept of one upload; a longer upload is cut off with the daemon's disk-full answer"},
		{Key: "pasv_min_port", Type: "int", Help: "lowest passive-mode port (default: any ephemeral port)"},
		{Key: "pasv_max_port", Type: "int", Help: "highest passive-mode port"},
	}
}

// limits bound one control connection, as vsftpd's idle_session_timeout
// (300 s) and a generous cap on what a session may send.
var limits = honeypot.Limits{
	IdleTimeout:  300 * time.Second,
	MaxDuration:  2 * time.Hour,
	MaxBytes:     1 << 20, // commands only: uploads travel on data connections
	MaxPerSource: 8,
	MaxConns:     512,
}

// Timeouts of data connections (vsftpd: accept_timeout, connect_timeout,
// data_connection_timeout). Tests shorten them.
var (
	acceptTimeout  = 60 * time.Second
	connectTimeout = 60 * time.Second
	dataTimeout    = 300 * time.Second
)

// config is the checked configuration of one decky's ftp service.
type config struct {
	fl        *flavor
	banner    string // empty: the flavor's greeting for the connection
	anonymous bool
	maxUpload int64
	pasvMin   int
	pasvMax   int
}

func parseConfig(s Service, cfg map[string]string) (config, error) {
	if err := s.Schema().Validate(cfg); err != nil {
		return config{}, err
	}
	c := config{fl: &vsftpd, maxUpload: honeypot.DefaultMaxArtifact}
	if cfg["flavor"] == "proftpd" {
		c.fl = &proftpd
	}
	if b, ok := cfg["banner"]; ok {
		c.banner = strings.TrimSpace(b)
		if c.banner == "" || strings.ContainsAny(c.banner, "\r\n") || len(c.banner) > 200 {
			return config{}, errors.New(`key "banner": must be one line of 1–200 characters (leave it out for the flavor's greeting)`)
		}
	}
	if v, ok := cfg["anonymous"]; ok {
		c.anonymous, _ = strconv.ParseBool(v)
	}
	if v, ok := cfg["max_upload"]; ok {
		n, _ := strconv.ParseInt(v, 10, 64)
		if n <= 0 {
			return config{}, fmt.Errorf("key \"max_upload\": %d is not a positive number of bytes", n)
		}
		c.maxUpload = n
	}
	minS, hasMin := cfg["pasv_min_port"]
	maxS, hasMax := cfg["pasv_max_port"]
	if hasMin != hasMax {
		return config{}, errors.New(`keys "pasv_min_port" and "pasv_max_port" go together`)
	}
	if hasMin {
		c.pasvMin, _ = strconv.Atoi(minS)
		c.pasvMax, _ = strconv.Atoi(maxS)
		if c.pasvMin < 1024 || c.pasvMax > 65535 || c.pasvMin > c.pasvMax {
			return config{}, fmt.Errorf("keys \"pasv_min_port\"/\"pasv_max_port\": %d–%d is not a range within 1024–65535", c.pasvMin, c.pasvMax)
		}
	}
	return c, nil
}

// Serve answers FTP on l until ctx ends.
func (s Service) Serve(ctx context.Context, l net.Listener, env honeypot.Env) error {
	if env.Persona == nil {
		return errors.New("ftp: env.Persona is nil")
	}
	if env.StateDir == "" {
		return errors.New("ftp: env.StateDir is empty (uploads are kept in its artifacts folder)")
	}
	cfg, err := parseConfig(s, env.Config)
	if err != nil {
		return fmt.Errorf("ftp config: %w", err)
	}
	srv := &server{env: env, cfg: cfg}
	return honeypot.Serve(ctx, l, env, "ftp", limits, srv.handle)
}
