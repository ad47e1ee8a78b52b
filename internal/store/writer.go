package store

import (
	"context"
	"database/sql"
)

// SQLite has one writer. The store takes its turn in Go rather than in
// SQLite: writers waiting on a busy database sleep in SQLite's busy handler
// (1, 2, 5 … ms), where a Go channel hands the turn over at once. And every
// write runs on the same connection when it can: a connection drops its
// whole page cache when another one has committed since its last
// transaction, so writers taking turns on several connections each re-read
// every index page they touch. The writer pool has a second connection so
// that a statement prepared for the cache during a write transaction does
// not wait for the transaction's own connection.
//
// On MySQL and PostgreSQL writes share the pool and are not queued here.

// writeTx is a write transaction that holds the store's write turn until
// it is committed or rolled back.
type writeTx struct {
	*sql.Tx
	release func()
}

// Commit commits and gives the write turn back.
func (t *writeTx) Commit() error {
	err := t.Tx.Commit()
	t.done()
	return err
}

// Rollback rolls back (a no-op after Commit) and gives the write turn back.
func (t *writeTx) Rollback() error {
	err := t.Tx.Rollback()
	t.done()
	return err
}

func (t *writeTx) done() {
	if t.release != nil {
		t.release()
		t.release = nil
	}
}

// beginWrite starts a write transaction in the store's write turn.
func (s *Store) beginWrite(ctx context.Context) (*writeTx, error) {
	release, err := s.writeTurn(ctx)
	if err != nil {
		return nil, err
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		release()
		return nil, err
	}
	return &writeTx{Tx: tx, release: release}, nil
}

// execWrite runs one writing statement in the store's write turn.
func (s *Store) execWrite(ctx context.Context, query string, args ...any) (sql.Result, error) {
	release, err := s.writeTurn(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	return s.w.ExecContext(ctx, query, args...)
}

// writeTurn waits for the write turn; on MySQL and PostgreSQL it is
// always free.
func (s *Store) writeTurn(ctx context.Context) (func(), error) {
	if s.turn == nil {
		return func() {}, nil
	}
	select {
	case s.turn <- struct{}{}:
		return func() { <-s.turn }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
