package main

import (
	"strings"
	"testing"
)

// deploy --dry-run builds the fleet from the flags without docker: fixed
// services, an archetype, random services and distros, and clear errors.
func TestDeployDryRunFlags(t *testing.T) {
	dir := t.TempDir()
	base := []string{"deploy", "--dry-run", "--data-dir", dir, "--subnet", "172.30.99.0/24"}
	cases := []struct {
		name string
		args []string
		want []string // lines the compose file must have
		err  string
	}{
		{"services", []string{"--deckies", "2", "--services", "ssh,ftp"},
			[]string{"container_name: decky-01-ssh", "container_name: decky-02-ftp", "ipv4_address: 172.30.99.3"}, ""},
		{"archetype", []string{"--deckies", "1", "--archetype", "web-server"},
			[]string{"container_name: decky-01-http"}, ""},
		{"random", []string{"--deckies", "6", "--randomize-services", "--randomize-distros"},
			[]string{"container_name: decky-06"}, ""},
		{"ip start", []string{"--deckies", "2", "--ip-start", "172.30.99.50"},
			[]string{"ipv4_address: 172.30.99.50", "ipv4_address: 172.30.99.51"}, ""},
		{"ip start outside", []string{"--deckies", "1", "--ip-start", "10.0.0.5"}, nil, "outside"},
		{"services and archetype", []string{"--archetype", "web-server", "--services", "ssh"}, nil, "exclude each other"},
		{"unknown distro", []string{"--distro", "plan9"}, nil, `unknown distro "plan9"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := run(t, append(base, tc.args...)...)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v; want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("compose file lacks %q", w)
				}
			}
		})
	}
}
