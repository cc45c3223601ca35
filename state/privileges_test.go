package state

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/r2plan/r2plan/plan"
	"github.com/r2plan/r2plan/providers/sqldb"
)

// readmeSQL returns the README's SQL block that creates r2plan's tables.
func readmeSQL(t *testing.T) string {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, part := range strings.Split(string(readme), "```sql\n")[1:] {
		if block, _, ok := strings.Cut(part, "```"); ok && strings.Contains(block, `CREATE TABLE IF NOT EXISTS "r2plan_lock"`) {
			return block
		}
	}
	t.Fatal("README.md has no SQL block that creates r2plan_lock")
	return ""
}

// TestSchemaInREADME checks that the README gives a database owner exactly the
// statements r2plan runs on PostgreSQL to create its tables.
func TestSchemaInREADME(t *testing.T) {
	url, err := pg.CreateDatabase(t.Context(), fmt.Sprintf("state_%d", seq.Add(1)))
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqldb.Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	block := readmeSQL(t)
	for _, stmt := range append(Schema(db), compressSQL) {
		if !strings.Contains(block, "\n"+stmt+";\n") {
			t.Errorf("the README's SQL lacks, on a line of its own:\n%s;", stmt)
		}
	}
}

// TestRestrictedRole runs what apply does to r2plan's tables as a role that has only
// the README's grants on tables their owner created with the README's SQL: no DDL.
func TestRestrictedRole(t *testing.T) {
	ctx := t.Context()
	url, err := pg.CreateDatabase(ctx, fmt.Sprintf("state_%d", seq.Add(1)))
	if err != nil {
		t.Fatal(err)
	}
	owner, err := sqldb.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close()
	schema, err := os.ReadFile("../testdata/charhub/schema.sql")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := owner.Bun().ExecContext(ctx, string(schema)); err != nil {
		t.Fatal(err)
	}
	if _, err := owner.Bun().ExecContext(ctx, `INSERT INTO "CharacterImage" ("id", "characterId", "url", "key") VALUES ('a', 'c', 'u', 'old-a')`); err != nil {
		t.Fatal(err)
	}
	appURL, err := pg.CreateRole(ctx, "r2plan_apply", url)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := owner.Bun().ExecContext(ctx, readmeSQL(t)+`GRANT SELECT, UPDATE ON "CharacterImage" TO r2plan_apply`); err != nil {
		t.Fatalf("the README's SQL: %v", err)
	}
	db, err := sqldb.Open(ctx, appURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	j, err := Open(ctx, db)
	if err != nil {
		t.Fatalf("Open as r2plan_apply: %v", err)
	}
	l, err := Acquire(ctx, db, "p1", "all", time.Minute)
	if err != nil {
		t.Fatalf("Acquire as r2plan_apply: %v", err)
	}
	if err := j.RecordCopies(ctx, "p1", []plan.Copied{{Key: "old-a", Target: "new-a", TargetETag: "e"}}); err != nil {
		t.Fatalf("RecordCopies as r2plan_apply: %v", err)
	}
	res, err := j.Rewrite(ctx, "p1", imageRef, []plan.Rewrite{{Key: "old-a", Target: "new-a", Reference: "image", Column: "key", PK: "a", Old: "old-a", New: "new-a"}})
	if err != nil || res.Swapped != 1 {
		t.Fatalf("Rewrite as r2plan_apply = %+v, %v", res, err)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatalf("Release as r2plan_apply: %v", err)
	}
	if entries, err := PlanEntries(ctx, db, "p1"); err != nil || len(entries) != 2 {
		t.Errorf("PlanEntries as r2plan_apply = %+v, %v", entries, err)
	}
	checkCompression(t, owner)
}
