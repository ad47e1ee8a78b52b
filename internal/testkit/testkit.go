// Package testkit starts the whole DECNET system in-process on a temporary
// data directory and hands back what an end-to-end test needs: an API
// client, the addresses of the deckies' services, and ways to wait for what
// the pipeline stores. Every end-to-end test uses it instead of wiring its
// own system.
package testkit

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/decnet-go/decnet/internal/decky"
	"github.com/decnet-go/decnet/internal/engine"
	"github.com/decnet-go/decnet/internal/node"
	"github.com/decnet-go/decnet/internal/persona"
)

// AdminPassword is the bootstrap admin password of test systems; Login
// changes it to NewAdminPassword.
const (
	AdminPassword    = "initial-admin-pass-1"
	NewAdminPassword = "changed-admin-pass-2"
)

// System is a running all-in-one DECNET under test.
type System struct {
	Node    *node.Node
	DataDir string
	Fleet   []decky.Decky

	t      testing.TB
	token  string
	pw     string
	client *http.Client
}

var seq atomic.Int32

// Fleet returns a fleet of n (at most 8) deckies with ssh and http on
// loopback addresses unique to this test process, so parallel tests never
// collide. The addresses are odd; the even one below each is free for the
// test's own use (a decky it deploys, a client's source address).
func Fleet(n int) []decky.Decky {
	if n > 8 {
		panic("testkit.Fleet: at most 8 deckies")
	}
	base := (os.Getpid()%200)*256 + int(seq.Add(1))*16
	out := make([]decky.Decky, n)
	for i := range out {
		a := base + 2*i
		out[i] = decky.Decky{
			Name:     fmt.Sprintf("decky-%02d", i+1),
			IP:       netip.AddrFrom4([4]byte{127, 43, byte(a >> 8 % 256), byte(a%256) | 1}),
			Services: []string{"ssh", "http"},
		}
	}
	return out
}

// Start runs a system on a fresh temporary data directory with a fleet of
// two deckies. It stops when the test ends.
func Start(t testing.TB) *System {
	t.Helper()
	return StartAt(t, t.TempDir(), Fleet(2))
}

// StartWith runs a system on a fresh temporary data directory with fleet
// (e.g. a variant of Fleet with other services).
func StartWith(t testing.TB, fleet []decky.Decky) *System {
	t.Helper()
	return StartAt(t, t.TempDir(), fleet)
}

// StartAt runs a system on dataDir (a restart when it was used before).
// A nil fleet runs the deckies the store recorded, as `decnet up` without
// --config does.
func StartAt(t testing.TB, dataDir string, fleet []decky.Decky) *System {
	t.Helper()
	return StartConfig(t, node.Config{DataDir: dataDir, Fleet: fleet})
}

// StartConfig runs a system with cfg (e.g. the docker driver), filling in
// what a test system always has: a fresh data directory unless given, an
// API on a free loopback port, port fallback, the test admin password and
// a silent log.
func StartConfig(t testing.TB, cfg node.Config) *System {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	cfg.Listen = cmp.Or(cfg.Listen, "127.0.0.1:0")
	cfg.PortOffset = cmp.Or(cfg.PortOffset, 10000)
	cfg.AdminPassword = cmp.Or(cfg.AdminPassword, AdminPassword)
	cfg.Version = cmp.Or(cfg.Version, "test")
	// Canary listeners on free ports, so parallel systems never collide on
	// 8088/5353; no baseline tokens unless a test asks (they would show in
	// the deckies' files other tests list).
	cfg.CanaryHTTPListen = cmp.Or(cfg.CanaryHTTPListen, "127.0.0.1:0")
	cfg.CanaryDNSListen = cmp.Or(cfg.CanaryDNSListen, "127.0.0.1:0")
	cfg.CanaryBaseline = cmp.Or(cfg.CanaryBaseline, "none")
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	n, err := node.Start(ctx, cfg)
	if err != nil {
		t.Fatalf("start system: %v", err)
	}
	s := &System{Node: n, DataDir: cfg.DataDir, Fleet: cfg.Fleet, t: t, pw: cfg.AdminPassword, client: &http.Client{Timeout: 10 * time.Second}}
	t.Cleanup(func() { s.Stop() })
	return s
}

// Stop shuts the system down cleanly (idempotent).
func (s *System) Stop() {
	if s.Node == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Node.Shutdown(ctx); err != nil {
		s.t.Errorf("shutdown: %v", err)
	}
	s.Node = nil
}

// Restart stops the system and starts it again on the same data directory,
// as `decnet up` without --config: the deckies run with the services and
// configuration they had (live operations included).
func (s *System) Restart() *System {
	s.t.Helper()
	s.Stop()
	n := StartAt(s.t, s.DataDir, nil)
	n.Fleet = s.Fleet
	return n
}

// Addr returns host:port of a service of a decky, failing the test when it
// is not listening.
func (s *System) Addr(deckyName, service string) string {
	s.t.Helper()
	b := s.binding(deckyName, service)
	return b.Addr
}

func (s *System) binding(deckyName, service string) engine.Binding {
	s.t.Helper()
	for _, r := range s.Node.Running() {
		if r.Decky.Name != deckyName {
			continue
		}
		for _, b := range r.Bindings {
			if b.Service == service {
				if b.Err != nil {
					s.t.Fatalf("%s/%s not listening: %v", deckyName, service, b.Err)
				}
				return b
			}
		}
	}
	s.t.Fatalf("no service %s on decky %s", service, deckyName)
	return engine.Binding{}
}

// Persona returns the persona of a decky (its accounts, hostname, …).
func (s *System) Persona(deckyName string) *persona.Persona {
	for _, r := range s.Node.Running() {
		if r.Decky.Name == deckyName {
			return r.Persona
		}
	}
	s.t.Fatalf("no decky %s", deckyName)
	return nil
}

// Login authenticates as admin, doing the forced password change of a
// fresh install when needed, and keeps the token for later calls.
func (s *System) Login() {
	s.t.Helper()
	for _, pw := range []string{s.pw, NewAdminPassword} {
		var out struct {
			Token      string `json:"access_token"`
			MustChange bool   `json:"must_change_password"`
		}
		if code := s.call("POST", "/api/v1/auth/login", map[string]string{"username": "admin", "password": pw}, &out); code != 200 {
			continue
		}
		s.token, s.pw = out.Token, pw
		if !out.MustChange {
			return
		}
		body := map[string]string{"old_password": pw, "new_password": NewAdminPassword}
		if code := s.call("POST", "/api/v1/auth/change-password", body, nil); code != 200 {
			s.t.Fatalf("change-password: status %d", code)
		}
		s.pw = NewAdminPassword
		s.Login()
		return
	}
	s.t.Fatal("cannot log in as admin")
}

// Get calls GET path with the session token and decodes the JSON answer
// into out; it returns the status code.
func (s *System) Get(path string, out any) int {
	s.t.Helper()
	return s.call("GET", path, nil, out)
}

// Do calls method path with the session token and body as JSON (nil for
// none), decodes a 2xx JSON answer into out (nil to skip); it returns the
// status code.
func (s *System) Do(method, path string, body, out any) int {
	s.t.Helper()
	return s.call(method, path, body, out)
}

func (s *System) call(method, path string, body, out any) int {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, "http://"+s.Node.APIAddr+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if s.token != "" {
		req.Header.Set("Authorization", "Bearer "+s.token)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(data, out); err != nil {
			s.t.Fatalf("%s %s: decode %q: %v", method, path, data, err)
		}
	}
	return resp.StatusCode
}

// Eventually polls cond every 20 ms until it holds or timeout passes, then
// fails the test with what.
func (s *System) Eventually(timeout time.Duration, what string, cond func() bool) {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			s.t.Fatalf("not within %v: %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Page is the API's pagination envelope.
type Page[T any] struct {
	Total  int `json:"total"`
	Limit  int `json:"limit"`
	Offset int `json:"offset"`
	Data   []T `json:"data"`
}
