package sqldb

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/r2plan/r2plan/internal/testenv"
)

// pg is the PostgreSQL server the tests share; each test makes its own database.
var pg *testenv.Postgres

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "sqldb-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pg, err = testenv.StartPostgres(ctx, dir, "")
	if err != nil {
		// No skip: these tests are the proof that the SQL works on PostgreSQL.
		fmt.Fprintf(os.Stderr, "start PostgreSQL: %v\n", err)
		return 1
	}
	defer pg.Stop()
	return m.Run()
}

var dbSeq atomic.Int64

// newURL returns the URL of a fresh, empty database of the dialect.
func newURL(t *testing.T, dialect string) string {
	t.Helper()
	switch dialect {
	case Postgres:
		u, err := pg.CreateDatabase(t.Context(), fmt.Sprintf("sqldb_%d", dbSeq.Add(1)))
		if err != nil {
			t.Fatal(err)
		}
		return u
	case SQLite:
		return "sqlite:" + filepath.Join(t.TempDir(), "test.db")
	}
	t.Fatalf("dialect %q", dialect)
	return ""
}

// newDB opens a fresh database of the dialect holding testdata/charhub/schema.sql.
func newDB(t *testing.T, dialect string) *DB {
	t.Helper()
	db, err := Open(t.Context(), newURL(t, dialect))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	schema, err := os.ReadFile("../../testdata/charhub/schema.sql")
	if err != nil {
		t.Fatal(err)
	}
	for stmt := range strings.SplitSeq(string(schema), ";") {
		if strings.Contains(stmt, "CREATE") {
			mustExec(t, db, stmt)
		}
	}
	return db
}

// forEachDialect runs fn as a subtest on a fresh PostgreSQL and a fresh SQLite database.
func forEachDialect(t *testing.T, fn func(t *testing.T, db *DB)) {
	for _, dialect := range []string{Postgres, SQLite} {
		t.Run(dialect, func(t *testing.T) { fn(t, newDB(t, dialect)) })
	}
}

// mustExec runs test setup SQL; args are formatted by bun ("?" placeholders).
func mustExec(t *testing.T, db *DB, q string, args ...any) {
	t.Helper()
	if _, err := db.Bun().ExecContext(t.Context(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// insertRows inserts rows into table in multi-row statements; each row holds one
// value per column, nil for NULL.
func insertRows(t *testing.T, db *DB, table Table, columns []string, rows [][]any) {
	t.Helper()
	quoted := make([]string, len(columns))
	for i, c := range columns {
		quoted[i] = quoteIdent(c)
	}
	head := fmt.Sprintf("INSERT INTO %s (%s) VALUES ", quoteTable(table), strings.Join(quoted, ", "))
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(columns)), ", ") + ")"
	for start := 0; start < len(rows); start += 500 {
		batch := rows[start:min(start+500, len(rows))]
		var args []any
		tuples := make([]string, len(batch))
		for i, r := range batch {
			tuples[i] = row
			args = append(args, r...)
		}
		mustExec(t, db, head+strings.Join(tuples, ", "), args...)
	}
}

func ptr(s string) *string { return &s }
