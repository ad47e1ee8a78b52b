package decky_test

import (
	"encoding/json"
	"errors"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/decnet-go/decnet/internal/decky"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json")

func TestExampleGolden(t *testing.T) {
	f, err := decky.LoadFile("testdata/example.ini", fullCatalog())
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	golden := "testdata/example.golden.json"
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("resolved fleet differs from %s (go test -update refreshes it):\n%s", golden, got)
	}

	// The YAML spelling of the same fleet resolves to the same thing.
	y, err := decky.LoadFile("testdata/example.yaml", fullCatalog())
	if err != nil {
		t.Fatal(err)
	}
	yj, _ := json.MarshalIndent(y, "", "  ")
	if string(append(yj, '\n')) != string(want) {
		t.Errorf("example.yaml resolves differently from example.ini:\n%s", yj)
	}
}

func TestExampleResolution(t *testing.T) {
	f, err := decky.LoadFile("testdata/example.ini", fullCatalog())
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]decky.Decky{}
	for _, d := range f.Deckies {
		byName[d.Name] = d
	}
	if len(f.Deckies) != 10 {
		t.Fatalf("%d deckies, want 10: %v", len(f.Deckies), byName)
	}
	dc := byName["dc-01"]
	if dc.OSFamily != "windows_server" || strings.Join(dc.Services, ",") != "ldap,smb,rdp,llmnr" || dc.IP != netip.MustParseAddr("192.168.50.10") {
		t.Errorf("dc-01 = %+v", dc)
	}
	if dc.Distro != "debian" && dc.Distro != "ubuntu22" {
		t.Errorf("dc-01 distro %q is not one the archetype prefers", dc.Distro)
	}
	for _, n := range []string{"web-01", "web-02", "web-03"} {
		w := byName[n]
		if w.Distro != "ubuntu22" || w.Config["http"]["fake_app"] != "wordpress" || w.Archetype != "web-server" {
			t.Errorf("%s = %+v", n, w)
		}
	}
	// Members get their own copy of the service config.
	byName["web-01"].Config["http"]["fake_app"] = "changed"
	if byName["web-02"].Config["http"]["fake_app"] != "wordpress" {
		t.Error("amount members share one config map")
	}
	// Auto-allocated addresses start at .2 (after the gateway) and skip
	// the explicit ones.
	if got := byName["web-01"].IP.String(); got != "192.168.50.2" {
		t.Errorf("first allocated address %s, want 192.168.50.2", got)
	}
	if d := byName["db-01"]; d.MutateInterval != 45 || d.OSFamily != "linux" {
		t.Errorf("db-01 = %+v", d)
	}
	if d := byName["hmi-01"]; d.OSFamily != "windows" || d.Distro != "" {
		t.Errorf("hmi-01 = %+v", d)
	}
	if len(f.Custom) != 1 || f.Custom[0].Image != "ghcr.io/example/modbus-sim:1.4" || f.Custom[0].Runnable {
		t.Errorf("custom = %+v", f.Custom)
	}
	err = f.CheckRunnable()
	if !errors.Is(err, decky.ErrCustomService) || !strings.Contains(err.Error(), "hmi-01") {
		t.Errorf("CheckRunnable = %v, want ErrCustomService naming hmi-01", err)
	}
	// Re-allocating with the host's own address skips it.
	if err := f.Allocate(netip.MustParseAddr("192.168.50.2")); err != nil {
		t.Fatal(err)
	}
	if f.Deckies[1].Name != "web-01" || f.Deckies[1].IP.String() != "192.168.50.3" || f.Deckies[0].IP.String() != "192.168.50.10" {
		t.Errorf("after Allocate(host .2): %s %s, %s %s", f.Deckies[0].Name, f.Deckies[0].IP, f.Deckies[1].Name, f.Deckies[1].IP)
	}
}

func TestLocalWithBuiltinServices(t *testing.T) {
	f, err := decky.LoadFile("testdata/local.ini", builtinCatalog())
	if err != nil {
		t.Fatal(err)
	}
	if f.Deckies[0].IP.String() != "127.42.0.11" || f.Deckies[1].IP.String() != "127.42.0.12" {
		t.Errorf("loopback allocation: %s %s", f.Deckies[0].IP, f.Deckies[1].IP)
	}
	if s := strings.Join(f.Deckies[1].Services, ","); s != "ssh,http" || f.Deckies[1].Distro != "debian" {
		t.Errorf("decky-02 = %+v", f.Deckies[1])
	}
	if err := f.CheckRunnable(); err != nil {
		t.Error(err)
	}
}

func TestLoadFileFormats(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ini := "[d1]\nservices = ssh\n"
	yml := "deckies:\n  - {name: d1, services: ssh}\n"
	for _, p := range []string{write("a.ini", ini), write("a.conf", ini), write("a.yaml", yml), write("a.YML", yml)} {
		if f, err := decky.LoadFile(p, builtinCatalog()); err != nil || f.Deckies[0].Name != "d1" {
			t.Errorf("%s: %v", p, err)
		}
	}
	_, err := decky.LoadFile(write("a.toml", ini), builtinCatalog())
	if err == nil || !strings.Contains(err.Error(), `unknown format ".toml"`) {
		t.Errorf("toml: %v", err)
	}
	_, err = decky.LoadFile(filepath.Join(dir, "missing.ini"), builtinCatalog())
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	big := write("big.ini", "[d1]\nservices = ssh\n"+strings.Repeat("; padding\n", 60<<10))
	_, err = decky.LoadFile(big, builtinCatalog())
	if err == nil || !strings.Contains(err.Error(), "big.ini: larger than 512 KiB") {
		t.Errorf("over the limit: %v", err)
	}
}

func TestParseINIErrors(t *testing.T) {
	cases := []struct{ name, ini, want string }{
		{"misspelt key", "[decky-01]\nsevices = ssh\n",
			`fleet.ini:2: unknown key "sevices" in [decky-01] (did you mean "services"?)`},
		{"unknown service", "[general]\nnet=10.0.0.0/24\n\n[decky-01]\nservices = ssh, htttp\n",
			`fleet.ini:5: [decky-01]: unknown service "htttp" (did you mean "http"?) (known: `},
		{"archetype needs services we lack", "[dc]\narchetype = domain-controller\n",
			`fleet.ini:2: [dc]: archetype domain-controller needs service "ldap", which this decnet does not have yet (available: `},
		{"unknown archetype", "[d]\narchetype = linux-srv\n",
			`fleet.ini:2: [d]: unknown archetype "linux-srv" (did you mean "linux-server"?) (known: database-server, deaddeck,`},
		{"unknown distro", "[d]\nservices=ssh\ndistro = debain\n",
			`fleet.ini:3: [d]: unknown distro "debain" (did you mean "debian"?) (known: debian, debian11, ubuntu22,`},
		{"unknown nmap_os", "[d]\nservices=ssh\nnmap-os = winows\n",
			`fleet.ini:3: [d]: unknown nmap_os "winows" (did you mean "windows"?) (known: bsd, cisco, embedded, linux, windows, windows_server)`},
		{"bad ip", "[d]\nservices=ssh\nip = 10.0.0.300\n",
			`fleet.ini:3: [d] ip: "10.0.0.300" is not an IPv4 address`},
		{"duplicate name via amount", "[web]\nservices=ssh\namount=2\n[web-02]\nservices=ssh\n",
			`fleet.ini:4: duplicate decky name "web-02" (first defined at line 1)`},
		{"duplicate ip", "[a]\nservices=ssh\nip=127.0.0.5\n[b]\nservices=ssh\nip=127.0.0.5\n",
			`fleet.ini:6: [b]: ip 127.0.0.5 is already used by decky a`},
		{"ip outside subnet", "[general]\nnet = 10.0.0.0/24\n[a]\nservices=ssh\nip=10.0.1.5\n",
			`fleet.ini:5: [a]: ip 10.0.1.5 is outside net 10.0.0.0/24`},
		{"ip is gateway", "[general]\nnet = 10.0.0.0/24\ngw=10.0.0.1\n[a]\nservices=ssh\nip=10.0.0.1\n",
			`fleet.ini:6: [a]: ip 10.0.0.1 is the gateway`},
		{"ip is broadcast", "[general]\nnet = 10.0.0.0/24\n[a]\nservices=ssh\nip=10.0.0.255\n",
			`fleet.ini:5: [a]: ip 10.0.0.255 is the broadcast address of 10.0.0.0/24`},
		{"schema rejects value", "[decky-01]\nservices = ssh, http\n\n[decky-01.http]\nfake_app = login\nresponse_code = abc\n",
			`fleet.ini:6: [decky-01.http] key "response_code": "abc" is not a whole number`},
		{"schema unknown key", "[decky-01]\nservices = http\n[decky-01.http]\nserver = x\n",
			`fleet.ini:4: [decky-01.http] unknown key "server"`},
		{"config for a service not run", "[d]\nservices = ssh\n[d.http]\nfake_app = login\n",
			`fleet.ini:3: [d.http] configures http, but d does not run it (services: ssh)`},
		{"misspelt service section", "[d]\nservices = ssh\n[d.htttp]\nfake_app = login\n",
			`fleet.ini:3: [d.htttp]: unknown service "htttp" (did you mean "http"?)`},
		{"service section without decky", "[d]\nservices = ssh\n[e.ssh]\nbanner = x\n",
			`fleet.ini:3: [e.ssh]: no decky section [e] for these ssh settings`},
		{"amount with ip", "[g]\nservices=ssh\namount = 3\nip = 127.0.0.9\n",
			`fleet.ini:4: [g]: ip cannot be combined with amount`},
		{"amount too large", "[g]\nservices=ssh\namount = 101\n",
			`fleet.ini:3: [g] amount: "101" is not a whole number from 1 to 100`},
		{"no services", "[g]\nnmap_os = linux\n",
			`fleet.ini:1: [g]: no services and no archetype`},
		{"bad decky name", "[Web_01]\nservices=ssh\n",
			`fleet.ini:1: [Web_01]: decky name "Web_01": use lower-case letters, digits and dashes (at most 63)`},
		{"no deckies", "[general]\nnet=10.0.0.0/24\n",
			`fleet.ini: no deckies`},
		{"key before section", "services = ssh\n",
			`fleet.ini:1: key "services" comes before any [section]`},
		{"not key value", "[d]\nservices ssh\n",
			`fleet.ini:2: expected "key = value" or a [section], got "services ssh"`},
		{"unclosed section", "[d\nservices = ssh\n",
			`fleet.ini:1: section header "[d" has no closing ]`},
		{"duplicate section", "[d]\nservices=ssh\n[d]\nservices=http\n",
			`fleet.ini:3: duplicate section [d] (first at line 1)`},
		{"duplicate key", "[d]\nservices=ssh\nservices=http\n",
			`fleet.ini:3: [d]: services is set twice (also at line 2)`},
		{"nmap-os and nmap_os", "[d]\nservices=ssh\nnmap-os=linux\nnmap_os=bsd\n",
			`fleet.ini:4: [d]: nmap_os is set twice (also at line 3)`},
		{"general misspelt", "[general]\nnett = 10.0.0.0/24\n[d]\nservices=ssh\n",
			`fleet.ini:2: unknown key "nett" in [general] (did you mean "net"?)`},
		{"net with host bits", "[general]\nnet = 10.0.0.7/24\n[d]\nservices=ssh\n",
			`fleet.ini:2: [general] net: 10.0.0.7/24 has host bits set (did you mean 10.0.0.0/24?)`},
		{"gateway outside", "[general]\nnet = 10.0.0.0/24\ngw = 10.0.1.1\n[d]\nservices=ssh\n",
			`fleet.ini:3: [general] gw: 10.0.1.1 is outside net 10.0.0.0/24`},
		{"subnet full", "[general]\nnet = 10.0.0.0/30\ngw=10.0.0.1\n[g]\nservices=ssh\namount=2\n",
			`fleet.ini:1: net 10.0.0.0/30 has no free address left for decky g-02`},
		{"custom without binary", "[custom-x]\nports = 1\n[d]\nservices=x\n",
			`fleet.ini:1: [custom-x]: binary (the service's image) is missing`},
		{"custom bad port", "[custom-x]\nbinary = img\nports = 1, 70000\n[d]\nservices=x\n",
			`fleet.ini:3: [custom-x] ports: "70000" is not a port number (1-65535)`},
		{"custom shadows builtin", "[custom-ssh]\nbinary = img\n[d]\nservices=ssh\n",
			`fleet.ini:1: [custom-ssh]: "ssh" is already a built-in service`},
		{"bad mutate interval", "[d]\nservices=ssh\nmutate_interval = soon\n",
			`fleet.ini:3: [d] mutate_interval: "soon" is not a whole number of minutes (1 or more)`},
		{"service twice", "[d]\nservices=ssh, ssh\n",
			`fleet.ini:2: [d] services: ssh is listed twice`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decky.ParseINI("fleet.ini", []byte(tc.ini), builtinCatalog())
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			if !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("error\n  %s\nwant it to start with\n  %s", err, tc.want)
			}
			var ce *decky.ConfigError
			if !errors.As(err, &ce) || ce.File != "fleet.ini" {
				t.Errorf("not a *ConfigError naming the file: %#v", err)
			}
		})
	}
}

func TestParseYAMLErrors(t *testing.T) {
	cases := []struct{ name, yaml, want string }{
		{"misspelt key", "deckies:\n  - name: decky-01\n    sevices: [ssh]\n",
			`fleet.yaml:3: unknown key "sevices" in decky "decky-01" (did you mean "services"?)`},
		{"unknown service", "deckies:\n  - name: d\n    services: [ssh, htttp]\n",
			`fleet.yaml:3: decky "d": unknown service "htttp" (did you mean "http"?)`},
		{"schema rejects value", "deckies:\n  - name: decky-01\n    services: [http]\n    service_config:\n      http:\n        response_code: abc\n",
			`fleet.yaml:6: decky "decky-01" service_config.http key "response_code": "abc" is not a whole number`},
		{"unknown service config", "deckies:\n  - name: d\n    services: [http]\n    service_config:\n      htttp: {fake_app: login}\n",
			`fleet.yaml:5: decky "d" service_config.htttp: unknown service "htttp" (did you mean "http"?)`},
		{"top level", "decky:\n  - name: d\n",
			`fleet.yaml:1: unknown key "decky" in the top level (did you mean "deckies"?)`},
		{"deckies not a list", "deckies: {name: d}\n",
			`fleet.yaml:1: deckies: expected a list, got a mapping`},
		{"no name", "deckies:\n  - services: [ssh]\n",
			`fleet.yaml:2: deckies[0]: name is missing`},
		{"bad ip", "general: {net: 10.0.0.0/24}\ndeckies:\n  - name: d\n    services: ssh\n    ip: 10.0.9.1\n",
			`fleet.yaml:5: decky "d": ip 10.0.9.1 is outside net 10.0.0.0/24`},
		{"duplicate ip", "deckies:\n  - {name: a, services: ssh, ip: 127.0.0.5}\n  - {name: b, services: ssh, ip: 127.0.0.5}\n",
			`fleet.yaml:3: decky "b": ip 127.0.0.5 is already used by decky a`},
		{"duplicate name", "deckies:\n  - {name: a, services: ssh}\n  - {name: a, services: ssh}\n",
			`fleet.yaml:3: duplicate decky name "a" (first defined at line 2)`},
		{"alias", "x: &a [ssh]\ndeckies:\n  - {name: a, services: *a}\n",
			`fleet.yaml:1: anchors and aliases (&, *) are not supported`},
		{"syntax", "deckies:\n  - name: [\n",
			`fleet.yaml: line 2:`},
		{"general misspelt", "general: {gateway: 10.0.0.1}\ndeckies:\n  - {name: a, services: ssh}\n",
			`fleet.yaml:1: unknown key "gateway" in general`},
		{"empty", "",
			`fleet.yaml: empty file`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decky.ParseYAML("fleet.yaml", []byte(tc.yaml), builtinCatalog())
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			if !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("error\n  %s\nwant it to start with\n  %s", err, tc.want)
			}
		})
	}
}
