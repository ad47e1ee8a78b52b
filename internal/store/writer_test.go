package store

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// TestWritersTakeTurns: writers of every kind from many goroutines, with
// a transaction's statements prepared mid-transaction, all finish; the
// turn comes back after a commit, a rollback and a failed statement.
func TestWritersTakeTurns(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "w.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 8 {
		wg.Go(func() {
			for i := range 25 {
				key := fmt.Sprintf("k%d-%d", g, i)
				if err := s.SetState(ctx, key, "v"); err != nil {
					errs <- err
					return
				}
				tx, err := s.beginWrite(ctx)
				if err != nil {
					errs <- err
					return
				}
				// The first of these prepares its statement for the cache
				// while the transaction holds the writer connection.
				if _, err := s.writeRows(ctx, tx.Tx, "INSERT INTO state (name, value)", "", [][]any{{key + "x", "v"}}); err != nil {
					errs <- err
					tx.Rollback()
					return
				}
				if i%2 == 0 {
					err = tx.Commit()
				} else {
					err = tx.Rollback()
				}
				if err != nil {
					errs <- err
					return
				}
				// A failing write gives the turn back too.
				if _, err := s.execWrite(ctx, "INSERT INTO no_such_table VALUES (1)"); err == nil {
					errs <- fmt.Errorf("insert into a missing table succeeded")
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var n int
	if err := s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM state WHERE name LIKE 'k%'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if want := 8*25 + 8*13; n != want {
		t.Errorf("%d state rows, want %d", n, want)
	}
}

// TestWriteTurnHonoursContext: a writer waiting for the turn gives up when
// its context ends.
func TestWriteTurnHonoursContext(t *testing.T) {
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "w.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tx, err := s.beginWrite(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := s.SetState(ctx, "k", "v"); err == nil {
		t.Fatal("a write succeeded while another transaction held the turn")
	}
}
