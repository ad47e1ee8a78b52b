// Package recording finds, reads and renders the asciicast recordings of
// interactive sessions (ssh, telnet) that the honeypot services keep under
// <data-dir>/deckies/<decky>/<service>/transcripts. It is what the
// dashboard's replay page and the API's transcripts route share: the path
// rules that keep a reader inside the data directory, the paging of events
// and a plain-text rendering of a terminal session.
package recording

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/honeypot/asciicast"
)

// ErrNotFound is returned for a recording that is not on disk or an event
// that names none.
var ErrNotFound = errors.New("recording: not found")

// ErrInvalid is returned for a decky name or session id that cannot name a
// recording.
var ErrInvalid = errors.New("recording: invalid decky or session id")

// Services are the transports that record sessions.
var Services = []string{"ssh", "telnet"}

// maxFileSize bounds what Load reads: a recording is capped at
// asciicast.DefaultMaxBytes when written; a little slack for the marker.
const maxFileSize = asciicast.DefaultMaxBytes + 64<<10

// Ref names one recording: <decky>/<service>/<stored_as> under
// <data-dir>/deckies.
type Ref struct {
	Decky    string
	Service  string
	StoredAs string // "transcripts/<start>_<sid>.cast"
	SID      string
}

// Rel is the recording's path under <data-dir>/deckies, slash-separated.
func (r Ref) Rel() string { return path.Join(r.Decky, r.Service, r.StoredAs) }

// FromEvent reads the recording a session_recorded event names. ok is false
// for any other event and for one whose names could leave the service's
// directory (a decky that is not a decky name, a service that is not a
// recording transport, a stored_as that is absolute or climbs out).
func FromEvent(e event.Event) (Ref, bool) {
	if e.Type != asciicast.TypeSessionRecorded || !isService(e.Service) || !event.ValidDeckyName(e.Decky) {
		return Ref{}, false
	}
	storedAs, _ := e.Fields["stored_as"].(string)
	sid, _ := e.Fields["sid"].(string)
	if storedAs == "" || !ValidSID(sid) || strings.Contains(storedAs, `\`) || !filepath.IsLocal(storedAs) ||
		path.Clean(storedAs) != storedAs || !strings.HasSuffix(storedAs, ".cast") {
		return Ref{}, false
	}
	return Ref{Decky: e.Decky, Service: e.Service, StoredAs: storedAs, SID: sid}, true
}

func isService(s string) bool {
	for _, x := range Services {
		if s == x {
			return true
		}
	}
	return false
}

// ValidSID reports whether s can be a recording's session id: 1 to 64
// letters, digits, '-' and '_' (the recorders use UUIDv7s).
func ValidSID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// Find looks for the recording of session sid on decky among the files the
// transports wrote (their names end in _<sid>.cast). It returns ErrInvalid
// for names that cannot be a decky or a session id and ErrNotFound when no
// file matches.
func Find(dataDir, decky, sid string) (Ref, error) {
	if !event.ValidDeckyName(decky) || !ValidSID(sid) {
		return Ref{}, ErrInvalid
	}
	root, err := os.OpenRoot(filepath.Join(dataDir, "deckies"))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return Ref{}, ErrNotFound
		}
		return Ref{}, err
	}
	defer root.Close()
	suffix := "_" + sid + ".cast"
	for _, svc := range Services {
		dir := path.Join(decky, svc, asciicast.TranscriptsDir)
		entries, err := fs.ReadDir(root.FS(), dir)
		if err != nil {
			continue // no such transport on this decky
		}
		for _, en := range entries {
			if en.Type().IsRegular() && strings.HasSuffix(en.Name(), suffix) {
				return Ref{Decky: decky, Service: svc, StoredAs: asciicast.TranscriptsDir + "/" + en.Name(), SID: sid}, nil
			}
		}
	}
	return Ref{}, ErrNotFound
}

// Recording is a parsed recording.
type Recording struct {
	Header asciicast.Header
	Events []asciicast.Event
	// Truncated is set when the recorder hit its cap (a "truncated"
	// marker ends the events).
	Truncated bool
}

// Load reads and parses r under dataDir. The file is opened through an
// os.Root at <data-dir>/deckies, so neither ".." nor a symbolic link can
// lead outside it. A recording cut short (the service stopped mid-write)
// loads up to its last complete event.
func Load(dataDir string, r Ref) (Recording, error) {
	root, err := os.OpenRoot(filepath.Join(dataDir, "deckies"))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return Recording{}, ErrNotFound
		}
		return Recording{}, err
	}
	defer root.Close()
	f, err := root.Open(r.Rel())
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return Recording{}, ErrNotFound
		}
		return Recording{}, fmt.Errorf("open recording %s: %w", r.Rel(), err)
	}
	defer f.Close()
	h, evs, err := asciicast.Parse(io.LimitReader(f, maxFileSize))
	if err != nil && (errors.Is(err, asciicast.ErrFormat) || len(evs) == 0) {
		return Recording{}, fmt.Errorf("read recording %s: %w", r.Rel(), err)
	}
	rec := Recording{Header: h, Events: evs}
	if n := len(evs); n > 0 && evs[n-1].Code == asciicast.Marker && evs[n-1].Data == asciicast.TruncatedMarker {
		rec.Truncated = true
	}
	return rec, nil
}

// Duration is the time of the last event, in seconds.
func (r Recording) Duration() float64 {
	if len(r.Events) == 0 {
		return 0
	}
	return r.Events[len(r.Events)-1].Time
}
