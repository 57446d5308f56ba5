package pg

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
)

const (
	envDSN     = "BERTH_TEST_PG_DSN"
	envRequire = "BERTH_REQUIRE_PG"
)

// testDB is the database this test binary made for itself (see TestMain);
// nil when there is no server to test against.
var testDB struct {
	url   *url.URL // the DSN, pointing at the test database
	admin *sql.DB  // a pool on the test database, for schemas and checks
	err   error    // why there is no test database, when a DSN was given
}

// TestMain creates one database for the whole run (dropped at the end), so a
// crashed run leaves nothing in the server's own databases; every store then
// gets a schema of its own in it.
func TestMain(m *testing.M) {
	code, drop := 0, func() {}
	if dsn := os.Getenv(envDSN); dsn != "" {
		drop = setupTestDB(dsn)
	}
	code = m.Run()
	drop()
	os.Exit(code)
}

func setupTestDB(dsn string) (drop func()) {
	base, err := url.Parse(dsn)
	if err != nil || (base.Scheme != "postgres" && base.Scheme != "postgresql") {
		testDB.err = fmt.Errorf("%s must be a postgres:// URL", envDSN)
		return func() {}
	}
	ctx := context.Background()
	server, err := sql.Open("pgx", dsn) // registered by pgx/v5/stdlib

	if err != nil {
		testDB.err = err
		return func() {}
	}
	name := "berth_test_" + randomHex(6)
	if _, err := server.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		server.Close()
		testDB.err = fmt.Errorf("create test database: %w", err)
		return func() {}
	}
	u := *base
	u.Path = "/" + name
	testDB.url = &u
	testDB.admin, err = sql.Open("pgx", u.String())
	if err != nil {
		testDB.err = err
	}
	return func() {
		if testDB.admin != nil {
			testDB.admin.Close()
		}
		if _, err := server.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			fmt.Fprintf(os.Stderr, "drop test database %s: %v\n", name, err)
		}
		server.Close()
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// needPG skips the test without a server, or fails it when one is required.
func needPG(t testing.TB) {
	t.Helper()
	if testDB.err != nil {
		t.Fatalf("PostgreSQL test database: %v", testDB.err)
	}
	if testDB.url != nil {
		return
	}
	if os.Getenv(envRequire) == "1" {
		t.Fatalf("%s=1 but %s is not set (scripts/lib/postgres.sh start_postgres sets it)", envRequire, envDSN)
	}
	t.Skipf("PostgreSQL tests skipped: set %s to a superuser postgres:// URL (scripts/lib/postgres.sh starts a private server)", envDSN)
}

var schemaSeq atomic.Int64

// freshSchema creates an empty schema, dropped when the test ends, and
// returns a DSN whose search_path puts berth's tables in it.
func freshSchema(t testing.TB) string {
	t.Helper()
	needPG(t)
	name := fmt.Sprintf("t%d_%s", schemaSeq.Add(1), randomHex(4))
	if _, err := testDB.admin.ExecContext(context.Background(), "CREATE SCHEMA "+name); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		if _, err := testDB.admin.ExecContext(context.Background(), "DROP SCHEMA "+name+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", name, err)
		}
	})
	u := *testDB.url
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return u.String()
}

// schemaOf returns the search_path schema of a DSN made by freshSchema.
func schemaOf(dsn string) string {
	u, _ := url.Parse(dsn)
	return strings.TrimSpace(u.Query().Get("search_path"))
}
