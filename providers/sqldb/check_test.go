package sqldb

import (
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		schema := "public"
		if db.Dialect() == SQLite {
			schema = "main"
		}
		insertRows(t, db, Table{Name: "CharacterImage"}, []string{"id", "characterId", "url", "key"}, [][]any{
			{"a", "c1", "https://x/a", "k/a"},
			{"b", "c1", "https://x/b", nil},
			{"c", "c2", "https://x/c", "k/c"},
		})
		insertRows(t, db, Table{Name: "Story"}, []string{"id", "title", "coverImage"}, [][]any{
			{"s1", "one", "k/1"},
			{"s2", "two", "k/2"},
		})
		mustExec(t, db, `CREATE TABLE "Weird ""Name""" ("the ""id""" INTEGER PRIMARY KEY, "imageUrl" TEXT)`)
		mustExec(t, db, `CREATE TABLE "NoKey" ("code" TEXT, "slug" TEXT, "img" TEXT)`)
		mustExec(t, db, `CREATE UNIQUE INDEX "NoKey_slug" ON "NoKey" ("slug")`)
		insertRows(t, db, Table{Name: "NoKey"}, []string{"code", "slug", "img"}, [][]any{
			{"x", "one", "i1"},
			{"y", "two", "i2"},
		})

		tests := map[string]struct {
			table   Table
			pk      string
			columns []string
			wantErr []string // parts of the error; none for success
		}{
			"ok":                         {table: Table{Name: "CharacterImage"}, pk: "id", columns: []string{"url", "key"}},
			"ok schema-qualified":        {table: Table{Schema: schema, Name: "Story"}, pk: "id", columns: []string{"coverImage"}},
			"ok quoted names":            {table: Table{Name: `Weird "Name"`}, pk: `the "id"`, columns: []string{"imageUrl"}},
			"ok unique index, nullable":  {table: Table{Name: "NoKey"}, pk: "slug", columns: []string{"img"}},
			"ok unique by data only":     {table: Table{Name: "NoKey"}, pk: "code", columns: []string{"img"}},
			"ok unique by data, camel":   {table: Table{Name: "Story"}, pk: "coverImage"},
			"missing table":              {table: Table{Name: "Nope"}, pk: "id", wantErr: []string{`table "Nope" not found`}},
			"missing schema":             {table: Table{Schema: "nope", Name: "Story"}, pk: "id", wantErr: []string{`table "nope.Story" not found`}},
			"missing column":             {table: Table{Name: "Story"}, pk: "id", columns: []string{"coverImage", "banner"}, wantErr: []string{`table "Story": column "banner" not found`}},
			"missing pk column":          {table: Table{Name: "Story"}, pk: "uuid", wantErr: []string{`table "Story": column "uuid" not found`}},
			"wrong case":                 {table: Table{Name: "Story"}, pk: "id", columns: []string{"coverimage"}, wantErr: []string{`column "coverimage" not found`, `did you mean "coverImage"`}},
			"non-unique pk":              {table: Table{Name: "CharacterImage"}, pk: "characterId", columns: []string{"url"}, wantErr: []string{`table "CharacterImage": key column "characterId" is not unique: 3 rows, 2 distinct values`}},
			"NULL in pk without index":   {table: Table{Name: "CharacterImage"}, pk: "key", columns: []string{"url"}, wantErr: []string{`table "CharacterImage": key column "key" is NULL in 1 of 3 rows`}},
			"table with quotes, missing": {table: Table{Name: `Weird "Nam"`}, pk: "id", wantErr: []string{`table "Weird \"Nam\"" not found`}},
		}
		for name, tt := range tests {
			t.Run(name, func(t *testing.T) {
				err := db.Check(t.Context(), tt.table, tt.pk, tt.columns)
				if len(tt.wantErr) == 0 {
					if err != nil {
						t.Fatalf("Check: %v", err)
					}
					return
				}
				if err == nil {
					t.Fatalf("Check succeeded, want an error with %q", tt.wantErr)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not contain %q", err, w)
					}
				}
			})
		}

		t.Run("NULL in unique index", func(t *testing.T) {
			insertRows(t, db, Table{Name: "NoKey"}, []string{"code", "slug", "img"}, [][]any{{"z", nil, "i3"}})
			err := db.Check(t.Context(), Table{Name: "NoKey"}, "slug", nil)
			if err == nil || !strings.Contains(err.Error(), `table "NoKey": key column "slug" is NULL in some rows`) {
				t.Errorf("Check = %v", err)
			}
		})
	})
}
