package store

import (
	"context"
	"database/sql"
)

// dbStmt returns query prepared on the database, from the statement cache
// txStmt also uses. For small queries run on every API request (the token
// revocation check), parsing the SQL costs more than running it.
func (s *Store) dbStmt(ctx context.Context, query string) (*sql.Stmt, error) {
	query = s.q(query)
	if st, ok := s.stmts.Load(query); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := s.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := s.stmts.LoadOrStore(query, st); loaded {
		st.Close()
		st = prev.(*sql.Stmt)
	}
	return st, nil
}
