package store

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/google/uuid"

	"github.com/decnet-go/decnet/internal/testkit/gate"
)

// The repository suite runs against every dialect: SQLite always, MySQL or
// MariaDB when DECNET_TEST_MYSQL_DSN names a server, PostgreSQL when
// DECNET_TEST_POSTGRES_DSN does (under DECNET_REQUIRE_ALL=1 a missing DSN
// fails the test). Each test gets a database of its own, created on the
// server and dropped afterwards; the DSN's user needs the right to create
// databases named decnet_test_*.
const (
	envMySQL    = "DECNET_TEST_MYSQL_DSN"
	envPostgres = "DECNET_TEST_POSTGRES_DSN"
)

var testDialects = []string{"sqlite", "mysql", "postgres"}

// forEachDialect runs fn as a subtest per dialect, each with a fresh store.
func forEachDialect(t *testing.T, fn func(t *testing.T, st *Store)) {
	t.Helper()
	for _, d := range testDialects {
		t.Run(d, func(t *testing.T) {
			fn(t, openDialect(t, freshDSN(t, d)))
		})
	}
}

func openDialect(t testing.TB, dsn string) *Store {
	t.Helper()
	st, err := Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// freshDSN returns the DSN of a new, empty database of dialect d, dropped
// when the test ends; it skips (or fails) when the server is not given.
func freshDSN(t testing.TB, d string) string {
	t.Helper()
	name := "decnet_test_" + strings.ReplaceAll(uuid.NewString(), "-", "")[:16]
	switch d {
	case "sqlite":
		return "sqlite:" + filepath.Join(t.TempDir(), "decnet.db")
	case "mysql":
		admin := os.Getenv(envMySQL)
		if admin == "" {
			gate.Missing(t, envMySQL+" is not set (mysql://user:pass@127.0.0.1:3306/db of a MySQL/MariaDB server)")
		}
		cfg, err := mysqlConfig(admin)
		if err != nil {
			t.Fatal(err)
		}
		conn, err := mysql.NewConnector(cfg)
		if err != nil {
			t.Fatal(err)
		}
		db := sql.OpenDB(conn)
		t.Cleanup(func() { db.Close() })
		if _, err := db.Exec("CREATE DATABASE " + name + " CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"); err != nil {
			t.Fatalf("create test database: %v", err)
		}
		t.Cleanup(func() {
			if _, err := db.Exec("DROP DATABASE " + name); err != nil {
				t.Errorf("drop test database: %v", err)
			}
		})
		return withPath(t, admin, name)
	case "postgres":
		admin := os.Getenv(envPostgres)
		if admin == "" {
			gate.Missing(t, envPostgres+" is not set (postgres://user:pass@127.0.0.1:5432/db of a PostgreSQL server)")
		}
		db, err := sql.Open("pgx", admin)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if _, err := db.Exec("CREATE DATABASE " + name); err != nil {
			t.Fatalf("create test database: %v", err)
		}
		t.Cleanup(func() {
			if _, err := db.Exec("DROP DATABASE " + name + " WITH (FORCE)"); err != nil {
				t.Errorf("drop test database: %v", err)
			}
		})
		return withPath(t, admin, name)
	}
	t.Fatalf("unknown dialect %q", d)
	return ""
}

// withPath replaces the database name of a server DSN.
func withPath(t testing.TB, dsn, db string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + db
	return u.String()
}

// TestOpenConcurrent: two processes starting at once on a fresh database
// both open it; the schema is applied once, completely.
func TestOpenConcurrent(t *testing.T) {
	for _, d := range testDialects {
		t.Run(d, func(t *testing.T) {
			dsn := freshDSN(t, d)
			var wg sync.WaitGroup
			stores := make([]*Store, 4)
			errs := make([]error, len(stores))
			for i := range stores {
				wg.Add(1)
				go func() {
					defer wg.Done()
					stores[i], errs[i] = Open(context.Background(), dsn)
				}()
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("open %d: %v", i, err)
				}
				t.Cleanup(func() { stores[i].Close() })
			}
			var n int
			if err := stores[0].db.QueryRow("SELECT COUNT(*) FROM goose_db_version WHERE version_id > 0").Scan(&n); err != nil {
				t.Fatal(err)
			}
			files, _ := migrations.ReadDir("migrations/" + stores[0].Dialect())
			if n != len(files) {
				t.Errorf("goose_db_version has %d applied versions, want %d (one per migration)", n, len(files))
			}
			for _, st := range stores {
				if err := st.SetState(context.Background(), "k", "v"); err != nil {
					t.Errorf("write through a concurrently opened store: %v", err)
				}
			}
		})
	}
}

// TestMigrationsSameVersions: every dialect has the same migration
// versions, so a schema version means the same thing everywhere.
func TestMigrationsSameVersions(t *testing.T) {
	versions := func(d string) []string {
		files, err := migrations.ReadDir("migrations/" + d)
		if err != nil {
			t.Fatal(err)
		}
		var v []string
		for _, f := range files {
			v = append(v, strings.SplitN(f.Name(), "_", 2)[0])
		}
		return v
	}
	want := versions("sqlite")
	for _, d := range testDialects[1:] {
		if got := versions(d); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s migrations %v; sqlite has %v", d, got, want)
		}
	}
}

// TestOpenDSN: DSNs of each kind are recognised, and a bad one is refused
// with a message naming the problem.
func TestOpenDSN(t *testing.T) {
	cases := []struct {
		name, dsn, wantErr string
	}{
		{"unknown scheme", "oracle://x/y", `unknown database "oracle"`},
		{"mysql without database", "mysql://u:p@127.0.0.1:1/", "names no database"},
		{"empty", "sqlite:", "empty database path"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Open(context.Background(), tc.dsn)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Open(%q) = %v; want an error containing %q", tc.dsn, err, tc.wantErr)
			}
		})
	}
	cfg, err := mysqlConfig("mysql://dec:p%40ss@db.example:3307/decnet?tls=skip-verify")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.User != "dec" || cfg.Passwd != "p@ss" || cfg.Addr != "db.example:3307" || cfg.DBName != "decnet" || cfg.TLSConfig != "skip-verify" {
		t.Errorf("mysqlConfig = user %q pass %q addr %q db %q tls %q", cfg.User, cfg.Passwd, cfg.Addr, cfg.DBName, cfg.TLSConfig)
	}
}

// TestRebind: the shared SQL becomes each engine's own.
func TestRebind(t *testing.T) {
	cases := []struct {
		name, in, mysql, postgres string
	}{
		{"placeholders", "SELECT a FROM t WHERE b = ? AND c = '?' LIMIT ? OFFSET ?",
			"SELECT a FROM t WHERE b = ? AND c = '?' LIMIT ? OFFSET ?",
			"SELECT a FROM t WHERE b = $1 AND c = '?' LIMIT $2 OFFSET $3"},
		{"upsert", "INSERT INTO t (k, v) VALUES (?,?) ON CONFLICT (k) DO UPDATE SET v = t.v + excluded.v",
			"INSERT INTO t (k, v) VALUES (?,?) ON DUPLICATE KEY UPDATE v = t.v + VALUES(v)",
			"INSERT INTO t (k, v) VALUES ($1,$2) ON CONFLICT (k) DO UPDATE SET v = t.v + excluded.v"},
		{"insert or ignore", "INSERT INTO t (k, v) VALUES (?,?) ON CONFLICT (k, v) DO NOTHING",
			"INSERT INTO t (k, v) VALUES (?,?) ON DUPLICATE KEY UPDATE k = k",
			"INSERT INTO t (k, v) VALUES ($1,$2) ON CONFLICT (k, v) DO NOTHING"},
		{"like", `SELECT 1 FROM t WHERE a LIKE ? ESCAPE '\'`,
			`SELECT 1 FROM t WHERE a LIKE ? COLLATE utf8mb4_general_ci ESCAPE '\'`,
			`SELECT 1 FROM t WHERE a ILIKE $1 ESCAPE '\'`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := rebindMySQL(tc.in); got != tc.mysql {
				t.Errorf("mysql:\n got %s\nwant %s", got, tc.mysql)
			}
			if got := rebindPostgres(tc.in); got != tc.postgres {
				t.Errorf("postgres:\n got %s\nwant %s", got, tc.postgres)
			}
		})
	}
}

// TestForeignKeysEnforced: every dialect refuses a row pointing at a
// missing parent.
func TestForeignKeysEnforced(t *testing.T) {
	forEachDialect(t, func(t *testing.T, st *Store) {
		_, err := st.db.Exec(st.q(`INSERT INTO attacker_fingerprint_state (uuid, attacker_uuid, port, probe_type, last_hash, last_seen)
			VALUES (?,?,?,?,?,?)`), uuid.NewString(), "no-such-attacker", 22, "hassh", "h", fmtTime(testNow))
		if !isForeignKey(err) {
			t.Fatalf("insert with a dangling attacker_uuid = %v; want a foreign-key violation", err)
		}
	})
}

// testNow is a fixed instant for tests that compare stored times.
var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
