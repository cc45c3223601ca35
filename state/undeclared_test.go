package state

import (
	"fmt"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/r2plan/r2plan/plan"
	"github.com/r2plan/r2plan/providers/sqldb"
)

// Referenced finds the keys that undeclared columns name however they spell them (a
// URL with another case, inside HTML, inside escaped JSON), reads tables at once, and
// reports the first table in order that names a key.
func TestUndeclaredReferenced(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *sqldb.DB) {
		exec := func(q string, args ...any) {
			t.Helper()
			if _, err := db.Bun().ExecContext(t.Context(), q, args...); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		exec(`CREATE TABLE "Page" ("id" TEXT PRIMARY KEY, "body" TEXT)`)
		exec(`CREATE TABLE "Settings" ("id" TEXT PRIMARY KEY, "data" TEXT)`)
		exec(`CREATE TABLE "Profile" ("id" TEXT PRIMARY KEY, "name" TEXT, "avatarUrl" TEXT)`)
		exec(`INSERT INTO "Page" VALUES ('p1', '<p><img src="https://MEDIA.charhub.app/pages/p1/hero.png"></p>'), ('p2', 'no image')`)
		exec(`INSERT INTO "Settings" VALUES ('s1', ?), ('s2', '{"theme":"dark"}')`, `{"u":"https:\/\/media.charhub.app\/moved.webp"}`)
		for i := range 200 {
			exec(`INSERT INTO "Profile" VALUES (?, ?, ?)`, fmt.Sprint(i), fmt.Sprintf("user %d", i), fmt.Sprintf("https://media.charhub.app/users/%d.webp?v=2", i))
		}
		exec(`INSERT INTO "Profile" VALUES ('a', 'avatars/u1.webp', 'https://media.charhub.app/pages/p1/hero.png')`)
		all, err := db.TextTables(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		var tables []sqldb.TextTable
		for _, tt := range all {
			if slices.Contains([]string{"Page", "Profile", "Settings"}, tt.Table.Name) {
				tables = append(tables, tt)
			}
		}
		u := NewUndeclared(db, tables, plan.NewMatcher("https://media.charhub.app"))
		got, err := u.Referenced(t.Context(), []string{"pages/p1/hero.png", "avatars/u1.webp", "moved.webp", "users/none.webp", "other/none.png"})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{
			"pages/p1/hero.png": "undeclared column Page.body", // Profile.avatarUrl too, but Page comes first
			"avatars/u1.webp":   "undeclared column Profile.name",
			"moved.webp":        "undeclared column Settings.data",
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Referenced (-want +got):\n%s", diff)
		}
	})
}
