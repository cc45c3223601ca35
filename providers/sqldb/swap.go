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

// RowSwap asks to set several of a row's columns at once: each column whose Old is not
// nil to its New, if every one of them still holds its Old.
type RowSwap struct {
	PK string
	// Old and New hold one value per column of the call. A nil Old leaves its column
	// alone.
	Old, New []*string
}

// CompareAndSwap sets column = New on each row whose pk = PK and whose column still =
// Old, in one statement, and returns the pks that were swapped (as the Swaps give them,
// in no particular order). It is CompareAndSwapRows of one column.
func CompareAndSwap(ctx context.Context, db bun.IDB, dialect string, t Table, pk, column string, rows []Swap) (swapped []string, err error) {
	rs := make([]RowSwap, len(rows))
	for i := range rows {
		rs[i] = RowSwap{PK: rows[i].PK, Old: []*string{&rows[i].Old}, New: []*string{&rows[i].New}}
	}
	return CompareAndSwapRows(ctx, db, dialect, t, pk, []string{column}, rs)
}

// CompareAndSwapRows swaps the columns of each row, all of them or none: it sets each
// column with an Old to its New on each row whose pk = PK and whose columns with an Old
// all still hold it, in one statement, and returns the pks that were swapped (as the
// RowSwaps give them, in no particular order). A row of which a value changed since,
// or that is gone, is not swapped and not returned. Values are always bound
// parameters. One statement that sets a row's two columns costs about what setting one
// costs: one lookup, one new version of the row.
//
// On PostgreSQL the swaps travel as text arrays, whatever the batch size, a NULL where
// a row leaves a column alone:
//
//	WITH r2v AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], ...) AS r2v(pk, o1, n1, ...))
//	UPDATE t AS r2t SET c1 = CASE WHEN r2v.o1 IS NULL THEN r2t.c1 ELSE r2v.n1::c1type END, ...
//	FROM r2v WHERE r2t.pk = r2v.pk::pktype AND (r2v.o1 IS NULL OR r2t.c1 = r2v.o1::c1type) AND ...
//	RETURNING r2v.pk
//
// The texts are cast to the columns' own types (looked up once per database, table and
// column) so that the pk comparison uses the pk's index; the columns are never cast.
// On SQLite they are bound one by one in a VALUES list.
//
// db may be a transaction: the caller writes its journal in the same one. rows may hold
// at most MaxBatch swaps, with distinct pks.
func CompareAndSwapRows(ctx context.Context, db bun.IDB, dialect string, t Table, pk string, columns []string, rows []RowSwap) (swapped []string, err error) {
	what := fmt.Sprintf("%q.%q", t, columns)
	if len(columns) == 1 {
		what = fmt.Sprintf("%q.%q", t, columns[0])
	}
	if err := checkDialect(dialect); err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, nil
	}
	if len(columns) == 0 {
		return nil, fmt.Errorf("rewrite %s: no column", what)
	}
	if len(rows) > MaxBatch {
		return nil, fmt.Errorf("rewrite %s: %d rows in one batch, at most %d", what, len(rows), MaxBatch)
	}
	seen := make(map[string]bool, len(rows))
	for _, r := range rows {
		if seen[r.PK] {
			return nil, fmt.Errorf("rewrite %s: pk %q twice in one batch", what, r.PK)
		}
		seen[r.PK] = true
		if len(r.Old) != len(columns) || len(r.New) != len(columns) {
			return nil, fmt.Errorf("rewrite %s: pk %q has %d old and %d new values for %d columns", what, r.PK, len(r.Old), len(r.New), len(columns))
		}
		some := false
		for i := range columns {
			if r.Old[i] != nil && r.New[i] == nil {
				return nil, fmt.Errorf("rewrite %s: pk %q has no new value for %q", what, r.PK, columns[i])
			}
			some = some || r.Old[i] != nil
		}
		if !some {
			return nil, fmt.Errorf("rewrite %s: pk %q swaps no column", what, r.PK)
		}
	}
	c, err := rawConn(db)
	if err != nil {
		return nil, err
	}
	var q string
	var a []any
	if dialect == Postgres {
		q, a, err = pgSwapQuery(ctx, c, db, t, pk, columns, rows)
		if err != nil {
			return nil, err
		}
	} else {
		q, a = sqliteSwapQuery(t, pk, columns, rows)
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
		return nil, fmt.Errorf("rewrite %s: %w", what, err)
	}
	return swapped, nil
}

// swapClauses returns the SET and WHERE clauses of a swap of columns, given how the
// statement spells r2v's old and new value of column i (cast or not).
func swapClauses(columns []string, old, new func(i int) string) (set, where string) {
	var sets, conds []string
	for i, col := range columns {
		qcol := quoteIdent(col)
		sets = append(sets, fmt.Sprintf("%s = CASE WHEN r2v.o%d IS NULL THEN r2t.%s ELSE %s END", qcol, i+1, qcol, new(i)))
		conds = append(conds, fmt.Sprintf("(r2v.o%d IS NULL OR r2t.%s = %s)", i+1, qcol, old(i)))
	}
	return strings.Join(sets, ", "), strings.Join(conds, " AND ")
}

// pgSwapQuery returns PostgreSQL's compare-and-swap statement and its arguments: the
// swaps as text arrays (pk, then each column's old and new values).
func pgSwapQuery(ctx context.Context, c conn, db bun.IDB, t Table, pk string, columns []string, rows []RowSwap) (string, []any, error) {
	pkType, err := pgColumnType(ctx, c, db, t, pk)
	if err != nil {
		return "", nil, err
	}
	types := make([]string, len(columns))
	for i, col := range columns {
		if types[i], err = pgColumnType(ctx, c, db, t, col); err != nil {
			return "", nil, err
		}
	}
	a := &args{dialect: Postgres}
	names := []string{"pk"}
	arrays := []string{a.add(pgArray(len(rows), func(j int) *string { return &rows[j].PK })) + "::text[]"}
	for i := range columns {
		names = append(names, fmt.Sprintf("o%d", i+1), fmt.Sprintf("n%d", i+1))
		arrays = append(arrays,
			a.add(pgArray(len(rows), func(j int) *string { return rows[j].Old[i] }))+"::text[]",
			a.add(pgArray(len(rows), func(j int) *string { return rows[j].New[i] }))+"::text[]")
	}
	set, where := swapClauses(columns,
		func(i int) string { return fmt.Sprintf("r2v.o%d::%s", i+1, types[i]) },
		func(i int) string { return fmt.Sprintf("r2v.n%d::%s", i+1, types[i]) })
	q := fmt.Sprintf(`WITH r2v AS (SELECT * FROM unnest(%s) AS r2v(%s))
UPDATE %s AS r2t SET %s FROM r2v
WHERE r2t.%s = r2v.pk::%s AND %s RETURNING r2v.pk`,
		strings.Join(arrays, ", "), strings.Join(names, ", "),
		quoteTable(t), set, quoteIdent(pk), pkType, where)
	return q, a.values, nil
}

// sqliteSwapQuery returns SQLite's compare-and-swap statement and its arguments, a pk
// and each column's old and new values a row. SQLite names no VALUES columns in FROM;
// a CTE does. Comparing the INTEGER (or other) affinity pk column with text converts
// the text, not the column. RETURNING sees only the updated table, and not by its
// alias.
func sqliteSwapQuery(t Table, pk string, columns []string, rows []RowSwap) (string, []any) {
	a := &args{dialect: SQLite}
	names := []string{"pk"}
	for i := range columns {
		names = append(names, fmt.Sprintf("o%d", i+1), fmt.Sprintf("n%d", i+1))
	}
	bind := func(p *string) string {
		if p == nil {
			return a.add(nil)
		}
		return a.add(*p)
	}
	var values strings.Builder
	values.WriteString("VALUES ")
	for j, r := range rows {
		if j > 0 {
			values.WriteString(", ")
		}
		values.WriteString("(" + a.add(r.PK))
		for i := range columns {
			values.WriteString(", " + bind(r.Old[i]) + ", " + bind(r.New[i]))
		}
		values.WriteString(")")
	}
	set, where := swapClauses(columns,
		func(i int) string { return fmt.Sprintf("r2v.o%d", i+1) },
		func(i int) string { return fmt.Sprintf("r2v.n%d", i+1) })
	qpk := quoteIdent(pk)
	q := fmt.Sprintf(`WITH r2v(%s) AS (%s)
UPDATE %s AS r2t SET %s FROM r2v
WHERE r2t.%s = r2v.pk AND %s RETURNING CAST(%s AS TEXT)`,
		strings.Join(names, ", "), values.String(), quoteTable(t), set, qpk, where, qpk)
	return q, a.values
}

// pgTextArray returns a PostgreSQL array literal of ss, to be bound as one parameter
// and cast ($1::text[]). Every element is double-quoted, so commas, braces, blanks, an
// empty string and the word NULL are all plain text; inside the quotes only a backslash
// and a double quote need a backslash before them. (PostgreSQL text holds no NUL, and
// the driver drops one wherever a parameter has it.)
func pgTextArray(ss []string) string {
	return pgArray(len(ss), func(i int) *string { return &ss[i] })
}

// pgArray is pgTextArray of n elements, at(i) each, where a nil element is NULL.
func pgArray(n int, at func(i int) *string) string {
	size := 2
	for i := range n {
		if s := at(i); s != nil {
			size += len(*s) + 3
		} else {
			size += 5
		}
	}
	var b strings.Builder
	b.Grow(size)
	b.WriteByte('{')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		p := at(i)
		if p == nil {
			b.WriteString("NULL")
			continue
		}
		s := *p
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
