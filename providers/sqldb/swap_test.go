package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/uptrace/bun"
)

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	if s == nil {
		s = []string{}
	}
	return s
}

func TestCompareAndSwap(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		story := Table{Name: "Story"}
		if db.Dialect() == Postgres {
			story.Schema = "public"
		}
		weird := Table{Name: `Weird "Name"`}
		mustExec(t, db, `CREATE TABLE "Weird ""Name""" ("the ""id""" BIGINT PRIMARY KEY, "image""Url" TEXT)`)
		mustExec(t, db, `CREATE TABLE "Short" ("code" VARCHAR(4) PRIMARY KEY, "img" VARCHAR(10))`)

		tests := map[string]struct {
			table    Table
			pk, col  string
			setup    [][]any // rows (pk, col)
			swaps    []Swap
			wantSwap []string
			wantRows map[string]*string
		}{
			"text pk, some changed or gone": {
				table: story, pk: "id", col: "coverImage",
				setup: [][]any{{"s1", "old/1"}, {"s2", "changed/2"}, {"s3", nil}, {"s4", "old/4"}},
				swaps: []Swap{
					{PK: "s1", Old: "old/1", New: "new/1"},
					{PK: "s2", Old: "old/2", New: "new/2"}, // value changed since the plan
					{PK: "s3", Old: "old/3", New: "new/3"}, // NULL now
					{PK: "s9", Old: "old/9", New: "new/9"}, // row gone
					{PK: "s4", Old: "old/4", New: "new/4"},
				},
				wantSwap: []string{"s1", "s4"},
				wantRows: map[string]*string{"s1": ptr("new/1"), "s2": ptr("changed/2"), "s3": nil, "s4": ptr("new/4")},
			},
			"integer pk, quoted camelCase names": {
				table: weird, pk: `the "id"`, col: `image"Url`,
				setup: [][]any{{1, "a"}, {2, "b"}, {30, "c"}},
				swaps: []Swap{
					{PK: "1", Old: "a", New: "A"},
					{PK: "30", Old: "c", New: "C"},
					{PK: "2", Old: "x", New: "X"},
				},
				wantSwap: []string{"1", "30"},
				wantRows: map[string]*string{"1": ptr("A"), "2": ptr("b"), "30": ptr("C")},
			},
			"no partial match by truncation": {
				// A cast to varchar(4) would cut "abcdX" to "abcd" and match.
				table: Table{Name: "Short"}, pk: "code", col: "img",
				setup: [][]any{{"abcd", "img/1"}, {"wxyz", "img/2"}},
				swaps: []Swap{
					{PK: "abcdX", Old: "img/1", New: "img/9"},
					{PK: "wxyz", Old: "img/2X", New: "img/8"},
				},
				wantSwap: []string{},
				wantRows: map[string]*string{"abcd": ptr("img/1"), "wxyz": ptr("img/2")},
			},
			"values with quotes and placeholders": {
				table: story, pk: "id", col: "coverImage",
				setup:    [][]any{{"q'1", "it's $1 ?"}},
				swaps:    []Swap{{PK: "q'1", Old: "it's $1 ?", New: `new "one" ' $2 ?`}},
				wantSwap: []string{"q'1"},
				wantRows: map[string]*string{"q'1": ptr(`new "one" ' $2 ?`)},
			},
		}
		for name, tt := range tests {
			t.Run(name, func(t *testing.T) {
				mustExec(t, db, "DELETE FROM "+quoteTable(tt.table))
				cols := []string{tt.pk, tt.col}
				if tt.table.Name == "Story" {
					cols = []string{"id", "coverImage", "title"}
					for i := range tt.setup {
						tt.setup[i] = append(tt.setup[i], "t")
					}
				}
				insertRows(t, db, tt.table, cols, tt.setup)

				var got []string
				err := db.InTx(t.Context(), func(ctx context.Context, tx bun.Tx) error {
					var err error
					got, err = CompareAndSwap(ctx, tx, db.Dialect(), tt.table, tt.pk, tt.col, tt.swaps)
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(tt.wantSwap, sorted(got)); diff != "" {
					t.Errorf("swapped mismatch (-want +got):\n%s", diff)
				}
				var pks []string
				for _, r := range tt.setup {
					pks = append(pks, fmt.Sprint(r[0]))
				}
				pks = append(pks, "4242") // no such row
				cur, err := Current(t.Context(), db.Bun(), db.Dialect(), tt.table, tt.pk, tt.col, pks)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(tt.wantRows, cur); diff != "" {
					t.Errorf("rows after mismatch (-want +got):\n%s", diff)
				}
			})
		}

		t.Run("full batch", func(t *testing.T) {
			mustExec(t, db, "DELETE FROM "+quoteTable(weird))
			var rows [][]any
			var swaps []Swap
			var want []string
			for i := range MaxBatch {
				rows = append(rows, []any{i * 3, fmt.Sprintf("old/%d", i)})
				old := fmt.Sprintf("old/%d", i)
				if i%10 == 0 {
					old = "stale" // every tenth row changed since the plan
				} else {
					want = append(want, fmt.Sprint(i*3))
				}
				swaps = append(swaps, Swap{PK: fmt.Sprint(i * 3), Old: old, New: fmt.Sprintf("new/%d", i)})
			}
			insertRows(t, db, weird, []string{`the "id"`, `image"Url`}, rows)
			got, err := CompareAndSwap(t.Context(), db.Bun(), db.Dialect(), weird, `the "id"`, `image"Url`, swaps)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(sorted(want), sorted(got)); diff != "" {
				t.Errorf("swapped mismatch (-want +got):\n%s", diff)
			}
			// Swapping again changes nothing: the old values are gone.
			got, err = CompareAndSwap(t.Context(), db.Bun(), db.Dialect(), weird, `the "id"`, `image"Url`, swaps)
			if err != nil || len(got) != 0 {
				t.Errorf("second swap = %v, %v; want nothing", got, err)
			}
			// Current takes more than a batch.
			pks := make([]string, 0, 2*MaxBatch)
			for i := range 2 * MaxBatch {
				pks = append(pks, fmt.Sprint(i*3))
			}
			cur, err := Current(t.Context(), db.Bun(), db.Dialect(), weird, `the "id"`, `image"Url`, pks)
			if err != nil {
				t.Fatal(err)
			}
			if len(cur) != MaxBatch || *cur["3"] != "new/1" || *cur["0"] != "old/0" {
				t.Errorf("Current: %d rows, 3 → %v, 0 → %v", len(cur), cur["3"], cur["0"])
			}
		})

		t.Run("rollback", func(t *testing.T) {
			mustExec(t, db, "DELETE FROM "+quoteTable(story))
			insertRows(t, db, story, []string{"id", "title", "coverImage"}, [][]any{{"r1", "t", "old"}})
			boom := errors.New("journal write failed")
			err := db.InTx(t.Context(), func(ctx context.Context, tx bun.Tx) error {
				got, err := CompareAndSwap(ctx, tx, db.Dialect(), story, "id", "coverImage", []Swap{{PK: "r1", Old: "old", New: "new"}})
				if err != nil || len(got) != 1 {
					return fmt.Errorf("swap = %v, %v", got, err)
				}
				// Inside the transaction the new value is visible.
				cur, err := Current(ctx, tx, db.Dialect(), story, "id", "coverImage", []string{"r1"})
				if err != nil || *cur["r1"] != "new" {
					return fmt.Errorf("current in tx = %v, %v", cur, err)
				}
				return boom
			})
			if !errors.Is(err, boom) {
				t.Fatalf("InTx = %v", err)
			}
			cur, err := Current(t.Context(), db.Bun(), db.Dialect(), story, "id", "coverImage", []string{"r1"})
			if err != nil || *cur["r1"] != "old" {
				t.Errorf("after rollback = %v, %v; want old", cur, err)
			}
		})

		t.Run("refused", func(t *testing.T) {
			tooMany := make([]Swap, MaxBatch+1)
			for i := range tooMany {
				tooMany[i] = Swap{PK: fmt.Sprint(i), Old: "a", New: "b"}
			}
			tests := map[string]struct {
				dialect string
				col     string
				swaps   []Swap
				want    string
			}{
				"too many":       {dialect: db.Dialect(), col: "coverImage", swaps: tooMany, want: "at most 1000"},
				"duplicate pk":   {dialect: db.Dialect(), col: "coverImage", swaps: []Swap{{PK: "a", Old: "1", New: "2"}, {PK: "a", Old: "1", New: "3"}}, want: `pk "a" twice`},
				"missing column": {dialect: db.Dialect(), col: "banner", swaps: []Swap{{PK: "a", Old: "1", New: "2"}}, want: `"banner"`},
				"bad dialect":    {dialect: "mysql", col: "coverImage", swaps: []Swap{{PK: "a", Old: "1", New: "2"}}, want: "unknown SQL dialect"},
			}
			for name, tt := range tests {
				t.Run(name, func(t *testing.T) {
					_, err := CompareAndSwap(t.Context(), db.Bun(), tt.dialect, story, "id", tt.col, tt.swaps)
					if err == nil || !strings.Contains(err.Error(), tt.want) {
						t.Errorf("CompareAndSwap = %v, want an error with %q", err, tt.want)
					}
				})
			}
		})
	})
}

func TestPostgresCastsToColumnType(t *testing.T) {
	db := newDB(t, Postgres)
	mustExec(t, db, `CREATE TABLE "Typed" ("id" BIGINT PRIMARY KEY, "u" UUID UNIQUE, "c" CHAR(3), "v" VARCHAR(10), "ts" TIMESTAMP(3))`)
	c, err := rawConn(db.Bun())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, col := range []string{"id", "u", "c", "v", "ts"} {
		typ, err := pgColumnType(t.Context(), c, db.Bun(), Table{Name: "Typed"}, col)
		if err != nil {
			t.Fatal(err)
		}
		got[col] = typ
	}
	want := map[string]string{"id": "bigint", "u": "uuid", "c": "bpchar", "v": "character varying", "ts": "timestamp without time zone"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("types mismatch (-want +got):\n%s", diff)
	}

	// The pk comparison uses the pk's index: the bound text is cast, the column is not.
	mustExec(t, db, `INSERT INTO "Typed" ("id", "v") SELECT g, 'v' || g FROM generate_series(1, 20000) g`)
	mustExec(t, db, `ANALYZE "Typed"`)
	plan := explainSwap(t, db, Table{Name: "Typed"}, "id", "v", []Swap{{PK: "5", Old: "v5", New: "x"}}, nil)
	if !strings.Contains(plan, `Index Scan using "Typed_pkey"`) {
		t.Errorf("plan does not use the pk index:\n%s", plan)
	}
	got2, err := CompareAndSwap(t.Context(), db.Bun(), Postgres, Table{Name: "Typed"}, "id", "v", []Swap{{PK: "5", Old: "v5", New: "x"}, {PK: "6", Old: "nope", New: "y"}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"5"}, got2); diff != "" {
		t.Errorf("swapped mismatch (-want +got):\n%s", diff)
	}
}

// hostile holds texts that an array literal must carry unchanged.
var hostile = []string{
	"", " ", "  padded  ", `"`, `""`, `\`, `\\`, `\"`, `a\"b`, `ends with \`, `"quoted"`,
	",", "a,b", "{", "}", "{a,b}", `{"a"}`, "NULL", "null", "'", "it's", "$1", "?",
	"tab\there", "line\nbreak", "carriage\rreturn", "日本語", "é", "🎉 emoji", "\u00a0nbsp",
	"characters/c1/images/a b%20c.webp?v=1&x=[2]",
}

func TestPGTextArray(t *testing.T) {
	tests := map[string]struct {
		in   []string
		want string
	}{
		"empty":          {in: []string{}, want: `{}`},
		"one empty text": {in: []string{""}, want: `{""}`},
		"plain":          {in: []string{"a", "b/c.webp"}, want: `{"a","b/c.webp"}`},
		"escapes":        {in: []string{`a"b`, `c\d`, `\"`}, want: `{"a\"b","c\\d","\\\""}`},
		"structure":      {in: []string{"{,}", "NULL", " x "}, want: `{"{,}","NULL"," x "}`},
		"unicode":        {in: []string{"日本", "🎉"}, want: `{"日本","🎉"}`},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, pgTextArray(tt.in)); diff != "" {
				t.Errorf("literal (-want +got):\n%s", diff)
			}
		})
	}

	// PostgreSQL reads every hostile text back unchanged, in order.
	t.Run("round trip", func(t *testing.T) {
		db := newDB(t, Postgres)
		c, err := rawConn(db.Bun())
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		err = query(t.Context(), c, Postgres, `SELECT v FROM unnest($1::text[]) WITH ORDINALITY AS u(v, i) ORDER BY i`,
			[]any{pgTextArray(hostile)}, func(r *sql.Rows) error {
				var v string
				if err := r.Scan(&v); err != nil {
					return err
				}
				got = append(got, v)
				return nil
			})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(hostile, got); diff != "" {
			t.Errorf("round trip (-want +got):\n%s", diff)
		}
	})
}

func TestCompareAndSwapRecord(t *testing.T) {
	db := newDB(t, Postgres)
	mustExec(t, db, `CREATE TABLE "Log" ("id" BIGSERIAL PRIMARY KEY, "run" TEXT NOT NULL, "at" TIMESTAMPTZ NOT NULL,
		"n" INTEGER NOT NULL, "pk" TEXT NOT NULL, "old" TEXT NOT NULL, "new" TEXT NOT NULL, "obj" TEXT NOT NULL)`)
	rec := Record{
		Table: Table{Name: "Log"},
		Fixed: []Value{{Column: "run", Value: "r1"}, {Column: "at", Value: time.Date(2025, 1, 2, 3, 4, 5, 678901000, time.UTC)}, {Column: "n", Value: int64(7)}},
		PK:    "pk", Old: "old", New: "new", Extra: []string{"obj"},
	}
	story := Table{Name: "Story"}
	var setup [][]any
	var swaps []Swap
	var want [][]string
	for i, h := range hostile {
		pk := fmt.Sprintf("s%02d%s", i, h)
		setup = append(setup, []any{pk, "t", "old" + h})
		old := "old" + h
		if i%5 == 0 {
			old = "stale" + h // changed since the plan: neither swapped nor recorded
		} else {
			want = append(want, []string{pk, old, h + "new", "obj" + h})
		}
		swaps = append(swaps, Swap{PK: pk, Old: old, New: h + "new", Extra: []string{"obj" + h}})
	}
	insertRows(t, db, story, []string{"id", "title", "coverImage"}, setup)

	var got []string
	err := db.InTx(t.Context(), func(ctx context.Context, tx bun.Tx) error {
		var err error
		got, err = CompareAndSwapRecord(ctx, tx, Postgres, story, "id", "coverImage", swaps, rec)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var wantPKs []string
	for _, w := range want {
		wantPKs = append(wantPKs, w[0])
	}
	if diff := cmp.Diff(sorted(wantPKs), sorted(got)); diff != "" {
		t.Errorf("swapped (-want +got):\n%s", diff)
	}
	// One record per swapped row, in the order of the swaps, with the fixed values.
	var logged [][]string
	rows, err := db.Bun().DB.QueryContext(t.Context(),
		`SELECT "pk", "old", "new", "obj", "run", to_char("at" AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'), "n"::text FROM "Log" ORDER BY "id"`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var pk, old, new, obj, run, at, n string
		if err := rows.Scan(&pk, &old, &new, &obj, &run, &at, &n); err != nil {
			t.Fatal(err)
		}
		if run != "r1" || at != "2025-01-02 03:04:05.678901" || n != "7" {
			t.Errorf("fixed values of %q: %q, %q, %q", pk, run, at, n)
		}
		logged = append(logged, []string{pk, old, new, obj})
	}
	if diff := cmp.Diff(want, logged); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	cur, err := Current(t.Context(), db.Bun(), Postgres, story, "id", "coverImage", fields(swaps, func(s Swap) string { return s.PK }))
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range swaps {
		want := "old" + hostile[i]
		if i%5 != 0 {
			want = s.New
		}
		if v := cur[s.PK]; v == nil || *v != want {
			t.Errorf("row %q holds %v, want %q", s.PK, v, want)
		}
	}

	t.Run("refused", func(t *testing.T) {
		tests := map[string]struct {
			dialect string
			swaps   []Swap
			want    string
		}{
			"sqlite":        {dialect: SQLite, swaps: []Swap{{PK: "a", Old: "1", New: "2", Extra: []string{"x"}}}, want: "needs PostgreSQL"},
			"missing extra": {dialect: Postgres, swaps: []Swap{{PK: "a", Old: "1", New: "2"}}, want: "0 extra values for 1"},
			"duplicate pk":  {dialect: Postgres, swaps: []Swap{{PK: "a", Extra: []string{"x"}}, {PK: "a", Extra: []string{"y"}}}, want: `pk "a" twice`},
		}
		for name, tt := range tests {
			t.Run(name, func(t *testing.T) {
				_, err := CompareAndSwapRecord(t.Context(), db.Bun(), tt.dialect, story, "id", "coverImage", tt.swaps, rec)
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("CompareAndSwapRecord = %v, want an error with %q", err, tt.want)
				}
			})
		}
		bad := rec
		bad.Extra = []string{"nope"}
		_, err := CompareAndSwapRecord(t.Context(), db.Bun(), Postgres, story, "id", "coverImage",
			[]Swap{{PK: "a", Old: "1", New: "2", Extra: []string{"x"}}}, bad)
		if err == nil || !strings.Contains(err.Error(), `"nope"`) {
			t.Errorf("a record column that does not exist: %v", err)
		}
	})
}

// explainSwap returns PostgreSQL's plan of the statement CompareAndSwap (or, with rec,
// CompareAndSwapRecord) would run; nothing is changed.
func explainSwap(t *testing.T, db *DB, table Table, pk, col string, swaps []Swap, rec *Record) string {
	t.Helper()
	c, err := rawConn(db.Bun())
	if err != nil {
		t.Fatal(err)
	}
	q, a, err := pgSwapQuery(t.Context(), c, db.Bun(), table, pk, col, swaps, rec)
	if err != nil {
		t.Fatal(err)
	}
	var plan []string
	err = query(t.Context(), c, Postgres, "EXPLAIN "+q, a, func(r *sql.Rows) error {
		var line string
		err := r.Scan(&line)
		plan = append(plan, line)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(plan, "\n")
}

// TestPostgresSwapPlan checks that on a table of 200,000 Prisma-shaped rows a batch of
// up to MaxBatch swaps, with its record, finds each row through the pk's index (a
// nested loop), rather than reading the whole table for a hash join.
func TestPostgresSwapPlan(t *testing.T) {
	db := newDB(t, Postgres)
	mustExec(t, db, `INSERT INTO "CharacterImage" ("id", "characterId", "url", "key")
		SELECT 'c' || substr(md5(g::text), 1, 24), 'c' || substr(md5((g / 7)::text), 1, 24),
		       'https://media.charhub.app/characters/' || md5(g::text || 'k') || '.webp',
		       'characters/' || md5(g::text || 'k') || '.webp'
		FROM generate_series(1, 200000) g`)
	mustExec(t, db, `CREATE TABLE "Log" ("id" BIGSERIAL PRIMARY KEY, "plan" TEXT NOT NULL, "pk" TEXT NOT NULL,
		"old" TEXT NOT NULL, "new" TEXT NOT NULL, "obj" TEXT NOT NULL, "target" TEXT NOT NULL)`)
	mustExec(t, db, `VACUUM ANALYZE "CharacterImage"`)
	rec := &Record{Table: Table{Name: "Log"}, Fixed: []Value{{Column: "plan", Value: "p"}},
		PK: "pk", Old: "old", New: "new", Extra: []string{"obj", "target"}}
	// A plan's batch: rows in the order of their keys, so pks in random order.
	var all []Swap
	rows, err := db.Bun().DB.QueryContext(t.Context(), fmt.Sprintf(`SELECT "id", "key" FROM "CharacterImage" ORDER BY "key" LIMIT %d`, MaxBatch))
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s Swap
		if err := rows.Scan(&s.PK, &s.Old); err != nil {
			t.Fatal(err)
		}
		s.New = "dev/" + s.Old
		s.Extra = []string{s.Old, s.New}
		all = append(all, s)
	}
	rows.Close()
	for _, n := range []int{1, 100, 500, 1000, 2000, 5000} {
		if n > MaxBatch {
			break
		}
		plan := explainSwap(t, db, Table{Name: "CharacterImage"}, "id", "key", all[:n], rec)
		t.Logf("%d swaps:\n%s", n, plan)
		if !strings.Contains(plan, "Nested Loop") || !strings.Contains(plan, `Index Scan using "CharacterImage_pkey"`) ||
			strings.Contains(plan, `Seq Scan on "CharacterImage"`) {
			t.Errorf("%d swaps: the plan does not look rows up by the pk's index:\n%s", n, plan)
		}
	}
}
