package engine

import (
	"context"
	"errors"
	"io/fs"
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
	// (the ssh shell, ftp, …). path is absolute and has no "..".
	WriteFile(ctx context.Context, decky, path string, content []byte, mode fs.FileMode) error
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
)
