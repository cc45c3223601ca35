package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/r2plan/r2plan/plan"
	"github.com/r2plan/r2plan/providers/s3"
	"github.com/r2plan/r2plan/providers/sqldb"
)

// TestDiscoverRates measures discovery against a raw SELECT of the same columns over the
// same connection (200,000 rows across 5 tables), and a deletion plan with the guard
// against the same plan with --skip-discovery. It reports; it asserts no timing.
//
//	R2PLAN_BENCH_DISCOVER=1 go test -run TestDiscoverRates -v ./cmd/r2plan
func TestDiscoverRates(t *testing.T) {
	if os.Getenv("R2PLAN_BENCH_DISCOVER") == "" {
		t.Skip("set R2PLAN_BENCH_DISCOVER=1 to measure discovery's rates")
	}
	if err := startServers(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const tables, perTable, objects = 5, 40_000, 5_000
	url, err := pgsrv.CreateDatabase(ctx, "discover_rates")
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqldb.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	exec := func(q string) {
		t.Helper()
		if _, err := db.Bun().DB.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	// Rows like an application's: a name, an avatar URL (1 in 10 names an object), a
	// jsonb document with a nested URL, and prose with an <img> now and then.
	exec(`CREATE TABLE "files" ("id" INTEGER PRIMARY KEY, "key" TEXT)`)
	for i := range tables {
		exec(fmt.Sprintf(`CREATE TABLE "t%d" ("id" TEXT PRIMARY KEY, "name" TEXT, "avatarUrl" TEXT, "settings" JSONB, "body" TEXT)`, i))
		exec(fmt.Sprintf(`INSERT INTO "t%d" SELECT 'row-' || g, 'User number ' || g,
			CASE WHEN g %% 10 = 0 THEN 'https://media.example.com/obj/' || (g %% %d) || '.webp'
			     ELSE 'https://media.example.com/users/' || g || '/avatar.webp?v=2' END,
			jsonb_build_object('theme', 'dark', 'banner', jsonb_build_object('url', 'https://media.example.com/banners/' || g || '.webp'), 'n', g),
			CASE WHEN g %% 50 = 0 THEN '<p>Hello <img src="https://media.example.com/obj/' || (g %% %d) || '.webp"> and some more words of text.</p>'
			     ELSE 'Some words of prose about item ' || g || ', without any link in them at all, but long enough.' END
			FROM generate_series(1, %d) AS g`, i, objects*2, objects*2, perTable))
	}
	exec(`ANALYZE`)

	// The bucket: objects/ keys, every one an old orphan.
	bucketName := "discover-rates-" + randomHex(4)
	b, err := s3.Open(ctx, s3.Options{Endpoint: s3srv.Endpoint, Region: "auto", Bucket: bucketName,
		AccessKeyID: s3srv.AccessKey, SecretAccessKey: s3srv.SecretKey, PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.CreateBucket(ctx); err != nil {
		t.Fatal(err)
	}
	var g errgroup.Group
	g.SetLimit(16)
	for i := range objects {
		g.Go(func() error {
			return b.Put(ctx, fmt.Sprintf("obj/%d.webp", i), []byte("x"), "image/webp", "", nil)
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	keys, err := plan.CollectKeys(func(yield func(plan.Object) error) error {
		for i := range objects {
			if err := yield(plan.Object{Key: fmt.Sprintf("obj/%d.webp", i), ETag: "x"}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	all, err := db.TextTables(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m := plan.NewMatcher("https://media.example.com")
	raw := func() (int64, time.Duration) {
		start := time.Now()
		var n int64
		for _, tt := range all {
			cols := make([]string, len(tt.Columns))
			for i, c := range tt.Columns {
				cols[i] = `"` + c.Name + `"::text`
			}
			rows, err := db.Bun().DB.QueryContext(ctx, "SELECT "+strings.Join(cols, ", ")+` FROM "`+tt.Table.Name+`"`)
			if err != nil {
				t.Fatal(err)
			}
			dest := make([]any, len(cols))
			vals := make([]sql.RawBytes, len(cols))
			for i := range dest {
				dest[i] = &vals[i]
			}
			for rows.Next() {
				if err := rows.Scan(dest...); err != nil {
					t.Fatal(err)
				}
				n++
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			rows.Close()
		}
		return n, time.Since(start)
	}
	discovered := func() (int64, time.Duration, int64) {
		start := time.Now()
		var n, named int64
		for _, tt := range all {
			err := scanTable(ctx, db, tt, 0, nil, func() { n++ }, func(col int, value string) error {
				if m.Match(value, keys.Has, func(string, plan.MatchKind) {}) != 0 {
					named++
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		return n, time.Since(start), named
	}
	var rawRates, discRates []float64
	for range 3 {
		n, d := raw()
		rawRates = append(rawRates, float64(n)/d.Seconds())
		n2, d2, named := discovered()
		discRates = append(discRates, float64(n2)/d2.Seconds())
		if n != tables*perTable || n2 != n || named == 0 {
			t.Fatalf("raw read %d rows, discovery %d (%d naming objects); want %d", n, n2, named, tables*perTable)
		}
	}
	rawRate, discRate := median(rawRates), median(discRates)
	t.Logf("raw SELECT of the text columns: %.0f rows/s; discovery (read + match): %.0f rows/s; ratio %.2f (target ≥ 0.8)",
		rawRate, discRate, discRate/rawRate)

	// A deletion plan of the whole bucket (every object an old orphan), with the guard
	// and with --skip-discovery.
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "r2plan.hcl")
	if err := os.WriteFile(cfgPath, []byte(fmt.Sprintf(`
bucket {
  endpoint          = %q
  name              = %q
  access_key_id     = %q
  secret_access_key = %q
  public_url        = "https://media.example.com"
}
database {
  url = %q
}
layout {
  placed = ["obj/"]
}
reference "files" {
  table       = "files"
  primary_key = "id"
  key_column  = "key"
}
orphans {
  scope      = ["obj/"]
  min_age    = "1ms"
  max_delete = 1000000
}
`, s3srv.Endpoint, bucketName, s3srv.AccessKey, s3srv.SecretKey, url)), 0o600); err != nil {
		t.Fatal(err)
	}
	timePlan := func(extra ...string) time.Duration {
		start := time.Now()
		if code := run(ctx, nil, append([]string{"plan", "--config", cfgPath, "-q"}, extra...), io.Discard, io.Discard); code != exitOK {
			t.Fatalf("plan %q: exit %d", extra, code)
		}
		return time.Since(start)
	}
	var with, without []float64
	for range 3 {
		without = append(without, timePlan("--skip-discovery").Seconds())
		with = append(with, timePlan().Seconds())
	}
	t.Logf("deletion plan of %d objects, %d undeclared rows: %.2fs with the guard, %.2fs with --skip-discovery; ratio %.2f (target ≤ 1.5)",
		objects, tables*perTable, median(with), median(without), median(with)/median(without))
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[len(s)/2]
}
