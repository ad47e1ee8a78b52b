package smtp

import (
	"bufio"
	"context"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/decnet-go/decnet/internal/decky"
	"github.com/decnet-go/decnet/internal/honeypot"
	"github.com/decnet-go/decnet/internal/honeypot/hptest"
	"github.com/decnet-go/decnet/internal/persona"
)

const testDecky = "decky-mail"

// testPersona is the persona of every test decky.
func testPersona() *persona.Persona { return persona.New([]byte("secret"), testDecky) }

// instance is a running service under test.
type instance struct {
	addr     string
	rec      *hptest.Recorder
	srv      *server
	stateDir string
}

// start runs the smtp (or, with relay, smtp_relay) service on 127.0.0.1:0
// until the test ends. Error replies are not slowed down.
func start(t testing.TB, relay bool, cfg map[string]string) *instance {
	t.Helper()
	svc := &Service{relay: relay}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	in := &instance{rec: &hptest.Recorder{}, stateDir: t.TempDir(), addr: l.Addr().String()}
	env := honeypot.Env{
		Decky:    decky.Identity{Name: testDecky},
		Persona:  testPersona(),
		Config:   cfg,
		StateDir: in.stateDir,
		Emit:     in.rec.Emit,
	}
	in.srv, err = svc.newServer(env)
	if err != nil {
		t.Fatal(err)
	}
	in.srv.errorSleep = 0
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- honeypot.Serve(ctx, l, env, svc.Name(), limits, in.srv.handle) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return in
}

// client is a raw SMTP connection of a test.
type client struct {
	t  testing.TB
	c  net.Conn
	br *bufio.Reader
}

func dial(t testing.TB, addr string) *client {
	t.Helper()
	c := hptest.Dial(t, addr)
	return &client{t: t, c: c, br: bufio.NewReader(c)}
}

// reply reads one complete (possibly multi-line) reply, lines joined by
// "\n" without their CRLF.
func (cl *client) reply() string {
	cl.t.Helper()
	var lines []string
	for {
		line, err := cl.br.ReadString('\n')
		if err != nil {
			if err == io.EOF && len(lines) == 0 && line == "" {
				return "<EOF>"
			}
			cl.t.Fatalf("read reply: %v (so far %q)", err, append(lines, line))
		}
		if !strings.HasSuffix(line, "\r\n") {
			cl.t.Fatalf("reply line without CRLF: %q", line)
		}
		line = strings.TrimSuffix(line, "\r\n")
		lines = append(lines, line)
		if len(line) < 4 || line[3] != '-' {
			return strings.Join(lines, "\n")
		}
	}
}

// send writes raw bytes.
func (cl *client) send(s string) {
	cl.t.Helper()
	if _, err := io.WriteString(cl.c, s); err != nil {
		cl.t.Fatal(err)
	}
}

// cmd sends a line and returns the reply.
func (cl *client) cmd(line string) string {
	cl.t.Helper()
	cl.send(line + "\r\n")
	return cl.reply()
}

func personaWithDistro(slug string) (*persona.Persona, error) {
	return persona.NewWithDistro([]byte("secret"), testDecky, slug)
}

func testEnv(t testing.TB, cfg map[string]string) honeypot.Env {
	return honeypot.Env{
		Decky:    decky.Identity{Name: testDecky},
		Persona:  testPersona(),
		Config:   cfg,
		StateDir: t.TempDir(),
	}
}
