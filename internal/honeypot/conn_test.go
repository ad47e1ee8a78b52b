package honeypot

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/decnet-go/decnet/internal/decky"
	"github.com/decnet-go/decnet/internal/event"
)

// waitLimit bounds every wait in these tests; reaching it is a failure.
const waitLimit = 5 * time.Second

// server is a Serve running on a loopback listener for one test.
type server struct {
	addr   string
	cancel context.CancelFunc
	done   chan struct{} // closed when Serve returns
	err    error         // Serve's result, once done is closed
}

// wait waits for Serve to return and gives its result.
func (s *server) wait(t *testing.T) error {
	t.Helper()
	waitFor(t, s.done, "Serve to return")
	return s.err
}

// syncBuffer is a log sink shared by handler goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func testEnv(emit func(event.Event), log io.Writer) Env {
	if log == nil {
		log = io.Discard
	}
	return Env{
		Decky: decky.Identity{Name: "decky-01", IP: netip.MustParseAddr("127.0.0.1")},
		Emit:  emit,
		Log:   slog.New(slog.NewTextHandler(log, nil)),
	}
}

// startServe runs Serve with h on 127.0.0.1:0 and stops it when the test ends.
func startServe(t *testing.T, env Env, lim Limits, h Handler) *server {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{addr: l.Addr().String(), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		s.err = Serve(ctx, l, env, "telnet", lim, h)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.done:
		case <-time.After(waitLimit):
			t.Error("Serve did not return after cancel")
		}
	})
	return s
}

// dial connects to s; the connection is closed when the test ends.
func dial(t *testing.T, s *server) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", s.addr, waitLimit)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(waitLimit))
	return c
}

// greeting is what greeter handlers send first, so a client can tell a
// served connection from one the listener closed.
const greeting = "hello\n"

// served reports whether c got the greeting (true) or was closed at once
// (false); anything else fails the test.
func served(t *testing.T, c net.Conn) bool {
	t.Helper()
	line, err := bufio.NewReader(c).ReadString('\n')
	switch {
	case err == nil && line == greeting:
		return true
	case err == nil:
		t.Fatalf("read %q, want the greeting", line)
	case errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || isReset(err):
		return false
	default:
		t.Fatalf("read: %v (want the greeting or EOF)", err)
	}
	return false
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && !op.Timeout()
}

// waitFor receives from ch or fails the test after waitLimit.
func waitFor[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitLimit):
		t.Fatalf("timed out waiting for %s", what)
		var zero T
		return zero
	}
}

// echo answers each line with itself.
func echo(c *Conn) {
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		if _, err := io.WriteString(c, line); err != nil {
			return
		}
	}
}

func TestServePanicEndsOnlyThatConnection(t *testing.T) {
	var log syncBuffer
	s := startServe(t, testEnv(nil, &log), Limits{}, func(ctx context.Context, c *Conn) {
		io.WriteString(c, greeting)
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			return
		}
		if line == "panic\n" {
			panic("handler bug")
		}
		io.WriteString(c, "ok\n")
	})

	bad := dial(t, s)
	if !served(t, bad) {
		t.Fatal("first connection not served")
	}
	io.WriteString(bad, "panic\n")
	if _, err := bad.Read(make([]byte, 1)); err == nil {
		t.Fatal("the panicking connection stayed open")
	}
	for _, want := range []string{"honeypot handler panic", "handler bug", "decky=decky-01", "service=telnet",
		"src=" + bad.LocalAddr().String()} {
		if !bytes.Contains([]byte(log.String()), []byte(want)) {
			t.Errorf("panic log lacks %q:\n%s", want, log.String())
		}
	}

	good := dial(t, s)
	if !served(t, good) {
		t.Fatal("listener stopped serving after a handler panic")
	}
	io.WriteString(good, "hi\n")
	if got, err := bufio.NewReader(good).ReadString('\n'); err != nil || got != "ok\n" {
		t.Fatalf("second connection got %q, %v; want ok", got, err)
	}
}

func TestServeIdleTimeout(t *testing.T) {
	readErr := make(chan error, 1)
	s := startServe(t, testEnv(nil, nil), Limits{IdleTimeout: 100 * time.Millisecond}, func(ctx context.Context, c *Conn) {
		io.WriteString(c, greeting)
		_, err := c.Read(make([]byte, 16))
		readErr <- err
	})
	c := dial(t, s)
	if !served(t, c) {
		t.Fatal("not served")
	}
	start := time.Now()
	// Stay silent: the handler's read must time out and the connection close.
	if err := waitFor(t, readErr, "the idle read to end"); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("idle read error = %v, want a deadline error", err)
	}
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) && !isReset(err) {
		t.Errorf("silent client read = %v, want the connection closed", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("idle connection lived %v with a 100ms idle timeout", d)
	}
}

func TestServeMaxDuration(t *testing.T) {
	readErr := make(chan error, 1)
	lim := Limits{IdleTimeout: time.Minute, MaxDuration: 150 * time.Millisecond}
	s := startServe(t, testEnv(nil, nil), lim, func(ctx context.Context, c *Conn) {
		io.WriteString(c, greeting)
		r := bufio.NewReader(c)
		for { // a chatty client keeps the idle deadline away
			if _, err := r.ReadString('\n'); err != nil {
				readErr <- err
				return
			}
		}
	})
	c := dial(t, s)
	if !served(t, c) {
		t.Fatal("not served")
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if _, err := io.WriteString(c, "x\n"); err != nil {
					return
				}
			}
		}
	}()
	if err := waitFor(t, readErr, "MaxDuration to end the connection"); err == nil {
		t.Error("read ended without an error")
	}
}

func TestConnMaxBytes(t *testing.T) {
	type result struct {
		data []byte
		err  error
		n    int64
	}
	got := make(chan result, 1)
	s := startServe(t, testEnv(nil, nil), Limits{MaxBytes: 10}, func(ctx context.Context, c *Conn) {
		data, err := io.ReadAll(c)
		got <- result{data, err, c.BytesRead()}
	})
	c := dial(t, s)
	if _, err := io.WriteString(c, "0123456789abcdefghij"); err != nil {
		t.Fatal(err)
	}
	r := waitFor(t, got, "the handler to read")
	if !errors.Is(r.err, ErrTooMuchInput) {
		t.Errorf("reading past MaxBytes: err = %v, want ErrTooMuchInput", r.err)
	}
	if string(r.data) != "0123456789" || r.n != 10 {
		t.Errorf("read %q (BytesRead %d), want the first 10 bytes", r.data, r.n)
	}
}

func TestServeMaxPerSource(t *testing.T) {
	ended := make(chan struct{}, 8)
	s := startServe(t, testEnv(nil, nil), Limits{MaxPerSource: 2}, func(ctx context.Context, c *Conn) {
		defer func() { ended <- struct{}{} }()
		io.WriteString(c, greeting)
		echo(c)
	})
	first, second := dial(t, s), dial(t, s)
	if !served(t, first) || !served(t, second) {
		t.Fatal("the first two connections from 127.0.0.1 were not both served")
	}
	third := dial(t, s)
	if served(t, third) {
		t.Fatal("third concurrent connection from 127.0.0.1 was served with MaxPerSource=2")
	}
	// The first two are still open and answering.
	for i, c := range []net.Conn{first, second} {
		io.WriteString(c, "ping\n")
		if line, err := bufio.NewReader(c).ReadString('\n'); err != nil || line != "ping\n" {
			t.Errorf("connection %d after the third was refused: %q, %v", i+1, line, err)
		}
	}
	// When one leaves, the source may connect again.
	first.Close()
	waitFor(t, ended, "the first handler to end")
	deadline := time.Now().Add(waitLimit)
	for !served(t, dial(t, s)) { // the slot frees just after the handler returns
		if time.Now().After(deadline) {
			t.Fatal("source still refused after one of its connections ended")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestServeMaxConns(t *testing.T) {
	s := startServe(t, testEnv(nil, nil), Limits{MaxConns: 1}, func(ctx context.Context, c *Conn) {
		io.WriteString(c, greeting)
		echo(c)
	})
	if !served(t, dial(t, s)) {
		t.Fatal("first connection not served")
	}
	if served(t, dial(t, s)) {
		t.Fatal("second connection served with MaxConns=1")
	}
}

func TestServeCancelWaitsForHandlers(t *testing.T) {
	entered := make(chan struct{})
	finished := make(chan struct{})
	var handlerCtxErr error
	s := startServe(t, testEnv(nil, nil), Limits{}, func(ctx context.Context, c *Conn) {
		close(entered)
		<-ctx.Done()
		// Work after cancellation that Serve must wait for.
		time.Sleep(50 * time.Millisecond)
		handlerCtxErr = ctx.Err()
		close(finished)
	})
	c := dial(t, s)
	waitFor(t, entered, "the handler to start")
	s.cancel()
	if err := s.wait(t); err != nil {
		t.Errorf("Serve after cancel = %v, want nil", err)
	}
	select {
	case <-finished:
	default:
		t.Fatal("Serve returned before its handler finished")
	}
	if !errors.Is(handlerCtxErr, context.Canceled) {
		t.Errorf("handler ctx error = %v, want context.Canceled", handlerCtxErr)
	}
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Error("client connection still open after Serve returned")
	}
	if _, err := net.DialTimeout("tcp", s.addr, time.Second); err == nil {
		t.Error("listener still accepting after Serve returned")
	}
}

func TestServeCancelUnblocksReads(t *testing.T) {
	s := startServe(t, testEnv(nil, nil), Limits{}, func(ctx context.Context, c *Conn) {
		io.WriteString(c, greeting)
		c.Read(make([]byte, 1)) // blocks until Serve's ctx ends
	})
	if !served(t, dial(t, s)) {
		t.Fatal("not served")
	}
	s.cancel()
	if err := s.wait(t); err != nil {
		t.Errorf("Serve = %v, want nil", err)
	}
}

func TestConnEvent(t *testing.T) {
	events := make(chan event.Event, 16)
	s := startServe(t, testEnv(func(e event.Event) { events <- e }, nil), Limits{}, func(ctx context.Context, c *Conn) {
		c.EmitConnect()
		e := c.Event(event.TypeLoginAttempt)
		e.Fields = map[string]any{"username": "root"}
		c.Emit(e)
		io.WriteString(c, greeting)
		io.Copy(io.Discard, c)
		c.EmitDisconnect()
	})
	_, lport, _ := net.SplitHostPort(s.addr)

	sessions := map[string]bool{}
	for i := range 2 {
		c := dial(t, s)
		if !served(t, c) {
			t.Fatal("not served")
		}
		io.WriteString(c, "abc")
		c.Close()
		_, cport, _ := net.SplitHostPort(c.LocalAddr().String())
		var session string
		for _, typ := range []string{event.TypeConnect, event.TypeLoginAttempt, event.TypeDisconnect} {
			e := waitFor(t, events, typ+" event")
			if e.Type != typ {
				t.Fatalf("connection %d: event %q, want %q", i, e.Type, typ)
			}
			if err := e.Validate(); err != nil {
				t.Errorf("%s event invalid: %v", typ, err)
			}
			if e.Decky != "decky-01" || e.Service != "telnet" || e.Proto != "tcp" {
				t.Errorf("%s: decky/service/proto = %q/%q/%q", typ, e.Decky, e.Service, e.Proto)
			}
			if e.SrcIP != "127.0.0.1" || strconv.Itoa(e.SrcPort) != cport {
				t.Errorf("%s: src %s:%d, want 127.0.0.1:%s", typ, e.SrcIP, e.SrcPort, cport)
			}
			if e.DstIP != "127.0.0.1" || strconv.Itoa(e.DstPort) != lport {
				t.Errorf("%s: dst %s:%d, want 127.0.0.1:%s", typ, e.DstIP, e.DstPort, lport)
			}
			if e.Session == "" || (session != "" && e.Session != session) {
				t.Errorf("%s: session %q, want the connection's %q", typ, e.Session, session)
			}
			session = e.Session
			if typ == event.TypeDisconnect {
				if got := e.Fields["bytes_in"]; got != int64(3) {
					t.Errorf("disconnect bytes_in = %v (%T), want 3", got, got)
				}
				if _, ok := e.Fields["duration_s"].(float64); !ok {
					t.Errorf("disconnect duration_s = %v", e.Fields["duration_s"])
				}
			}
		}
		if sessions[session] {
			t.Errorf("connection %d reuses session %q", i, session)
		}
		sessions[session] = true
	}
}

func TestLimitsDefaults(t *testing.T) {
	tests := []struct {
		name string
		in   Limits
		want Limits
	}{
		{"zero is the default", Limits{}, DefaultLimits},
		{"set fields kept", Limits{IdleTimeout: time.Second, MaxPerSource: 2},
			Limits{IdleTimeout: time.Second, MaxDuration: DefaultLimits.MaxDuration, MaxBytes: DefaultLimits.MaxBytes,
				MaxPerSource: 2, MaxConns: DefaultLimits.MaxConns}},
		{"negative is unset", Limits{MaxBytes: -1, MaxConns: 3},
			Limits{IdleTimeout: DefaultLimits.IdleTimeout, MaxDuration: DefaultLimits.MaxDuration,
				MaxBytes: DefaultLimits.MaxBytes, MaxPerSource: DefaultLimits.MaxPerSource, MaxConns: 3}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.in.withDefaults(); got != tc.want {
				t.Errorf("withDefaults() = %+v, want %+v", got, tc.want)
			}
		})
	}
}
