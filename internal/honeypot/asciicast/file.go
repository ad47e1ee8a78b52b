package asciicast

import (
	"os"
	"path/filepath"
)

// File is a Recorder that owns the file it writes to.
type File struct {
	*Recorder
	f *os.File
	// Name is the file's base name in its directory.
	Name string
}

// Create makes dir if needed and starts a recording in dir/name, a new
// file readable only by the decky's user. Recordings are evidence, so an
// existing file is never overwritten.
func Create(dir, name string, h Header, o Options) (*File, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o640)
	if err != nil {
		return nil, err
	}
	return &File{Recorder: New(f, h, o), f: f, Name: name}, nil
}

// Close ends the recording and closes its file.
func (f *File) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.f.Close()
}
