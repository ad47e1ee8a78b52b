// Package tftp is the TFTP honeypot of a decky: a tftpd-hpa look-alike
// (RFC 1350 with the blksize, tsize and timeout options of RFC 2347–2349)
// serving the decky's fake filesystem under its tftp root — seeded bait
// such as a switch configuration backup and a PXE menu, plus the
// operator's drops. Every RRQ and WRQ becomes an event; written files are
// kept as inert artifacts.
//
// Like tftpd-hpa it answers each request from a new ephemeral socket. It is
// careful never to be a reflector: a source that has not yet acknowledged
// anything gets one reply and at most one retransmission, requests are
// rate-limited per source, and transfers are capped in number and size.
//
// Its edges: the persona says who the machine is; the framework
// (internal/honeypot) gives artifacts and events; this package owns the
// TFTP wire behaviour.
package tftp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"path"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/honeypot"
	"github.com/decnet-go/decnet/internal/honeypot/shell"
)

// Service is the tftp honeypot.
type Service struct{}

// New returns the tftp service.
func New() honeypot.Service { return Service{} }

// Name is the registry slug "tftp".
func (Service) Name() string { return "tftp" }

// Ports is 69/udp.
func (Service) Ports() []honeypot.Port { return []honeypot.Port{{Number: 69, Proto: "udp"}} }

// defaultMaxUpload is the most kept of one WRQ: what 65535 blocks of 512
// bytes carry, the classic TFTP limit.
const defaultMaxUpload = 65535 * 512

// Schema lists the keys an operator may set.
func (Service) Schema() honeypot.Schema {
	return honeypot.Schema{
		{Key: "root", Type: "string", Default: "/srv/tftp",
			Help: "directory of the fake filesystem served, as tftpd-hpa --secure's (Debian's TFTP_DIRECTORY)"},
		{Key: "create", Type: "bool", Default: "true",
			Help: "accept writes of new files, as tftpd-hpa --create; off, a WRQ of a new file gets \"File not found\""},
		{Key: "bait", Type: "bool", Default: "true",
			Help: "seed the root with files drawn from the persona (a switch config backup, a PXE menu)"},
		{Key: "max_upload", Type: "int", Default: strconv.Itoa(defaultMaxUpload),
			Help: "bytes accepted of one WRQ; more gets \"Disk full or allocation exceeded\""},
	}
}

// Serve is a no-op wait: tftp has no TCP port.
func (Service) Serve(ctx context.Context, _ net.Listener, _ honeypot.Env) error {
	return errors.New("tftp: no tcp port (serve it with ServePacket)")
}

// Bounds of the service. Tests shorten the timeouts.
var (
	rexmt         = time.Second // first retransmission timeout (tftpd-hpa's default)
	maxTransfers  = 64          // concurrent transfers of the service
	perSource     = 8           // concurrent transfers of one source
	maxViews      = 256         // sources whose writes are remembered
	maxBlksize    = 65464       // tftpd-hpa's MAX_SEGSIZE
	rateBurst     = 10.0        // requests a source may send at once…
	ratePerSecond = 2.0         // …and per second after that
)

// config is the checked configuration.
type config struct {
	root      string
	create    bool
	bait      bool
	maxUpload int64
}

func parseConfig(s Service, cfg map[string]string) (config, error) {
	if err := s.Schema().Validate(cfg); err != nil {
		return config{}, err
	}
	c := config{root: "/srv/tftp", create: true, bait: true, maxUpload: defaultMaxUpload}
	if v, ok := cfg["root"]; ok {
		if !strings.HasPrefix(v, "/") || path.Clean(v) != v {
			return config{}, fmt.Errorf("key \"root\": %q is not an absolute, clean path", v)
		}
		c.root = v
	}
	if v, ok := cfg["create"]; ok {
		c.create, _ = strconv.ParseBool(v)
	}
	if v, ok := cfg["bait"]; ok {
		c.bait, _ = strconv.ParseBool(v)
	}
	if v, ok := cfg["max_upload"]; ok {
		n, _ := strconv.ParseInt(v, 10, 64)
		if n <= 0 {
			return config{}, fmt.Errorf("key \"max_upload\": %d is not a positive number of bytes", n)
		}
		c.maxUpload = n
	}
	return c, nil
}

// server is the state of one decky's tftp service.
type server struct {
	env   honeypot.Env
	cfg   config
	local netip.AddrPort // the service's own address
	bait  map[string][]byte

	mu      sync.Mutex
	running int
	bySrc   map[netip.Addr]int
	views   map[netip.Addr]*view
	buckets map[netip.Addr]*bucket
}

// view is one source's copy-on-write filesystem: what it wrote, it can
// read back, and nobody else sees it.
type view struct {
	fs   *shell.FileSystem
	used time.Time
}

// bucket is a token bucket of one source's requests.
type bucket struct {
	tokens float64
	at     time.Time
}

// ServePacket answers datagrams on pc until ctx ends.
func (s Service) ServePacket(ctx context.Context, pc net.PacketConn, env honeypot.Env) error {
	if env.Persona == nil {
		return errors.New("tftp: env.Persona is nil")
	}
	if env.StateDir == "" {
		return errors.New("tftp: env.StateDir is empty (uploads are kept in its artifacts folder)")
	}
	cfg, err := parseConfig(s, env.Config)
	if err != nil {
		return fmt.Errorf("tftp config: %w", err)
	}
	srv := &server{env: env, cfg: cfg, bySrc: map[netip.Addr]int{}, views: map[netip.Addr]*view{},
		buckets: map[netip.Addr]*bucket{}}
	if ua, ok := pc.LocalAddr().(*net.UDPAddr); ok {
		srv.local = ua.AddrPort()
	}
	if cfg.bait {
		srv.bait = baitFiles(env.Persona)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	stop := context.AfterFunc(ctx, func() { pc.Close() })
	defer stop()
	buf := make([]byte, 2048) // a request is one path and a few options
	for {
		n, addr, err := pc.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		ua, ok := addr.(*net.UDPAddr)
		if !ok {
			continue
		}
		src := ua.AddrPort()
		pkt := append([]byte(nil), buf[:n]...)
		srv.safely(src, func() { srv.datagram(ctx, &wg, pkt, src) })
	}
}

// safely runs f, logging a panic instead of ending the service.
func (srv *server) safely(src netip.AddrPort, f func()) {
	defer func() {
		if r := recover(); r != nil {
			srv.log().Error("honeypot handler panic", "decky", srv.env.Decky.Name, "service", "tftp",
				"src", src.String(), "panic", r, "stack", string(debug.Stack()))
		}
	}()
	f()
}

func (srv *server) log() *slog.Logger {
	if srv.env.Log != nil {
		return srv.env.Log
	}
	return slog.Default()
}

// datagram handles one packet to the service port.
func (srv *server) datagram(ctx context.Context, wg *sync.WaitGroup, pkt []byte, src netip.AddrPort) {
	if !srv.allow(src.Addr()) {
		return // flooding: say nothing, report nothing more
	}
	req, ok := parseRequest(pkt)
	session := event.NewID()
	if !ok {
		// tftpd-hpa ignores anything but a request on its port.
		e := honeypot.PacketEvent(srv.env, "tftp", session, src, srv.local, "unknown_opcode")
		e.Fields = map[string]any{"opcode": -1, "data_hex": fmt.Sprintf("%x", pkt[:min(len(pkt), 32)]), "size": len(pkt)}
		if len(pkt) >= 2 {
			e.Fields["opcode"] = int(pkt[0])<<8 | int(pkt[1])
		}
		srv.emit(e)
		return
	}
	if !srv.enter(src.Addr()) {
		return // too many transfers: a busy tftpd would not answer either
	}
	wg.Go(func() {
		defer srv.leave(src.Addr())
		srv.safely(src, func() { srv.transfer(ctx, req, src, session) })
	})
}

func (srv *server) emit(e event.Event) {
	if srv.env.Emit != nil {
		srv.env.Emit(e)
	}
}

// allow spends a token of src's bucket.
func (srv *server) allow(a netip.Addr) bool {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	now := time.Now()
	b, ok := srv.buckets[a]
	if !ok {
		if len(srv.buckets) >= 4096 {
			for k, v := range srv.buckets { // forget sources that refilled
				if now.Sub(v.at).Seconds()*ratePerSecond >= rateBurst {
					delete(srv.buckets, k)
				}
			}
			if len(srv.buckets) >= 4096 {
				return false
			}
		}
		b = &bucket{tokens: rateBurst, at: now}
		srv.buckets[a] = b
	}
	b.tokens = min(rateBurst, b.tokens+now.Sub(b.at).Seconds()*ratePerSecond)
	b.at = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

func (srv *server) enter(a netip.Addr) bool {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.running >= maxTransfers || srv.bySrc[a] >= perSource {
		return false
	}
	srv.running++
	srv.bySrc[a]++
	return true
}

func (srv *server) leave(a netip.Addr) {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	srv.running--
	if srv.bySrc[a]--; srv.bySrc[a] <= 0 {
		delete(srv.bySrc, a)
	}
}

// viewOf returns src's filesystem, made on first use with the bait in the
// root; the least recently used one is forgotten when there are too many.
func (srv *server) viewOf(a netip.Addr) *shell.FileSystem {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if v, ok := srv.views[a]; ok {
		v.used = time.Now()
		return v.fs
	}
	if len(srv.views) >= maxViews {
		var oldest netip.Addr
		var t time.Time
		for k, v := range srv.views {
			if t.IsZero() || v.used.Before(t) {
				oldest, t = k, v.used
			}
		}
		delete(srv.views, oldest)
	}
	fs := shell.NewFileSystem(srv.env.Persona, srv.env.Drops)
	seedRoot(fs, srv.cfg.root, srv.bait)
	srv.views[a] = &view{fs: fs, used: time.Now()}
	return fs
}

// seedRoot makes the tftp root and writes the bait into it. TFTP shows
// no owners or modes, only outcomes, so the root belongs to root and the
// transfer code applies tftpd-hpa's rules (world-readable to read,
// world-writable to overwrite) itself.
func seedRoot(fs *shell.FileSystem, root string, bait map[string][]byte) {
	dir := "/"
	for _, elem := range strings.Split(strings.TrimPrefix(root, "/"), "/") {
		dir = path.Join(dir, elem)
		if _, err := fs.Stat("root", dir); err != nil {
			fs.Mkdir("root", dir, 0o755)
		}
	}
	for name, content := range bait {
		full := path.Join(root, name)
		var dirs []string
		for d := path.Dir(full); d != root && d != "/"; d = path.Dir(d) {
			dirs = append(dirs, d)
		}
		for i := len(dirs) - 1; i >= 0; i-- {
			fs.Mkdir("root", dirs[i], 0o755)
		}
		if _, err := fs.Stat("root", full); err != nil { // a drop there wins
			fs.WriteFile("root", full, content, 0o644, false)
		}
	}
}
