package sqldb

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"unsafe"

	"github.com/jackc/pgx/v5/stdlib"
)

// A TextTable is a table with the columns that may hold text naming objects: text,
// varchar, char, json, jsonb and arrays of them on PostgreSQL; on SQLite every column
// whose declared type has text affinity, says JSON, or says nothing.
type TextTable struct {
	Table Table
	// PrimaryKey is the table's single-column primary key, or "" when it has none.
	PrimaryKey string
	Columns    []TextColumn
}

// A TextColumn is one such column and its declared type.
type TextColumn struct{ Name, Type string }

// ownTables are r2plan's own tables, never read for references.
var ownTables = map[string]bool{"r2plan_journal": true, "r2plan_lock": true}

// TextTables lists the tables of the database and their text-like columns: on
// PostgreSQL every ordinary table of the schemas in the search path (the URL's schema=
// when it has one), pg_catalog and information_schema aside; on SQLite every table of
// the main database. r2plan's own tables are left out, and so are tables without such
// columns. The order is the catalog's: by schema, table, column position.
func (db *DB) TextTables(ctx context.Context) ([]TextTable, error) {
	c, err := rawConn(db.bun)
	if err != nil {
		return nil, err
	}
	if db.dialect == Postgres {
		return pgTextTables(ctx, c)
	}
	return sqliteTextTables(ctx, c)
}

func pgTextTables(ctx context.Context, c conn) ([]TextTable, error) {
	var out []TextTable
	err := query(ctx, c, Postgres, `
		SELECT n.nspname, cl.relname, a.attname, format_type(a.atttypid, a.atttypmod),
		       coalesce((SELECT pa.attname FROM pg_index i JOIN pg_attribute pa ON pa.attrelid = i.indrelid AND pa.attnum = i.indkey[0]
		                 WHERE i.indrelid = cl.oid AND i.indisprimary AND i.indnkeyatts = 1), '')
		FROM pg_class cl
		JOIN pg_namespace n ON n.oid = cl.relnamespace
		JOIN pg_attribute a ON a.attrelid = cl.oid AND a.attnum > 0 AND NOT a.attisdropped
		JOIN pg_type t ON t.oid = a.atttypid
		LEFT JOIN pg_type bt ON bt.oid = t.typbasetype
		LEFT JOIN pg_type et ON et.oid = coalesce(nullif(t.typelem, 0), nullif(bt.typelem, 0))
		WHERE cl.relkind IN ('r', 'p')
		  AND NOT cl.relispartition
		  AND n.nspname = ANY (current_schemas(false))
		  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
		  AND (coalesce(bt.typcategory, t.typcategory) = 'S'
		       OR coalesce(bt.typname, t.typname) IN ('json', 'jsonb')
		       OR (coalesce(bt.typcategory, t.typcategory) = 'A' AND (et.typcategory = 'S' OR et.typname IN ('json', 'jsonb'))))
		ORDER BY array_position(current_schemas(false), n.nspname), cl.relname, a.attnum`, nil,
		func(r *sql.Rows) error {
			var schema, table, col, typ, pk string
			if err := r.Scan(&schema, &table, &col, &typ, &pk); err != nil {
				return err
			}
			if ownTables[table] {
				return nil
			}
			if n := len(out); n == 0 || out[n-1].Table != (Table{Schema: schema, Name: table}) {
				out = append(out, TextTable{Table: Table{Schema: schema, Name: table}, PrimaryKey: pk})
			}
			t := &out[len(out)-1]
			t.Columns = append(t.Columns, TextColumn{Name: col, Type: typ})
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("list the tables and their text columns: %w", err)
	}
	return out, nil
}

func sqliteTextTables(ctx context.Context, c conn) ([]TextTable, error) {
	var names []string
	err := query(ctx, c, SQLite, `SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`, nil,
		func(r *sql.Rows) error {
			var name string
			if err := r.Scan(&name); err != nil {
				return err
			}
			if !ownTables[name] {
				names = append(names, name)
			}
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("list the tables: %w", err)
	}
	var out []TextTable
	for _, name := range names {
		t := TextTable{Table: Table{Name: name}}
		var pks []string
		err := query(ctx, c, SQLite, `SELECT name, type, pk FROM pragma_table_info(?) ORDER BY cid`, []any{name},
			func(r *sql.Rows) error {
				var col, typ string
				var pk int
				if err := r.Scan(&col, &typ, &pk); err != nil {
					return err
				}
				if pk > 0 {
					pks = append(pks, col)
				}
				if sqliteText(typ) {
					t.Columns = append(t.Columns, TextColumn{Name: col, Type: typ})
				}
				return nil
			})
		if err != nil {
			return nil, fmt.Errorf("list the columns of %q: %w", name, err)
		}
		if len(pks) == 1 {
			t.PrimaryKey = pks[0]
		}
		if len(t.Columns) > 0 {
			out = append(out, t)
		}
	}
	return out, nil
}

// sqliteText reports whether a declared SQLite type may hold text: text affinity
// (CHAR, CLOB, TEXT), JSON, or no type at all (which takes anything).
func sqliteText(typ string) bool {
	u := strings.ToUpper(typ)
	return u == "" || strings.Contains(u, "CHAR") || strings.Contains(u, "CLOB") || strings.Contains(u, "TEXT") || strings.Contains(u, "JSON")
}

// ScanText streams the values of columns of t as text: fn gets one slice per row,
// values[i] nil for NULL. The slice and its bytes are reused for the next row: fn must
// copy what it keeps. limit > 0 reads at most that many rows (a sample); 0 reads all.
// filter, when not nil, reads only the rows that one of whose columns it admits
// (TextFilter). It only reads, on a connection of its own: calls may run at once.
func (db *DB) ScanText(ctx context.Context, t Table, columns []string, limit int, filter *TextFilter, fn func(values [][]byte) error) error {
	var b strings.Builder
	b.WriteString("SELECT ")
	for i, col := range columns {
		if i > 0 {
			b.WriteString(", ")
		}
		if db.dialect == Postgres {
			b.WriteString(quoteIdent(col) + "::text")
		} else {
			b.WriteString(quoteIdent(col))
		}
	}
	b.WriteString(" FROM ")
	b.WriteString(quoteTable(t))
	var args []any
	if filter != nil {
		var where string
		where, args = filter.where(db.dialect, columns)
		b.WriteString(" WHERE ")
		b.WriteString(where)
	}
	if limit > 0 {
		b.WriteString(" LIMIT " + strconv.Itoa(limit))
	}
	if db.dialect == Postgres {
		if err := db.pgRawRows(ctx, b.String(), args, fn); err != nil {
			return fmt.Errorf("read table %q: %w", t, err)
		}
		return nil
	}
	c, err := rawConn(db.bun)
	if err != nil {
		return err
	}
	raw := make([]sql.RawBytes, len(columns))
	dest := make([]any, len(columns))
	for i := range raw {
		dest[i] = &raw[i]
	}
	values := make([][]byte, len(columns))
	err = query(ctx, c, db.dialect, b.String(), args, func(r *sql.Rows) error {
		if err := r.Scan(dest...); err != nil {
			return err
		}
		for i, v := range raw {
			values[i] = v
		}
		return fn(values)
	})
	if err != nil {
		return fmt.Errorf("read table %q: %w", t, err)
	}
	return nil
}

// ScanValues streams the values of a text table's columns (at most limit rows when
// limit > 0; only the rows filter admits when it is not nil): row, if set, is called
// once a row, and fn with each non-empty value and its column's index, as a string
// valid only during the call (it shares the driver's buffer: no copy per value).
func (db *DB) ScanValues(ctx context.Context, t TextTable, limit int, filter *TextFilter, row func(), fn func(col int, value string) error) error {
	cols := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		cols[i] = c.Name
	}
	return db.ScanText(ctx, t.Table, cols, limit, filter, func(values [][]byte) error {
		if row != nil {
			row()
		}
		for i, v := range values {
			if len(v) == 0 {
				continue
			}
			if err := fn(i, unsafe.String(unsafe.SliceData(v), len(v))); err != nil {
				return err
			}
		}
		return nil
	})
}

// pgRawRows runs q on a connection of its own through pgx itself, not database/sql,
// and calls fn with each row's values as the server sent them (nil for NULL), valid
// until the next row: no string, no copy per value (database/sql's pgx driver makes
// a string of every text value). Every column of q must be text, whose binary and
// text formats are the same bytes.
func (db *DB) pgRawRows(ctx context.Context, q string, args []any, fn func(values [][]byte) error) error {
	c, err := db.bun.DB.Conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	return c.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("a PostgreSQL connection of type %T", dc)
		}
		rows, err := sc.Conn().Query(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			if err := fn(rows.RawValues()); err != nil {
				return err
			}
		}
		return rows.Err()
	})
}

// ColumnLabel names a column of the table for people: "table.column", with the schema
// first when it is not PostgreSQL's "public".
func (t TextTable) ColumnLabel(column string) string {
	if t.Table.Schema == "" || t.Table.Schema == "public" {
		return t.Table.Name + "." + column
	}
	return t.Table.Schema + "." + t.Table.Name + "." + column
}
