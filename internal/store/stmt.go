package store

import (
	"context"
	"database/sql"
	"sync"
)

// dbStmt returns query prepared on the database, from the statement cache
// of readers. For small queries run on every API request (the token
// revocation check), parsing the SQL costs more than running it.
func (s *Store) dbStmt(ctx context.Context, query string) (*sql.Stmt, error) {
	return cachedStmt(ctx, s.db, &s.stmts, s.q(query))
}

// cachedStmt returns query prepared on db from cache, preparing it the
// first time.
func cachedStmt(ctx context.Context, db *sql.DB, cache *sync.Map, query string) (*sql.Stmt, error) {
	if st, ok := cache.Load(query); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := cache.LoadOrStore(query, st); loaded {
		st.Close()
		st = prev.(*sql.Stmt)
	}
	return st, nil
}

// pointRow runs a fixed point lookup through the statement cache. The
// pipeline's stages look attackers up by address for every batch; parsing
// the SQL each time cost as much as the lookup (modernc.org/sqlite keeps
// no statement cache of its own). Only constant query text belongs here:
// the cache keeps every distinct query for the life of the store.
func (s *Store) pointRow(ctx context.Context, query string, args ...any) scanner {
	st, err := s.dbStmt(ctx, query)
	if err != nil {
		return errRow{err}
	}
	return st.QueryRowContext(ctx, args...)
}

// errRow is a row whose query could not be prepared.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// cachedQuery is pointRow for a fixed query that returns several rows.
func (s *Store) cachedQuery(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := s.dbStmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}
