package honeypot

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// DefaultMaxArtifact is the most bytes kept of one artifact (DECNET's cap
// of 50 MiB); the rest is read and thrown away.
const DefaultMaxArtifact = 50 << 20

// Artifacts keeps what attackers leave behind — uploaded files, fetched
// payloads, relayed mail — as inert files under Root, named as DECNET's
// quarantine names them: <UTC time>_<sha256[:12]>_<basename>. Nothing kept
// is ever executable or executed.
type Artifacts struct {
	Root    string
	MaxSize int64            // bytes kept of one artifact; DefaultMaxArtifact when 0
	Now     func() time.Time // the clock; time.Now when nil
}

// Artifacts is where this service keeps captured files: the artifacts
// folder of its state directory, so captures survive restarts and, under
// the docker driver, land on the host.
func (e Env) Artifacts() *Artifacts {
	return &Artifacts{Root: filepath.Join(e.StateDir, "artifacts")}
}

// Artifact is one stored capture.
type Artifact struct {
	StoredAs  string // file name under Artifacts.Root
	SHA256    string // of the kept bytes, hex
	Size      int64  // bytes kept
	Received  int64  // bytes read, kept or not
	Truncated bool   // Received > Size
}

// Store reads r to its end and keeps up to MaxSize bytes of it. name is
// what the attacker called the file (a path or a bare name); only a safe
// form of its base name is used.
func (a *Artifacts) Store(name string, r io.Reader) (Artifact, error) {
	limit := a.MaxSize
	if limit <= 0 {
		limit = DefaultMaxArtifact
	}
	if err := os.MkdirAll(a.Root, 0o750); err != nil {
		return Artifact{}, err
	}
	tmp, err := os.CreateTemp(a.Root, ".capture-*")
	if err != nil {
		return Artifact{}, err
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	h := sha256.New()
	kept, err := io.Copy(io.MultiWriter(tmp, h), io.LimitReader(r, limit))
	if err == nil {
		var rest int64
		rest, err = io.Copy(io.Discard, r)
		art := Artifact{Size: kept, Received: kept + rest, Truncated: rest > 0}
		if cerr := tmp.Close(); cerr != nil {
			return Artifact{}, cerr
		}
		if err != nil {
			return Artifact{}, err
		}
		art.SHA256 = hex.EncodeToString(h.Sum(nil))
		now := time.Now
		if a.Now != nil {
			now = a.Now
		}
		art.StoredAs = fmt.Sprintf("%s_%s_%s", now().UTC().Format("2006-01-02T15:04:05Z"), art.SHA256[:12], SafeBaseName(name))
		if err := os.Rename(tmp.Name(), filepath.Join(a.Root, art.StoredAs)); err != nil {
			return Artifact{}, err
		}
		return art, nil
	}
	tmp.Close()
	return Artifact{}, err
}

// Fields are the file_captured event fields of the artifact; origPath is
// where the attacker put it (a path in the fake filesystem, a URL, …).
func (a Artifact) Fields(origPath string) map[string]any {
	return map[string]any{
		"stored_as": a.StoredAs, "sha256": a.SHA256, "size": a.Size,
		"truncated": a.Truncated, "orig_path": origPath,
	}
}

// SafeBaseName is the last element of an attacker-chosen name, reduced to
// letters, digits and ".-_" and at most 64 bytes, never empty or a dot name.
func SafeBaseName(name string) string {
	base := path.Base(strings.ReplaceAll(name, "\\", "/"))
	var b strings.Builder
	for _, r := range base {
		switch {
		case b.Len() >= 64:
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	s := strings.TrimLeft(b.String(), ".")
	if s == "" {
		return "unnamed"
	}
	return s
}
