package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/decnet-go/decnet/internal/decky"
	"github.com/decnet-go/decnet/internal/engine"
	"github.com/decnet-go/decnet/internal/store"
)

// fakeDeployer is a fakeFleet that also deploys whole deckies; decky-01
// runs on 127.42.0.11.
type fakeDeployer struct {
	*fakeFleet
	dmu     sync.Mutex
	deckies []decky.Decky
	failAdd bool
}

func newFakeDeployer() *fakeDeployer {
	return &fakeDeployer{fakeFleet: newFakeFleet(),
		deckies: []decky.Decky{{Name: "decky-01", IP: netip.MustParseAddr("127.42.0.11"), Services: []string{"ssh"}}}}
}

func (f *fakeDeployer) AddDecky(_ context.Context, d decky.Decky) error {
	f.dmu.Lock()
	defer f.dmu.Unlock()
	if f.failAdd {
		return fmt.Errorf("%w: container start: boom", engine.ErrDriver)
	}
	for _, o := range f.deckies {
		if o.Name == d.Name || o.IP == d.IP {
			return engine.ErrDeckyExists
		}
	}
	f.deckies = append(f.deckies, d)
	return nil
}

func (f *fakeDeployer) RemoveDecky(_ context.Context, name string) error {
	f.dmu.Lock()
	defer f.dmu.Unlock()
	i := slices.IndexFunc(f.deckies, func(d decky.Decky) bool { return d.Name == name })
	if i < 0 {
		return fmt.Errorf("%w: %q", engine.ErrUnknownDecky, name)
	}
	f.deckies = slices.Delete(f.deckies, i, i+1)
	return nil
}

func (f *fakeDeployer) RunningDeckies() []decky.Decky {
	f.dmu.Lock()
	defer f.dmu.Unlock()
	return slices.Clone(f.deckies)
}

func (f *fakeDeployer) names() []string {
	var out []string
	for _, d := range f.RunningDeckies() {
		out = append(out, d.Name+"@"+d.IP.String())
	}
	return out
}

func (f *fakeDeployer) Catalog() decky.ServiceCatalog { return fakeCatalog{} }

func (f *fakeDeployer) Placement() decky.Network {
	return decky.Network{Subnet: netip.MustParsePrefix("127.0.0.0/8"), IPStart: decky.DefaultIPStart}
}

type fakeCatalog struct{}

func (fakeCatalog) Names() []string { return []string{"ssh", "http"} }
func (fakeCatalog) CheckConfig(svc string, cfg map[string]string) error {
	for k := range cfg {
		if k != "banner" {
			return fmt.Errorf("unknown key %q", k)
		}
	}
	return nil
}

func iniBody(ini string, replace bool) string {
	b, _ := json.Marshal(map[string]any{"ini_content": ini, "replace_fleet": replace})
	return string(b)
}

func TestDeployRoutes(t *testing.T) {
	big := strings.Repeat("; comment\n", decky.MaxConfigSize/10+1)
	tests := []struct {
		name, method, path, body string
		viewer                   bool
		status                   int
		want                     string
	}{
		{"deploy", "POST", deployPath, iniBody("[decky-02]\nservices=ssh\n", false), false, 202, `"mode":"unihost"`},
		{"deploy viewer", "POST", deployPath, iniBody("[decky-02]\nservices=ssh\n", false), true, 403, "Insufficient permissions"},
		{"deploy extra field", "POST", deployPath, `{"ini_content":"","mode":"swarm"}`, false, 400, `unknown field \"mode\"`},
		{"deploy no ini", "POST", deployPath, `{"replace_fleet":true}`, false, 400, `ini_content\" is required`},
		{"deploy ini not string", "POST", deployPath, `{"ini_content":3}`, false, 400, `ini_content\" must be a string`},
		{"deploy parse error", "POST", deployPath, iniBody("[decky-02]\nservices=gopher\n", false), false, 409, "ini_content:2:"},
		{"deploy too large", "POST", deployPath, iniBody(big, false), false, 409, "larger than 512 KiB"},
		{"deploy yaml", "POST", deployPath, `{"yaml_content":"deckies:\n  - name: decky-y1\n    services: [ssh]\n"}`, false, 202, "lifecycle_ids"},
		{"deploy ini and yaml", "POST", deployPath, `{"ini_content":"[decky-02]\n","yaml_content":"deckies: []\n"}`, false, 422, "not both"},
		{"deploy over the limit", "POST", deployPath, iniBody("[decky-x]\narchetype=linux-server\namount=11\n", false), false, 409, "deployment limit"},
		{"deploy not loopback", "POST", deployPath, iniBody("[decky-02]\nip=192.168.1.20\nservices=ssh\n", false), false, 409, "outside 127.0.0.0/8"},
		{"deploy lan net", "POST", deployPath, iniBody("[general]\nnet=192.168.1.0/24\n[decky-02]\nservices=ssh\n", false), false, 409, "the network this control plane runs deckies on"},
		{"deploy name taken", "POST", deployPath, iniBody("[decky-01]\nservices=ssh\n", false), false, 409, "decky decky-01 already exists"},
		{"deploy ip taken", "POST", deployPath, iniBody("[decky-02]\nip=127.42.0.11\nservices=ssh\n", false), false, 409, "already used by running decky decky-01"},
		{"deploy no deckies", "POST", deployPath, iniBody("[general]\n", false), false, 409, "no deckies"},
		{"lifecycle no ids", "GET", "/api/v1/deckies/lifecycle", ``, true, 422, "1 to 200"},
		{"lifecycle too many", "GET", "/api/v1/deckies/lifecycle?ids=x" + strings.Repeat("&ids=x", 200), ``, true, 422, "got 201"},
		{"lifecycle unknown", "GET", "/api/v1/deckies/lifecycle?ids=nope", ``, true, 200, `{"rows":[]}`},
		{"delete", "DELETE", "/api/v1/deckies/decky-01", ``, false, 204, ``},
		{"delete unknown", "DELETE", "/api/v1/deckies/decky-99", ``, false, 404, "unknown decky"},
		{"delete viewer", "DELETE", "/api/v1/deckies/decky-01", ``, true, 403, "Insufficient permissions"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeDeployer()
			e, admin, viewer, _ := liveEnv(t, f)
			token := admin
			if tc.viewer {
				token = viewer
			}
			rec := e.do(tc.method, tc.path, token, tc.body)
			e.srv.deploys.Wait()
			if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.want) {
				t.Fatalf("%s %s = %d %s; want %d containing %q", tc.method, tc.path, rec.Code, rec.Body, tc.status, tc.want)
			}
		})
	}
}

// deployAndWait posts an INI deploy, expects 202 and waits until the
// background deploy is done.
func deployAndWait(t *testing.T, e *testEnv, admin, body string) deployResponse {
	t.Helper()
	rec := e.do("POST", deployPath, admin, body)
	if rec.Code != http.StatusAccepted {
		t.Fatalf("deploy = %d %s", rec.Code, rec.Body)
	}
	var resp deployResponse
	decode(t, rec, &resp)
	e.srv.deploys.Wait()
	return resp
}

func lifecycleRows(t *testing.T, e *testEnv, token string, ids []string) []store.Lifecycle {
	t.Helper()
	q := "ids=" + strings.Join(ids, "&ids=")
	rec := e.do("GET", "/api/v1/deckies/lifecycle?"+q, token, "")
	if rec.Code != http.StatusOK {
		t.Fatalf("lifecycle = %d %s", rec.Code, rec.Body)
	}
	var out struct{ Rows []store.Lifecycle }
	decode(t, rec, &out)
	return out.Rows
}

func TestDeployLifecycle(t *testing.T) {
	f := newFakeDeployer()
	e, admin, viewer, pubs := liveEnv(t, f)
	// decky-02 has no ip: it gets the next free loopback address after
	// decky-01's 127.42.0.11; decky-03's is explicit.
	resp := deployAndWait(t, e, admin, iniBody("[decky-02]\nservices=ssh\n[decky-03]\nip=127.42.0.50\nservices=http\n", false))
	if len(resp.LifecycleIDs) != 2 {
		t.Fatalf("lifecycle ids = %v", resp.LifecycleIDs)
	}
	rows := lifecycleRows(t, e, viewer, resp.LifecycleIDs)
	if len(rows) != 2 {
		t.Fatalf("rows = %+v", rows)
	}
	for _, r := range rows {
		if r.Status != store.LifecycleSucceeded || r.Operation != store.OpDeploy || r.CompletedAt == nil || r.Error != nil {
			t.Errorf("row = %+v", r)
		}
	}
	if got, want := f.names(), []string{"decky-01@127.42.0.11", "decky-02@127.42.0.12", "decky-03@127.42.0.50"}; !slices.Equal(got, want) {
		t.Errorf("running %v; want %v", got, want)
	}
	var subjects []string
	for _, p := range *pubs {
		ev := p.payload.(lifecycleEvent)
		subjects = append(subjects, p.subject+":"+ev.Status)
	}
	want := []string{"decky.decky-02.lifecycle:pending", "decky.decky-03.lifecycle:pending",
		"decky.decky-02.lifecycle:running", "decky.decky-02.lifecycle:succeeded",
		"decky.decky-03.lifecycle:running", "decky.decky-03.lifecycle:succeeded"}
	if !slices.Equal(subjects, want) {
		t.Errorf("published %v; want %v", subjects, want)
	}
	// Terminal rows are immutable.
	if err := e.st.UpdateLifecycle(context.Background(), rows[0].ID, store.LifecycleRunning, ""); err != store.ErrConflict {
		t.Errorf("update of a terminal row = %v; want ErrConflict", err)
	}

	// replace_fleet: decky-01 and decky-03 go, decky-02 is redeployed.
	resp = deployAndWait(t, e, admin, iniBody("[decky-02]\nservices=ssh,http\n", true))
	rows = lifecycleRows(t, e, viewer, resp.LifecycleIDs)
	var ops []string
	for _, r := range rows {
		ops = append(ops, r.DeckyName+":"+r.Operation+":"+r.Status)
	}
	slices.Sort(ops)
	if want := []string{"decky-01:remove:succeeded", "decky-02:deploy:succeeded", "decky-03:remove:succeeded"}; !slices.Equal(ops, want) {
		t.Errorf("replace rows %v; want %v", ops, want)
	}
	if got := f.names(); !slices.Equal(got, []string{"decky-02@127.42.0.11"}) {
		t.Errorf("after replace running %v", got)
	}
}

func TestDeployFailure(t *testing.T) {
	f := newFakeDeployer()
	f.failAdd = true
	e, admin, viewer, pubs := liveEnv(t, f)
	resp := deployAndWait(t, e, admin, iniBody("[decky-02]\nservices=ssh\n", false))
	rows := lifecycleRows(t, e, viewer, resp.LifecycleIDs)
	if len(rows) != 1 || rows[0].Status != store.LifecycleFailed || rows[0].Error == nil || !strings.Contains(*rows[0].Error, "boom") {
		t.Fatalf("rows = %+v", rows)
	}
	last := (*pubs)[len(*pubs)-1].payload.(lifecycleEvent)
	if last.Status != store.LifecycleFailed || !strings.Contains(last.Error, "boom") {
		t.Errorf("last event = %+v", last)
	}
}

func TestDeployWithoutDeployer(t *testing.T) {
	e, admin, _, _ := liveEnv(t, newFakeFleet())
	for _, tc := range []struct{ method, path, body string }{
		{"POST", deployPath, iniBody("[decky-02]\nservices=ssh\n", false)},
		{"DELETE", "/api/v1/deckies/decky-01", ``},
	} {
		if rec := e.do(tc.method, tc.path, admin, tc.body); rec.Code != http.StatusServiceUnavailable {
			t.Errorf("%s %s = %d %s; want 503", tc.method, tc.path, rec.Code, rec.Body)
		}
	}
}

func TestDeployAfterDrain(t *testing.T) {
	e, admin, _, _ := liveEnv(t, newFakeDeployer())
	Drain(e.srv)
	if rec := e.do("POST", deployPath, admin, iniBody("[decky-02]\nservices=ssh\n", false)); rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("deploy while draining = %d %s; want 503", rec.Code, rec.Body)
	}
}
