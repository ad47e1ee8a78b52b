package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/decnet-go/decnet/internal/api"
	"github.com/decnet-go/decnet/internal/bus"
	"github.com/decnet-go/decnet/internal/canary"
	"github.com/decnet-go/decnet/internal/engine"
	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/persona"
	"github.com/decnet-go/decnet/internal/pipeline"
	"github.com/decnet-go/decnet/internal/store"
)

// Canary defaults (spec intel §8: DECNET_CANARY_HTTP_PORT 8088,
// DECNET_CANARY_DNS_PORT 5353, DECNET_CANARY_BASELINE).
const (
	DefaultCanaryHTTPListen = "127.0.0.1:8088"
	DefaultCanaryDNSListen  = "127.0.0.1:5353"
	DefaultCanaryBaseline   = "git_config,env_file,honeydoc,aws_creds"
)

// Bounds of the canary HTTP listener: it only ever answers GET /c/<slug>
// (with a few KiB of fingerprint query), so anything slow or big is not a
// real client.
const (
	canaryReadHeaderTimeout = 5 * time.Second
	canaryReadTimeout       = 10 * time.Second
	canaryWriteTimeout      = 10 * time.Second
	canaryIdleTimeout       = 30 * time.Second
	canaryMaxHeaderBytes    = 16 << 10
	canaryScanMemory        = 1024 // event ids that triggered, remembered against redelivery
)

// canaryStage is the canary tokens of a node: the planter (API, baseline,
// re-planting), the trigger listeners (HTTP, DNS) and the passive scan of
// every ingested event.
type canaryStage struct {
	n        *Node
	log      *slog.Logger
	planter  *canary.Planter
	listener *canary.Listener
	files    *canaryFiles
	sink     *canarySink
	baseline []string // generators planted on new ssh/telnet deckies

	http   *http.Server
	dns    net.PacketConn
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// wake asks the worker to look at the running deckies (coalesced).
	wake chan struct{}
	// seen are the running deckies the worker has re-planted and given
	// their baseline; worker-owned.
	seen map[string]bool

	// triggered remembers the ids of events whose scan fired, so a
	// redelivered event does not fire twice; used by the ingest fetch
	// goroutine only.
	triggered     map[string]struct{}
	triggeredRing []string
}

// startCanary makes the planter and the trigger listener, opens the HTTP
// listener (unless cfg.CanaryHTTPListen is "off") and the DNS listener
// (when a zone is set), and starts the worker that re-plants and plants
// the baseline as deckies come up. It runs before the ingest worker, whose
// events it scans (canarySource), and before the API, which plants
// through it (canaryAPI).
func (n *Node) startCanary(ctx context.Context, cfg Config) error {
	baseline, err := parseBaseline(cfg.CanaryBaseline)
	if err != nil {
		return err
	}
	log := cfg.Log.With("component", "canary")
	c := &canaryStage{n: n, log: log, files: &canaryFiles{}, sink: &canarySink{n: n}, baseline: baseline,
		wake: make(chan struct{}, 1), seen: map[string]bool{}, triggered: map[string]struct{}{}}
	n.canary = c

	listen := cfg.CanaryHTTPListen
	if listen == "" {
		listen = DefaultCanaryHTTPListen
	}
	base := ""
	var httpLn net.Listener
	if listen != "off" {
		if httpLn, err = net.Listen("tcp", listen); err != nil {
			return fmt.Errorf("canary HTTP listen %s: %w (set another with --canary-http-listen, or off)", listen, err)
		}
		n.CanaryHTTPAddr = httpLn.Addr().String()
		base = "http://" + n.CanaryHTTPAddr
		if cfg.CanaryHTTPBase != "" {
			u, err := url.Parse(cfg.CanaryHTTPBase)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
				httpLn.Close()
				return fmt.Errorf("--canary-http-base %q: want an absolute http(s) URL such as http://203.0.113.5:8088", cfg.CanaryHTTPBase)
			}
			base = strings.TrimRight(cfg.CanaryHTTPBase, "/")
		} else if ap, err := netip.ParseAddrPort(n.CanaryHTTPAddr); err == nil && ap.Addr().IsUnspecified() {
			log.Warn("canary: http tokens will call home to an unspecified address; set --canary-http-base to the address attackers reach",
				"listen", n.CanaryHTTPAddr)
		}
	}
	zone := strings.Trim(strings.TrimSpace(cfg.CanaryDNSZone), ".")
	dnsListen := cfg.CanaryDNSListen
	if dnsListen == "" {
		dnsListen = DefaultCanaryDNSListen
	}
	if zone != "" && dnsListen != "off" {
		if c.dns, err = net.ListenPacket("udp", dnsListen); err != nil {
			if httpLn != nil {
				httpLn.Close()
			}
			return fmt.Errorf("canary DNS listen %s: %w (set another with --canary-dns-listen)", dnsListen, err)
		}
		n.CanaryDNSAddr = c.dns.LocalAddr().String()
	}

	c.planter = &canary.Planter{Tokens: n.Store, Files: c.files, Personas: n.canaryPersona, Sink: c.sink,
		HTTPBase: base, DNSZone: zone, Log: log}
	c.listener = &canary.Listener{Tokens: n.Store, Sink: c.sink, Revoker: c.planter, DNSZone: zone, Log: log}

	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	c.cancel = cancel
	if httpLn != nil {
		c.http = &http.Server{
			Handler:           c.listener.Handler(),
			ReadHeaderTimeout: canaryReadHeaderTimeout,
			ReadTimeout:       canaryReadTimeout,
			WriteTimeout:      canaryWriteTimeout,
			IdleTimeout:       canaryIdleTimeout,
			MaxHeaderBytes:    canaryMaxHeaderBytes,
			// OPTIONS * would get net/http's own empty 200: a Go tell.
			DisableGeneralOptionsHandler: true,
			BaseContext:                  func(net.Listener) context.Context { return wctx },
			// Scanners send garbage; net/http's complaints about it are noise.
			ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		}
		c.wg.Go(func() {
			if err := c.http.Serve(nginxListener{httpLn}); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("canary HTTP listener stopped", "err", err)
			}
		})
	}
	if c.dns != nil {
		c.wg.Go(func() {
			if err := c.listener.ServeDNS(wctx, c.dns); err != nil && wctx.Err() == nil {
				log.Error("canary DNS listener stopped", "err", err)
			}
		})
	}
	c.wg.Go(func() { c.work(wctx) })
	log.Info("canary tokens ready", "http", n.CanaryHTTPAddr, "http_base", base, "dns", n.CanaryDNSAddr, "zone", zone,
		"baseline", strings.Join(baseline, ","))
	return nil
}

// parseBaseline reads --canary-baseline: "" is the default list, "none"
// no baseline, else generator names separated by commas.
func parseBaseline(s string) ([]string, error) {
	switch strings.TrimSpace(s) {
	case "":
		s = DefaultCanaryBaseline
	case "none":
		return nil, nil
	}
	var out []string
	for _, name := range strings.Split(s, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if _, ok := canary.LookupGenerator(name); !ok {
			var known []string
			for _, g := range canary.Generators() {
				known = append(known, g.Name)
			}
			return nil, fmt.Errorf("--canary-baseline: unknown generator %q (use none, or some of %s)", name, strings.Join(known, ", "))
		}
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out, nil
}

// canaryPersona is the planter's view of the running deckies.
func (n *Node) canaryPersona(name string) (*persona.Persona, bool) {
	for _, r := range n.Running() {
		if r.Decky.Name == name {
			return r.Persona, r.Persona != nil
		}
	}
	return nil, false
}

// canaryAPI gives the API the planter and where tokens call home, and the
// planter the same file operator the API's file drop uses.
func (n *Node) canaryAPI(acfg *api.Config, fleet canary.Files) {
	c := n.canary
	if c == nil {
		return
	}
	c.files.set(fleet)
	acfg.Canary, acfg.CanaryHTTPBase, acfg.CanaryDNSZone = c.planter, c.planter.HTTPBase, c.planter.DNSZone
}

// canaryDeckiesChanged tells the worker that deckies may have come up: it
// re-plants their tokens and plants the baseline on new ones.
func (n *Node) canaryDeckiesChanged() {
	if n.canary == nil {
		return
	}
	select {
	case n.canary.wake <- struct{}{}:
	default: // a pass is already due; it will see these deckies too
	}
}

// work runs a pass over the running deckies each time it is woken, until
// ctx ends.
func (c *canaryStage) work(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.wake:
		}
		c.pass(ctx)
	}
}

// pass handles every running decky the worker has not seen yet: the
// planted tokens of it are written again (a decky's dropped files do not
// outlive it), and a decky with ssh or telnet that never had a token gets
// the baseline. Deckies that stopped are forgotten, so one deployed again
// under the same name is handled again.
func (c *canaryStage) pass(ctx context.Context) {
	running := c.n.Running()
	names := map[string]bool{}
	var fresh []engine.Running
	for _, r := range running {
		names[r.Decky.Name] = true
		if !c.seen[r.Decky.Name] {
			fresh = append(fresh, r)
		}
	}
	for name := range c.seen {
		if !names[name] {
			delete(c.seen, name)
		}
	}
	if len(fresh) == 0 {
		return
	}
	planted, err := c.n.Store.PlantedCanaryTokens(ctx)
	if err != nil {
		c.log.Warn("canary: list planted tokens", "err", err)
		return // seen stays as it was: the next wake tries again
	}
	for _, r := range fresh {
		name := r.Decky.Name
		for _, t := range planted {
			if t.DeckyName != name {
				continue
			}
			if err := c.planter.Replant(ctx, t); err != nil {
				c.log.Warn("canary: re-plant", "decky", name, "token", t.UUID, "path", t.PlacementPath, "err", err)
			}
		}
		c.plantBaseline(ctx, r)
		c.seen[name] = true
	}
}

// plantBaseline plants the baseline generators on a decky that runs ssh or
// telnet (where an attacker reads files) and has never had a token: once
// per decky, so a token the operator revoked does not come back.
func (c *canaryStage) plantBaseline(ctx context.Context, r engine.Running) {
	if len(c.baseline) == 0 || !(slices.Contains(r.Decky.Services, "ssh") || slices.Contains(r.Decky.Services, "telnet")) {
		return
	}
	_, total, err := c.n.Store.CanaryTokens(ctx, store.CanaryTokenFilter{Decky: r.Decky.Name, Limit: 1})
	if err != nil || total > 0 {
		if err != nil {
			c.log.Warn("canary: baseline check", "decky", r.Decky.Name, "err", err)
		}
		return
	}
	for _, gen := range c.baseline {
		if _, _, err := c.planter.Plant(ctx, canary.PlantRequest{Decky: r.Decky.Name, Generator: gen}); err != nil {
			c.log.Warn("canary: baseline", "decky", r.Decky.Name, "generator", gen, "err", err)
		}
	}
}

// stop closes the listeners and the worker; the sink stays open for the
// ingest drain until closeSink.
func (c *canaryStage) stop(ctx context.Context) {
	if c.http != nil {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		c.http.Shutdown(sctx)
		cancel()
	}
	if c.cancel != nil {
		c.cancel()
	}
	if c.dns != nil {
		c.dns.Close()
	}
	c.wg.Wait()
}

// stopCanary stops the canary listeners and worker (first thing on
// shutdown: no new triggers while the rest drains).
func (n *Node) stopCanary(ctx context.Context) {
	if n.canary != nil {
		n.canary.stop(ctx)
	}
}

// closeCanarySink stops canary events for good, before the emitter closes
// (an event emitted after that would be sent on a closed channel).
func (n *Node) closeCanarySink() {
	if n.canary != nil {
		n.canary.sink.close()
	}
}

// canarySource hands the ingest worker the deliveries of src after
// passing every event through the passive scan (a planted cloud key id in
// something an attacker sent). It is the one place every ingested event
// passes, on the fetch goroutine, ahead of the store write; no consumer of
// its own.
func (n *Node) canarySource(src pipeline.Source) pipeline.Source {
	if n.canary == nil {
		return src
	}
	return canarySource{Source: src, c: n.canary}
}

type canarySource struct {
	pipeline.Source
	c *canaryStage
}

func (s canarySource) Next(ctx context.Context, max int, linger time.Duration) ([]bus.Delivery, error) {
	ds, err := s.Source.Next(ctx, max, linger)
	for _, d := range ds {
		for i := range d.Events {
			s.c.scan(ctx, d.Events[i])
		}
	}
	return ds, err
}

// scan runs the passive detection on one event, once per event id.
func (c *canaryStage) scan(ctx context.Context, ev event.Event) {
	if _, done := c.triggered[ev.ID]; done {
		return
	}
	if !c.listener.ScanEvent(ctx, ev) || ev.ID == "" {
		return
	}
	if len(c.triggeredRing) == canaryScanMemory {
		delete(c.triggered, c.triggeredRing[0])
		c.triggeredRing = c.triggeredRing[1:]
	}
	c.triggered[ev.ID] = struct{}{}
	c.triggeredRing = append(c.triggeredRing, ev.ID)
}

// canarySink is where the canary package's results go: events to the
// node's emitter, notices to the bus. Emit becomes a no-op once closed.
type canarySink struct {
	n      *Node
	mu     sync.RWMutex
	closed bool
}

// Emit mints what the event lacks of its envelope (id, time): the ingest
// worker discards an event without them as invalid.
func (s *canarySink) Emit(ev event.Event) {
	if ev.ID == "" {
		ev.ID = event.NewID()
	}
	if ev.Time.IsZero() {
		ev.Time = time.Now().UTC()
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed || s.n.Emitter == nil {
		return
	}
	s.n.Emitter.Emit(ev)
}

func (s *canarySink) Publish(subject string, payload any) { s.n.notify(subject, payload) }

func (s *canarySink) close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
}

// canaryFiles forwards to the node's fleet operator once the driver is up
// (the canary listeners start before it: a fingerprint revocation may
// come first).
type canaryFiles struct {
	mu sync.RWMutex
	f  canary.Files
}

func (f *canaryFiles) set(files canary.Files) {
	f.mu.Lock()
	f.f = files
	f.mu.Unlock()
}

func (f *canaryFiles) get(decky string) (canary.Files, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.f == nil {
		return nil, fmt.Errorf("%w: %q (the driver is not up yet)", engine.ErrUnknownDecky, decky)
	}
	return f.f, nil
}

func (f *canaryFiles) WriteFile(ctx context.Context, decky, path string, content []byte, mode fs.FileMode, mtime time.Time) error {
	files, err := f.get(decky)
	if err != nil {
		return err
	}
	return files.WriteFile(ctx, decky, path, content, mode, mtime)
}

func (f *canaryFiles) RemoveFile(ctx context.Context, decky, path string) error {
	files, err := f.get(decky)
	if err != nil {
		return err
	}
	return files.RemoveFile(ctx, decky, path)
}

// nginxListener makes the canary listener's protocol errors look like
// nginx's: net/http answers a malformed request itself, bypassing the
// handler, with a text/plain body no nginx sends (a Go tell). Those
// answers are one Write of a fixed shape on the raw connection; nginxConn
// swaps them for nginx's error page.
type nginxListener struct{ net.Listener }

func (l nginxListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &nginxConn{Conn: c}, nil
}

type nginxConn struct{ net.Conn }

func (c *nginxConn) Write(p []byte) (int, error) {
	if page, ok := nginxErrorFor(p, time.Now()); ok {
		if _, err := c.Conn.Write(page); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return c.Conn.Write(p)
}

// goErrorHeaders is what net/http puts after the status line of its own
// error answers: Content-Type before Connection, an order its header
// writer (sorted) never produces for a handler's response.
const goErrorHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"

// nginxErrorFor recognises a net/http protocol-error answer and returns
// nginx's for it: 400 (431, header too large, becomes nginx's 400 "Request
// Header Or Cookie Too Large"), 501 or 505, with nginx's page and headers.
func nginxErrorFor(p []byte, now time.Time) ([]byte, bool) {
	if len(p) > 1024 || !bytes.HasPrefix(p, []byte("HTTP/1.1 ")) || !bytes.Contains(p, []byte(goErrorHeaders)) || len(p) < 12 {
		return nil, false
	}
	code, err := strconv.Atoi(string(p[9:12]))
	if err != nil {
		return nil, false
	}
	status, title, detail := 400, "400 Bad Request", ""
	switch code {
	case 431:
		title, detail = "400 Request Header Or Cookie Too Large", "<center>Request Header Or Cookie Too Large</center>\r\n"
	case 501:
		status, title = 501, "501 Not Implemented"
	case 505:
		status, title = 505, "505 HTTP Version Not Supported"
	}
	h1 := title
	if code == 431 {
		h1 = "400 Bad Request"
	}
	body := "<html>\r\n<head><title>" + title + "</title></head>\r\n<body>\r\n<center><h1>" + h1 + "</h1></center>\r\n" +
		detail + "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
	reason := strings.TrimPrefix(h1, strconv.Itoa(status)+" ")
	head := fmt.Sprintf("HTTP/1.1 %d %s\r\nServer: nginx\r\nDate: %s\r\nContent-Type: text/html\r\nContent-Length: %d\r\nConnection: close\r\n\r\n",
		status, reason, now.UTC().Format(http.TimeFormat), len(body))
	return []byte(head + body), true
}
