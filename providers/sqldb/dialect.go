package sqldb

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"

	"github.com/uptrace/bun"
)

// Table names a table, optionally schema-qualified.
type Table struct{ Schema, Name string }

// String is "schema.name" or "name", for messages.
func (t Table) String() string {
	if t.Schema == "" {
		return t.Name
	}
	return t.Schema + "." + t.Name
}

func quoteIdent(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// quoteTable quotes a table, qualified by its schema if it has one.
func quoteTable(t Table) string {
	if t.Schema == "" {
		return quoteIdent(t.Name)
	}
	return quoteIdent(t.Schema) + "." + quoteIdent(t.Name)
}

func checkDialect(dialect string) error {
	switch dialect {
	case Postgres, SQLite:
		return nil
	}
	return fmt.Errorf("unknown SQL dialect %q (want %q or %q)", dialect, Postgres, SQLite)
}

// args collects bound parameters and writes their placeholders: $1, $2… on
// PostgreSQL, ? on SQLite.
type args struct {
	dialect string
	values  []any
}

// add binds v and returns its placeholder.
func (a *args) add(v any) string {
	a.values = append(a.values, v)
	if a.dialect == Postgres {
		return "$" + strconv.Itoa(len(a.values))
	}
	return "?"
}

// conn is the database/sql handle under a bun.IDB. Queries go to it directly: bun's
// own QueryContext formats arguments into the SQL text, and r2plan binds them.
type conn interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func rawConn(idb bun.IDB) (conn, error) {
	switch d := idb.(type) {
	case *bun.DB:
		return d.DB, nil
	case bun.Tx:
		return d.Tx, nil
	case *bun.Tx:
		return d.Tx, nil
	case bun.Conn:
		return d.Conn, nil
	case *bun.Conn:
		return d.Conn, nil
	}
	return nil, fmt.Errorf("unsupported bun.IDB %T", idb)
}

// query runs q with its arguments bound and calls fn for each row. pgx binds them on
// the server (or, with pgbouncer=true, quotes them into the text itself); the SQLite
// driver always binds.
func query(ctx context.Context, c conn, dialect, q string, a []any, fn func(*sql.Rows) error) error {
	rows, err := c.QueryContext(ctx, q, a...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return rows.Close()
}

// queryRow runs q, which returns one row, and scans it into dest.
func queryRow(ctx context.Context, c conn, dialect, q string, a []any, dest ...any) error {
	found := false
	err := query(ctx, c, dialect, q, a, func(r *sql.Rows) error {
		found = true
		return r.Scan(dest...)
	})
	if err == nil && !found {
		err = sql.ErrNoRows
	}
	return err
}
