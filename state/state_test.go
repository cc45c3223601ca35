package state

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/r2plan/r2plan/apply"
	"github.com/r2plan/r2plan/internal/testenv"
	"github.com/r2plan/r2plan/plan"
	"github.com/r2plan/r2plan/providers/sqldb"
)

var pg *testenv.Postgres

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "state-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if pg, err = testenv.StartPostgres(ctx, dir, ""); err != nil {
		fmt.Fprintf(os.Stderr, "start PostgreSQL: %v\n", err)
		return 1
	}
	defer pg.Stop()
	return m.Run()
}

var seq atomic.Int64

// forEachDB runs f on a fresh PostgreSQL database and a fresh SQLite file, each with
// the charhub schema.
func forEachDB(t *testing.T, f func(t *testing.T, db *sqldb.DB)) {
	for _, dialect := range []string{sqldb.Postgres, sqldb.SQLite} {
		t.Run(dialect, func(t *testing.T) {
			url := "sqlite:" + filepath.Join(t.TempDir(), "state.db")
			if dialect == sqldb.Postgres {
				var err error
				if url, err = pg.CreateDatabase(t.Context(), fmt.Sprintf("state_%d", seq.Add(1))); err != nil {
					t.Fatal(err)
				}
			}
			db, err := sqldb.Open(t.Context(), url)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			schema, err := os.ReadFile("../testdata/charhub/schema.sql")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.Bun().ExecContext(t.Context(), string(schema)); err != nil {
				t.Fatal(err)
			}
			f(t, db)
		})
	}
}

var imageRef = plan.Reference{Name: "image", Table: "CharacterImage", PrimaryKey: "id", KeyColumn: "key", URLColumn: "url"}

func TestJournalRewrite(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *sqldb.DB) {
		ctx := t.Context()
		_, err := db.Bun().ExecContext(ctx, `INSERT INTO "CharacterImage" ("id", "characterId", "url", "key") VALUES
			('a', 'c', 'u', 'old-a'), ('b', 'c', 'u', 'changed-by-app'), ('c', 'c', 'u', 'new-c')`)
		if err != nil {
			t.Fatal(err)
		}
		j, err := Open(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		rws := []plan.Rewrite{
			{Key: "old-a", Target: "new-a", Reference: "image", Column: "key", PK: "a", Old: "old-a", New: "new-a"},
			{Key: "old-b", Target: "new-b", Reference: "image", Column: "key", PK: "b", Old: "old-b", New: "new-b"},
			{Key: "old-c", Target: "new-c", Reference: "image", Column: "key", PK: "c", Old: "old-c", New: "new-c"},
			{Key: "old-d", Target: "new-d", Reference: "image", Column: "key", PK: "d", Old: "old-d", New: "new-d"},
		}
		res, err := j.Rewrite(ctx, "p1", imageRef, rws)
		if err != nil {
			t.Fatal(err)
		}
		want := apply.RewriteResult{Swapped: 1, Already: 1, Drift: []apply.Drift{
			{Ref: "image.key[b]", Reason: "value changed since the plan; not overwritten"},
			{Ref: "image.key[d]", Reason: "row deleted since the plan"},
		}}
		if diff := cmp.Diff(want, res); diff != "" {
			t.Errorf("result (-want +got):\n%s", diff)
		}
		var got []string
		if err := db.Bun().NewSelect().Table("CharacterImage").Column("key").Order("id").Scan(ctx, &got); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"new-a", "changed-by-app", "new-c"}, got); diff != "" {
			t.Errorf("rows (-want +got):\n%s", diff)
		}
		// The journal holds the one swapped row, with its object, and MovedAt knows it.
		entries, err := PlanEntries(ctx, db, "p1")
		if err != nil || len(entries) != 1 || entries[0].Key != "old-a" || entries[0].Target != "new-a" || entries[0].Old != "old-a" {
			t.Fatalf("journal = %+v, %v", entries, err)
		}
		moved, err := movedAt(t, db)
		if at, ok := moved["old-a"]; err != nil || !ok || len(moved) != 1 || time.Since(at) > time.Hour || time.Until(at) > time.Minute {
			t.Errorf("MovedAt = %v, %v", moved, err)
		}
	})
}

// TestJournalCopiesOnce re-applies a plan: copies its journal holds already are not
// journaled again, so the grace period starts at the first completion and a revert
// lists each copy once. Another plan's copy of the same key is its own entry.
func TestJournalCopiesOnce(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *sqldb.DB) {
		ctx := t.Context()
		j, err := Open(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		first := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
		j.now = func() time.Time { return first }
		a := plan.Copied{Key: "a", Target: "dev/a", TargetETag: "ea"}
		b := plan.Copied{Key: "b", Target: "dev/b", TargetETag: "eb"}
		c := plan.Copied{Key: "c", Target: "dev/c", TargetETag: "ec"}
		if err := j.RecordCopies(ctx, "p1", []plan.Copied{a, b}); err != nil {
			t.Fatal(err)
		}
		later := first.Add(8 * 24 * time.Hour)
		j.now = func() time.Time { return later }
		if err := j.RecordCopies(ctx, "p1", []plan.Copied{a, b, c, c}); err != nil {
			t.Fatal(err)
		}
		if err := j.RecordCopies(ctx, "p2", []plan.Copied{a}); err != nil {
			t.Fatal(err)
		}
		entries, err := PlanEntries(ctx, db, "p1")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range entries {
			got = append(got, e.Key+"@"+e.AppliedAt.UTC().Format(time.DateOnly))
		}
		if diff := cmp.Diff([]string{"a@2026-11-01", "b@2026-11-01", "c@2026-11-09"}, got); diff != "" {
			t.Errorf("plan p1's journal (-want +got):\n%s", diff)
		}
		moved, err := movedAt(t, db)
		if err != nil || !moved["b"].Equal(first) || !moved["c"].Equal(later) || !moved["a"].Equal(later) {
			t.Errorf("MovedAt = %v, %v; want b and the first, c and a (p2) the later time", moved, err)
		}
	})
}

// TestJournalRewriteColumns checks a batch that rewrites two columns of each row: a row
// that still holds both old values is swapped whole, one that holds one of them has that
// one swapped alone, and the journal has a row per column.
func TestJournalRewriteColumns(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *sqldb.DB) {
		ctx := t.Context()
		for _, r := range [][3]string{
			{"a", "old-a", "u/old-a"},          // both old: swapped whole
			{"b", "app-b", "u/old-b"},          // key changed by the app: the url alone
			{"c", "new-c", "u/new-c"},          // both new already (a resumed run)
			{"e", "old-e", "u/changed-by-app"}, // the url changed: the key alone
		} {
			if _, err := db.Bun().ExecContext(ctx, `INSERT INTO "CharacterImage" ("id", "characterId", "url", "key") VALUES (?, 'c', ?, ?)`, r[0], r[2], r[1]); err != nil {
				t.Fatal(err)
			}
		}
		j, err := Open(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		var rws []plan.Rewrite
		for _, pk := range []string{"a", "b", "c", "d", "e"} { // d is gone
			key := plan.Rewrite{Key: "old-" + pk, Target: "new-" + pk, Reference: "image", PK: pk}
			url := key
			key.Column, key.Old, key.New = "key", "old-"+pk, "new-"+pk
			url.Column, url.Old, url.New = "url", "u/old-"+pk, "u/new-"+pk
			rws = append(rws, url, key) // the plan's order, not the reference's
		}
		res, err := j.Rewrite(ctx, "p1", imageRef, rws)
		if err != nil {
			t.Fatal(err)
		}
		want := apply.RewriteResult{Swapped: 4, Already: 2, Drift: []apply.Drift{
			{Ref: "image.key[b]", Reason: "value changed since the plan; not overwritten"},
			{Ref: "image.key[d]", Reason: "row deleted since the plan"},
			{Ref: "image.url[d]", Reason: "row deleted since the plan"},
			{Ref: "image.url[e]", Reason: "value changed since the plan; not overwritten"},
		}}
		if diff := cmp.Diff(want, res); diff != "" {
			t.Errorf("result (-want +got):\n%s", diff)
		}
		var got []struct {
			ID  string `bun:"id"`
			Key string `bun:"key"`
			URL string `bun:"url"`
		}
		if err := db.Bun().NewSelect().Table("CharacterImage").Column("id", "key", "url").Order("id").Scan(ctx, &got); err != nil {
			t.Fatal(err)
		}
		rows := fmt.Sprint(got)
		if want := "[{a new-a u/new-a} {b app-b u/new-b} {c new-c u/new-c} {e new-e u/changed-by-app}]"; rows != want {
			t.Errorf("rows = %s, want %s", rows, want)
		}
		entries, err := PlanEntries(ctx, db, "p1")
		if err != nil {
			t.Fatal(err)
		}
		var journaled []string
		for _, e := range entries {
			journaled = append(journaled, e.Column+"["+e.PK+"] "+e.Old+" → "+e.New+" ("+e.Key+")")
		}
		wantJournal := []string{"key[a] old-a → new-a (old-a)", "key[e] old-e → new-e (old-e)", "url[a] u/old-a → u/new-a (old-a)", "url[b] u/old-b → u/new-b (old-b)"}
		if diff := cmp.Diff(wantJournal, journaled); diff != "" {
			t.Errorf("journal (-want +got):\n%s", diff)
		}
		if n, err := db.Bun().NewSelect().Table("r2plan_journal").Count(ctx); err != nil || n != 2 {
			t.Errorf("%d journal rows (%v), want one per column", n, err)
		}

		// Refused before any write: a column the reference does not have, a value twice.
		for name, bad := range map[string][]plan.Rewrite{
			"no such column": {{Reference: "image", Column: "title", PK: "a", Old: "x", New: "y"}},
			"twice":          {{Reference: "image", Column: "key", PK: "a", Old: "x", New: "y"}, {Reference: "image", Column: "key", PK: "a", Old: "x", New: "z"}},
		} {
			if _, err := j.Rewrite(ctx, "p1", imageRef, bad); err == nil {
				t.Errorf("%s: Rewrite accepted %+v", name, bad)
			}
		}
	})
}

// TestJournalRewriteEntries checks every field of the journal rows a rewrite writes,
// in the order of the rewrites, with texts an array literal or SQL must not mangle.
func TestJournalRewriteEntries(t *testing.T) {
	odd := []string{`it's "quoted"`, `back\slash\`, `{a,b}`, "NULL", "", " x ", "日本語 🎉", `\"{}",`}
	forEachDB(t, func(t *testing.T, db *sqldb.DB) {
		ctx := t.Context()
		j, err := Open(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		at := time.Date(2025, 6, 7, 8, 9, 10, 123456000, time.UTC)
		j.now = func() time.Time { return at }
		var rws []plan.Rewrite
		var want []Entry
		for i, o := range odd {
			pk := fmt.Sprintf("%d%s", 9-i, o) // the pks sort against the plan's order
			old, new := "old/"+o, "new/"+o
			if _, err := db.Bun().ExecContext(ctx, `INSERT INTO "CharacterImage" ("id", "characterId", "url", "key") VALUES (?, 'c', 'u', ?)`, pk, old); err != nil {
				t.Fatal(err)
			}
			rw := plan.Rewrite{Key: "k/" + o, Target: "t/" + o, Reference: "image", Column: "key", PK: pk, Old: old, New: new}
			rws = append(rws, rw)
			want = append(want, Entry{PlanID: "p'1", Action: "rewrite", Key: rw.Key, Target: rw.Target,
				Reference: "image", Column: "key", PK: pk, Old: old, New: new, AppliedAt: at})
		}
		res, err := j.Rewrite(ctx, "p'1", imageRef, rws)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(apply.RewriteResult{Swapped: len(rws)}, res); diff != "" {
			t.Errorf("result (-want +got):\n%s", diff)
		}
		entries, err := PlanEntries(ctx, db, "p'1")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, entries, cmpopts.IgnoreFields(Entry{}, "ID")); diff != "" {
			t.Errorf("journal (-want +got):\n%s", diff)
		}
		checkCompression(t, db)
		// The batch is one row of the journal, and MovedAt finds its objects in it.
		if n, err := db.Bun().NewSelect().Table("r2plan_journal").Count(ctx); err != nil || n != 1 {
			t.Errorf("the batch is %d journal rows (%v), want 1", n, err)
		}
		moved, err := movedAt(t, db)
		if err != nil || len(moved) != len(rws) {
			t.Errorf("MovedAt = %v, %v; want the %d keys", moved, err, len(rws))
		}
		for _, rw := range rws {
			if !moved[rw.Key].Equal(at) {
				t.Errorf("MovedAt[%q] = %v, want %v", rw.Key, moved[rw.Key], at)
			}
		}
		// Again: every row holds New already, nothing more is journaled.
		res, err = j.Rewrite(ctx, "p'1", imageRef, rws)
		if err != nil || res.Already != len(rws) || res.Swapped != 0 || len(res.Drift) != 0 {
			t.Errorf("second rewrite = %+v, %v; want all already done", res, err)
		}
		if entries, err := PlanEntries(ctx, db, "p'1"); err != nil || len(entries) != len(rws) {
			t.Errorf("journal after the second rewrite: %d entries, %v", len(entries), err)
		}
	})
}

// TestJournalOfAnEarlierVersion checks that a journal created before batches were
// journaled as one row gains the column, and that its per-row entries still read.
func TestJournalOfAnEarlierVersion(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *sqldb.DB) {
		ctx := t.Context()
		// The table as earlier versions created it.
		idType := "INTEGER PRIMARY KEY AUTOINCREMENT"
		if db.Dialect() == sqldb.Postgres {
			idType = "BIGSERIAL PRIMARY KEY"
		}
		old := `CREATE TABLE r2plan_journal (id ` + idType + `, plan_id VARCHAR NOT NULL, action VARCHAR NOT NULL,
			object_key VARCHAR NOT NULL, target_key VARCHAR NOT NULL DEFAULT '', etag VARCHAR NOT NULL DEFAULT '',
			reference VARCHAR NOT NULL DEFAULT '', column_name VARCHAR NOT NULL DEFAULT '', pk VARCHAR NOT NULL DEFAULT '',
			old_value VARCHAR NOT NULL DEFAULT '', new_value VARCHAR NOT NULL DEFAULT '', applied_at TIMESTAMP NOT NULL)`
		if _, err := db.Bun().ExecContext(ctx, old); err != nil {
			t.Fatal(err)
		}
		earlier := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
		entry := Entry{PlanID: "p1", Action: "rewrite", Key: "old-a", Target: "new-a", Reference: "image", Column: "key",
			PK: "a", Old: "old-a", New: "new-a", AppliedAt: earlier}
		if _, err := db.Bun().NewInsert().Model(&entry).ExcludeColumn("batch_rows").Exec(ctx); err != nil {
			t.Fatal(err)
		}
		j, err := Open(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		checkCompression(t, db)
		if _, err := db.Bun().ExecContext(ctx, `INSERT INTO "CharacterImage" ("id", "characterId", "url", "key") VALUES ('b', 'c', 'u', 'old-b')`); err != nil {
			t.Fatal(err)
		}
		rw := plan.Rewrite{Key: "old-b", Target: "new-b", Reference: "image", Column: "key", PK: "b", Old: "old-b", New: "new-b"}
		if res, err := j.Rewrite(ctx, "p1", imageRef, []plan.Rewrite{rw}); err != nil || res.Swapped != 1 {
			t.Fatalf("Rewrite = %+v, %v", res, err)
		}
		entries, err := PlanEntries(ctx, db, "p1")
		if err != nil || len(entries) != 2 || entries[0].PK != "a" || entries[1].PK != "b" || entries[1].Action != "rewrite" {
			t.Fatalf("PlanEntries = %+v, %v", entries, err)
		}
		moved, err := movedAt(t, db)
		if err != nil || len(moved) != 2 || !moved["old-a"].Equal(earlier) || moved["old-b"].IsZero() {
			t.Errorf("MovedAt = %v, %v", moved, err)
		}
	})
}

// checkCompression checks that on PostgreSQL (Debian's is built with lz4) the
// journal's batches are compressed with lz4.
func checkCompression(t *testing.T, db *sqldb.DB) {
	t.Helper()
	if db.Dialect() != sqldb.Postgres {
		return
	}
	var method string
	err := db.Bun().QueryRowContext(t.Context(), `SELECT attcompression::text FROM pg_attribute
		WHERE attrelid = to_regclass('r2plan_journal') AND attname = 'batch_rows'`).Scan(&method)
	if err != nil || method != "l" {
		t.Errorf("the journal's batches are compressed with %q (%v), want l (lz4)", method, err)
	}
}

// TestJournalRewriteRollsBack checks that a failure after the swap and its journal,
// inside the transaction (where the crash tests kill the process), leaves neither.
func TestJournalRewriteRollsBack(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *sqldb.DB) {
		ctx := t.Context()
		if _, err := db.Bun().ExecContext(ctx, `INSERT INTO "CharacterImage" ("id", "characterId", "url", "key") VALUES ('a', 'c', 'u', 'old-a')`); err != nil {
			t.Fatal(err)
		}
		j, err := Open(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		var inTx struct {
			key       string
			journaled int
		}
		j.Hook = func(point string) {
			if point != "in-rewrite-tx" {
				return
			}
			// Another connection sees neither the swap nor the journal rows yet.
			if err := db.Bun().NewSelect().Table("CharacterImage").Column("key").Where("id = 'a'").Scan(ctx, &inTx.key); err != nil {
				t.Error(err)
			}
			n, err := db.Bun().NewSelect().Table("r2plan_journal").Count(ctx)
			if err != nil {
				t.Error(err)
			}
			inTx.journaled = int(n)
			panic("killed in the rewrite transaction")
		}
		func() {
			defer func() {
				if r := recover(); r == nil {
					t.Error("the hook's panic did not reach the caller")
				}
			}()
			j.Rewrite(ctx, "p1", imageRef, []plan.Rewrite{{Key: "old-a", Target: "new-a", Reference: "image", Column: "key", PK: "a", Old: "old-a", New: "new-a"}})
		}()
		if inTx.key != "old-a" || inTx.journaled != 0 {
			t.Errorf("seen from outside the transaction at the hook: key %q, %d journal rows", inTx.key, inTx.journaled)
		}
		var key string
		if err := db.Bun().NewSelect().Table("CharacterImage").Column("key").Where("id = 'a'").Scan(ctx, &key); err != nil || key != "old-a" {
			t.Errorf("after the panic the row holds %q (%v), want old-a", key, err)
		}
		if n, err := db.Bun().NewSelect().Table("r2plan_journal").Count(ctx); err != nil || n != 0 {
			t.Errorf("after the panic the journal holds %d rows (%v), want 0", n, err)
		}
	})
}

// movedAt collects what MovedAt streams, the latest time per key.
func movedAt(t *testing.T, db *sqldb.DB) (map[string]time.Time, error) {
	moved := map[string]time.Time{}
	err := MovedAt(t.Context(), db, func(key string, at time.Time) error {
		if at.After(moved[key]) {
			moved[key] = at
		}
		return nil
	})
	return moved, err
}

func TestHistoryWithoutJournal(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *sqldb.DB) {
		moved, err := movedAt(t, db)
		if err != nil || len(moved) != 0 {
			t.Errorf("MovedAt without a journal = %v, %v; want empty", moved, err)
		}
		if ok, _ := tableExists(t.Context(), db, "r2plan_journal"); ok {
			t.Error("reading the history created the journal table")
		}
	})
}

func TestReferrers(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *sqldb.DB) {
		ctx := t.Context()
		_, err := db.Bun().ExecContext(ctx, `INSERT INTO "CharacterImage" ("id", "characterId", "url", "key") VALUES
			('1', 'c', 'https://media.example/a%20b.webp?v=1', NULL),
			('2', 'c', 'https://cdn.other/c.webp', 'c.webp'),
			('3', 'c', 'https://media.example/unencoded d.webp', NULL)`)
		if err != nil {
			t.Fatal(err)
		}
		urls, _ := plan.NewURLs("https://media.example")
		r := NewReferrers(db, []plan.Reference{imageRef}, urls)
		got, err := r.Referenced(ctx, []string{"a b.webp", "c.webp", "unencoded d.webp", "free.webp"})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"a b.webp": "image.url[1]", "c.webp": "image.key[2]", "unencoded d.webp": "image.url[3]"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("referenced (-want +got):\n%s", diff)
		}
		// Rows outside the reference's where filter keep their objects all the same.
		filtered := imageRef
		filtered.Where = `r2t."characterId" = 'nobody'`
		got, err = NewReferrers(db, []plan.Reference{filtered}, urls).Referenced(ctx, []string{"a b.webp", "c.webp", "unencoded d.webp", "free.webp"})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("referenced with a where filter that selects no row (-want +got):\n%s", diff)
		}
	})
}

func TestLock(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *sqldb.DB) {
		ctx := t.Context()
		l1, err := Acquire(ctx, db, "planA", "1/2", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		l2, err := Acquire(ctx, db, "planA", "2/2", time.Minute)
		if err != nil {
			t.Fatalf("a second shard of the plan: %v", err)
		}
		var le *LockedError
		if _, err := Acquire(ctx, db, "planA", "1/2", time.Minute); !errors.As(err, &le) || le.Holder.Shard != "1/2" {
			t.Errorf("the same shard again: %v, want LockedError", err)
		}
		if _, err := Acquire(ctx, db, "planB", "all", time.Minute); !errors.As(err, &le) || le.Holder.PlanID != "planA" {
			t.Errorf("another plan: %v, want LockedError naming planA", err)
		}
		l1.Release(ctx)
		l2.Release(ctx)
		l3, err := Acquire(ctx, db, "planB", "all", time.Minute)
		if err != nil {
			t.Fatalf("after release: %v", err)
		}
		l3.Release(ctx)

		// A holder on another host that went silent is stale after the ttl; a live one
		// there is not, until broken.
		_, err = db.Bun().NewInsert().Model(&LockInfo{PlanID: "x", Shard: "all", Holder: "bob", Host: "elsewhere", PID: 1,
			StartedAt: time.Now(), Heartbeat: time.Now().Add(-time.Hour).Unix()}).Exec(ctx)
		if err != nil {
			t.Fatal(err)
		}
		l4, err := Acquire(ctx, db, "planC", "all", time.Minute)
		if err != nil {
			t.Fatalf("a stale holder should not block: %v", err)
		}
		l4.Release(ctx)
		_, err = db.Bun().NewInsert().Model(&LockInfo{PlanID: "y", Shard: "all", Holder: "carol", Host: "elsewhere", PID: 1,
			StartedAt: time.Now(), Heartbeat: time.Now().Unix()}).Exec(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Acquire(ctx, db, "planC", "all", time.Minute); !errors.As(err, &le) || le.Holder.Holder != "carol" {
			t.Errorf("a live holder elsewhere: %v, want LockedError naming carol", err)
		}
		holders, err := Holders(ctx, db)
		if err != nil || len(holders) != 1 || holders[0].Holder != "carol" {
			t.Fatalf("Holders = %v, %v", holders, err)
		}
		broken, err := Break(ctx, db, holders[0].ID, time.Minute, true)
		if err != nil || broken.Holder != "carol" {
			t.Errorf("Break = %v, %v", broken, err)
		}
	})
}

// deadPID returns the id of a process of this host that has exited.
func deadPID(t *testing.T) int {
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

func TestBreak(t *testing.T) {
	host, _ := os.Hostname()
	now := time.Now()
	old := now.Add(-time.Hour).Unix()
	tests := map[string]struct {
		holder  LockInfo
		force   bool
		refused string // the reason Break gives, or "" if it removes the lock
	}{
		"alive on this host":                {holder: LockInfo{Host: host, PID: os.Getpid(), Heartbeat: now.Unix()}, refused: "is running on this host"},
		"alive on this host, silent":        {holder: LockInfo{Host: host, PID: os.Getpid(), Heartbeat: old}, refused: "is running on this host"},
		"alive on this host, another user":  {holder: LockInfo{Host: host, PID: 1, Heartbeat: old}, refused: "(pid 1) is running on this host"},
		"dead on this host":                 {holder: LockInfo{Host: host, PID: deadPID(t), Heartbeat: now.Unix()}},
		"seen elsewhere within the ttl":     {holder: LockInfo{Host: "elsewhere", PID: 1, Heartbeat: now.Unix()}, refused: "less than 1m0s ago"},
		"silent elsewhere beyond the ttl":   {holder: LockInfo{Host: "elsewhere", PID: 1, Heartbeat: old}},
		"alive on this host, forced":        {holder: LockInfo{Host: host, PID: os.Getpid(), Heartbeat: now.Unix()}, force: true},
		"seen elsewhere within ttl, forced": {holder: LockInfo{Host: "elsewhere", PID: 1, Heartbeat: now.Unix()}, force: true},
	}
	forEachDB(t, func(t *testing.T, db *sqldb.DB) {
		ctx := t.Context()
		if _, err := Break(ctx, db, 1, time.Minute, false); !errors.As(err, new(*UnknownLockError)) {
			t.Errorf("Break before any lock table = %v, want UnknownLockError", err)
		}
		if err := ensureTables(ctx, db); err != nil {
			t.Fatal(err)
		}
		for name, tc := range tests {
			t.Run(name, func(t *testing.T) {
				h := tc.holder
				h.PlanID, h.Shard, h.Holder, h.StartedAt = "p", "all", "dave", now.UTC()
				if _, err := db.Bun().NewInsert().Model(&h).Returning("id").Exec(ctx); err != nil {
					t.Fatal(err)
				}
				got, err := Break(ctx, db, h.ID, time.Minute, tc.force)
				var le *LiveError
				switch {
				case tc.refused != "" && !errors.As(err, &le):
					t.Fatalf("Break = %v, want LiveError", err)
				case tc.refused != "" && !strings.Contains(err.Error(), tc.refused):
					t.Errorf("Break = %v, want it to say %q", err, tc.refused)
				case tc.refused == "" && err != nil:
					t.Fatalf("Break = %v", err)
				case got.ID != h.ID || got.Holder != "dave":
					t.Errorf("Break returned %+v, want the holder %d", got, h.ID)
				}
				left, err := Holders(ctx, db)
				if err != nil {
					t.Fatal(err)
				}
				if kept := slices.ContainsFunc(left, func(l LockInfo) bool { return l.ID == h.ID }); kept != (tc.refused != "") {
					t.Errorf("lock kept = %v, want %v", kept, tc.refused != "")
				}
				db.Bun().NewDelete().Model((*LockInfo)(nil)).Where("id = ?", h.ID).Exec(ctx)
			})
		}
		if _, err := Break(ctx, db, 4242, time.Minute, true); !errors.As(err, new(*UnknownLockError)) {
			t.Errorf("Break of an unknown id = %v, want UnknownLockError", err)
		}

		// A live apply whose lock is forced away releases quietly.
		l, err := Acquire(ctx, db, "planF", "all", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Break(ctx, db, l.id, time.Minute, false); !errors.As(err, new(*LiveError)) {
			t.Errorf("Break of this process's lock = %v, want LiveError", err)
		}
		if _, err := Break(ctx, db, l.id, time.Minute, true); err != nil {
			t.Fatal(err)
		}
		if err := l.Release(ctx); err != nil {
			t.Errorf("Release after a forced unlock = %v, want nil", err)
		}
	})
}

// TestJournalInURLSchema: with a PostgreSQL URL's schema=, r2plan's own tables land in
// that schema, the journal and lock work there, and public stays untouched.
func TestJournalInURLSchema(t *testing.T) {
	ctx := t.Context()
	u, err := pg.CreateDatabase(ctx, fmt.Sprintf("state_%d", seq.Add(1)))
	if err != nil {
		t.Fatal(err)
	}
	setup, err := sqldb.Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer setup.Close()
	if _, err := setup.Bun().ExecContext(ctx, `CREATE SCHEMA "App"; CREATE TABLE "App"."CharacterImage" ("id" text PRIMARY KEY, "characterId" text, "url" text, "key" text);
		INSERT INTO "App"."CharacterImage" VALUES ('a', 'c', 'u', 'old-a')`); err != nil {
		t.Fatal(err)
	}
	db, err := sqldb.Open(ctx, u+"&schema=App&connection_limit=4&pool_timeout=10")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	j, err := Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	l, err := Acquire(ctx, db, "plan1", "all", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release(ctx)
	res, err := j.Rewrite(ctx, "plan1", imageRef, []plan.Rewrite{{Key: "old-a", Target: "new-a", Reference: "image", PK: "a", Column: "key", Old: "old-a", New: "new-a"}})
	if err != nil || res.Swapped != 1 {
		t.Fatalf("Rewrite = %+v, %v", res, err)
	}
	for table, want := range map[string]bool{
		`"App".r2plan_journal`: true, `"App".r2plan_lock`: true,
		`public.r2plan_journal`: false, `public.r2plan_lock`: false,
	} {
		var ok bool
		if err := setup.Bun().DB.QueryRowContext(ctx, `SELECT to_regclass($1) IS NOT NULL`, table).Scan(&ok); err != nil || ok != want {
			t.Errorf("%s exists = %v (%v), want %v", table, ok, err, want)
		}
	}
	entries, err := PlanEntries(ctx, db, "plan1")
	if err != nil || len(entries) == 0 {
		t.Errorf("PlanEntries = %v, %v", entries, err)
	}
}
