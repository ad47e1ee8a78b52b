package secret

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestLoadOrCreate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	a, err := LoadOrCreate(dir, InstallFile)
	if err != nil || len(a) != Size {
		t.Fatalf("first load: %x, %v", a, err)
	}
	fi, _ := os.Stat(filepath.Join(dir, InstallFile))
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	b, err := LoadOrCreate(dir, InstallFile)
	if err != nil || !bytes.Equal(a, b) {
		t.Fatalf("second load differs: %x vs %x (%v)", a, b, err)
	}
	os.WriteFile(filepath.Join(dir, JWTFile), []byte("zz\n"), 0o600)
	if _, err := LoadOrCreate(dir, JWTFile); err == nil {
		t.Fatal("a damaged file was accepted")
	}
}
