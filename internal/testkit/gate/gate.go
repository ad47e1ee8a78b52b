// Package gate decides what a test does when something it needs from the
// machine (a client binary, a database, docker) is missing: skip with the
// reason, or fail when DECNET_REQUIRE_ALL=1 (as CI sets it), so a CI run
// can never pass by silently skipping.
package gate

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// RequireAll reports whether missing prerequisites must fail tests.
func RequireAll() bool { return os.Getenv("DECNET_REQUIRE_ALL") == "1" }

// Missing skips the test with reason, or fails it under DECNET_REQUIRE_ALL=1.
func Missing(t testing.TB, reason string) {
	t.Helper()
	if RequireAll() {
		t.Fatalf("required by DECNET_REQUIRE_ALL=1 but unavailable: %s", reason)
	}
	t.Skip(reason)
}

// Tool returns the path of a program, or skips (fails) the test. It looks
// on PATH, then in /usr/sbin and /sbin, where Debian installs daemons
// (sshd, apache2, nginx) that are often not on a user's PATH.
func Tool(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/sbin"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	Missing(t, name+" is not installed (.ci/run installs it)")
	return ""
}

// RealServers gates a differential test that starts a real daemon (vsftpd,
// postfix, dovecot, …) on loopback to compare its answers with ours: it
// runs under DECNET_TEST_REALSERVERS=1 (CI sets it) and skips otherwise —
// or fails, under DECNET_REQUIRE_ALL=1. The test still calls Tool for the
// daemon it needs.
func RealServers(t testing.TB) {
	t.Helper()
	if os.Getenv("DECNET_TEST_REALSERVERS") != "1" {
		Missing(t, "DECNET_TEST_REALSERVERS=1 is not set (differential test against a real server)")
	}
}
