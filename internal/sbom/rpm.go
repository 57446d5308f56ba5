package sbom

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

const (
	rpmQueryTimeout = 30 * time.Second
	maxRPMPackages  = 100000
)

// readRPMSQLite lists the packages of an rpm sqlite database (rpm ≥ 4.16:
// Fedora 33+, RHEL 9 and its rebuilds, openSUSE): the Packages table
// (hnum INTEGER PRIMARY KEY, blob BLOB) holds one header per package. The
// database is written to a private temporary directory (with its WAL,
// when the image has one) because SQLite needs a file. The schema is
// checked before the query so that a hostile database cannot make the
// query itself expensive (a view, or a generated column), and the query
// runs under a timeout.
func readRPMSQLite(ctx context.Context, db, wal []byte) (out []found, notes []string) {
	dir, err := os.MkdirTemp("", "berth-sbom-rpm-")
	if err != nil {
		return nil, []string{"cannot stage rpm database: " + err.Error()}
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "rpmdb.sqlite")
	if err := os.WriteFile(file, db, 0o600); err != nil {
		return nil, []string{"cannot stage rpm database: " + err.Error()}
	}
	if len(wal) > 0 {
		if err := os.WriteFile(file+"-wal", wal, 0o600); err != nil {
			return nil, []string{"cannot stage rpm database: " + err.Error()}
		}
	}
	ctx, cancel := context.WithTimeout(ctx, rpmQueryTimeout)
	defer cancel()
	conn, err := sql.Open("sqlite", "file:"+(&url.URL{Path: file}).EscapedPath()+"?_pragma=trusted_schema(0)")
	if err != nil {
		return nil, []string{"cannot open rpm database: " + err.Error()}
	}
	defer conn.Close()
	conn.SetMaxOpenConns(1)
	if err := checkRPMSchema(ctx, conn); err != nil {
		return nil, []string{"unusable rpm database: " + truncate(err.Error())}
	}
	rows, err := conn.QueryContext(ctx, "SELECT blob FROM Packages")
	if err != nil {
		return nil, []string{"unusable rpm database: " + truncate(err.Error())}
	}
	defer rows.Close()
	var w fileWarnings
	bad, skipped := 0, 0
	for rows.Next() {
		if len(out) >= maxRPMPackages {
			w.add("more than %d packages: the rest skipped", maxRPMPackages)
			break
		}
		var blob []byte
		if err := rows.Scan(&blob); err != nil {
			bad++
			continue
		}
		h, err := parseRPMHeader(blob)
		if err != nil {
			bad++
			continue
		}
		if h.name == "gpg-pubkey" {
			continue // imported signing keys, not software
		}
		f, ok := rpmFound(h)
		if !ok {
			skipped++
			continue
		}
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		w.add("reading the rpm database stopped: %s", truncate(err.Error()))
	}
	if bad > 0 {
		w.add("%d malformed package headers skipped", bad)
	}
	if skipped > 0 {
		w.add("%d packages with an invalid name or version skipped", skipped)
	}
	return out, w.result()
}

// checkRPMSchema accepts only a plain Packages table whose blob column is
// stored, not computed.
func checkRPMSchema(ctx context.Context, conn *sql.DB) error {
	var typ, ddl string
	err := conn.QueryRowContext(ctx, "SELECT type, sql FROM sqlite_master WHERE name = 'Packages'").Scan(&typ, &ddl)
	if err != nil {
		return fmt.Errorf("no Packages table: %w", err)
	}
	if typ != "table" {
		return fmt.Errorf("the Packages entry is a %s, not a table", typ)
	}
	if f := strings.Fields(strings.ToUpper(ddl)); len(f) > 1 && f[1] == "VIRTUAL" {
		return fmt.Errorf("the Packages entry is a virtual table")
	}
	rows, err := conn.QueryContext(ctx, "SELECT name, hidden FROM pragma_table_xinfo('Packages')")
	if err != nil {
		return err
	}
	defer rows.Close()
	ok := false
	for rows.Next() {
		var name string
		var hidden int
		if err := rows.Scan(&name, &hidden); err != nil {
			return err
		}
		if strings.EqualFold(name, "blob") {
			if hidden != 0 {
				return fmt.Errorf("the blob column is generated")
			}
			ok = true
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("the Packages table has no blob column")
	}
	return nil
}
