package sqldb

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/r2plan/r2plan/plan"
)

// TestTextFilter checks that the SQL of a TextFilter reads exactly the rows one of whose
// columns the Go test admits (plan.Prefilter.Admits), on each dialect: case changes in
// and out of ASCII, JSON, NULLs, a prefix further in than the start.
func TestTextFilter(t *testing.T) {
	m := plan.NewMatcher("https://Media.Skies.com/prod", "https://bücher.example")
	few, ok := m.Prefilter(slices.Values([]string{"characters/c1/a.webp", "Éclair/x.png", "top.png", `a+b(c)[d]^$.*?{2}|\\/e.png`, "100%_x/y.png", "a_b/x.png"}))
	if !ok {
		t.Fatal("no prefilter")
	}
	// The most a prefilter holds: 32 segments under 6 bases.
	keys := []string{"characters/c1/a.webp", "Éclair/x.png", "top.png", `a+b(c)[d]^$.*?{2}|\\/e.png`, "100%_x/y.png", "a_b/x.png"}
	for i := len(keys); i < 32; i++ {
		keys = append(keys, fmt.Sprintf("seg%d.(x)/k.png", i))
	}
	wide := plan.NewMatcher(append([]string{"https://Media.Skies.com/prod", "https://bücher.example"}, plan.EndpointURLs("", "media-bucket", "eu-west-1")...)...)
	most, ok := wide.Prefilter(slices.Values(keys))
	if !ok {
		t.Fatal("no prefilter of 32 segments")
	}
	filters := map[string]plan.Prefilter{"few": few, "most": most}
	values := []string{
		"characters/c1/a.webp", "xcharacters/c1/a.webp", "Characters/c1/a.webp", "top.png", "top.pngs", " top.png",
		"https://media.skies.com/prod/characters/c9/z.webp", "HTTPS://MEDIA.SKIES.COM/PROD/CHARACTERS/x", "https://MEDIA.SKIES.COM/prod/characters/x",
		"https://media.s\u212aies.com/prod/characters/x", "https://media.\u017fkies.com/prod/users/x", "https://media.skies.com/prod/users/1.webp",
		"https://media.skies.com/staging/characters/x", "https://cdn.example.com/prod/characters/x", "https://media.skies.com/prod/Éclair/x.png",
		"https://media.skies.com/prod/éclair/x.png", "https://MEDIA.skies.com/prod/ÉCLAIR/x.png", "https://BÜCHER.example/characters/x",
		"https://bücher.example/users/x", "Éclair/x.png", "éclair/x.png", `{"k": "characters/c1/a.webp"}`, `{"k": "users/1"}`,
		`{"u": "https:\/\/media.skies.com"}`, "100% sure", "<p>Hello <img src=\"https://media.skies.com/prod/characters/c1/a.webp\"></p>",
		"Prose about characters/ and top.png in the middle", `a+b(c)[d]^$.*?{2}|\\/e.png`, "aab(c)[d]^$.*?{2}|/e.png",
		`https://media.skies.com/prod/A+B(C)[D]^$.*?{2}|\\/`, "https://media.skies.com/prod/a+b(c)[d]^$.*?{2}|/", "ab/x",
		"100%_x/y.png", "100a_x/y.png", "100%ax/y.png", "https://media.skies.com/prod/100%25_x/y.png", "https://media.skies.com/prod/100X_x/",
		"a_b/x.png", "aXb/x.png", `{"k": "aXb/x.png"}`, "{characters/c1/a.webp,x}", "{x,top.png}", "{x,users/1}", "{{a_b/x.png}}", "https://MEDIA.skies.com/prod/aXb/x.png", "ÀÉÎÕÜ àéîõü", "", "日本語のテキスト characters/",
	}
	// Rows of two columns: each value beside NULL, and beside each other value now and then.
	var rows [][]any
	for i, v := range values {
		rows = append(rows, []any{fmt.Sprint(i), v, nil}, []any{fmt.Sprint(i) + "b", nil, v})
		rows = append(rows, []any{fmt.Sprint(i) + "c", v, values[(i*7+3)%len(values)]})
	}
	rows = append(rows, []any{"null", nil, nil})
	// PostgreSQL binding on the server, and binding in the client as under pgbouncer=true.
	modes := map[string]string{"postgres": "", "postgres, pgbouncer": "pgbouncer=true", "sqlite": ""}
	for mode, params := range modes {
		t.Run(mode, func(t *testing.T) {
			dialect := Postgres
			if mode == "sqlite" {
				dialect = SQLite
			}
			url := newURL(t, dialect)
			if params != "" {
				sep := "?"
				if strings.Contains(url, "?") {
					sep = "&"
				}
				url += sep + params
			}
			db, err := Open(t.Context(), url)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			checkTextFilter(t, db, filters, rows)
		})
	}
}

// checkTextFilter loads rows into a table and checks that each filter's SQL reads the
// rows the Go test admits.
func checkTextFilter(t *testing.T, db *DB, filters map[string]plan.Prefilter, rows [][]any) {
	{
		collate := ""
		if db.Dialect() == Postgres {
			// A collation whose lower() folds more than A-Z, where the server has one:
			// the filter must not use it.
			var name string
			err := db.Bun().DB.QueryRowContext(t.Context(), `SELECT coalesce(min(collname), '') FROM pg_collation
				WHERE collname IN ('und-x-icu', 'C.utf8', 'en_US.utf8') AND collencoding IN (-1, 6)`).Scan(&name)
			if err != nil {
				t.Fatal(err)
			}
			if name != "" {
				collate = " COLLATE " + quoteIdent(name)
			}
			t.Logf("column b's collation: %q", name)
		}
		mustExec(t, db, `CREATE TABLE "F" ("id" TEXT PRIMARY KEY, "a" TEXT, "b" TEXT`+collate+`)`)
		insertRows(t, db, Table{Name: "F"}, []string{"id", "a", "b"}, rows)
		for name, pf := range filters {
			scan := func(f *TextFilter) []string {
				t.Helper()
				var got []string
				err := db.ScanText(t.Context(), Table{Name: "F"}, []string{"id", "a", "b"}, 0, f, func(values [][]byte) error {
					id := string(values[0])
					if f == nil {
						admit := false
						for _, v := range values {
							admit = admit || v != nil && pf.Admits(string(v))
						}
						if !admit {
							return nil
						}
					}
					got = append(got, id)
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				slices.Sort(got)
				return got
			}
			want := scan(nil)
			if len(want) == 0 || len(want) == len(rows) {
				t.Fatalf("%s: the Go test admits %d rows of %d: a useless table", name, len(want), len(rows))
			}
			got := scan(&TextFilter{Any: pf.Escapes, Gate: pf.Segments, Prefixes: pf.Prefixes, Contains: pf.Contains, ContainsFold: pf.ContainsFold})
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s: rows the SQL filter reads (-admitted in Go +read):\n%s", name, diff)
			}
			if got := scan(&TextFilter{}); len(got) != 0 {
				t.Errorf("an empty filter read %q", got)
			}
		}
	}
}
