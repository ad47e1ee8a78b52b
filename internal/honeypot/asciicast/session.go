package asciicast

import (
	"path/filepath"
	"time"

	"github.com/decnet-go/decnet/internal/event"
)

// Event types of session recordings, as DECNET's sessrec names them.
const (
	TypeSessionRecorded = "session_recorded" // at the end of a recorded shell
	TypeSessionSkipped  = "session_skipped"  // a shell that could not be recorded
)

// TranscriptsDir is where a service keeps its recordings, under its state
// directory.
const TranscriptsDir = "transcripts"

// Session is the recording of one interactive session of a transport
// (ssh, telnet): a File under StateDir/transcripts named after its start
// and a fresh session id.
type Session struct {
	*File
	SID string
}

// StartSession opens a recording for a shell on a terminal of cols×rows
// (zero when unknown) under stateDir. It returns nil and the error when
// the file cannot be made; the caller reports session_skipped.
func StartSession(stateDir, term string, cols, rows int) (*Session, error) {
	sid := event.NewID()
	now := time.Now().UTC()
	if term == "" {
		term = "dumb"
	}
	h := Header{Width: cols, Height: rows, Timestamp: now.Unix(), Env: map[string]string{"SHELL": "/bin/bash", "TERM": term}}
	f, err := Create(filepath.Join(stateDir, TranscriptsDir), now.Format("2006-01-02T15-04-05Z")+"_"+sid+".cast", h, Options{})
	if err != nil {
		return nil, err
	}
	return &Session{File: f, SID: sid}, nil
}

// Finish closes the recording and returns the fields of its
// session_recorded event that every transport shares; the transport adds
// its own (username, commands, terminal).
func (s *Session) Finish(service string) map[string]any {
	s.Close()
	fields := map[string]any{
		"sid": s.SID, "service": service,
		"duration_s": s.Duration().Round(time.Millisecond).Seconds(), "bytes": s.Bytes(),
		"truncated": s.Truncated(), "stored_as": TranscriptsDir + "/" + s.Name, "format": "asciicast-v2",
		"started_at": s.Started().UTC().Format(time.RFC3339Nano), "ended_at": time.Now().UTC().Format(time.RFC3339Nano),
	}
	if err := s.Err(); err != nil {
		fields["error"] = err.Error()
	}
	return fields
}
