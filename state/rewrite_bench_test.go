package state

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/r2plan/r2plan/apply"
	"github.com/r2plan/r2plan/plan"
	"github.com/r2plan/r2plan/providers/sqldb"
)

// TestRewriteRates measures on PostgreSQL, in one run, the rows a second of one
// set-based UPDATE of every "CharacterImage" key, and of Journal.Rewrite over the same
// rows at several batch sizes (time inside its transactions, as apply counts it). It
// asserts nothing about time: it runs only with R2PLAN_BENCH_REWRITE=1 and logs a table
// (go test -run TestRewriteRates -v ./state). R2PLAN_BENCH_ROWS sets the rows (200,000),
// R2PLAN_BENCH_RUNS repeats the whole measurement.
func TestRewriteRates(t *testing.T) {
	if os.Getenv("R2PLAN_BENCH_REWRITE") == "" {
		t.Skip("set R2PLAN_BENCH_REWRITE=1 to measure rewrite rates")
	}
	n := envInt(t, "R2PLAN_BENCH_ROWS", 200_000)
	runs := envInt(t, "R2PLAN_BENCH_RUNS", 1)
	ctx := t.Context()
	url, err := pg.CreateDatabase(ctx, fmt.Sprintf("state_bench_%d", seq.Add(1)))
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqldb.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	schema, err := os.ReadFile("../testdata/charhub/schema.sql")
	if err != nil {
		t.Fatal(err)
	}
	exec := func(q string) time.Duration {
		t.Helper()
		start := time.Now()
		if _, err := db.Bun().ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return time.Since(start)
	}
	exec(string(schema))
	// Prisma-shaped rows: cuid-like text ids in random order, keys and URLs as the app
	// writes them.
	exec(fmt.Sprintf(`INSERT INTO "CharacterImage" ("id", "characterId", "url", "key")
		SELECT 'c' || substr(md5(g::text), 1, 24), 'c' || substr(md5((g / 7)::text), 1, 24),
		       'https://media.charhub.app/characters/' || substr(md5((g / 7)::text), 1, 24) || '/images/' || md5(g::text || 'k') || '.webp',
		       'characters/' || substr(md5((g / 7)::text), 1, 24) || '/images/' || md5(g::text || 'k') || '.webp'
		FROM generate_series(1, %d) g`, n))
	j, err := Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}

	// The rows as a plan would list them: by key, so the pks come in random order.
	var rows []struct {
		ID  string `bun:"id"`
		Key string `bun:"key"`
	}
	if err := db.Bun().NewSelect().Table("CharacterImage").Column("id", "key").Order("key").Scan(ctx, &rows); err != nil {
		t.Fatal(err)
	}
	// prefixed tells whether the rows now hold "dev/" + key.
	prefixed := false
	settle := func() {
		exec(`TRUNCATE r2plan_journal`)
		exec(`VACUUM FULL ANALYZE "CharacterImage"`)
		exec(`VACUUM ANALYZE r2plan_journal`)
	}
	setBased := func() float64 {
		settle()
		q := `UPDATE "CharacterImage" SET "key" = 'dev/' || "key" WHERE "key" IS NOT NULL`
		if prefixed {
			q = `UPDATE "CharacterImage" SET "key" = substr("key", 5) WHERE "key" IS NOT NULL`
		}
		d := exec(q)
		prefixed = !prefixed
		return float64(n) / d.Seconds()
	}
	type rewriteFunc func(ctx context.Context, planID string, ref plan.Reference, rws []plan.Rewrite) (apply.RewriteResult, error)
	rewrite := func(batch int, f rewriteFunc) float64 {
		settle()
		rws := make([]plan.Rewrite, len(rows))
		for i, r := range rows {
			old, new := r.Key, "dev/"+r.Key
			if prefixed {
				old, new = new, old
			}
			rws[i] = plan.Rewrite{Key: old, Target: new, Reference: "image", Column: "key", PK: r.ID, Old: old, New: new}
		}
		var in time.Duration
		for start := 0; start < len(rws); start += batch {
			b := rws[start:min(start+batch, len(rws))]
			t0 := time.Now()
			res, err := f(ctx, "bench", imageRef, b)
			in += time.Since(t0)
			if err != nil {
				t.Fatal(err)
			}
			if res.Swapped != len(b) {
				t.Fatalf("batch at %d: %+v, want %d swapped", start, res, len(b))
			}
		}
		prefixed = !prefixed
		return float64(n) / in.Seconds()
	}

	// What a journal row per rewritten row costs, even without lookups: one set-based
	// UPDATE that journals every row it changes in the same statement.
	setBasedJournaled := func() float64 {
		settle()
		newKey, oldKey := `'dev/' || "key"`, `substr(new, 5)`
		if prefixed {
			newKey, oldKey = `substr("key", 5)`, `'dev/' || new`
		}
		d := exec(`WITH r2u AS (UPDATE "CharacterImage" SET "key" = ` + newKey + ` WHERE "key" IS NOT NULL RETURNING "id", "key" AS new)
			INSERT INTO r2plan_journal (plan_id, action, object_key, target_key, etag, reference, column_name, pk, old_value, new_value, applied_at)
			SELECT 'bench', 'rewrite', ` + oldKey + `, new, '', 'image', 'key', "id", ` + oldKey + `, new, now() FROM r2u`)
		prefixed = !prefixed
		return float64(n) / d.Seconds()
	}
	swapOnly := func(ctx context.Context, planID string, ref plan.Reference, rws []plan.Rewrite) (apply.RewriteResult, error) {
		swaps := make([]sqldb.Swap, len(rws))
		for i, rw := range rws {
			swaps[i] = sqldb.Swap{PK: rw.PK, Old: rw.Old, New: rw.New}
		}
		var swapped []string
		err := db.InTx(ctx, func(ctx context.Context, tx bun.Tx) error {
			var err error
			swapped, err = sqldb.CompareAndSwap(ctx, tx, db.Dialect(), sqldb.Table{Name: ref.Table}, ref.PrimaryKey, "key", swaps)
			return err
		})
		return apply.RewriteResult{Swapped: len(swapped)}, err
	}

	// The same compare-and-swap statement, batches of 1000 in plan order, run inside the
	// server by a PL/pgSQL loop: no client, no round trip, no transaction per batch.
	// What is left is finding each row through the pk's index.
	inServer := func() float64 {
		settle()
		newKey := `'dev/' || "key"`
		if prefixed {
			newKey = `substr("key", 5)`
		}
		exec(`DROP TABLE IF EXISTS r2plan_bench_batches`)
		exec(`CREATE TABLE r2plan_bench_batches AS SELECT n / 1000 AS batch, array_agg("id" ORDER BY n) AS pks,
			array_agg("key" ORDER BY n) AS olds, array_agg(` + newKey + ` ORDER BY n) AS news
			FROM (SELECT "id", "key", row_number() OVER (ORDER BY "key") - 1 AS n FROM "CharacterImage") AS o GROUP BY n / 1000`)
		d := exec(`DO $$ DECLARE b record; BEGIN
			FOR b IN SELECT * FROM r2plan_bench_batches ORDER BY batch LOOP
				WITH r2v AS (SELECT * FROM unnest(b.pks, b.olds, b.news) AS r2v(pk, old, new))
				UPDATE "CharacterImage" AS r2t SET "key" = r2v.new FROM r2v WHERE r2t."id" = r2v.pk AND r2t."key" = r2v.old;
			END LOOP; END $$`)
		exec(`DROP TABLE r2plan_bench_batches`)
		prefixed = !prefixed
		return float64(n) / d.Seconds()
	}

	// Each batch size is a round: the set-based UPDATE and Journal.Rewrite, in an order
	// that alternates, each ratio taken to its own round's UPDATE.
	type path struct {
		name string
		f    func(batch int) float64
	}
	paths := []path{
		{"set-based UPDATE", func(int) float64 { return setBased() }},
		{"Journal.Rewrite", func(b int) float64 { return rewrite(b, j.Rewrite) }},
	}
	for run := 1; run <= runs; run++ {
		var out strings.Builder
		fmt.Fprintf(&out, "run %d of %d, %d rows; rows/s and the ratio to the set-based UPDATE of the same round\n", run, runs, n)
		fmt.Fprintf(&out, "| batch | set-based UPDATE | Journal.Rewrite |\n|---|---|---|\n")
		for i, batch := range []int{500, 1000, 2000, 5000} {
			if batch > sqldb.MaxBatch {
				fmt.Fprintf(&out, "| %d | more than sqldb.MaxBatch | |\n", batch)
				continue
			}
			rate := map[string]float64{}
			for k := range paths {
				p := paths[(i+k)%len(paths)]
				rate[p.name] = p.f(batch)
			}
			base := rate[paths[0].name]
			fmt.Fprintf(&out, "| %d | %.0f | %.0f (%.2f) |\n", batch, base, rate[paths[1].name], rate[paths[1].name]/base)
		}
		base := setBased()
		ceiling := setBasedJournaled()
		swap := rewrite(1000, swapOnly)
		server := inServer()
		exec(`DROP INDEX r2plan_journal_plan_idx`)
		noIdx := rewrite(1000, j.Rewrite)
		exec(`CREATE INDEX r2plan_journal_plan_idx ON r2plan_journal (plan_id, action)`)
		withIdx := rewrite(1000, j.Rewrite)
		base2 := setBased()
		base = (base + base2) / 2
		fmt.Fprintf(&out, "set-based UPDATE: %.0f (mean of two)\n", base)
		fmt.Fprintf(&out, "set-based UPDATE journaling each row in the same statement: %.0f (%.2f)\n", ceiling, ceiling/base)
		fmt.Fprintf(&out, "batch 1000, CompareAndSwap alone, without a journal: %.0f (%.2f)\n", swap, swap/base)
		fmt.Fprintf(&out, "batch 1000, the same statement in a PL/pgSQL loop, no client: %.0f (%.2f)\n", server, server/base)
		fmt.Fprintf(&out, "batch 1000, Journal.Rewrite without r2plan_journal_plan_idx: %.0f (%.2f), with: %.0f (%.2f)\n", noIdx, noIdx/base, withIdx, withIdx/base)
		t.Log("\n" + out.String())
	}
}

func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < 1 {
		t.Fatalf("%s=%q: want a positive number", name, s)
	}
	return v
}
