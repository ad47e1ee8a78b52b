package docker

import (
	"context"
	"flag"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/container"

	"github.com/decnet-go/decnet/internal/decky"
	"github.com/decnet-go/decnet/internal/engine/runtime"
	"github.com/decnet-go/decnet/internal/honeypot"
	"github.com/decnet-go/decnet/internal/honeypot/builtin"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func testOptions() DeployOptions {
	return DeployOptions{
		Network: "bridge", Subnet: netip.MustParsePrefix("10.77.0.0/24"),
		DataDir: "/var/lib/decnet", InstallSecret: []byte("0123456789abcdef0123456789abcdef"),
		Image: "decnet-decky:0123456789abcdef", NATSURL: "nats://10.77.0.1:4222",
	}
}

func testFleet() []decky.Decky {
	return []decky.Decky{
		{Name: "decky-01", IP: netip.MustParseAddr("10.77.0.10"), Services: []string{"ssh", "http"}},
		{Name: "decky-02", IP: netip.MustParseAddr("10.77.0.11"), Services: []string{"ssh"}, OSFamily: "windows",
			Config: map[string]map[string]string{"ssh": {"banner": "SSH-2.0-OpenSSH_for_Windows_8.1"}}},
	}
}

func TestPlanContainers(t *testing.T) {
	plans, err := plan(testFleet(), testOptions(), "decnet_lan", nil)
	if err != nil {
		t.Fatal(err)
	}
	win := plans[1]
	base := win.Base
	cfg, hc, nc := base.create()
	if base.Name != "decky-02" || cfg.Hostname == "" || cfg.Hostname != win.Hostname {
		t.Errorf("base %s hostname %q, want decky-02 with the persona's hostname", base.Name, cfg.Hostname)
	}
	if hc.Sysctls["net.ipv4.ip_default_ttl"] != "128" || hc.Sysctls[unprivPortsKey] != "0" {
		t.Errorf("base sysctls %v: want windows TTL 128 and unprivileged ports from 0", hc.Sysctls)
	}
	if got := nc.EndpointsConfig["decnet_lan"].IPAMConfig.IPv4Address; got != win.Decky.IP || hc.NetworkMode != "decnet_lan" {
		t.Errorf("base on %s with ip %s, want decnet_lan with %s", hc.NetworkMode, got, win.Decky.IP)
	}
	if !slices.Equal(cfg.Cmd, []string{"decky", "run", "--idle"}) {
		t.Errorf("base command %v", cfg.Cmd)
	}
	if len(win.Services) != 1 {
		t.Fatalf("decky-02 has %d service containers, want 1", len(win.Services))
	}
	svc := win.Services[0]
	cfg, hc, nc = svc.create()
	checks := []struct {
		name string
		ok   bool
	}{
		{"name decky-02-ssh", svc.Name == "decky-02-ssh"},
		{"joins the base's netns", hc.NetworkMode == "container:decky-02" && nc == nil},
		{"no sysctls of its own", len(hc.Sysctls) == 0},
		{"user nobody", cfg.User == "65534:65534"},
		{"read-only rootfs", hc.ReadonlyRootfs},
		{"no capabilities", slices.Equal(hc.CapDrop, []string{"ALL"}) && len(hc.CapAdd) == 0},
		{"128 MiB", hc.Memory == 128<<20 && hc.MemorySwap == 128<<20},
		{"256 pids", hc.PidsLimit != nil && *hc.PidsLimit == 256},
		{"unless-stopped", hc.RestartPolicy.Name == container.RestartPolicyUnlessStopped},
		{"json-file 10m x 5", hc.LogConfig.Type == "json-file" && hc.LogConfig.Config["max-size"] == "10m" && hc.LogConfig.Config["max-file"] == "5"},
		{"state and drops binds", slices.Equal(hc.Binds, []string{"/var/lib/decnet/deckies/decky-02/ssh:/state/decky-02/ssh:rw",
			"/var/lib/decnet/deckies/decky-02/drops:/drops:ro"})},
		{"tmpfs /tmp", hc.Tmpfs["/tmp"] != ""},
		{"labels", cfg.Labels[LabelDecky] == "decky-02" && cfg.Labels[LabelService] == "ssh" && cfg.Labels[LabelRole] == RoleService && cfg.Labels[LabelManaged] == "true"},
		{"command", slices.Equal(cfg.Cmd, []string{"decky", "run", "--service", "ssh", "--state-dir", "/state", "--drops", "/drops", "--nats-url", "nats://10.77.0.1:4222"})},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("service container: %s does not hold: %+v %+v", c.name, cfg, hc)
		}
	}
	// The spec in the environment is the decky, config included.
	var spec, secret string
	for _, e := range cfg.Env {
		if v, ok := strings.CutPrefix(e, runtime.EnvSpec+"="); ok {
			spec = v
		}
		if v, ok := strings.CutPrefix(e, runtime.EnvSecret+"="); ok {
			secret = v
		}
	}
	d, err := runtime.DecodeSpec(spec)
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != "decky-02" || d.OSFamily != "windows" || d.Config["ssh"]["banner"] != "SSH-2.0-OpenSSH_for_Windows_8.1" {
		t.Errorf("decoded spec %+v", d)
	}
	if s, err := runtime.DecodeSecret(secret); err != nil || string(s) != string(testOptions().InstallSecret) {
		t.Errorf("secret %q does not decode to the install secret: %v", secret, err)
	}
}

func TestSpecHash(t *testing.T) {
	a, err := plan(testFleet(), testOptions(), "decnet_lan", nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := plan(testFleet(), testOptions(), "decnet_lan", nil)
	if a[0].Base.Labels[LabelSpecHash] != b[0].Base.Labels[LabelSpecHash] {
		t.Fatal("the same decky hashes differently")
	}
	f := testFleet()
	f[0].OSFamily = "bsd"
	c, _ := plan(f, testOptions(), "decnet_lan", nil)
	if c[0].Base.Labels[LabelSpecHash] == a[0].Base.Labels[LabelSpecHash] {
		t.Error("a new OS family does not change the base's hash")
	}
	if c[0].Services[0].Labels[LabelSpecHash] == a[0].Services[0].Labels[LabelSpecHash] {
		t.Error("a changed base does not change its services' hashes")
	}
	if c[1].Base.Labels[LabelSpecHash] != a[1].Base.Labels[LabelSpecHash] {
		t.Error("changing decky-01 changed decky-02")
	}
}

func TestPlanRejects(t *testing.T) {
	ip := netip.MustParseAddr
	cases := []struct {
		name  string
		fleet []decky.Decky
		want  string
	}{
		{"unknown family", []decky.Decky{{Name: "a", IP: ip("10.77.0.5"), Services: []string{"ssh"}, OSFamily: "amiga"}}, `nmap_os "amiga"`},
		{"outside subnet", []decky.Decky{{Name: "a", IP: ip("10.78.0.5"), Services: []string{"ssh"}}}, "outside the subnet"},
		{"unknown service", []decky.Decky{{Name: "a", IP: ip("10.77.0.5"), Services: []string{"gopher"}}}, `unknown service "gopher"`},
		{"same name", []decky.Decky{{Name: "a", IP: ip("10.77.0.5"), Services: []string{"ssh"}}, {Name: "a", IP: ip("10.77.0.6"), Services: []string{"ssh"}}}, "used twice"},
		{"same ip", []decky.Decky{{Name: "a", IP: ip("10.77.0.5"), Services: []string{"ssh"}}, {Name: "b", IP: ip("10.77.0.5"), Services: []string{"ssh"}}}, "also a's"},
		{"bad config key", []decky.Decky{{Name: "a", IP: ip("10.77.0.5"), Services: []string{"ssh"}, Config: map[string]map[string]string{"ssh": {"verison": "x"}}}}, "verison"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := plan(tc.fleet, testOptions(), "decnet_lan", nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestPlanNetwork(t *testing.T) {
	ips := []netip.Addr{netip.MustParseAddr("192.168.1.100"), netip.MustParseAddr("192.168.1.107"), netip.MustParseAddr("192.168.1.103")}
	o := DeployOptions{Network: "macvlan", Parent: "eth0", Subnet: netip.MustParsePrefix("192.168.1.0/24"), Gateway: netip.MustParseAddr("192.168.1.254")}
	n, err := planNetwork("decnet_lan", o, ips)
	if err != nil {
		t.Fatal(err)
	}
	if n.IPRange != netip.MustParsePrefix("192.168.1.96/28") || n.Options["parent"] != "eth0" || n.Gateway != o.Gateway {
		t.Errorf("macvlan network %+v", n)
	}
	o.Network = "ipvlan"
	if n, _ := planNetwork("decnet_lan", o, ips); n.Options["ipvlan_mode"] != "l2" {
		t.Errorf("ipvlan options %v, want l2", n.Options)
	}
	for _, bad := range []DeployOptions{
		{Network: "macvlan", Subnet: o.Subnet},                                          // no parent
		{Network: "bridge", Parent: "eth0", Subnet: o.Subnet},                           // parent on a bridge
		{Network: "overlay", Subnet: o.Subnet},                                          // unknown driver
		{Network: "bridge"},                                                             // no subnet
		{Network: "bridge", Subnet: o.Subnet, Gateway: netip.MustParseAddr("10.9.9.9")}, // gateway outside the subnet
	} {
		if _, err := planNetwork("decnet_lan", bad, ips); err == nil {
			t.Errorf("planNetwork(%+v) accepted", bad)
		}
	}
}

func TestCoverPrefix(t *testing.T) {
	a := netip.MustParseAddr
	cases := []struct {
		ips  []netip.Addr
		want string
	}{
		{[]netip.Addr{a("10.0.0.5")}, "10.0.0.5/32"},
		{[]netip.Addr{a("10.0.0.4"), a("10.0.0.5")}, "10.0.0.4/31"},
		{[]netip.Addr{a("10.0.0.10"), a("10.0.0.12"), a("10.0.0.11")}, "10.0.0.8/29"},
		{[]netip.Addr{a("10.0.0.127"), a("10.0.0.128")}, "10.0.0.0/24"},
	}
	for _, c := range cases {
		if got := coverPrefix(c.ips); got.String() != c.want {
			t.Errorf("coverPrefix(%v) = %s, want %s", c.ips, got, c.want)
		}
	}
}

func TestDynamicBinaryRefused(t *testing.T) {
	err := checkStatic("/bin/sh")
	if err == nil || !strings.Contains(err.Error(), "CGO_ENABLED=0") {
		t.Errorf("checkStatic(/bin/sh) = %v, want a refusal naming CGO_ENABLED=0", err)
	}
}

func TestDryRunGolden(t *testing.T) {
	d := &Driver{NetworkName: "decnet_lan"}
	o := testOptions()
	o.Network, o.Parent = "macvlan", "eth0"
	got, err := d.DryRun(testFleet(), o)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(got), "30313233") {
		t.Error("the dry run leaks the install secret")
	}
	again, _ := d.DryRun(testFleet(), o)
	if string(again) != string(got) {
		t.Error("dry run output is not stable")
	}
	golden := filepath.Join("testdata", "dryrun.golden.yml")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("dry run differs from %s (rerun with -update and review the diff):\n%s", golden, got)
	}
}

// stubService stands in for a service of DECNET's catalogue that has no
// emulator yet, so the original's example fleet can be planned: the
// containers a service gets do not depend on its protocol.
type stubService struct{ name string }

func (s stubService) Name() string                                            { return s.name }
func (s stubService) Ports() []honeypot.Port                                  { return nil }
func (s stubService) Schema() honeypot.Schema                                 { return honeypot.Schema{} }
func (s stubService) Serve(context.Context, net.Listener, honeypot.Env) error { return nil }

// exampleRegistry is the built-in registry plus stubs for every other
// service the original's example fleet names.
func exampleRegistry() *honeypot.Registry {
	b := builtin.Registry()
	var ctors []func() honeypot.Service
	for _, n := range b.Names() {
		ctors = append(ctors, func() honeypot.Service { s, _ := b.New(n); return s })
	}
	for _, n := range []string{"conpot", "ftp", "ldap", "llmnr", "mysql", "rdp", "smb", "snmp", "telnet", "imap", "pop3", "smtp", "redis", "postgres"} {
		if !slices.Contains(b.Names(), n) {
			ctors = append(ctors, func() honeypot.Service { return stubService{n} })
		}
	}
	return honeypot.NewRegistry(ctors...)
}

// TestDryRunExampleGolden: the compose file for the original's example
// fleet (testdata of internal/decky: a domain controller, web servers from
// an archetype with amount, per-service persona keys, OS families and a
// [custom-*] image) is stable and matches its golden file.
func TestDryRunExampleGolden(t *testing.T) {
	reg := exampleRegistry()
	f, err := decky.LoadFile(filepath.Join("..", "..", "decky", "testdata", "example.ini"), reg)
	if err != nil {
		t.Fatal(err)
	}
	d := &Driver{NetworkName: "decnet_lan", Registry: reg}
	o := testOptions()
	o.Network, o.Parent = "macvlan", f.Network.Interface
	o.Subnet, o.Gateway = f.Network.Subnet, f.Network.Gateway
	got, err := d.DryRun(f.Deckies, o)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`image: "ghcr.io/example/modbus-sim:1.4"`, `command: [/usr/bin/modbus-sim, "--port", "502"]`, "macvlan_mode: bridge"} {
		if !strings.Contains(string(got), want) {
			t.Errorf("dry run lacks %q", want)
		}
	}
	golden := filepath.Join("testdata", "example.golden.yml")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("dry run differs from %s (rerun with -update and review the diff)", golden)
	}
}
