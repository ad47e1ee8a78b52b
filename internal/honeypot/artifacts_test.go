package honeypot

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestArtifactsStore(t *testing.T) {
	at := time.Date(2026, 5, 2, 6, 31, 0, 0, time.UTC)
	a := &Artifacts{Root: filepath.Join(t.TempDir(), "artifacts"), MaxSize: 8, Now: func() time.Time { return at }}
	tests := []struct {
		name, file, body, kept string
		truncated              bool
		base                   string
	}{
		{"small", "/tmp/x.sh", "echo hi", "echo hi", false, "x.sh"},
		{"cut at the cap", "bins.sh", "0123456789", "01234567", true, "bins.sh"},
		{"hostile name", "../../etc/pa ss;wd", "x", "x", false, "pa_ss_wd"},
		{"dot name", "..", "x", "x", false, "unnamed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			art, err := a.Store(tc.file, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256([]byte(tc.kept))
			want := Artifact{
				StoredAs: "2026-05-02T06:31:00Z_" + hex.EncodeToString(sum[:])[:12] + "_" + tc.base,
				SHA256:   hex.EncodeToString(sum[:]), Size: int64(len(tc.kept)),
				Received: int64(len(tc.body)), Truncated: tc.truncated,
			}
			if art != want {
				t.Fatalf("Store = %+v; want %+v", art, want)
			}
			got, err := os.ReadFile(filepath.Join(a.Root, art.StoredAs))
			if err != nil || string(got) != tc.kept {
				t.Fatalf("stored %q, %v; want %q", got, err, tc.kept)
			}
			if fi, _ := os.Stat(filepath.Join(a.Root, art.StoredAs)); fi.Mode()&0o111 != 0 {
				t.Errorf("artifact is executable: %v", fi.Mode())
			}
		})
	}
	if left, _ := filepath.Glob(filepath.Join(a.Root, ".capture-*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}
