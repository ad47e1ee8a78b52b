package prober

import (
	"context"
	"net"
	"os"
	"os/exec"
	"regexp"
	"testing"
	"time"
)

var refLine = regexp.MustCompile(`(?m)^(JARM|RAW): (.*)$`)

// referenceJARM runs the reference jarm.py named by DECNET_JARM_REFERENCE
// against addr and returns its hash and raw string. The script is not
// packaged anywhere CI can install it from, so this oracle is opt-in: it
// skips (even under DECNET_REQUIRE_ALL) when the variable is unset. See
// docs/prober.md for how the pinned values were checked with it.
func referenceJARM(t *testing.T, addr string) (hash, raw string) {
	t.Helper()
	script := os.Getenv("DECNET_JARM_REFERENCE")
	if script == "" {
		t.Skip("DECNET_JARM_REFERENCE is not set (path to Salesforce's jarm.py, an opt-in oracle)")
	}
	host, port, _ := net.SplitHostPort(addr)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "python3", script, host, port).CombinedOutput()
	if err != nil {
		t.Fatalf("reference jarm.py: %v\n%s", err, out)
	}
	for _, m := range refLine.FindAllStringSubmatch(string(out), -1) {
		if m[1] == "JARM" {
			hash = m[2]
		} else {
			raw = m[2]
		}
	}
	if hash == "" {
		t.Fatalf("reference jarm.py printed no hash:\n%s", out)
	}
	return hash, raw
}
