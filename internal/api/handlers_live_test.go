package api

import (
	"context"
	"encoding/base64"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/decnet-go/decnet/internal/engine"
	"github.com/decnet-go/decnet/internal/honeypot"
)

// fakeFleet is an Operator over one decky, "decky-01", running ssh; it
// knows the services ssh, http and the fleet-wide "sniffer" (refused, as a
// fleet singleton is), checks config keys like a schema, and can fail like
// a driver.
type fakeFleet struct {
	mu       sync.Mutex
	services []string
	config   map[string]map[string]string
	files    map[string][]byte
	mtime    time.Time // of the last WriteFile
	modes    map[string]fs.FileMode
	failFile bool
}

func newFakeFleet() *fakeFleet {
	return &fakeFleet{services: []string{"ssh"}, config: map[string]map[string]string{},
		files: map[string][]byte{}, modes: map[string]fs.FileMode{}}
}

func (f *fakeFleet) check(decky, svc string, cfg map[string]string) error {
	if decky != "decky-01" {
		return fmt.Errorf("%w: %q", engine.ErrUnknownDecky, decky)
	}
	if svc != "ssh" && svc != "http" {
		return fmt.Errorf("%w: %q", engine.ErrUnknownService, svc)
	}
	for k := range cfg {
		if k != "server_header" && k != "banner" {
			return fmt.Errorf("%w: unknown key %q", engine.ErrBadConfig, k)
		}
	}
	return nil
}

func (f *fakeFleet) AddService(_ context.Context, decky, svc string, cfg map[string]string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check(decky, svc, cfg); err != nil {
		return err
	}
	if slices.Contains(f.services, svc) {
		return engine.ErrServiceExists
	}
	f.services = append(f.services, svc)
	f.config[svc] = cfg
	return nil
}

func (f *fakeFleet) RemoveService(_ context.Context, decky, svc string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if decky != "decky-01" {
		return engine.ErrUnknownDecky
	}
	if !slices.Contains(f.services, svc) {
		return engine.ErrServiceAbsent
	}
	f.services = slices.DeleteFunc(f.services, func(s string) bool { return s == svc })
	return nil
}

func (f *fakeFleet) ConfigureService(_ context.Context, decky, svc string, cfg map[string]string, apply bool) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check(decky, svc, cfg); err != nil {
		return false, err
	}
	if !slices.Contains(f.services, svc) {
		return false, engine.ErrServiceAbsent
	}
	f.config[svc] = cfg
	return apply, nil
}

// checkFakeFile is the fake's check of a file drop: the one decky, and the
// drivers' path rules.
func checkFakeFile(decky, path string) error {
	if decky != "decky-01" {
		return engine.ErrUnknownDecky
	}
	return engine.CheckDropPath(path)
}

func (f *fakeFleet) WriteFile(_ context.Context, decky, path string, content []byte, mode fs.FileMode, mtime time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := checkFakeFile(decky, path); err != nil {
		return err
	}
	if f.failFile {
		return fmt.Errorf("%w: docker exec: exit status 1", engine.ErrDriver)
	}
	f.files[path], f.modes[path], f.mtime = content, mode, mtime
	return nil
}

func (f *fakeFleet) RemoveFile(_ context.Context, decky, path string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := checkFakeFile(decky, path); err != nil {
		return err
	}
	delete(f.files, path)
	return nil
}

func (f *fakeFleet) Services(_ context.Context, decky string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if decky != "decky-01" {
		return nil, engine.ErrUnknownDecky
	}
	return slices.Clone(f.services), nil
}

func (f *fakeFleet) ServiceConfig(_ context.Context, decky, svc string) (map[string]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if decky != "decky-01" {
		return nil, engine.ErrUnknownDecky
	}
	return f.config[svc], nil
}

type published struct {
	subject string
	payload any
}

func liveEnv(t *testing.T, fleet Fleet) (*testEnv, string, string, *[]published) {
	t.Helper()
	var mu sync.Mutex
	var pubs []published
	e := newEnv(t, func(c *Config) {
		c.Fleet = fleet
		c.Services = honeypot.NewRegistry(func() honeypot.Service { return schemaSvc{} })
		c.Notify = func(s string, p any) { mu.Lock(); pubs = append(pubs, published{s, p}); mu.Unlock() }
	})
	e.addUser("admin", RoleAdmin, false)
	return e, e.login("admin", testPassword), e.viewerToken(), &pubs
}

// schemaSvc stands for http in the schema route.
type schemaSvc struct{}

func (schemaSvc) Name() string           { return "http" }
func (schemaSvc) Ports() []honeypot.Port { return []honeypot.Port{{Number: 80, Proto: "tcp"}} }
func (schemaSvc) Schema() honeypot.Schema {
	return honeypot.Schema{{Key: "server_header", Type: "string", Help: "Server header"}, {Key: "mode", Type: "enum", Enum: []string{"a", "b"}}}
}
func (schemaSvc) Serve(context.Context, net.Listener, honeypot.Env) error { return nil }

func TestLiveOperations(t *testing.T) {
	b64 := base64.StdEncoding.EncodeToString([]byte("secret notes\n"))
	tests := []struct {
		name, method, path, body string
		viewer                   bool
		failFile                 bool
		status                   int
		want                     string // in the body
	}{
		{"add", "POST", "/api/v1/deckies/decky-01/services", `{"name":"http","config":{"server_header":"nginx"}}`, false, false, 201, `"services":["ssh","http"]`},
		{"add numbers coerced", "POST", "/api/v1/deckies/decky-01/services", `{"name":"http","config":{"banner":22}}`, false, false, 201, `"decky_name":"decky-01"`},
		{"add viewer", "POST", "/api/v1/deckies/decky-01/services", `{"name":"http"}`, true, false, 403, "Insufficient permissions"},
		{"add unknown service", "POST", "/api/v1/deckies/decky-01/services", `{"name":"gopher"}`, false, false, 422, "unknown service"},
		{"add schema rejects", "POST", "/api/v1/deckies/decky-01/services", `{"name":"http","config":{"nope":"x"}}`, false, false, 400, "nope"},
		{"add present", "POST", "/api/v1/deckies/decky-01/services", `{"name":"ssh"}`, false, false, 409, "already"},
		{"add unknown decky", "POST", "/api/v1/deckies/decky-99/services", `{"name":"http"}`, false, false, 404, "unknown decky"},
		{"add no name", "POST", "/api/v1/deckies/decky-01/services", `{}`, false, false, 400, `name\" is required`},
		{"add nested config", "POST", "/api/v1/deckies/decky-01/services", `{"name":"http","config":{"a":{}}}`, false, false, 400, "string, number or boolean"},
		{"remove", "DELETE", "/api/v1/deckies/decky-01/services/ssh", ``, false, false, 200, `"services":[]`},
		{"remove absent", "DELETE", "/api/v1/deckies/decky-01/services/http", ``, false, false, 404, "not on decky"},
		{"remove unknown decky", "DELETE", "/api/v1/deckies/decky-99/services/ssh", ``, false, false, 404, "unknown decky"},
		{"remove viewer", "DELETE", "/api/v1/deckies/decky-01/services/ssh", ``, true, false, 403, "Insufficient permissions"},
		{"save config", "PUT", "/api/v1/deckies/decky-01/services/ssh/config", `{"config":{"banner":"OpenSSH_9.2"}}`, false, false, 200, `"recreated":false`},
		{"save config rejected", "PUT", "/api/v1/deckies/decky-01/services/ssh/config", `{"config":{"x":"1"}}`, false, false, 400, "configuration rejected"},
		{"save config absent", "PUT", "/api/v1/deckies/decky-01/services/http/config", `{"config":{}}`, false, false, 404, "not on decky"},
		{"save config missing", "PUT", "/api/v1/deckies/decky-01/services/ssh/config", `{}`, false, false, 400, `config\" is required`},
		{"apply", "POST", "/api/v1/deckies/decky-01/services/ssh/apply", `{"config":{"banner":"x"}}`, false, false, 201, `"recreated":true`},
		{"apply saved", "POST", "/api/v1/deckies/decky-01/services/ssh/apply", ``, false, false, 201, `"recreated":true`},
		{"apply unknown service", "POST", "/api/v1/deckies/decky-01/services/gopher/apply", `{"config":{}}`, false, false, 422, "unknown service"},
		{"apply viewer", "POST", "/api/v1/deckies/decky-01/services/ssh/apply", ``, true, false, 403, "Insufficient permissions"},
		{"schema", "GET", "/api/v1/topologies/services/http/schema", ``, true, false, 200, `"key":"server_header","label":"Server header"`},
		{"schema unknown", "GET", "/api/v1/topologies/services/gopher/schema", ``, true, false, 404, "Unknown service"},
		{"drop", "POST", "/api/v1/deckies/files", `{"decky_name":"decky-01","path":"/root/notes.txt","content_b64":"` + b64 + `","mode":384}`, false, false, 201, `"path":"/root/notes.txt"`},
		{"drop viewer", "POST", "/api/v1/deckies/files", `{"decky_name":"decky-01","path":"/root/x","content_b64":""}`, true, false, 403, "Insufficient permissions"},
		{"drop bad base64", "POST", "/api/v1/deckies/files", `{"decky_name":"decky-01","path":"/root/x","content_b64":"%%%"}`, false, false, 400, "base64"},
		{"drop relative", "POST", "/api/v1/deckies/files", `{"decky_name":"decky-01","path":"root/x","content_b64":""}`, false, false, 422, "absolute"},
		{"drop dotdot", "POST", "/api/v1/deckies/files", `{"decky_name":"decky-01","path":"/root/../etc/x","content_b64":""}`, false, false, 422, "bad file path"},
		{"drop unknown decky", "POST", "/api/v1/deckies/files", `{"decky_name":"decky-99","path":"/root/x","content_b64":""}`, false, false, 422, "no decky"},
		{"drop driver fails", "POST", "/api/v1/deckies/files", `{"decky_name":"decky-01","path":"/root/x","content_b64":""}`, false, true, 409, "driver failed"},
		{"drop backdated", "POST", "/api/v1/deckies/files", `{"decky_name":"decky-01","path":"/root/x","content_b64":"","mtime_offset":86400}`, false, false, 201, `"path":"/root/x"`},
		{"drop future mtime", "POST", "/api/v1/deckies/files", `{"decky_name":"decky-01","path":"/root/x","content_b64":"","mtime_offset":-5}`, false, false, 422, "mtime_offset"},
		{"drop bad mode", "POST", "/api/v1/deckies/files", `{"decky_name":"decky-01","path":"/root/x","content_b64":"","mode":99999}`, false, false, 422, "mode"},
		{"drop topology", "POST", "/api/v1/deckies/files", `{"decky_name":"decky-01","topology_id":"t1","path":"/root/x","content_b64":""}`, false, false, 404, "Topology"},
		{"drop unknown field", "POST", "/api/v1/deckies/files", `{"decky_name":"decky-01","path":"/root/x","content_b64":"","owner":"root"}`, false, false, 400, "unknown field"},
		{"undrop", "DELETE", "/api/v1/deckies/files", `{"decky_name":"decky-01","path":"/root/notes.txt"}`, false, false, 200, "File removed"},
		{"undrop dotdot", "DELETE", "/api/v1/deckies/files", `{"decky_name":"decky-01","path":"/a/.."}`, false, false, 422, "bad file path"},
		{"undrop viewer", "DELETE", "/api/v1/deckies/files", `{"decky_name":"decky-01","path":"/x"}`, true, false, 403, "Insufficient permissions"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeFleet()
			f.failFile = tc.failFile
			e, admin, viewer, _ := liveEnv(t, f)
			token := admin
			if tc.viewer {
				token = viewer
			}
			rec := e.do(tc.method, tc.path, token, tc.body)
			if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.want) {
				t.Fatalf("%s %s = %d %s; want %d containing %q", tc.method, tc.path, rec.Code, rec.Body, tc.status, tc.want)
			}
		})
	}
}

func TestLiveOperationsNotify(t *testing.T) {
	f := newFakeFleet()
	e, admin, _, pubs := liveEnv(t, f)
	e.do("POST", "/api/v1/deckies/decky-01/services", admin, `{"name":"http"}`)
	e.do("POST", "/api/v1/deckies/decky-01/services/http/apply", admin, `{"config":{"server_header":"nginx/1.22.1"}}`)
	e.do("DELETE", "/api/v1/deckies/decky-01/services/http", admin, ``)
	e.do("POST", "/api/v1/deckies/decky-01/services", admin, `{"name":"ssh"}`) // 409: nothing published
	want := []string{"decky.decky-01.service.added", "decky.decky-01.service_config_changed", "decky.decky-01.service.removed"}
	if len(*pubs) != len(want) {
		t.Fatalf("published %+v; want %v", *pubs, want)
	}
	for i, p := range *pubs {
		if p.subject != want[i] {
			t.Errorf("publish %d subject = %s; want %s", i, p.subject, want[i])
		}
	}
	if ev, ok := (*pubs)[1].payload.(configEvent); !ok || !ev.Recreated || ev.ServiceConfig["server_header"] != "nginx/1.22.1" {
		t.Errorf("config event = %+v", (*pubs)[1].payload)
	}
	if ev, ok := (*pubs)[2].payload.(serviceEvent); !ok || len(ev.Services) != 1 || ev.Service != "http" {
		t.Errorf("removed event = %+v", (*pubs)[2].payload)
	}
	if got := f.files; len(got) != 0 {
		t.Errorf("files = %v", got)
	}
}

func TestLiveOperationsWithoutDriver(t *testing.T) {
	e, admin, viewer, _ := liveEnv(t, nil)
	for _, tc := range []struct{ method, path, body string }{
		{"POST", "/api/v1/deckies/decky-01/services", `{"name":"http"}`},
		{"DELETE", "/api/v1/deckies/decky-01/services/http", ``},
		{"PUT", "/api/v1/deckies/decky-01/services/http/config", `{"config":{}}`},
		{"POST", "/api/v1/deckies/decky-01/services/http/apply", ``},
		{"POST", "/api/v1/deckies/files", `{"decky_name":"decky-01","path":"/x","content_b64":""}`},
		{"DELETE", "/api/v1/deckies/files", `{"decky_name":"decky-01","path":"/x"}`},
	} {
		if rec := e.do(tc.method, tc.path, admin, tc.body); rec.Code != http.StatusServiceUnavailable || detail(t, rec) != "live operations need a driver" {
			t.Errorf("%s %s = %d %s; want 503", tc.method, tc.path, rec.Code, rec.Body)
		}
		if rec := e.do(tc.method, tc.path, viewer, tc.body); rec.Code != http.StatusForbidden {
			t.Errorf("viewer %s %s = %d; want 403 before 503", tc.method, tc.path, rec.Code)
		}
	}
}

// A file drop may carry more than the API's usual body limit.
func TestDropBodyLimit(t *testing.T) {
	f := newFakeFleet()
	e, admin, _, _ := liveEnv(t, f)
	big := base64.StdEncoding.EncodeToString(make([]byte, 1<<20))
	rec := e.do("POST", "/api/v1/deckies/files", admin, `{"decky_name":"decky-01","path":"/root/big","content_b64":"`+big+`"}`)
	if rec.Code != http.StatusCreated || len(f.files["/root/big"]) != 1<<20 || f.modes["/root/big"] != 0o644 {
		t.Fatalf("1 MiB drop = %d %s", rec.Code, rec.Body)
	}
}

// mtime_offset backdates the drop by that many seconds.
func TestDropBackdated(t *testing.T) {
	f := newFakeFleet()
	e, admin, _, _ := liveEnv(t, f)
	rec := e.do("POST", "/api/v1/deckies/files", admin, `{"decky_name":"decky-01","path":"/root/x","content_b64":"","mtime_offset":86400}`)
	if rec.Code != 201 {
		t.Fatalf("drop: %d %s", rec.Code, rec.Body)
	}
	if age := time.Since(f.mtime); age < 86400*time.Second || age > 86400*time.Second+time.Minute {
		t.Fatalf("the drop's mtime is %v old; want a day", age)
	}
}
