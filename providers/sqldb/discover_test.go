package sqldb

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestTextTables(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		if db.Dialect() == Postgres {
			mustExec(t, db, `CREATE TABLE "User" ("id" SERIAL PRIMARY KEY, "age" INT, "avatarUrl" VARCHAR(300), "tags" TEXT[], "settings" JSONB, "raw" JSON, "code" CHAR(3))`)
			mustExec(t, db, `CREATE TABLE "NoPK" ("a" TEXT, "b" TEXT)`)
			mustExec(t, db, `CREATE TABLE "r2plan_journal" ("id" BIGSERIAL PRIMARY KEY, "object_key" VARCHAR)`)
			mustExec(t, db, `CREATE SCHEMA other`)
			mustExec(t, db, `CREATE TABLE other."Hidden" ("id" TEXT PRIMARY KEY)`) // not in the search path
		} else {
			mustExec(t, db, `CREATE TABLE "User" ("id" INTEGER PRIMARY KEY, "age" INT, "avatarUrl" VARCHAR(300), "tags" TEXT, "settings" JSON, "raw", "code" CHAR(3))`)
			mustExec(t, db, `CREATE TABLE "NoPK" ("a" TEXT, "b" TEXT)`)
			mustExec(t, db, `CREATE TABLE "r2plan_journal" ("id" INTEGER PRIMARY KEY, "object_key" VARCHAR)`)
		}
		got, err := db.TextTables(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		type tc struct {
			Table, PK string
			Columns   []string
		}
		var names []tc
		for _, tt := range got {
			var cols []string
			for _, c := range tt.Columns {
				cols = append(cols, c.Name)
			}
			names = append(names, tc{tt.Table.Name, tt.PrimaryKey, cols})
		}
		want := []tc{
			{"CharacterImage", "id", []string{"id", "characterId", "url", "key"}},
			{"CuratedImage", "id", []string{"id", "r2Url", "r2Key"}},
			{"NoPK", "", []string{"a", "b"}},
			{"Story", "id", []string{"id", "title", "coverImage"}},
			{"User", "id", []string{"avatarUrl", "tags", "settings", "raw", "code"}},
		}
		if diff := cmp.Diff(want, names); diff != "" {
			t.Errorf("text tables (-want +got):\n%s", diff)
		}

		insertRows(t, db, Table{Name: "NoPK"}, []string{"a", "b"}, [][]any{{"x", nil}, {"y", "z"}, {"w", "v"}})
		var rows [][]string
		err = db.ScanText(t.Context(), Table{Schema: got[2].Table.Schema, Name: "NoPK"}, []string{"a", "b"}, 2, nil, func(values [][]byte) error {
			row := make([]string, len(values))
			for i, v := range values {
				if v == nil {
					row[i] = "NULL"
				} else {
					row[i] = string(v)
				}
			}
			rows = append(rows, row)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([][]string{{"x", "NULL"}, {"y", "z"}}, rows); diff != "" {
			t.Errorf("sample of 2 (-want +got):\n%s", diff)
		}
	})
}
