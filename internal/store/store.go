// Package store keeps everything DECNET-Go knows in a SQL database: raw
// events, attackers, sessions, credentials, deckies, users and revoked tokens.
//
// One implementation serves every dialect through database/sql with portable
// SQL; the few statements that differ between SQLite, MySQL and PostgreSQL
// live in the dialect value. Callers depend on small interfaces they define
// themselves (the pipeline needs a batch writer, the API needs readers), so a
// new dialect never touches them. Schema migrations are embedded and applied
// by Open.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // SQLite driver, pure Go
)

//go:embed migrations
var migrations embed.FS

// ErrNotFound is returned when a row asked for by key does not exist.
var ErrNotFound = errors.New("store: not found")

// ErrConflict is returned when a write would break a uniqueness rule.
var ErrConflict = errors.New("store: conflict")

// Store is the database behind DECNET-Go.
type Store struct {
	db      *sql.DB
	dialect dialect
	stmts   sync.Map // query → *sql.Stmt, see txStmt

	stopCheckpoint context.CancelFunc
	checkpointDone chan struct{}
}

// dialect holds what differs between database engines.
type dialect struct {
	name  string        // "sqlite", "mysql", "postgres"
	goose goose.Dialect // for migrations
	// rebind turns '?' placeholders into the engine's own.
	rebind func(string) string
}

var sqliteDialect = dialect{name: "sqlite", goose: goose.DialectSQLite3, rebind: func(q string) string { return q }}

// Open opens the database named by dsn and brings its schema up to date.
// A dsn is "sqlite:PATH" or a bare file path (SQLite); MySQL and PostgreSQL
// DSNs are refused with a clear error until their dialects land.
func Open(ctx context.Context, dsn string) (*Store, error) {
	switch {
	case strings.HasPrefix(dsn, "mysql://"), strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return nil, fmt.Errorf("store: %s is not supported yet (SQLite only in this version)", strings.SplitN(dsn, ":", 2)[0])
	}
	path := strings.TrimPrefix(dsn, "sqlite:")
	if path == "" {
		return nil, errors.New("store: empty database path")
	}
	if path != ":memory:" {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
	}
	// WAL lets the API read while the pipeline writes; NORMAL sync is safe in
	// WAL mode against process crashes (only an OS crash can lose the last
	// commits, and the bus still holds those events unacknowledged... see
	// docs/decisions.md).
	// Checkpoints run in the background (see checkpointLoop), not in the
	// commit of whichever writer crosses the WAL threshold.
	q := "?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(ON)&_pragma=temp_store(MEMORY)&_pragma=cache_size(-32768)&_pragma=wal_autocheckpoint(0)&_txlock=immediate"
	db, err := sql.Open("sqlite", "file:"+path+q)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(8)
	s := &Store{db: db, dialect: sqliteDialect}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	cctx, cancel := context.WithCancel(context.Background())
	s.stopCheckpoint, s.checkpointDone = cancel, make(chan struct{})
	go s.checkpointLoop(cctx)
	return s, nil
}

// checkpointLoop copies the WAL back into the database every half second.
// Doing it here keeps the cost off the ingest writer's commits (it would
// otherwise pay it inline every thousand pages) and bounds the WAL's size.
func (s *Store) checkpointLoop(ctx context.Context) {
	defer close(s.checkpointDone)
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.db.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)")
		}
	}
}

func (s *Store) migrate(ctx context.Context) error {
	sub, err := fs.Sub(migrations, "migrations/"+s.dialect.name)
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(s.dialect.goose, s.db, sub)
	if err != nil {
		return fmt.Errorf("store: migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("store: apply migrations: %w", err)
	}
	return nil
}

// Close closes the database.
func (s *Store) Close() error {
	if s.stopCheckpoint != nil {
		s.stopCheckpoint()
		<-s.checkpointDone
		s.db.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
	}
	s.stmts.Range(func(_, st any) bool { st.(*sql.Stmt).Close(); return true })
	return s.db.Close()
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// Dialect names the database engine ("sqlite", …).
func (s *Store) Dialect() string { return s.dialect.name }

// timeLayout is fixed-width so that text timestamps sort in time order.
const timeLayout = "2006-01-02T15:04:05.000000000Z"

func fmtTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func parseTime(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

func (s *Store) q(query string) string { return s.dialect.rebind(query) }
