// Package secret keeps the random secrets an install makes for itself on
// first start: the install secret every persona is derived from, and the
// API's token signing key. They live as hex files (mode 0600) in the data
// directory, so an install needs no setup and keeps its identity.
package secret

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Files of the data directory.
const (
	InstallFile = "install.secret" // seed of every persona
	JWTFile     = "jwt.secret"     // the API's token key
)

// Size is the length of a generated secret in bytes.
const Size = 32

// LoadOrCreate reads the hex secret in dir/name, creating dir and the file
// with Size random bytes on first use.
func LoadOrCreate(dir, name string) ([]byte, error) {
	path := filepath.Join(dir, name)
	b, err := os.ReadFile(path)
	if err == nil {
		s, err := hex.DecodeString(strings.TrimSpace(string(b)))
		if err != nil || len(s) < Size {
			return nil, fmt.Errorf("%s is damaged: delete it to make a new one (for %s the deckies change identity)", path, InstallFile)
		}
		return s, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	s := make([]byte, Size)
	rand.Read(s)
	if err := os.WriteFile(path, []byte(hex.EncodeToString(s)+"\n"), 0o600); err != nil {
		return nil, err
	}
	return s, nil
}
