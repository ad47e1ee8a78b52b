//go:build !unix

package store

import (
	"context"
	"database/sql"
)

// fileLocker does nothing where flock is unavailable: concurrent first
// starts of two processes on one SQLite file are then not serialised.
type fileLocker struct{ path string }

func (l *fileLocker) SessionLock(context.Context, *sql.Conn) error   { return nil }
func (l *fileLocker) SessionUnlock(context.Context, *sql.Conn) error { return nil }
