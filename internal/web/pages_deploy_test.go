package web

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/decnet-go/decnet/internal/decky"
	"github.com/decnet-go/decnet/internal/engine"
	"github.com/decnet-go/decnet/internal/store"
)

// The api.Deployer side of fakeFleet: deckies live in svcs; their
// addresses in the fixed placement below.

var fakeAddrs = map[string]netip.Addr{"decky-01": netip.MustParseAddr("10.0.0.2"), "decky-02": netip.MustParseAddr("10.0.0.3")}

func (f *fakeFleet) AddDecky(ctx context.Context, d decky.Decky) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.svcs[d.Name]; ok {
		return fmt.Errorf("%w: %s", engine.ErrDeckyExists, d.Name)
	}
	for _, o := range f.started {
		if o.IP == d.IP {
			return fmt.Errorf("%w: address %s", engine.ErrDeckyExists, d.IP)
		}
	}
	f.svcs[d.Name] = slices.Clone(d.Services)
	f.started = append(f.started, d)
	row := store.DeckyRow{Name: d.Name, IP: d.IP.String(), Distro: d.Distro, Status: "running"}
	for i, svc := range d.Services {
		row.Services = append(row.Services, store.ServiceBinding{Name: svc, Proto: "tcp", Port: 1000 + i, RequestedPort: 1000 + i, Status: "listening"})
	}
	if f.put != nil {
		return f.put(ctx, row)
	}
	return nil
}

func (f *fakeFleet) RemoveDecky(_ context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.svcs[name]; !ok {
		return engine.ErrUnknownDecky
	}
	delete(f.svcs, name)
	return nil
}

func (f *fakeFleet) RunningDeckies() []decky.Decky {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []decky.Decky
	for name, svcs := range f.svcs {
		d := decky.Decky{Name: name, IP: fakeAddrs[name], Services: slices.Clone(svcs)}
		if i := slices.IndexFunc(f.started, func(o decky.Decky) bool { return o.Name == name }); i >= 0 {
			d.IP = f.started[i].IP
		}
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b decky.Decky) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func (f *fakeFleet) Catalog() decky.ServiceCatalog { return f.reg }

func (f *fakeFleet) Placement() decky.Network {
	return decky.Network{Subnet: netip.MustParsePrefix("10.0.0.0/24"), Gateway: netip.MustParseAddr("10.0.0.1")}
}

// TestDeckiesDeployGolden: admins get the deploy form on the Deckies
// screen, viewers do not; bad input comes back beside its field.
func TestDeckiesDeployGolden(t *testing.T) {
	e, _, _ := newAdminEnv(t)
	a := e.browser()
	csrf := a.login("alice", testPassword)
	v := e.browser()
	v.login("victor", testPassword)

	page := a.do("GET", "/ui/deckies", nil)
	body := page.Body.String()
	for _, w := range []string{`action="/ui/deckies/deploy"`, `<option value="linux-server">linux-server — ssh, http</option>`, `max="10"`} {
		if !strings.Contains(body, w) {
			t.Errorf("admin deckies page lacks %q", w)
		}
	}
	golden(t, "deckies_admin", fragment(t, body))

	page = v.do("GET", "/ui/deckies", nil)
	if body := page.Body.String(); page.Code != http.StatusOK || strings.Contains(body, "/ui/deckies/deploy") {
		t.Fatalf("viewer deckies page offers a deploy: %d", page.Code)
	}
	golden(t, "deckies_viewer", fragment(t, page.Body.String()))

	rec := a.do("POST", "/ui/deckies/deploy", url.Values{"csrf": {csrf}, "archetype": {"linux-server"}, "count": {"11"}, "prefix": {"web"}})
	if rec.Code != http.StatusUnprocessableEntity {
		t.Fatalf("over the limit: %d\n%s", rec.Code, rec.Body)
	}
	golden(t, "deckies_deploy_error", fragment(t, rec.Body.String()))
}

// TestDeployFromArchetype: a deploy adds the archetype's deckies through
// the fleet with fresh names and addresses, records their lifecycle and
// shows them; bad input names its field and starts nothing.
func TestDeployFromArchetype(t *testing.T) {
	e, f, notes := newAdminEnv(t)
	a := e.browser()
	csrf := a.login("alice", testPassword)
	deploy := func(form url.Values) (int, string) {
		t.Helper()
		form.Set("csrf", csrf)
		rec := a.do("POST", "/ui/deckies/deploy", form)
		if rec.Code == http.StatusSeeOther {
			if loc := rec.Header().Get("Location"); !strings.HasPrefix(loc, "/ui/deckies?") {
				t.Fatalf("redirect to %q", loc)
			}
			return rec.Code, a.do("GET", rec.Header().Get("Location"), nil).Body.String()
		}
		return rec.Code, rec.Body.String()
	}

	code, body := deploy(url.Values{"archetype": {"linux-server"}, "count": {"2"}, "prefix": {"web"}})
	if code != http.StatusSeeOther {
		t.Fatalf("deploy: %d\n%s", code, body)
	}
	if len(f.started) != 2 {
		t.Fatalf("started %v, want 2 deckies", f.started)
	}
	for i, d := range f.started {
		name, ip := fmt.Sprintf("web-%02d", i+1), fmt.Sprintf("10.0.0.%d", 4+i)
		if d.Name != name || d.IP.String() != ip || !slices.Equal(d.Services, []string{"ssh", "http"}) || d.Archetype != "linux-server" {
			t.Errorf("decky %d = %+v, want %s at %s with ssh, http", i, d, name, ip)
		}
		if !strings.Contains(body, `id="d-`+name+`"`) {
			t.Errorf("deckies page does not show %s", name)
		}
	}
	if !strings.Contains(body, "Deployed web-01, web-02 (linux-server).") {
		t.Errorf("no notice:\n%s", body)
	}
	if want := []string{"decky.web-01.lifecycle", "decky.web-01.lifecycle", "decky.web-02.lifecycle", "decky.web-02.lifecycle"}; !slices.Equal(*notes, want) {
		t.Errorf("bus notices %v, want %v", *notes, want)
	}

	// Names in use are skipped; the default prefix is decnet deploy's.
	if code, body = deploy(url.Values{"archetype": {"web-server"}, "count": {"1"}, "prefix": {"web"}}); code != http.StatusSeeOther || f.started[2].Name != "web-03" {
		t.Fatalf("second deploy: %d %v\n%s", code, f.started, body)
	}
	if code, _ = deploy(url.Values{"archetype": {"deaddeck"}, "count": {"1"}}); code != http.StatusSeeOther || f.started[3].Name != "decky-03" {
		t.Fatalf("default prefix: %d %v", code, f.started)
	}

	if err := e.st.SetState(context.Background(), configLimitsKey, `{"deployment_limit":3}`); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		form url.Values
		want string
		id   string
	}{
		{"unknown archetype", url.Values{"archetype": {"mainframe"}, "count": {"1"}}, "Archetype: choose one of the listed archetypes.", "deploy-archetype"},
		{"no archetype", url.Values{"count": {"1"}}, "Archetype: choose", "deploy-archetype"},
		{"zero", url.Values{"archetype": {"deaddeck"}, "count": {"0"}}, "Count: a whole number from 1 to 3", "deploy-count"},
		{"over the stored limit", url.Values{"archetype": {"deaddeck"}, "count": {"4"}}, "Count: a whole number from 1 to 3", "deploy-count"},
		{"not a number", url.Values{"archetype": {"deaddeck"}, "count": {"two"}}, "Count: ", "deploy-count"},
		{"bad prefix", url.Values{"archetype": {"deaddeck"}, "count": {"1"}, "prefix": {"web_01!"}}, "Name prefix: ", "deploy-prefix"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(f.started)
			code, body := deploy(tc.form)
			if code != http.StatusUnprocessableEntity || !strings.Contains(body, tc.want) ||
				!strings.Contains(body, `id="`+tc.id+`"`) || !strings.Contains(body, `aria-invalid="true" aria-describedby="deploy-error"`) {
				t.Errorf("%d, want 422 with %q beside %s\n%s", code, tc.want, tc.id, body)
			}
			if len(f.started) != before {
				t.Errorf("a refused deploy started %v", f.started[before:])
			}
		})
	}
}

// TestDeployWithoutDeployer: a fleet that cannot start deckies (or none)
// offers no form and answers the action 503.
func TestDeployWithoutDeployer(t *testing.T) {
	e := newEnv(t)
	e.seed()
	e.addUser("alice", roleAdmin, false)
	a := e.browser()
	csrf := a.login("alice", testPassword)
	if body := a.do("GET", "/ui/deckies", nil).Body.String(); strings.Contains(body, "/ui/deckies/deploy") {
		t.Error("deploy form without a fleet")
	}
	rec := a.do("POST", "/ui/deckies/deploy", url.Values{"csrf": {csrf}, "archetype": {"deaddeck"}, "count": {"1"}})
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("deploy without a fleet: %d", rec.Code)
	}
}
