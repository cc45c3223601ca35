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
type Swap struct {
	PK, Old, New string
}

// CompareAndSwap sets column = New on each row whose pk = PK and whose column still =
// Old, in one statement, and returns the pks that were swapped (as the Swaps give them,
// in no particular order). A row whose value changed since, or that is gone, is not
// swapped and not returned. Values are always bound parameters.
//
// On PostgreSQL the swaps travel as three text arrays, whatever the batch size:
//
//	WITH r2v AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) AS r2v(pk, old, new))
//	UPDATE t AS r2t SET col = r2v.new::coltype FROM r2v
//	WHERE r2t.pk = r2v.pk::pktype AND r2t.col = r2v.old::coltype RETURNING r2v.pk
//
// The texts are cast to the columns' own types (looked up once per database, table and
// column) so that the pk comparison uses the pk's index; the column is never cast. On
// SQLite they are bound one by one in a VALUES list.
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
	var q string
	var a []any
	if dialect == Postgres {
		q, a, err = pgSwapQuery(ctx, c, db, t, pk, column, rows)
		if err != nil {
			return nil, err
		}
	} else {
		q, a = sqliteSwapQuery(t, pk, column, rows)
	}
	err = query(ctx, c, dialect, q, a, func(r *sql.Rows) error {
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

// pgSwapQuery returns PostgreSQL's compare-and-swap statement and its arguments: the
// swaps as three text arrays (pk, old, new).
func pgSwapQuery(ctx context.Context, c conn, db bun.IDB, t Table, pk, column string, rows []Swap) (string, []any, error) {
	pkType, err := pgColumnType(ctx, c, db, t, pk)
	if err != nil {
		return "", nil, err
	}
	colType, err := pgColumnType(ctx, c, db, t, column)
	if err != nil {
		return "", nil, err
	}
	a := &args{dialect: Postgres}
	arrays := []string{
		a.add(pgTextArray(fields(rows, func(s Swap) string { return s.PK }))) + "::text[]",
		a.add(pgTextArray(fields(rows, func(s Swap) string { return s.Old }))) + "::text[]",
		a.add(pgTextArray(fields(rows, func(s Swap) string { return s.New }))) + "::text[]",
	}
	qpk, qcol := quoteIdent(pk), quoteIdent(column)
	q := fmt.Sprintf(`WITH r2v AS (SELECT * FROM unnest(%s) AS r2v(pk, old, new))
UPDATE %s AS r2t SET %s = r2v.new::%s FROM r2v
WHERE r2t.%s = r2v.pk::%s AND r2t.%s = r2v.old::%s RETURNING r2v.pk`,
		strings.Join(arrays, ", "), quoteTable(t), qcol, colType, qpk, pkType, qcol, colType)
	return q, a.values, nil
}

// sqliteSwapQuery returns SQLite's compare-and-swap statement and its arguments, three
// a row. SQLite names no VALUES columns in FROM; a CTE does. Comparing the INTEGER (or
// other) affinity pk column with text converts the text, not the column. RETURNING
// sees only the updated table, and not by its alias.
func sqliteSwapQuery(t Table, pk, column string, rows []Swap) (string, []any) {
	a := &args{dialect: SQLite}
	var values strings.Builder
	values.WriteString("VALUES ")
	for i, r := range rows {
		if i > 0 {
			values.WriteString(", ")
		}
		fmt.Fprintf(&values, "(%s, %s, %s)", a.add(r.PK), a.add(r.Old), a.add(r.New))
	}
	qpk, qcol := quoteIdent(pk), quoteIdent(column)
	q := fmt.Sprintf(`WITH r2v(pk, old, new) AS (%s)
UPDATE %s AS r2t SET %s = r2v.new FROM r2v
WHERE r2t.%s = r2v.pk AND r2t.%s = r2v.old RETURNING CAST(%s AS TEXT)`,
		values.String(), quoteTable(t), qcol, qpk, qcol, qpk)
	return q, a.values
}

// pgTextArray returns a PostgreSQL array literal of ss, to be bound as one parameter
// and cast ($1::text[]). Every element is double-quoted, so commas, braces, blanks, an
// empty string and the word NULL are all plain text; inside the quotes only a backslash
// and a double quote need a backslash before them. (PostgreSQL text holds no NUL, and
// the driver drops one wherever a parameter has it.)
func pgTextArray(ss []string) string {
	n := 2
	for _, s := range ss {
		n += len(s) + 3
	}
	var b strings.Builder
	b.Grow(n)
	b.WriteByte('{')
	for i, s := range ss {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('"')
		for j := 0; j < len(s); j++ { // bytewise: no UTF-8 sequence holds these bytes
			if s[j] == '\\' || s[j] == '"' {
				b.WriteByte('\\')
			}
			b.WriteByte(s[j])
		}
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String()
}

// fields returns one field of each swap.
func fields(rows []Swap, field func(Swap) string) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = field(r)
	}
	return out
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
	var pkType string
	if dialect == Postgres && len(pks) > 0 {
		if pkType, err = pgColumnType(ctx, c, db, t, pk); err != nil {
			return nil, err
		}
	}
	qpk, qcol := quoteIdent(pk), quoteIdent(column)
	out := make(map[string]*string, len(pks))
	for start := 0; start < len(pks); start += MaxBatch {
		batch := pks[start:min(start+MaxBatch, len(pks))]
		a := &args{dialect: dialect}
		var in string
		if dialect == Postgres {
			// One array, cast to the pk's type: the pk's index finds the rows.
			in = fmt.Sprintf("= ANY(%s::%s[])", a.add(pgTextArray(batch)), pkType)
		} else {
			marks := make([]string, len(batch))
			for i, k := range batch {
				marks[i] = a.add(k)
			}
			in = "IN (" + strings.Join(marks, ", ") + ")"
		}
		q := fmt.Sprintf("SELECT %s, %s FROM %s AS r2t WHERE r2t.%s %s",
			textOf(dialect, "r2t."+qpk), textOf(dialect, "r2t."+qcol), quoteTable(t), qpk, in)
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

// Value is a column and the value it takes.
type Value struct {
	Column string
	Value  any
}

// Insert adds one row to t, each value bound as a parameter. bun formats values into
// the statement's text instead, and for a text of hundreds of kilobytes (a journal
// batch) PostgreSQL's parsing that literal costs ten times the insert.
func Insert(ctx context.Context, db bun.IDB, dialect string, t Table, row []Value) error {
	if err := checkDialect(dialect); err != nil {
		return err
	}
	c, err := rawConn(db)
	if err != nil {
		return err
	}
	a := &args{dialect: dialect}
	cols := make([]string, len(row))
	marks := make([]string, len(row))
	for i, v := range row {
		cols[i], marks[i] = quoteIdent(v.Column), a.add(v.Value)
	}
	q := fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s)", quoteTable(t), strings.Join(cols, ", "), strings.Join(marks, ", "))
	if err := query(ctx, c, dialect, q, a.values, func(*sql.Rows) error { return nil }); err != nil {
		return fmt.Errorf("insert into %q: %w", t, err)
	}
	return nil
}
