package honeypot

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"runtime/debug"
	"sync"
	"time"

	"github.com/decnet-go/decnet/internal/event"
)

// Limits bound what one connection may cost a decky. A zero (or negative)
// field takes its value from DefaultLimits, so a service can set only the
// limits it cares about.
type Limits struct {
	IdleTimeout  time.Duration // a read that waits longer ends the connection
	MaxDuration  time.Duration // no connection lives longer
	MaxBytes     int64         // bytes read from one connection before it is cut
	MaxPerSource int           // concurrent connections from one source address
	MaxConns     int           // concurrent connections on one listener
}

// DefaultLimits suit an interactive protocol.
var DefaultLimits = Limits{
	IdleTimeout:  5 * time.Minute,
	MaxDuration:  time.Hour,
	MaxBytes:     16 << 20,
	MaxPerSource: 16,
	MaxConns:     2048,
}

// withDefaults returns lim with every unset field taken from DefaultLimits.
func (lim Limits) withDefaults() Limits {
	d := DefaultLimits
	if lim.IdleTimeout <= 0 {
		lim.IdleTimeout = d.IdleTimeout
	}
	if lim.MaxDuration <= 0 {
		lim.MaxDuration = d.MaxDuration
	}
	if lim.MaxBytes <= 0 {
		lim.MaxBytes = d.MaxBytes
	}
	if lim.MaxPerSource <= 0 {
		lim.MaxPerSource = d.MaxPerSource
	}
	if lim.MaxConns <= 0 {
		lim.MaxConns = d.MaxConns
	}
	return lim
}

// Handler serves one accepted connection. It may panic: the panic is
// recovered, logged and ends only that connection.
type Handler func(ctx context.Context, c *Conn)

// Serve accepts connections on l and runs h on each, under lim, until ctx
// ends. It waits for running handlers before returning.
func Serve(ctx context.Context, l net.Listener, env Env, service string, lim Limits, h Handler) error {
	lim = lim.withDefaults()
	var wg sync.WaitGroup
	defer wg.Wait()
	stop := context.AfterFunc(ctx, func() { l.Close() })
	defer stop()
	gate := newSourceGate(lim.MaxPerSource)
	slots := make(chan struct{}, lim.MaxConns)
	var tempDelay time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, errTooManyFiles) {
				tempDelay = min(max(2*tempDelay, 5*time.Millisecond), time.Second)
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(tempDelay):
				}
				continue
			}
			return err
		}
		tempDelay = 0
		src := addrPort(nc.RemoteAddr())
		select {
		case slots <- struct{}{}:
		default:
			nc.Close() // listener saturated: drop, as a busy server would
			continue
		}
		if !gate.enter(src.Addr()) {
			<-slots
			nc.Close()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots; gate.leave(src.Addr()) }()
			c := wrap(nc, env, service, lim)
			defer c.Close()
			cctx, cancel := context.WithTimeout(ctx, lim.MaxDuration)
			defer cancel()
			// Closing the connection unblocks the handler when the decky stops
			// or the connection outlives MaxDuration.
			unblock := context.AfterFunc(cctx, func() { nc.Close() })
			defer unblock()
			defer func() {
				if r := recover(); r != nil {
					log := env.Log
					if log == nil {
						log = slog.Default()
					}
					log.Error("honeypot handler panic", "decky", env.Decky.Name, "service", service,
						"src", nc.RemoteAddr().String(), "panic", r, "stack", string(debug.Stack()))
				}
			}()
			h(cctx, c)
		}()
	}
}

// Conn is an accepted connection with the limits applied and the envelope of
// its events prepared. It implements net.Conn.
type Conn struct {
	net.Conn
	env     Env
	service string
	lim     Limits
	read    int64
	// Session identifies this connection in every event it produces.
	Session string
	Src     netip.AddrPort
	Dst     netip.AddrPort
	Started time.Time
}

func wrap(nc net.Conn, env Env, service string, lim Limits) *Conn {
	return &Conn{
		Conn: nc, env: env, service: service, lim: lim,
		Session: event.NewID(),
		Src:     addrPort(nc.RemoteAddr()),
		Dst:     addrPort(nc.LocalAddr()),
		Started: time.Now(),
	}
}

// ErrTooMuchInput ends a connection that sent more than Limits.MaxBytes.
var ErrTooMuchInput = errors.New("honeypot: connection exceeded its input limit")

// Read reads with the idle deadline refreshed and the byte budget enforced.
func (c *Conn) Read(p []byte) (int, error) {
	if c.read >= c.lim.MaxBytes {
		return 0, ErrTooMuchInput
	}
	if rest := c.lim.MaxBytes - c.read; int64(len(p)) > rest {
		p = p[:rest]
	}
	if c.lim.IdleTimeout > 0 {
		c.Conn.SetReadDeadline(time.Now().Add(c.lim.IdleTimeout))
	}
	n, err := c.Conn.Read(p)
	c.read += int64(n)
	return n, err
}

// Write writes with a deadline, so a client that stops reading cannot pin
// the handler.
func (c *Conn) Write(p []byte) (int, error) {
	if c.lim.IdleTimeout > 0 {
		c.Conn.SetWriteDeadline(time.Now().Add(c.lim.IdleTimeout))
	}
	return c.Conn.Write(p)
}

// BytesRead is how much the peer has sent so far.
func (c *Conn) BytesRead() int64 { return c.read }

// Event returns an event of this connection with the envelope filled in.
func (c *Conn) Event(typ string) event.Event {
	e := event.New(c.env.Decky.Name, c.service, typ)
	e.Session = c.Session
	e.Proto = "tcp"
	if c.Src.IsValid() {
		e.SrcIP, e.SrcPort = c.Src.Addr().Unmap().String(), int(c.Src.Port())
	}
	if c.Dst.IsValid() {
		e.DstIP, e.DstPort = c.Dst.Addr().Unmap().String(), int(c.Dst.Port())
	}
	return e
}

// Emit sends e through the service's emitter.
func (c *Conn) Emit(e event.Event) {
	if c.env.Emit != nil {
		c.env.Emit(e)
	}
}

// EmitConnect and EmitDisconnect mark the ends of a session; disconnect
// carries the duration and bytes received.
func (c *Conn) EmitConnect() { c.Emit(c.Event(event.TypeConnect)) }

// EmitDisconnect emits the closing event of the session.
func (c *Conn) EmitDisconnect() {
	e := c.Event(event.TypeDisconnect)
	e.Fields = map[string]any{
		"duration_s": time.Since(c.Started).Round(time.Millisecond).Seconds(),
		"bytes_in":   c.read,
	}
	c.Emit(e)
}

// LimitedReader returns a reader over the connection that yields at most n bytes.
func (c *Conn) LimitedReader(n int64) io.Reader { return io.LimitReader(c, n) }

func addrPort(a net.Addr) netip.AddrPort {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.AddrPort()
	}
	if ua, ok := a.(*net.UDPAddr); ok {
		return ua.AddrPort()
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap
}

// sourceGate caps concurrent connections per source address.
type sourceGate struct {
	mu  sync.Mutex
	max int
	n   map[netip.Addr]int
}

func newSourceGate(max int) *sourceGate {
	return &sourceGate{max: max, n: map[netip.Addr]int{}}
}

func (g *sourceGate) enter(a netip.Addr) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.max > 0 && g.n[a] >= g.max {
		return false
	}
	g.n[a]++
	return true
}

func (g *sourceGate) leave(a netip.Addr) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.n[a]--; g.n[a] <= 0 {
		delete(g.n, a)
	}
}
