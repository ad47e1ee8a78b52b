package decky_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/decnet-go/decnet/internal/decky"
)

// The parsers read operator files, and the API accepts INI content: they
// must never panic or hang, and whatever they accept must be a valid fleet.

func FuzzParseINI(f *testing.F) {
	for _, s := range []string{
		"[general]\nnet=192.168.1.0/24\ngw=192.168.1.1\ninterface=eth0\n\n[decky-01]\nip=192.168.1.10\nservices=ssh,http\n",
		"[web]\narchetype=linux-server\namount=3\n[web.http]\nserver_header=nginx\n",
		"[d]\nservices: ssh\nnmap-os: windows\nmutate_interval: 30\n; comment\n# comment\n",
		"[custom-x]\nbinary=img\nexec=/x\nports=1,2\n[d]\nservices=x,ssh\n",
		"\xef\xbb\xbf[d]\r\nservices = ssh\r\n",
	} {
		f.Add([]byte(s))
	}
	addFiles(f, "*.ini")
	cat := builtinCatalog()
	f.Fuzz(func(t *testing.T, data []byte) {
		fl, err := decky.ParseINI("fuzz.ini", data, cat)
		checkFleet(t, fl, err)
	})
}

func FuzzParseYAML(f *testing.F) {
	for _, s := range []string{
		"general: {net: 10.0.0.0/24, gw: 10.0.0.1}\ndeckies:\n  - {name: a, services: [ssh, http]}\n",
		"deckies:\n  - name: web\n    archetype: linux-server\n    amount: 2\n    service_config: {http: {response_code: 404}}\n",
		"custom:\n  - {name: x, binary: img, ports: [1]}\ndeckies:\n  - {name: d, services: [x]}\n",
	} {
		f.Add([]byte(s))
	}
	addFiles(f, "*.yaml")
	cat := builtinCatalog()
	f.Fuzz(func(t *testing.T, data []byte) {
		fl, err := decky.ParseYAML("fuzz.yaml", data, cat)
		checkFleet(t, fl, err)
	})
}

func addFiles(f *testing.F, pattern string) {
	files, _ := filepath.Glob(filepath.Join("testdata", pattern))
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

func checkFleet(t *testing.T, fl *decky.Fleet, err error) {
	t.Helper()
	if err != nil {
		if fl != nil {
			t.Fatal("fleet and error both returned")
		}
		return
	}
	if len(fl.Deckies) == 0 {
		t.Fatal("accepted a fleet without deckies")
	}
	names, ips := map[string]bool{}, map[string]bool{}
	for _, d := range fl.Deckies {
		if err := d.Validate(); err != nil {
			t.Fatalf("accepted an invalid decky: %v", err)
		}
		if names[d.Name] || ips[d.IP.String()] {
			t.Fatalf("duplicate name or address: %s %s", d.Name, d.IP)
		}
		names[d.Name], ips[d.IP.String()] = true, true
		if _, ok := decky.LookupFamily(d.OSFamily); !ok {
			t.Fatalf("unknown family %q", d.OSFamily)
		}
		if fl.Network.Subnet.IsValid() && !fl.Network.Subnet.Contains(d.IP) {
			t.Fatalf("%s outside %s", d.IP, fl.Network.Subnet)
		}
	}
}
