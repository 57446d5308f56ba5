// Package pgtest helps tests that need their own PostgreSQL database on the
// server scripts/test.sh starts (BERTH_TEST_PG_DSN).
package pgtest

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
)

// NewDatabase creates a database with a random name on the server that
// adminDSN (a superuser) names, drops it when the test ends, and returns a
// DSN for it.
func NewDatabase(t testing.TB, adminDSN, namePrefix string) string {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	db := namePrefix + hex.EncodeToString(b[:])
	admin, err := sql.Open("pgx", adminDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.Exec("CREATE DATABASE " + db); err != nil {
		t.Fatalf("create database %s: %v", db, err)
	}
	t.Cleanup(func() {
		if a, err := sql.Open("pgx", adminDSN); err == nil {
			_, _ = a.Exec("DROP DATABASE IF EXISTS " + db + " WITH (FORCE)")
			a.Close()
		}
	})
	u, err := url.Parse(adminDSN)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + db
	return u.String()
}
