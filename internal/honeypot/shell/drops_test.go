package shell

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/decnet-go/decnet/internal/honeypot"
)

// Dropped files show in a session that was open before the drop, lie over
// the persona's files, and the session's own changes win over them.
func TestShellSeesDrops(t *testing.T) {
	drops := &honeypot.Drops{Root: filepath.Join(t.TempDir(), "drops")}
	l, _ := testPersona.Account("root")
	sh := New(Config{Persona: testPersona, Login: l, Mode: Exec, Drops: drops})

	if out := run(sh, "cat /root/notes.txt"); !strings.Contains(out, "No such file") {
		t.Fatalf("before the drop: %q", out)
	}
	if err := drops.Write("/root/notes.txt", []byte("vpn: admin / Winter2026!\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := drops.Write("/opt/backup/db.sql", []byte("-- dump\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, cmd, want string }{
		{"cat dropped file", "cat /root/notes.txt", "vpn: admin / Winter2026!\n"},
		{"ls shows it", "ls /root", "notes.txt"},
		{"new directory", "ls /opt/backup", "db.sql"},
		{"ls -l mode", "ls -l /root/notes.txt", "-rw------- 1 root root 25"},
		{"persona files stay", "cat /etc/hostname", testPersona.Hostname},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if out := run(sh, tc.cmd); !strings.Contains(out, tc.want) {
				t.Fatalf("%s = %q; want it to contain %q", tc.cmd, out, tc.want)
			}
		})
	}
	run(sh, "echo mine > /root/notes.txt")
	if out := run(sh, "cat /root/notes.txt"); out != "mine\n" {
		t.Errorf("after the session wrote over the drop: %q", out)
	}
	run(sh, "rm -rf /opt/backup")
	if out := run(sh, "ls /opt"); strings.Contains(out, "backup") {
		t.Errorf("removed drop still listed: %q", out)
	}
	if err := drops.Remove("/root/notes.txt"); err != nil {
		t.Fatal(err)
	}
	sh2 := New(Config{Persona: testPersona, Login: l, Mode: Exec, Drops: drops})
	if out := run(sh2, "cat /root/notes.txt"); !strings.Contains(out, "No such file") {
		t.Errorf("after removing the drop: %q", out)
	}
}
