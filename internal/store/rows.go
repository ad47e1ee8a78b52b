package store

import (
	"context"
	"fmt"
)

// scanner is what a row reader needs of *sql.Row and *sql.Rows.
type scanner = interface{ Scan(...any) error }

// selectAll runs query (with '?' placeholders) and reads every row with
// scan; what names the query in its error. No rows is an empty slice, not
// nil, so lists encode as [].
func selectAll[T any](ctx context.Context, s *Store, what, query string, args []any, scan func(scanner) (T, error)) ([]T, error) {
	rs, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", what, err)
	}
	defer rs.Close()
	out := []T{}
	for rs.Next() {
		v, err := scan(rs)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rs.Err()
}
