package engine

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/decnet-go/decnet/internal/honeypot"
)

// Operator changes a running fleet: the live operations of the API (add or
// remove a service, change its configuration, drop a file into a decky).
// The local and docker drivers both implement it.
type Operator interface {
	// AddService starts svc on the decky with cfg (validated against the
	// service's schema).
	AddService(ctx context.Context, decky, svc string, cfg map[string]string) error
	// RemoveService stops svc on the decky and closes its ports.
	RemoveService(ctx context.Context, decky, svc string) error
	// ConfigureService stores a new configuration for svc. With apply the
	// service restarts so the configuration takes effect (recreated is
	// true); without, it takes effect on the next restart.
	ConfigureService(ctx context.Context, decky, svc string, cfg map[string]string, apply bool) (recreated bool, err error)
	// WriteFile puts a file into the decky's filesystem as attackers see it
	// (the ssh shell, ftp, …). path is absolute and has no "..". mtime is
	// the modification time attackers see (a backdated file looks
	// lived-in); zero means now.
	WriteFile(ctx context.Context, decky, path string, content []byte, mode fs.FileMode, mtime time.Time) error
	// RemoveFile deletes a dropped file.
	RemoveFile(ctx context.Context, decky, path string) error
}

// Errors of live operations; the API maps them to status codes in one place.
var (
	ErrUnknownDecky   = errors.New("unknown decky")            // 404
	ErrUnknownService = errors.New("unknown service")          // 422
	ErrServiceExists  = errors.New("service already on decky") // 409
	ErrServiceAbsent  = errors.New("service not on decky")     // 404
	ErrBadConfig      = errors.New("configuration rejected")   // 400
	ErrBadPath        = errors.New("bad file path")            // 422
	ErrDriver         = errors.New("driver failed")            // 409 (docker exec, container start)
	ErrDeckyExists    = errors.New("decky already exists")     // 409: name or address in use
)

// WriteDrop writes a dropped file for either driver, mapping what goes
// wrong onto the operator errors: a path that is not an absolute, clean
// file path, or that leads outside the drops directory (a planted
// symlink), is ErrBadPath; anything else ErrDriver.
func WriteDrop(d *honeypot.Drops, decky, path string, content []byte, mode fs.FileMode, mtime time.Time) error {
	if err := CheckDropPath(path); err != nil {
		return err
	}
	if mode == 0 {
		mode = 0o644
	}
	err := d.Write(path, content, mode)
	if err == nil && !mtime.IsZero() {
		err = d.Touch(path, mtime)
	}
	return dropError(err, "write", decky, path)
}

// RemoveDrop deletes a dropped file; like rm -f, a missing file is no error.
func RemoveDrop(d *honeypot.Drops, decky, path string) error {
	if err := CheckDropPath(path); err != nil {
		return err
	}
	err := d.Remove(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return dropError(err, "remove", decky, path)
}

// CheckDropPath reports ErrBadPath for a path a file drop may not use;
// drivers call it before any other work.
func CheckDropPath(path string) error {
	if rel, err := honeypot.DropPath(path); err != nil || rel == "." {
		return fmt.Errorf("%w: %q must be an absolute file path without \"..\"", ErrBadPath, path)
	}
	return nil
}

func dropError(err error, op, decky, path string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, honeypot.ErrDropPath), strings.Contains(err.Error(), "path escapes from parent"):
		return fmt.Errorf("%w: %s: %v", ErrBadPath, path, err)
	default:
		return fmt.Errorf("%w: %s %s on %s: %v", ErrDriver, op, path, decky, err)
	}
}
