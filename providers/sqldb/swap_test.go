package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

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
	old, new := "v5", "x"
	plan := explainSwap(t, db, Table{Name: "Typed"}, "id", []string{"v"}, []RowSwap{{PK: "5", Old: []*string{&old}, New: []*string{&new}}})
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

// explainSwap returns PostgreSQL's plan of the statement CompareAndSwapRows would run;
// nothing is changed.
func explainSwap(t *testing.T, db *DB, table Table, pk string, cols []string, swaps []RowSwap) string {
	t.Helper()
	c, err := rawConn(db.Bun())
	if err != nil {
		t.Fatal(err)
	}
	q, a, err := pgSwapQuery(t.Context(), c, db.Bun(), table, pk, cols, swaps)
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
// up to MaxBatch swaps finds each row through the pk's index (a
// nested loop), rather than reading the whole table for a hash join.
func TestPostgresSwapPlan(t *testing.T) {
	db := newDB(t, Postgres)
	mustExec(t, db, `INSERT INTO "CharacterImage" ("id", "characterId", "url", "key")
		SELECT 'c' || substr(md5(g::text), 1, 24), 'c' || substr(md5((g / 7)::text), 1, 24),
		       'https://media.charhub.app/characters/' || md5(g::text || 'k') || '.webp',
		       'characters/' || md5(g::text || 'k') || '.webp'
		FROM generate_series(1, 200000) g`)
	mustExec(t, db, `VACUUM ANALYZE "CharacterImage"`)
	// A plan's batch: rows in the order of their keys, so pks in random order; each
	// swaps its key, and its url as well (a row of two referencing columns).
	var all []RowSwap
	rows, err := db.Bun().DB.QueryContext(t.Context(), fmt.Sprintf(`SELECT "id", "key", "url" FROM "CharacterImage" ORDER BY "key" LIMIT %d`, MaxBatch))
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var pk, key, url string
		if err := rows.Scan(&pk, &key, &url); err != nil {
			t.Fatal(err)
		}
		newKey, newURL := "dev/"+key, url+"?dev"
		all = append(all, RowSwap{PK: pk, Old: []*string{&key, &url}, New: []*string{&newKey, &newURL}})
	}
	rows.Close()
	keyOnly := make([]RowSwap, len(all))
	for i, r := range all {
		keyOnly[i] = RowSwap{PK: r.PK, Old: r.Old[:1], New: r.New[:1]}
	}
	for _, n := range []int{1, 100, 500, 1000, 2000, 5000} {
		if n > MaxBatch {
			break
		}
		for _, c := range []struct {
			cols  []string
			swaps []RowSwap
		}{{[]string{"key"}, keyOnly}, {[]string{"key", "url"}, all}} {
			plan := explainSwap(t, db, Table{Name: "CharacterImage"}, "id", c.cols, c.swaps[:n])
			t.Logf("%d swaps of %q:\n%s", n, c.cols, plan)
			if !strings.Contains(plan, "Nested Loop") || !strings.Contains(plan, `Index Scan using "CharacterImage_pkey"`) ||
				strings.Contains(plan, `Seq Scan on "CharacterImage"`) {
				t.Errorf("%d swaps of %q: the plan does not look rows up by the pk's index:\n%s", n, c.cols, plan)
			}
		}
	}
}

// TestInsert checks that Insert stores every hostile text and a large one unchanged.
func TestInsert(t *testing.T) {
	for _, dialect := range []string{Postgres, SQLite} {
		t.Run(dialect, func(t *testing.T) {
			db := newDB(t, dialect)
			story := Table{Name: "Story"}
			want := append(slices.Clone(hostile), strings.Repeat(`["a\"b",`, 50_000))
			for i, h := range want {
				row := []Value{{Column: "id", Value: fmt.Sprint(i)}, {Column: "title", Value: h}, {Column: "coverImage", Value: nil}}
				if err := Insert(t.Context(), db.Bun(), dialect, story, row); err != nil {
					t.Fatal(err)
				}
			}
			var got []string
			rows, err := db.Bun().DB.QueryContext(t.Context(), `SELECT "title" FROM "Story" WHERE "coverImage" IS NULL ORDER BY CAST("id" AS INTEGER)`)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			for rows.Next() {
				var s string
				if err := rows.Scan(&s); err != nil {
					t.Fatal(err)
				}
				got = append(got, s)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("stored (-want +got):\n%s", diff)
			}
			if err := Insert(t.Context(), db.Bun(), dialect, story, []Value{{Column: "nope", Value: "x"}}); err == nil || !strings.Contains(err.Error(), `"Story"`) {
				t.Errorf("a column that does not exist: %v", err)
			}
		})
	}
}

// TestCompareAndSwapRows checks a swap of two columns at once: a row is swapped whole
// or not at all, and a column without an Old is left alone.
func TestCompareAndSwapRows(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		curated := Table{Name: "CuratedImage"}
		insertRows(t, db, curated, []string{"id", "r2Key", "r2Url"}, [][]any{
			{"both", "k/1", "u/1"},
			{"key changed", "app/2", "u/2"},
			{"url only", "k/3", "u/3"},
			{"url null", "k/4", nil},
			{"hostile", hostile[9], hostile[10]},
		})
		swap := func(pk string, oldKey, newKey, oldURL, newURL *string) RowSwap {
			return RowSwap{PK: pk, Old: []*string{oldKey, oldURL}, New: []*string{newKey, newURL}}
		}
		got, err := CompareAndSwapRows(t.Context(), db.Bun(), db.Dialect(), curated, "id", []string{"r2Key", "r2Url"}, []RowSwap{
			swap("both", ptr("k/1"), ptr("dev/k/1"), ptr("u/1"), ptr("dev/u/1")),
			swap("key changed", ptr("k/2"), ptr("dev/k/2"), ptr("u/2"), ptr("dev/u/2")), // neither is swapped
			swap("url only", nil, nil, ptr("u/3"), ptr("dev/u/3")),
			swap("url null", ptr("k/4"), ptr("dev/k/4"), ptr("u/4"), ptr("dev/u/4")), // NULL now: neither
			swap("gone", ptr("k/9"), ptr("dev/k/9"), nil, nil),
			swap("hostile", ptr(hostile[9]), ptr(hostile[11]), ptr(hostile[10]), ptr(hostile[12])),
		})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"both", "hostile", "url only"}, sorted(got)); diff != "" {
			t.Errorf("swapped (-want +got):\n%s", diff)
		}
		want := map[string][2]*string{
			"both":        {ptr("dev/k/1"), ptr("dev/u/1")},
			"key changed": {ptr("app/2"), ptr("u/2")},
			"url only":    {ptr("k/3"), ptr("dev/u/3")},
			"url null":    {ptr("k/4"), nil},
			"hostile":     {ptr(hostile[11]), ptr(hostile[12])},
		}
		keys, err := Current(t.Context(), db.Bun(), db.Dialect(), curated, "id", "r2Key", slices.Collect(maps.Keys(want)))
		if err != nil {
			t.Fatal(err)
		}
		urls, err := Current(t.Context(), db.Bun(), db.Dialect(), curated, "id", "r2Url", slices.Collect(maps.Keys(want)))
		if err != nil {
			t.Fatal(err)
		}
		for pk, w := range want {
			if diff := cmp.Diff(w, [2]*string{keys[pk], urls[pk]}); diff != "" {
				t.Errorf("row %q (-want +got):\n%s", pk, diff)
			}
		}

		t.Run("refused", func(t *testing.T) {
			tests := map[string]struct {
				cols []string
				rows []RowSwap
				want string
			}{
				"no column":       {cols: nil, rows: []RowSwap{{PK: "a"}}, want: "no column"},
				"values per row":  {cols: []string{"r2Key", "r2Url"}, rows: []RowSwap{{PK: "a", Old: []*string{ptr("x")}, New: []*string{ptr("y")}}}, want: "1 old and 1 new values for 2 columns"},
				"nothing to swap": {cols: []string{"r2Key"}, rows: []RowSwap{{PK: "a", Old: []*string{nil}, New: []*string{nil}}}, want: "swaps no column"},
				"no new value":    {cols: []string{"r2Key"}, rows: []RowSwap{{PK: "a", Old: []*string{ptr("x")}, New: []*string{nil}}}, want: `no new value for "r2Key"`},
				"pk twice": {cols: []string{"r2Key"}, rows: []RowSwap{
					{PK: "a", Old: []*string{ptr("x")}, New: []*string{ptr("y")}}, {PK: "a", Old: []*string{ptr("x")}, New: []*string{ptr("z")}},
				}, want: `pk "a" twice`},
			}
			for name, tt := range tests {
				t.Run(name, func(t *testing.T) {
					_, err := CompareAndSwapRows(t.Context(), db.Bun(), db.Dialect(), curated, "id", tt.cols, tt.rows)
					if err == nil || !strings.Contains(err.Error(), tt.want) {
						t.Errorf("CompareAndSwapRows = %v, want an error with %q", err, tt.want)
					}
				})
			}
		})
	})
}
