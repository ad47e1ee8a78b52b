package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/decnet-go/decnet/internal/decky"
)

// run executes the decnet command line in-process and returns its output.
func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := rootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

func TestListCommands(t *testing.T) {
	cases := []struct {
		args []string
		want []*regexp.Regexp // lines the table must have
	}{
		{[]string{"services"}, []*regexp.Regexp{
			regexp.MustCompile(`(?m)^SERVICE +PORTS +CONFIG KEYS$`),
			regexp.MustCompile(`(?m)^ssh +22/tcp +banner \(string\);`),
			regexp.MustCompile(`(?m)^http +80/tcp +.*response_code \(int, default 200\)`),
		}},
		{[]string{"archetypes"}, []*regexp.Regexp{
			regexp.MustCompile(`(?m)^ARCHETYPE +SERVICES +DISTROS +NMAP_OS`),
			regexp.MustCompile(`(?m)^domain-controller +ldap,smb,rdp,llmnr +debian,ubuntu22 +windows_server +ldap,smb,rdp,llmnr$`),
			regexp.MustCompile(`(?m)^linux-server +ssh,http +debian,ubuntu22,rocky9,fedora +linux +-$`),
		}},
		{[]string{"distros"}, []*regexp.Regexp{
			regexp.MustCompile(`(?m)^DISTRO +NAME +SSH +KERNEL`),
			regexp.MustCompile(`(?m)^ubuntu22 +Ubuntu 22\.04\.4 LTS +OpenSSH_8\.9p1 Ubuntu-3ubuntu0\.10 +5\.15\.0-107-generic +generic +yes$`),
			regexp.MustCompile(`(?m)^kali +Kali GNU/Linux Rolling +OpenSSH_9\.7p1 Debian-5 +6\.8\.11-amd64 +rolling +no$`),
		}},
		{[]string{"families"}, []*regexp.Regexp{
			regexp.MustCompile(`(?m)^FAMILY +TTL +SYN_RETRIES`),
			regexp.MustCompile(`(?m)^windows +128 +2 +1 +1 +1 +0 +0 +30 +0 +0$`),
			regexp.MustCompile(`(?m)^embedded +255 +3 +0 +0 +0 +0 +1 +15 +0 +0$`),
		}},
	}
	for _, tc := range cases {
		t.Run(tc.args[0], func(t *testing.T) {
			out, err := run(t, tc.args...)
			if err != nil {
				t.Fatal(err)
			}
			for _, re := range tc.want {
				if !re.MatchString(out) {
					t.Errorf("no line matching %s in\n%s", re, out)
				}
			}
			help, err := run(t, tc.args[0], "--help")
			if err != nil || !strings.Contains(help, "Examples:") || !strings.Contains(help, "--json") {
				t.Errorf("help lacks examples or --json: %v\n%s", err, help)
			}
		})
	}
}

func TestListJSON(t *testing.T) {
	var services []struct {
		Name   string
		Ports  []string
		Config []struct{ Key, Type string }
	}
	decode(t, &services, "services", "--json")
	i := slices.IndexFunc(services, func(s struct {
		Name   string
		Ports  []string
		Config []struct{ Key, Type string }
	}) bool {
		return s.Name == "ssh"
	})
	if i < 0 || services[i].Ports[0] != "22/tcp" || services[i].Config[0].Key != "banner" {
		t.Errorf("services --json: %+v", services)
	}

	var archetypes []decky.Archetype
	decode(t, &archetypes, "archetypes", "--json")
	if len(archetypes) != 15 || archetypes[0].Slug != "database-server" || archetypes[0].OSFamily != "linux" {
		t.Errorf("archetypes --json: %+v", archetypes)
	}

	var distros []struct {
		Slug, SSH, Kernel string
		Seeded            bool
	}
	decode(t, &distros, "distros", "--json")
	if len(distros) != 10 || distros[0].Slug != "debian" || !distros[0].Seeded || distros[9].Slug != "arch" || distros[9].Seeded {
		t.Errorf("distros --json: %+v", distros)
	}

	var families []struct {
		Name    string
		Sysctls map[string]string
	}
	decode(t, &families, "families", "--json")
	if len(families) != 6 || families[0].Name != "bsd" || families[0].Sysctls["net.ipv4.ip_default_ttl"] != "64" {
		t.Errorf("families --json: %+v", families)
	}
}

func decode(t *testing.T, v any, args ...string) {
	t.Helper()
	out, err := run(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("%v: %v\n%s", args, err, out)
	}
}

func TestUpConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}

	// A LAN plan is refused with the reason and the way out, before
	// anything starts.
	lan := write("lan.ini", "[general]\nnet = 192.168.1.0/24\ngw = 192.168.1.1\n[web]\narchetype = linux-server\namount = 5\n")
	_, err := run(t, "up", "--config", lan, "--data-dir", filepath.Join(dir, "data"))
	if err == nil {
		t.Fatal("up accepted a fleet on 192.168.1.0/24")
	}
	for _, want := range []string{"web-01 (192.168.1.2)", "and 2 more", "not on loopback", "decnet deploy --driver docker", "127.42.0.11"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%s", want, err)
		}
	}
	if _, statErr := os.Stat(filepath.Join(dir, "data")); !errors.Is(statErr, os.ErrNotExist) {
		t.Error("up started (created its data dir) despite the bad fleet")
	}

	// Mistakes in the file come back with file and line.
	bad := write("bad.ini", "[decky-01]\nsevices = ssh\n")
	if _, err := run(t, "up", "--config", bad); err == nil || err.Error() != `bad.ini:2: unknown key "sevices" in [decky-01] (did you mean "services"?)` {
		t.Errorf("bad file: %v", err)
	}

	// A custom service is modelled but cannot run.
	custom := write("custom.yaml", "custom:\n  - {name: scada, binary: img}\ndeckies:\n  - {name: d, services: [scada]}\n")
	if _, err := run(t, "up", "--config", custom); !errors.Is(err, decky.ErrCustomService) {
		t.Errorf("custom service: %v", err)
	}

	// A loopback fleet loads as is.
	fleet, err := loadLocalFleet(write("local.yaml", "deckies:\n  - {name: a, services: [ssh]}\n  - {name: b, ip: 127.0.0.77, archetype: linux-server}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if fleet[0].IP.String() != "127.42.0.11" || fleet[1].IP.String() != "127.0.0.77" || strings.Join(fleet[1].Services, ",") != "ssh,http" {
		t.Errorf("loopback fleet: %+v", fleet)
	}
}
