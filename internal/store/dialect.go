package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // PostgreSQL driver "pgx"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// dialect holds what differs between database engines. Everything else —
// every query of the package — is shared, written once with '?'
// placeholders and SQLite/PostgreSQL upsert syntax; rebind turns it into the
// engine's own.
//
// The rules shared code follows so that rebind suffices:
//   - placeholders are '?'; LIMIT ? OFFSET ? for pages;
//   - upserts are "ON CONFLICT (cols) DO UPDATE SET c = <expr>, …" or
//     "ON CONFLICT (cols) DO NOTHING", with excluded.c for the new value and
//     the table name for the old. In a SET list no expression may read a
//     column assigned earlier in the same list (MySQL assigns left to right);
//   - times are fixed-width text (fmtTime), booleans 0/1 integers
//     (boolInt), JSON goes in and out as text;
//   - LIKE is case-insensitive everywhere (ILIKE on PostgreSQL, a _ci
//     collation on MySQL), with ESCAPE '\';
//   - no DISTINCT ON, no RETURNING, no engine-specific functions.
type dialect struct {
	name  string        // "sqlite", "mysql", "postgres"
	goose goose.Dialect // for migrations
	// rebind turns shared SQL into the engine's own.
	rebind func(string) string
}

var (
	sqliteDialect   = dialect{name: "sqlite", goose: goose.DialectSQLite3, rebind: func(q string) string { return q }}
	mysqlDialect    = dialect{name: "mysql", goose: goose.DialectMySQL, rebind: rebindMySQL}
	postgresDialect = dialect{name: "postgres", goose: goose.DialectPostgres, rebind: rebindPostgres}
)

var (
	conflictRE = regexp.MustCompile(`ON\s+CONFLICT\s*\(([^)]*)\)\s*DO\s+(NOTHING|UPDATE\s+SET)`)
	excludedRE = regexp.MustCompile(`\bexcluded\.(\w+)`)
	likeRE     = regexp.MustCompile(`\bLIKE \?`)
)

// rebindMySQL rewrites upserts into ON DUPLICATE KEY UPDATE (DO NOTHING
// becomes a no-op assignment, so RowsAffected still counts only new rows)
// and makes LIKE case-insensitive against the binary-collated columns.
// Placeholders are already MySQL's.
func rebindMySQL(q string) string {
	if m := conflictRE.FindStringSubmatchIndex(q); m != nil {
		head, tail := q[:m[0]], q[m[1]:]
		if q[m[4]:m[5]] == "NOTHING" {
			first := strings.TrimSpace(strings.Split(q[m[2]:m[3]], ",")[0])
			q = head + "ON DUPLICATE KEY UPDATE " + first + " = " + first + tail
		} else {
			q = head + "ON DUPLICATE KEY UPDATE" + excludedRE.ReplaceAllString(tail, "VALUES($1)")
		}
	}
	if strings.Contains(q, "LIKE ?") {
		q = likeRE.ReplaceAllString(q, "LIKE ? COLLATE utf8mb4_general_ci")
	}
	return q
}

// rebindPostgres numbers placeholders ($1, $2, …) outside string literals
// and turns LIKE into ILIKE (SQLite's LIKE ignores ASCII case).
func rebindPostgres(q string) string {
	var b strings.Builder
	b.Grow(len(q) + len(q)/8)
	n, quoted := 0, false
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c == '\'':
			quoted = !quoted
		case quoted:
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		case c == 'L' && strings.HasPrefix(q[i:], "LIKE ") && i > 0 && q[i-1] == ' ':
			b.WriteByte('I')
		}
		b.WriteByte(c)
	}
	return b.String()
}

// isConflict reports whether err is a uniqueness violation on any engine.
func isConflict(err error) bool {
	if err == nil {
		return false
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number == 1062
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23505"
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

// isForeignKey reports whether err is a foreign-key violation on any engine.
func isForeignKey(err error) bool {
	if err == nil {
		return false
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number == 1452 || me.Number == 1451
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23503"
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
	}
	return false
}

// mysqlSQLMode is the session sql_mode DECNET runs MySQL in: strict (too
// long a value is an error, never a silent truncation), backslashes plain
// characters in literals (ESCAPE '\' as on the other engines), || as
// concatenation, and GROUP BY as strict as PostgreSQL's.
const mysqlSQLMode = "'STRICT_ALL_TABLES,NO_BACKSLASH_ESCAPES,PIPES_AS_CONCAT,ONLY_FULL_GROUP_BY,NO_ENGINE_SUBSTITUTION,ERROR_FOR_DIVISION_BY_ZERO'"

// mysqlConfig turns mysql://user:pass@host:port/db?param=value into the
// driver's configuration. Query parameters are the driver's own
// (tls=true, timeout=5s, …) and override DECNET's defaults.
func mysqlConfig(dsn string) (*mysql.Config, error) {
	u, err := url.Parse(dsn)
	if err != nil { // not wrapped: url's error would print the password
		return nil, errors.New("store: mysql DSN is not a valid URL (mysql://user:pass@host:3306/db; escape special characters in the password with %XX)")
	}
	db := strings.TrimPrefix(u.Path, "/")
	if db == "" || strings.Contains(db, "/") {
		return nil, errors.New("store: mysql DSN names no database (mysql://user:pass@host:3306/decnet)")
	}
	host := u.Host
	if host == "" {
		host = "127.0.0.1"
	}
	if u.Port() == "" {
		host += ":3306"
	}
	cfg, err := mysql.ParseDSN("tcp(" + host + ")/" + db + "?" + u.RawQuery)
	if err != nil {
		return nil, fmt.Errorf("store: mysql DSN: %w", err)
	}
	if u.User != nil {
		cfg.User = u.User.Username()
		cfg.Passwd, _ = u.User.Password()
	}
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	if _, ok := cfg.Params["sql_mode"]; !ok {
		cfg.Params["sql_mode"] = mysqlSQLMode
	}
	cfg.Collation = "utf8mb4_general_ci"
	cfg.ParseTime = false
	cfg.ClientFoundRows = false // RowsAffected counts changed rows: DO NOTHING reports 0
	return cfg, nil
}

// mysqlLocker serialises migrations between processes with a named
// server lock (GET_LOCK), scoped to the database. The lock belongs to the
// session, so a process that dies releases it.
type mysqlLocker struct{ timeout time.Duration }

func (l mysqlLocker) SessionLock(ctx context.Context, conn *sql.Conn) error {
	var got sql.NullInt64
	err := conn.QueryRowContext(ctx, "SELECT GET_LOCK(LEFT(CONCAT('decnet_migrate:', DATABASE()), 64), ?)",
		int(l.timeout.Seconds())).Scan(&got)
	if err != nil {
		return fmt.Errorf("store: migration lock: %w", err)
	}
	if got.Int64 != 1 {
		return fmt.Errorf("store: migration lock: another process held it for %s", l.timeout)
	}
	return nil
}

func (l mysqlLocker) SessionUnlock(ctx context.Context, conn *sql.Conn) error {
	_, err := conn.ExecContext(ctx, "SELECT RELEASE_LOCK(LEFT(CONCAT('decnet_migrate:', DATABASE()), 64))")
	return err
}

// postgresLocker is goose's advisory-lock locker, polling every second for
// up to two minutes.
func postgresLocker() (lock.SessionLocker, error) {
	return lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 120))
}
