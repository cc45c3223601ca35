package sqldb

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"

	"github.com/uptrace/bun"
)

// MaxBatch is the most rows one CompareAndSwap call takes.
const MaxBatch = 1000

// Swap asks to set a row's column to New if it still holds Old.
type Swap struct{ PK, Old, New string }

// CompareAndSwap sets column = New on each row whose pk = PK and whose column still =
// Old, in one statement:
//
//	UPDATE t SET col = v.new FROM (VALUES (...),(...)) AS v(pk, old, new)
//	WHERE t.pk = v.pk AND t.col = v.old RETURNING t.pk
//
// and returns the pks that were swapped (as text, in no particular order). A row whose
// value changed since, or that is gone, is not swapped and not returned. Values are
// always bound parameters. On PostgreSQL the bound texts are cast to the columns' own
// types (looked up once per database, table and column) so the pk comparison uses the
// pk's index; the column is never cast.
//
// db may be a transaction: the caller writes its journal in the same one. rows may hold
// at most MaxBatch swaps, with distinct pks.
func CompareAndSwap(ctx context.Context, db bun.IDB, dialect string, t Table, pk, column string, rows []Swap) (swapped []string, err error) {
	if err := checkDialect(dialect); err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, nil
	}
	if len(rows) > MaxBatch {
		return nil, fmt.Errorf("rewrite %q.%q: %d rows in one batch, at most %d", t, column, len(rows), MaxBatch)
	}
	seen := make(map[string]bool, len(rows))
	for _, r := range rows {
		if seen[r.PK] {
			return nil, fmt.Errorf("rewrite %q.%q: pk %q twice in one batch", t, column, r.PK)
		}
		seen[r.PK] = true
	}
	c, err := rawConn(db)
	if err != nil {
		return nil, err
	}
	pkCast, colCast := "", ""
	if dialect == Postgres {
		pkType, err := pgColumnType(ctx, c, db, t, pk)
		if err != nil {
			return nil, err
		}
		colType, err := pgColumnType(ctx, c, db, t, column)
		if err != nil {
			return nil, err
		}
		pkCast, colCast = "::"+pkType, "::"+colType
	}

	a := &args{dialect: dialect}
	var values strings.Builder
	values.WriteString("VALUES ")
	for i, r := range rows {
		if i > 0 {
			values.WriteString(", ")
		}
		fmt.Fprintf(&values, "(%s%s, %s%s, %s%s)", a.add(r.PK), pkCast, a.add(r.Old), colCast, a.add(r.New), colCast)
	}
	qpk, qcol := quoteIdent(pk), quoteIdent(column)
	var q string
	if dialect == Postgres {
		q = fmt.Sprintf(`UPDATE %s AS r2t SET %s = r2v.new FROM (%s) AS r2v(pk, old, new)
WHERE r2t.%s = r2v.pk AND r2t.%s = r2v.old RETURNING r2t.%s::text`,
			quoteTable(t), qcol, values.String(), qpk, qcol, qpk)
	} else {
		// SQLite names no VALUES columns in FROM; a CTE does. Comparing the INTEGER
		// (or other) affinity pk column with text converts the text, not the column.
		// RETURNING sees only the updated table, and not by its alias.
		q = fmt.Sprintf(`WITH r2v(pk, old, new) AS (%s)
UPDATE %s AS r2t SET %s = r2v.new FROM r2v
WHERE r2t.%s = r2v.pk AND r2t.%s = r2v.old RETURNING CAST(%s AS TEXT)`,
			values.String(), quoteTable(t), qcol, qpk, qcol, qpk)
	}
	err = query(ctx, c, dialect, q, a.values, func(r *sql.Rows) error {
		var key string
		if err := r.Scan(&key); err != nil {
			return err
		}
		swapped = append(swapped, key)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("rewrite %q.%q: %w", t, column, err)
	}
	return swapped, nil
}

// Current returns the current value of column for each pk: a pk absent from the map is
// a row that is gone, a nil value is NULL. On PostgreSQL a pk that is no valid value of
// the pk column's type (say "x" for a bigint) is an error, not an absent row. Any number of pks may be given; they are
// looked up MaxBatch at a time.
func Current(ctx context.Context, db bun.IDB, dialect string, t Table, pk, column string, pks []string) (map[string]*string, error) {
	if err := checkDialect(dialect); err != nil {
		return nil, err
	}
	c, err := rawConn(db)
	if err != nil {
		return nil, err
	}
	pkCast := ""
	if dialect == Postgres && len(pks) > 0 {
		pkType, err := pgColumnType(ctx, c, db, t, pk)
		if err != nil {
			return nil, err
		}
		pkCast = "::" + pkType
	}
	qpk, qcol := quoteIdent(pk), quoteIdent(column)
	out := make(map[string]*string, len(pks))
	for start := 0; start < len(pks); start += MaxBatch {
		batch := pks[start:min(start+MaxBatch, len(pks))]
		a := &args{dialect: dialect}
		var in strings.Builder
		for i, k := range batch {
			if i > 0 {
				in.WriteString(", ")
			}
			in.WriteString(a.add(k) + pkCast)
		}
		q := fmt.Sprintf("SELECT %s, %s FROM %s AS r2t WHERE r2t.%s IN (%s)",
			textOf(dialect, "r2t."+qpk), textOf(dialect, "r2t."+qcol), quoteTable(t), qpk, in.String())
		err := query(ctx, c, dialect, q, a.values, func(r *sql.Rows) error {
			var key string
			var v *string
			if err := r.Scan(&key, &v); err != nil {
				return err
			}
			out[key] = v
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("read %q.%q: %w", t, column, err)
		}
	}
	return out, nil
}

// pgTypes caches each column's type, as format_type spells it, by database.
var pgTypes sync.Map // typeKey → string

type typeKey struct {
	db                    *bun.DB
	schema, table, column string
}

// pgColumnType returns the type to cast a bound text to so that it compares with the
// column as the column's own type. The type modifier is left out: an explicit cast to
// varchar(10) would truncate a longer text and compare equal to a different value.
func pgColumnType(ctx context.Context, c conn, idb bun.IDB, t Table, column string) (string, error) {
	key := typeKey{idb.NewSelect().DB(), t.Schema, t.Name, column}
	if v, ok := pgTypes.Load(key); ok {
		return v.(string), nil
	}
	var typ string
	err := queryRow(ctx, c, Postgres,
		`SELECT CASE WHEN atttypid = 'bpchar'::regtype THEN 'bpchar' ELSE format_type(atttypid, NULL) END
		 FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = $2 AND attnum > 0 AND NOT attisdropped`,
		[]any{quoteTable(t), column}, &typ)
	if err == sql.ErrNoRows {
		return "", fmt.Errorf("table %q: column %q not found", t, column)
	}
	if err != nil {
		return "", fmt.Errorf("table %q: look up the type of column %q: %w", t, column, err)
	}
	pgTypes.Store(key, typ)
	return typ, nil
}

// forgetTypes drops what pgTypes holds for db.
func forgetTypes(db *bun.DB) {
	pgTypes.Range(func(k, _ any) bool {
		if k.(typeKey).db == db {
			pgTypes.Delete(k)
		}
		return true
	})
}
