// Package bus carries events between sensors and the pipeline over NATS.
//
// `decnet up` embeds nats-server with JetStream (file store in the data
// directory, no TCP listener unless asked); scale-out points every process at
// an external NATS cluster instead. Raw events go to one JetStream stream on
// events.>, consumed by durable consumers with explicit acknowledgement, so a
// crash or a database outage loses nothing. Derived notifications, published
// on core NATS by the workers, are kept by a second stream (DerivedStream)
// so that their consumers resume after a restart too.
package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/decnet-go/decnet/internal/event"
)

// StreamName is the JetStream stream holding raw events.
const StreamName = "EVENTS"

// Options configure the bus.
type Options struct {
	// URL of an external NATS server; empty embeds one.
	URL string
	// DataDir holds the embedded server's JetStream files.
	DataDir string
	// Listen, if set (host:port), opens a TCP listener on the embedded server
	// so other processes (sensors, tools) can connect.
	Listen string
	// Token, if set, is required of every client of the embedded server
	// (the deckies of the docker driver give it in their NATS URL:
	// nats://TOKEN@host:port). The control process's own connection is
	// in-process and passes it too.
	Token string
	// MaxBytes caps the event stream on disk (default 1 GiB); MaxAge drops
	// events older than this (default 7 days).
	MaxBytes int64
	MaxAge   time.Duration
	// DerivedMaxBytes caps the derived-notification stream (default 256
	// MiB); DerivedMaxAge drops notifications older than this (default 7
	// days). See DerivedStream.
	DerivedMaxBytes int64
	DerivedMaxAge   time.Duration
	Log             *slog.Logger
}

// Bus is a connection to NATS with JetStream, and the embedded server when
// there is one.
type Bus struct {
	srv *server.Server
	nc  *nats.Conn
	js  jetstream.JetStream
	log *slog.Logger
	// shared lets the process's consumers of the event stream decode each
	// message once.
	shared sharedDecodes
	// gates are the consumers others wait for (ConsumerOptions.After).
	gatesMu sync.Mutex
	gates   map[string]*gate
}

// Open starts (or connects to) NATS and makes sure the event stream exists.
func Open(ctx context.Context, o Options) (*Bus, error) {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	b := &Bus{log: o.Log}
	var copts []nats.Option
	url := o.URL
	if url == "" {
		srv, err := embedded(o)
		if err != nil {
			return nil, err
		}
		b.srv = srv
		url = srv.ClientURL()
		copts = append(copts, nats.InProcessServer(srv))
		if o.Token != "" {
			copts = append(copts, nats.Token(o.Token))
		}
	}
	copts = append(copts, nats.Name("decnet"), nats.MaxReconnects(-1),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				o.Log.Warn("bus disconnected", "err", err)
			}
		}))
	nc, err := nats.Connect(url, copts...)
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("bus: connect %s: %w", url, err)
	}
	b.nc = nc
	if b.js, err = jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096)); err != nil {
		b.Close()
		return nil, fmt.Errorf("bus: jetstream: %w", err)
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = 1 << 30
	}
	if o.MaxAge == 0 {
		o.MaxAge = 7 * 24 * time.Hour
	}
	_, err = b.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        StreamName,
		Description: "DECNET raw events",
		Subjects:    []string{event.SubjectAll},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		MaxBytes:    o.MaxBytes,
		MaxAge:      o.MaxAge,
		Discard:     jetstream.DiscardOld,
		Duplicates:  10 * time.Minute, // publish de-duplication window on the event id
	})
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("bus: create stream %s: %w", StreamName, err)
	}
	if err := b.ensureDerived(ctx, o); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

func embedded(o Options) (*server.Server, error) {
	if o.DataDir == "" {
		return nil, errors.New("bus: embedded server needs a data directory")
	}
	dir := filepath.Join(o.DataDir, "nats")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("bus: %w", err)
	}
	opts := &server.Options{
		ServerName:         "decnet",
		JetStream:          true,
		StoreDir:           dir,
		DontListen:         o.Listen == "",
		NoSigs:             true,
		NoLog:              true,
		JetStreamMaxMemory: 64 << 20,
		Authorization:      o.Token,
	}
	if o.Listen != "" {
		host, port, err := net.SplitHostPort(o.Listen)
		if err != nil {
			return nil, fmt.Errorf("bus: --nats-listen %q: %w", o.Listen, err)
		}
		opts.Host = host
		if opts.Port, err = strconv.Atoi(port); err != nil {
			return nil, fmt.Errorf("bus: --nats-listen %q: bad port", o.Listen)
		}
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("bus: embedded nats: %w", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(30 * time.Second) {
		srv.Shutdown()
		return nil, errors.New("bus: embedded nats did not start within 30s")
	}
	return srv, nil
}

// ListenAddr is the TCP address of the embedded server, empty when it has no
// listener or NATS is external.
func (b *Bus) ListenAddr() string {
	if b.srv == nil {
		return ""
	}
	if a := b.srv.Addr(); a != nil {
		return a.String()
	}
	return ""
}

// Conn is the NATS connection, for derived (core NATS) notifications.
func (b *Bus) Conn() *nats.Conn { return b.nc }

// Ping checks that NATS answers.
func (b *Bus) Ping(ctx context.Context) error {
	if b.nc == nil || !b.nc.IsConnected() {
		return errors.New("bus: not connected")
	}
	_, err := b.js.Stream(ctx, StreamName)
	return err
}

// Close drains the connection (in-flight acks and publishes complete) and
// stops the embedded server.
func (b *Bus) Close() {
	if b.nc != nil {
		if err := b.nc.Drain(); err == nil {
			for i := 0; i < 100 && !b.nc.IsClosed(); i++ {
				time.Sleep(20 * time.Millisecond)
			}
		}
		b.nc.Close()
	}
	if b.srv != nil {
		b.srv.Shutdown()
		b.srv.WaitForShutdown()
	}
}
