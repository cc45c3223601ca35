package sqldb

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
)

// Check verifies that the table and every column exist, and that pk identifies one row:
// it is not NULL in any row and is unique (a primary key or a single-column unique
// index, or else — a full scan — count(*) = count(DISTINCT pk)). Its errors name the
// table and column.
func (db *DB) Check(ctx context.Context, t Table, pk string, columns []string) error {
	c, err := rawConn(db.bun)
	if err != nil {
		return err
	}
	var cols []columnInfo
	var unique bool
	switch db.dialect {
	case Postgres:
		cols, unique, err = pgColumns(ctx, c, t, pk)
	default:
		cols, unique, err = sqliteColumns(ctx, c, t, pk)
	}
	if err != nil {
		return fmt.Errorf("check table %q: %w", t, err)
	}
	if cols == nil {
		return &MissingError{Table: t, DB: db.id}
	}
	var pkInfo columnInfo
	for _, name := range append([]string{pk}, columns...) {
		i := slices.IndexFunc(cols, func(c columnInfo) bool { return c.name == name })
		if i < 0 {
			e := &MissingError{Table: t, Column: name, DB: db.id}
			if j := slices.IndexFunc(cols, func(c columnInfo) bool { return strings.EqualFold(c.name, name) }); j >= 0 {
				e.Similar = cols[j].name
			}
			return e
		}
		if name == pk {
			pkInfo = cols[i]
		}
	}

	table, qpk := quoteTable(t), quoteIdent(pk)
	if unique {
		if pkInfo.notNull {
			return nil
		}
		var hasNull bool
		q := fmt.Sprintf("SELECT EXISTS (SELECT 1 FROM %s WHERE %s IS NULL)", table, qpk)
		if err := queryRow(ctx, c, db.dialect, q, nil, &hasNull); err != nil {
			return fmt.Errorf("table %q: check column %q: %w", t, pk, err)
		}
		if hasNull {
			return fmt.Errorf("table %q: key column %q is NULL in some rows", t, pk)
		}
		return nil
	}
	var rows, distinct, nonNull int64
	q := fmt.Sprintf("SELECT count(*), count(DISTINCT %s), count(%s) FROM %s", qpk, qpk, table)
	if err := queryRow(ctx, c, db.dialect, q, nil, &rows, &distinct, &nonNull); err != nil {
		return fmt.Errorf("table %q: check column %q is unique: %w", t, pk, err)
	}
	if nonNull != rows {
		return fmt.Errorf("table %q: key column %q is NULL in %d of %d rows", t, pk, rows-nonNull, rows)
	}
	if distinct != rows {
		return fmt.Errorf("table %q: key column %q is not unique: %d rows, %d distinct values (give a primary key or a unique column)", t, pk, rows, distinct)
	}
	return nil
}

// MissingError is a table, or a column of it, that Check did not find.
type MissingError struct {
	Table  Table
	Column string // "" when the table itself is missing
	// Similar is a column whose name differs only in case, or "".
	Similar string
	DB      Identity
}

func (e *MissingError) Error() string {
	if e.Column == "" {
		return fmt.Sprintf("table %q not found in %s", e.Table, e.DB)
	}
	msg := fmt.Sprintf("table %q: column %q not found", e.Table, e.Column)
	if e.Similar != "" {
		msg += fmt.Sprintf(" (did you mean %q? names are case-sensitive)", e.Similar)
	}
	return msg
}

type columnInfo struct {
	name    string
	notNull bool
}

// pgColumns returns the table's columns (nil if there is no such table) and whether
// pk has a unique index of its own (a primary key is one).
func pgColumns(ctx context.Context, c conn, t Table, pk string) ([]columnInfo, bool, error) {
	name := quoteTable(t)
	var exists bool
	err := query(ctx, c, Postgres, "SELECT to_regclass($1) IS NOT NULL", []any{name}, func(r *sql.Rows) error {
		return r.Scan(&exists)
	})
	if err != nil || !exists {
		return nil, false, err
	}
	var cols []columnInfo
	err = query(ctx, c, Postgres,
		`SELECT attname, attnotnull FROM pg_attribute
		 WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
		[]any{name}, func(r *sql.Rows) error {
			var ci columnInfo
			if err := r.Scan(&ci.name, &ci.notNull); err != nil {
				return err
			}
			cols = append(cols, ci)
			return nil
		})
	if err != nil {
		return nil, false, err
	}
	if cols == nil {
		cols = []columnInfo{} // a table with no columns still exists
	}
	var unique bool
	err = query(ctx, c, Postgres,
		`SELECT EXISTS (
		   SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
		   WHERE i.indrelid = to_regclass($1) AND i.indisunique AND i.indpred IS NULL
		     AND i.indnkeyatts = 1 AND a.attname = $2)`,
		[]any{name, pk}, func(r *sql.Rows) error { return r.Scan(&unique) })
	return cols, unique, err
}

// sqliteColumns is pgColumns for SQLite.
func sqliteColumns(ctx context.Context, c conn, t Table, pk string) ([]columnInfo, bool, error) {
	schema := t.Schema
	if schema == "" {
		schema = "main"
	}
	var attached bool
	err := queryRow(ctx, c, SQLite, "SELECT EXISTS (SELECT 1 FROM pragma_database_list WHERE name = ?)", []any{schema}, &attached)
	if err != nil || !attached {
		return nil, false, err
	}
	var cols []columnInfo
	var pkCols int
	var integerPK bool
	err = query(ctx, c, SQLite,
		`SELECT name, "notnull", type, pk FROM pragma_table_info(?, ?) ORDER BY cid`,
		[]any{t.Name, schema}, func(r *sql.Rows) error {
			var ci columnInfo
			var typ string
			var pkPos int
			if err := r.Scan(&ci.name, &ci.notNull, &typ, &pkPos); err != nil {
				return err
			}
			if pkPos > 0 {
				pkCols++
				integerPK = ci.name == pk && strings.EqualFold(typ, "INTEGER")
			}
			cols = append(cols, ci)
			return nil
		})
	if err != nil || cols == nil {
		return nil, false, err
	}
	if pkCols == 1 && integerPK {
		// INTEGER PRIMARY KEY is the rowid: unique and never NULL.
		for i := range cols {
			if cols[i].name == pk {
				cols[i].notNull = true
			}
		}
		return cols, true, nil
	}
	var unique bool
	err = query(ctx, c, SQLite,
		`SELECT EXISTS (
		   SELECT 1 FROM pragma_index_list(?1, ?2) AS il
		   WHERE il."unique" AND NOT il.partial
		     AND (SELECT count(*) FROM pragma_index_info(il.name, ?2)) = 1
		     AND (SELECT ii.name FROM pragma_index_info(il.name, ?2) AS ii) = ?3)`,
		[]any{t.Name, schema, pk}, func(r *sql.Rows) error { return r.Scan(&unique) })
	return cols, unique, err
}
