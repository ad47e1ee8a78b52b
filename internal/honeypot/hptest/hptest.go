// Package hptest holds helpers for testing honeypot services, the way
// net/http/httptest does for HTTP handlers.
package hptest

import (
	"bufio"
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/decnet-go/decnet/internal/decky"
	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/honeypot"
	"github.com/decnet-go/decnet/internal/persona"
)

// Recorder collects the events a service emits; its Emit is what a test
// puts in honeypot.Env.Emit. It is safe for concurrent use.
type Recorder struct {
	mu     sync.Mutex
	events []event.Event
}

// Emit records e.
func (r *Recorder) Emit(e event.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

// Events returns every event so far, in emission order.
func (r *Recorder) Events() []event.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]event.Event(nil), r.events...)
}

// OfType returns the events of one type so far.
func (r *Recorder) OfType(typ string) []event.Event {
	var out []event.Event
	for _, e := range r.Events() {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// WaitFor waits up to 5 s until n events of typ were emitted, and returns
// them; it fails the test otherwise.
func (r *Recorder) WaitFor(t testing.TB, typ string, n int) []event.Event {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := r.OfType(typ)
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("got %d %q events, want %d", len(got), typ, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Dial connects to addr with a 5 s deadline on the whole exchange; the
// connection closes when the test ends.
func Dial(t testing.TB, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(5 * time.Second))
	return c
}

// FreeAddr returns a loopback host:port that was free a moment ago, for
// starting a real daemon on.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Serve runs svc on a fresh 127.0.0.1 port with env until the test ends
// (or stop is called), failing the test when Serve returns an error. It
// returns the address to dial.
func Serve(t testing.TB, svc honeypot.Service, env honeypot.Env) (addr string, stop func()) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Serve(ctx, l, env) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Serve: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return l.Addr().String(), stop
}

// Env is the environment a test runs a service in: the decky "decky-test"
// with persona p, configuration cfg, a fresh state directory and rec
// collecting the events.
func Env(t testing.TB, p *persona.Persona, cfg map[string]string, rec *Recorder) honeypot.Env {
	return honeypot.Env{Decky: decky.Identity{Name: "decky-test"}, Persona: p, Config: cfg, StateDir: t.TempDir(), Emit: rec.Emit}
}

// Client is a test connection to a line-oriented protocol (CRLF lines:
// pop3, imap, smtp, ftp control).
type Client struct {
	T    testing.TB
	Conn net.Conn
	R    *bufio.Reader
}

// DialClient connects to addr (see Dial).
func DialClient(t testing.TB, addr string) *Client {
	t.Helper()
	c := Dial(t, addr)
	return &Client{T: t, Conn: c, R: bufio.NewReader(c)}
}

// Line reads one line without its CRLF, failing the test when it cannot.
func (c *Client) Line() string {
	c.T.Helper()
	s, err := c.R.ReadString('\n')
	if err != nil {
		c.T.Fatalf("read: %v (got %q)", err, s)
	}
	return strings.TrimSuffix(s, "\r\n")
}

// Send writes s as it is.
func (c *Client) Send(s string) {
	c.T.Helper()
	if _, err := io.WriteString(c.Conn, s); err != nil {
		c.T.Fatal(err)
	}
}

// Transcript runs one probe session on a fresh connection to addr, as the
// differential tests do against a real daemon and the emulation alike: it
// reads the greeting, then sends each line (CRLF added) and reads the
// answer, which is complete after 150 ms of quiet. The result is what was
// said, each sent line marked ">>> ", and "<closed>" where the server
// ended the connection.
func Transcript(t testing.TB, addr string, lines []string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(c)
	var out strings.Builder
	read := func() bool {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		l, err := br.ReadString('\n')
		out.WriteString(l)
		if err != nil {
			out.WriteString("<closed>\n")
			return false
		}
		for {
			c.SetReadDeadline(time.Now().Add(150 * time.Millisecond))
			l, err := br.ReadString('\n')
			out.WriteString(l)
			if err != nil {
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					return true
				}
				out.WriteString("<closed>\n")
				return false
			}
		}
	}
	if !read() {
		return out.String()
	}
	for _, l := range lines {
		out.WriteString(">>> " + l + "\n")
		c.SetWriteDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(c, l+"\r\n"); err != nil {
			out.WriteString("<closed>\n")
			break
		}
		if !read() {
			break
		}
	}
	return out.String()
}
