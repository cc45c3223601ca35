package sqldb

import (
	"context"
	"errors"
	"fmt"
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
				got, err := CompareAndSwap(ctx, tx, db.Dialect(), story, "id", "coverImage", []Swap{{"r1", "old", "new"}})
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
				"duplicate pk":   {dialect: db.Dialect(), col: "coverImage", swaps: []Swap{{"a", "1", "2"}, {"a", "1", "3"}}, want: `pk "a" twice`},
				"missing column": {dialect: db.Dialect(), col: "banner", swaps: []Swap{{"a", "1", "2"}}, want: `"banner"`},
				"bad dialect":    {dialect: "mysql", col: "coverImage", swaps: []Swap{{"a", "1", "2"}}, want: "unknown SQL dialect"},
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
	var plan []string
	rows, err := db.Bun().DB.QueryContext(t.Context(),
		`EXPLAIN UPDATE "Typed" AS r2t SET "v" = r2v.new FROM (VALUES ('5'::bigint, 'v5'::character varying, 'x'::character varying)) AS r2v(pk, old, new) WHERE r2t."id" = r2v.pk AND r2t."v" = r2v.old`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, line)
	}
	rows.Close()
	if !strings.Contains(strings.Join(plan, "\n"), "Index Scan using") {
		t.Errorf("plan does not use the pk index:\n%s", strings.Join(plan, "\n"))
	}
	got2, err := CompareAndSwap(t.Context(), db.Bun(), Postgres, Table{Name: "Typed"}, "id", "v", []Swap{{"5", "v5", "x"}, {"6", "nope", "y"}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"5"}, got2); diff != "" {
		t.Errorf("swapped mismatch (-want +got):\n%s", diff)
	}
}
