package state

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/r2plan/r2plan/apply"
	"github.com/r2plan/r2plan/plan"
	"github.com/r2plan/r2plan/providers/sqldb"
)

// BenchmarkRewrite measures on PostgreSQL the rows a second of ways to rewrite one
// column of "CharacterImage" (Prisma-shaped rows, in plan order), each beside the
// set-based UPDATE of every key (one statement, no lookups: the ceiling), measured in
// the same iteration, as a ratio:
//
//	go test -run '^$' -bench BenchmarkRewrite -benchtime 3x ./state
//
// R2PLAN_BENCH_ROWS sets the rows (200,000). Only the time inside each way's
// statements counts (rows/s); ns/op includes the setup between them.
func BenchmarkRewrite(b *testing.B) {
	rb := newRewriteBench(b, envInt(b, "R2PLAN_BENCH_ROWS", 200_000))
	measure := func(b *testing.B, way func() float64) {
		var rate, base float64
		for b.Loop() {
			base += rb.setBased()
			rate += way()
		}
		b.ReportMetric(rate/float64(b.N), "rows/s")
		b.ReportMetric(rate/base, "ratio")
	}
	b.Run("set-based UPDATE", func(b *testing.B) { measure(b, rb.setBased) })
	b.Run("set-based UPDATE journaling each row", func(b *testing.B) { measure(b, rb.setBasedJournaled) })
	for _, batch := range []int{500, 1000} {
		b.Run(fmt.Sprintf("Journal.Rewrite/batch=%d", batch), func(b *testing.B) {
			measure(b, func() float64 { return rb.rewrite(batch, rb.j.Rewrite) })
		})
	}
	b.Run("CompareAndSwap alone/batch=1000", func(b *testing.B) {
		measure(b, func() float64 { return rb.rewrite(1000, rb.swapOnly) })
	})
	b.Run("CompareAndSwap in a PL/pgSQL loop, no client/batch=1000", func(b *testing.B) { measure(b, rb.inServer) })
}

// rewriteBench is a database of n Prisma-shaped rows and the ways to rewrite them.
type rewriteBench struct {
	tb   testing.TB
	ctx  context.Context
	db   *sqldb.DB
	j    *Journal
	n    int
	rows []struct {
		ID  string `bun:"id"`
		Key string `bun:"key"`
	}
	prefixed bool // the rows hold "dev/" + key now
}

func newRewriteBench(tb testing.TB, n int) *rewriteBench {
	ctx := context.Background()
	url, err := pg.CreateDatabase(ctx, fmt.Sprintf("state_bench_%d", seq.Add(1)))
	if err != nil {
		tb.Fatal(err)
	}
	db, err := sqldb.Open(ctx, url)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	rb := &rewriteBench{tb: tb, ctx: ctx, db: db, n: n}
	schema, err := os.ReadFile("../testdata/charhub/schema.sql")
	if err != nil {
		tb.Fatal(err)
	}
	rb.exec(string(schema))
	// Prisma-shaped rows: cuid-like text ids in random order, keys and URLs as the app
	// writes them.
	rb.exec(fmt.Sprintf(`INSERT INTO "CharacterImage" ("id", "characterId", "url", "key")
		SELECT 'c' || substr(md5(g::text), 1, 24), 'c' || substr(md5((g / 7)::text), 1, 24),
		       'https://media.charhub.app/characters/' || substr(md5((g / 7)::text), 1, 24) || '/images/' || md5(g::text || 'k') || '.webp',
		       'characters/' || substr(md5((g / 7)::text), 1, 24) || '/images/' || md5(g::text || 'k') || '.webp'
		FROM generate_series(1, %d) g`, n))
	if rb.j, err = Open(ctx, db); err != nil {
		tb.Fatal(err)
	}
	// The rows as a plan would list them: by key, so the pks come in random order.
	if err := db.Bun().NewSelect().Table("CharacterImage").Column("id", "key").Order("key").Scan(ctx, &rb.rows); err != nil {
		tb.Fatal(err)
	}
	return rb
}

func (rb *rewriteBench) exec(q string) time.Duration {
	rb.tb.Helper()
	start := time.Now()
	if _, err := rb.db.Bun().ExecContext(rb.ctx, q); err != nil {
		rb.tb.Fatalf("%s: %v", q, err)
	}
	return time.Since(start)
}

// settle empties the journal and compacts the table, so that each way starts alike.
func (rb *rewriteBench) settle() {
	rb.exec(`TRUNCATE r2plan_journal`)
	rb.exec(`VACUUM FULL ANALYZE "CharacterImage"`)
	rb.exec(`VACUUM ANALYZE r2plan_journal`)
}

// setBased is one UPDATE of every key: no lookups, no journal.
func (rb *rewriteBench) setBased() float64 {
	rb.settle()
	q := `UPDATE "CharacterImage" SET "key" = 'dev/' || "key" WHERE "key" IS NOT NULL`
	if rb.prefixed {
		q = `UPDATE "CharacterImage" SET "key" = substr("key", 5) WHERE "key" IS NOT NULL`
	}
	d := rb.exec(q)
	rb.prefixed = !rb.prefixed
	return float64(rb.n) / d.Seconds()
}

type rewriteFunc func(ctx context.Context, planID string, ref plan.Reference, rws []plan.Rewrite) (apply.RewriteResult, error)

// rewrite swaps every row in batches through f, timing only f.
func (rb *rewriteBench) rewrite(batch int, f rewriteFunc) float64 {
	rb.settle()
	rws := make([]plan.Rewrite, len(rb.rows))
	for i, r := range rb.rows {
		old, new := r.Key, "dev/"+r.Key
		if rb.prefixed {
			old, new = new, old
		}
		rws[i] = plan.Rewrite{Key: old, Target: new, Reference: "image", Column: "key", PK: r.ID, Old: old, New: new}
	}
	var in time.Duration
	for start := 0; start < len(rws); start += batch {
		b := rws[start:min(start+batch, len(rws))]
		t0 := time.Now()
		res, err := f(rb.ctx, "bench", imageRef, b)
		in += time.Since(t0)
		if err != nil {
			rb.tb.Fatal(err)
		}
		if res.Swapped != len(b) {
			rb.tb.Fatalf("batch at %d: %+v, want %d swapped", start, res, len(b))
		}
	}
	rb.prefixed = !rb.prefixed
	return float64(rb.n) / in.Seconds()
}

// setBasedJournaled is what a journal row per rewritten row costs, even without
// lookups: one set-based UPDATE that journals every row it changes in the same
// statement.
func (rb *rewriteBench) setBasedJournaled() float64 {
	rb.settle()
	newKey, oldKey := `'dev/' || "key"`, `substr(new, 5)`
	if rb.prefixed {
		newKey, oldKey = `substr("key", 5)`, `'dev/' || new`
	}
	d := rb.exec(`WITH r2u AS (UPDATE "CharacterImage" SET "key" = ` + newKey + ` WHERE "key" IS NOT NULL RETURNING "id", "key" AS new)
		INSERT INTO r2plan_journal (plan_id, action, object_key, target_key, etag, reference, column_name, pk, old_value, new_value, applied_at)
		SELECT 'bench', 'rewrite', ` + oldKey + `, new, '', 'image', 'key', "id", ` + oldKey + `, new, now() FROM r2u`)
	rb.prefixed = !rb.prefixed
	return float64(rb.n) / d.Seconds()
}

// swapOnly is the compare-and-swap statement without a journal.
func (rb *rewriteBench) swapOnly(ctx context.Context, planID string, ref plan.Reference, rws []plan.Rewrite) (apply.RewriteResult, error) {
	swaps := make([]sqldb.Swap, len(rws))
	for i, rw := range rws {
		swaps[i] = sqldb.Swap{PK: rw.PK, Old: rw.Old, New: rw.New}
	}
	var swapped []string
	err := rb.db.InTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		var err error
		swapped, err = sqldb.CompareAndSwap(ctx, tx, rb.db.Dialect(), sqldb.Table{Name: ref.Table}, ref.PrimaryKey, "key", swaps)
		return err
	})
	return apply.RewriteResult{Swapped: len(swapped)}, err
}

// inServer is the same compare-and-swap statement, batches of 1000 in plan order, run
// inside the server by a PL/pgSQL loop: no client, no round trip, no transaction per
// batch. What is left is finding each row through the pk's index.
func (rb *rewriteBench) inServer() float64 {
	rb.settle()
	newKey := `'dev/' || "key"`
	if rb.prefixed {
		newKey = `substr("key", 5)`
	}
	rb.exec(`DROP TABLE IF EXISTS r2plan_bench_batches`)
	rb.exec(`CREATE TABLE r2plan_bench_batches AS SELECT n / 1000 AS batch, array_agg("id" ORDER BY n) AS pks,
		array_agg("key" ORDER BY n) AS olds, array_agg(` + newKey + ` ORDER BY n) AS news
		FROM (SELECT "id", "key", row_number() OVER (ORDER BY "key") - 1 AS n FROM "CharacterImage") AS o GROUP BY n / 1000`)
	d := rb.exec(`DO $$ DECLARE b record; BEGIN
		FOR b IN SELECT * FROM r2plan_bench_batches ORDER BY batch LOOP
			WITH r2v AS (SELECT * FROM unnest(b.pks, b.olds, b.news) AS r2v(pk, old, new))
			UPDATE "CharacterImage" AS r2t SET "key" = r2v.new FROM r2v WHERE r2t."id" = r2v.pk AND r2t."key" = r2v.old;
		END LOOP; END $$`)
	rb.exec(`DROP TABLE r2plan_bench_batches`)
	rb.prefixed = !rb.prefixed
	return float64(rb.n) / d.Seconds()
}

func envInt(tb testing.TB, name string, def int) int {
	tb.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < 1 {
		tb.Fatalf("%s=%q: want a positive number", name, s)
	}
	return v
}
