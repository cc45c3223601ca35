package sqldb

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// Scan streams rows, never loading them whole: SELECT pk, columns... FROM table
// [WHERE where], calling fn with the pk as text (cast to text in SQL, so any pk type
// works) and the columns' values as text (nil for NULL). The values slice is fresh for
// each row; fn may keep it.
//
// where is raw SQL written by the config's author, pasted into the query in
// parentheses; it must hold no parameter placeholders. Everything else is quoted
// identifiers. The table is aliased r2t, so where may say r2t."column". Note that
// SQLite reads an unqualified "name" that is no column as the string 'name'.
//
// Scan holds one connection until it returns. On SQLite ":memory:" (one connection)
// fn must not query the database.
func (db *DB) Scan(ctx context.Context, t Table, pk string, columns []string, where string, fn func(pk string, values []*string) error) error {
	return db.scan(ctx, t, pk, columns, where, false, func(pk string, values []*string, _ bool) error {
		return fn(pk, values)
	})
}

// ScanMarked is Scan over every row of the table: where does not filter the rows but
// marks them, and fn learns whether each row satisfies it (selected; a NULL condition
// does not, as in a WHERE). An empty where selects every row.
func (db *DB) ScanMarked(ctx context.Context, t Table, pk string, columns []string, where string, fn func(pk string, values []*string, selected bool) error) error {
	return db.scan(ctx, t, pk, columns, where, true, fn)
}

func (db *DB) scan(ctx context.Context, t Table, pk string, columns []string, where string, mark bool, fn func(pk string, values []*string, selected bool) error) error {
	hasWhere := strings.TrimSpace(where) != ""
	var b strings.Builder
	b.WriteString("SELECT ")
	b.WriteString(textOf(db.dialect, "r2t."+quoteIdent(pk)))
	for _, col := range columns {
		b.WriteString(", ")
		b.WriteString(textOf(db.dialect, "r2t."+quoteIdent(col)))
	}
	marked := mark && hasWhere
	if marked {
		b.WriteString(", CASE WHEN (")
		b.WriteString(where)
		b.WriteString("\n) THEN 1 ELSE 0 END") // a newline ends a trailing -- comment in where
	}
	b.WriteString(" FROM ")
	b.WriteString(quoteTable(t))
	// Qualified names: SQLite reads an unknown "name" as a string, never r2t."name".
	b.WriteString(" AS r2t")
	if hasWhere && !mark {
		b.WriteString(" WHERE (")
		b.WriteString(where)
		b.WriteString("\n)")
	}
	c, err := rawConn(db.bun)
	if err != nil {
		return err
	}
	dest := make([]any, 1+len(columns), 2+len(columns))
	var selected int
	if marked {
		dest = append(dest, &selected)
	}
	err = query(ctx, c, db.dialect, b.String(), nil, func(r *sql.Rows) error {
		var key sql.NullString
		values := make([]*string, len(columns))
		dest[0] = &key
		for i := range values {
			dest[i+1] = &values[i]
		}
		selected = 1
		if err := r.Scan(dest...); err != nil {
			return err
		}
		if !key.Valid {
			return fmt.Errorf("a row has NULL in key column %q", pk)
		}
		return fn(key.String, values, selected == 1)
	})
	if err != nil {
		return fmt.Errorf("scan table %q: %w", t, err)
	}
	return nil
}

// textOf casts a quoted column to text in SQL.
func textOf(dialect, expr string) string {
	if dialect == Postgres {
		return expr + "::text"
	}
	return "CAST(" + expr + " AS TEXT)"
}
