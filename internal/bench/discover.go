package main

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"

	"github.com/r2plan/r2plan/internal/testenv"
	"github.com/r2plan/r2plan/providers/sqldb"
)

// The discovery section (issue 14): how fast r2plan reads the columns no reference
// declares. On its own servers, it seeds DiscoverRows rows across 5 tables shaped like
// an application's (a name, an avatar URL of which 1 in 10 names an object, a jsonb
// document with a nested URL, prose with an <img> now and then) and a bucket of
// DiscoverRows/40 objects, every one an old orphan, then measures:
//
//   - a raw SELECT of the tables' text columns, one table after the other on one
//     connection, against the scan of `r2plan discover` (its "discovered" log line's
//     scan_seconds, which reads a few tables at once);
//   - a deletion plan of the whole bucket with the deletion guard, against the same plan
//     with --skip-discovery (the guard reads only the rows its prefilter admits), on
//     loopback and again through the proxy at R2's latency.
//
// Each figure is the median of 3 runs.

// discoverTables is how many tables the rows are spread over.
const discoverTables = 5

// discoverRates runs the discovery section and sets its figures in r.f.
func (r *runner) discoverRates(ctx context.Context) error {
	rows := r.o.DiscoverRows
	perTable := max(1, rows/discoverTables)
	objects := max(10, rows/40)
	st, err := r.setUp(ctx)
	if err != nil {
		return err
	}
	defer st.close()
	var db *sqldb.DB
	var url string
	cfgPath := filepath.Join(st.dir, "discover.hcl")
	err = r.phase(ctx, "discover: seed", func(ctx context.Context) (err error) {
		if url, err = st.sv.pg.CreateDatabase(ctx, "discover"); err != nil {
			return err
		}
		if db, err = sqldb.Open(ctx, url); err != nil {
			return err
		}
		if err := seedDiscovery(ctx, db.Bun().DB, perTable, objects); err != nil {
			return err
		}
		if _, err := st.direct.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("discover")}); err != nil {
			return fmt.Errorf("create bucket: %w", err)
		}
		objs := make([]object, objects)
		for i := range objs {
			objs[i] = object{Key: fmt.Sprintf("obj/%d.webp", i), Size: 16}
		}
		if err := putAll(ctx, st.direct, "discover", objs, 32); err != nil {
			return err
		}
		return os.WriteFile(cfgPath, []byte(discoverConfig(st.sv.s3.Endpoint, st.sv.s3, url)), 0o600)
	})
	if db != nil {
		defer db.Close()
	}
	if err != nil {
		return err
	}
	r.f["disc_rows"], r.f["disc_objects"] = float64(perTable*discoverTables), float64(objects)

	var raws, scans []float64
	err = r.phase(ctx, "discover: raw SELECT, scan", func(ctx context.Context) error {
		for range 3 {
			n, d, err := rawTextScan(ctx, db.Bun().DB)
			if err != nil {
				return err
			}
			if n != perTable*discoverTables {
				return fmt.Errorf("raw SELECT read %d rows, seeded %d", n, perTable*discoverTables)
			}
			raws = append(raws, float64(n)/d.Seconds())
			res, err := r.r2plan(ctx, nil, "discover", "--config", cfgPath, "--format=json", "--log-format=json", "--progress=never")
			if err != nil {
				return err
			}
			got, secs, err := discoveredLine(res.out)
			if err != nil {
				return err
			}
			if got != int64(n) {
				return fmt.Errorf("discover read %d rows, the raw SELECT %d", got, n)
			}
			scans = append(scans, float64(got)/secs)
		}
		return nil
	})
	r.f["disc_raw_rows_s"], r.f["disc_rows_s"] = median(raws), median(scans)
	if err != nil {
		return err
	}

	with, without, err := r.deletionPlans(ctx, "discover: deletion plans", cfgPath, objects, st.sv.s3.Pid())
	r.f["disc_guard_plan_s"], r.f["disc_guard_busy_s"] = medians(with)
	r.f["disc_skip_plan_s"], r.f["disc_skip_busy_s"] = medians(without)
	r.f["cores"] = float64(runtime.NumCPU())
	if err != nil {
		return err
	}
	// The same plans at R2's latency, through the proxy: the guard's read runs beside a
	// listing that now waits on the network rather than on this machine's 2 cores.
	latPath := filepath.Join(st.dir, "discover-latency.hcl")
	if err := os.WriteFile(latPath, []byte(discoverConfig(st.sv.proxy.Endpoint, st.sv.s3, url)), 0o600); err != nil {
		return err
	}
	st.sv.proxy.setDelays(discoverListDelay, discoverOpDelay)
	defer st.sv.proxy.setDelays(0, 0)
	with, without, err = r.deletionPlans(ctx, "discover: deletion plans at R2's latency", latPath, objects, st.sv.s3.Pid())
	r.f["disc_guard_lat_plan_s"], _ = medians(with)
	r.f["disc_skip_lat_plan_s"], _ = medians(without)
	return err
}

// The delays of the discovery section's deletion plans at R2's latency.
const (
	discoverListDelay = 300 * time.Millisecond
	discoverOpDelay   = 60 * time.Millisecond
)

// timedPlan is one plan's wall time and the machine's busy CPU time while it ran
// (every process: r2plan, versitygw, PostgreSQL), in seconds.
type timedPlan struct{ wall, busy float64 }

// medians is the median wall time and the median busy CPU time of ps.
func medians(ps []timedPlan) (wall, busy float64) {
	var walls, busies []float64
	for _, p := range ps {
		walls, busies = append(walls, p.wall), append(busies, p.busy)
	}
	return median(walls), median(busies)
}

// deletionPlans times 3 deletion plans of the section's bucket with the deletion guard
// and 3 with --skip-discovery, alternately, checking what each deletes.
func (r *runner) deletionPlans(ctx context.Context, name, cfgPath string, objects, serverPid int) (with, without []timedPlan, err error) {
	err = r.phase(ctx, name, func(ctx context.Context) error {
		for range 3 {
			for _, skip := range []bool{true, false} {
				args := []string{"plan", "--config", cfgPath, "-q"}
				if skip {
					args = append(args, "--skip-discovery")
				}
				cpu := markCPU(serverPid)
				res, err := r.r2plan(ctx, nil, args...)
				if err != nil {
					return err
				}
				timed := timedPlan{wall: res.wall.Seconds(), busy: cpu.since().busy}
				m := planLine.FindStringSubmatch(res.out)
				if m == nil {
					return fmt.Errorf("no summary line in the plan's output:\n%s", res.out)
				}
				var deletes int
				fmt.Sscan(m[5], &deletes)
				if skip {
					if deletes != objects {
						return fmt.Errorf("the plan with --skip-discovery deletes %d objects, want all %d:\n%s", deletes, objects, res.out)
					}
					without = append(without, timed)
				} else {
					// 1 in 10 avatar URLs name an object (half of them listed): the
					// guard keeps some, and not all.
					if deletes == 0 || deletes >= objects {
						return fmt.Errorf("the plan with the guard deletes %d of %d objects, want some kept:\n%s", deletes, objects, res.out)
					}
					r.f["disc_guard_deletes"] = float64(deletes)
					with = append(with, timed)
				}
			}
		}
		return nil
	})
	return with, without, err
}

// seedDiscovery creates the 5 tables of perTable rows, and a declared reference table.
func seedDiscovery(ctx context.Context, db *sql.DB, perTable, objects int) error {
	stmts := []string{`CREATE TABLE "files" ("id" INTEGER PRIMARY KEY, "key" TEXT)`}
	for i := range discoverTables {
		stmts = append(stmts,
			fmt.Sprintf(`CREATE TABLE "t%d" ("id" TEXT PRIMARY KEY, "name" TEXT, "avatarUrl" TEXT, "settings" JSONB, "body" TEXT)`, i),
			fmt.Sprintf(`INSERT INTO "t%d" SELECT 'row-' || g, 'User number ' || g,
				CASE WHEN g %% 10 = 0 THEN 'https://media.example.com/obj/' || (g %% %d) || '.webp'
				     ELSE 'https://media.example.com/users/' || g || '/avatar.webp?v=2' END,
				jsonb_build_object('theme', 'dark', 'banner', jsonb_build_object('url', 'https://media.example.com/banners/' || g || '.webp'), 'n', g),
				CASE WHEN g %% 50 = 0 THEN '<p>Hello <img src="https://media.example.com/obj/' || (g %% %d) || '.webp"> and some more words of text.</p>'
				     ELSE 'Some words of prose about item ' || g || ', without any link in them at all, but long enough.' END
				FROM generate_series(1, %d) AS g`, i, objects*2, objects*2, perTable))
	}
	stmts = append(stmts, `ANALYZE`)
	for _, q := range stmts {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("seed the discovery tables: %w", err)
		}
	}
	return nil
}

// discoverConfig is the section's r2plan.hcl, for the bucket at endpoint (the server
// itself, or the proxy in front of it): every object under obj/ an old orphan.
func discoverConfig(endpoint string, srv *testenv.S3Server, dbURL string) string {
	return fmt.Sprintf(`
bucket {
  endpoint          = %q
  name              = "discover"
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
  max_delete = 100000000
}
`, endpoint, srv.AccessKey, srv.SecretKey, dbURL)
}

// rawTextScan reads every text column of the 5 tables with plain SELECTs, one table
// after the other on one connection, each value as text into a reused buffer.
func rawTextScan(ctx context.Context, db *sql.DB) (int, time.Duration, error) {
	queries := make([]string, discoverTables)
	for i := range queries {
		queries[i] = fmt.Sprintf(`SELECT "id"::text, "name"::text, "avatarUrl"::text, "settings"::text, "body"::text FROM "t%d"`, i)
	}
	return readAll(ctx, db, queries...)
}

// discoveredLine reads the rows and scan time of r2plan discover's "discovered" log
// line (JSON, on stderr, mixed with the report on stdout).
func discoveredLine(out string) (rows int64, secs float64, err error) {
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l struct {
			Msg  string  `json:"msg"`
			Rows int64   `json:"rows"`
			Scan float64 `json:"scan_seconds"`
		}
		if json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg == "discovered" {
			return l.Rows, max(l.Scan, 1e-3), nil
		}
	}
	return 0, 0, fmt.Errorf("no \"discovered\" log line in discover's output:\n%s", out)
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// PrintDiscover writes the discovery section's table.
func (rep *Report) PrintDiscover(w io.Writer) {
	f := rep.Median()
	if _, ok := f["disc_rows"]; !ok {
		return
	}
	fmt.Fprintf(w, "\ndiscovery (issue 14): %.0f rows across %d tables, %.0f objects, median of 3\n", f["disc_rows"], discoverTables, f["disc_objects"])
	t := tablewriter.NewTable(w, tablewriter.WithHeaderAutoFormat(tw.Off))
	t.Header("figure", "value", "ceiling / peer", "ratio", "target", "met")
	ratio := func(num, den string, target float64, atLeast bool) (string, string, string) {
		if f[den] == 0 || f[num] == 0 {
			return "-", targetText(target, atLeast), "-"
		}
		r := f[num] / f[den]
		return fmt.Sprintf("%.2f", r), targetText(target, atLeast), yesNo(atLeast && r >= target || !atLeast && r <= target)
	}
	t.Append("raw SELECT of the text columns, one connection", human(f["disc_raw_rows_s"])+" rows/s", "", "", "", "")
	r, tg, met := ratio("disc_rows_s", "disc_raw_rows_s", 0.8, true)
	t.Append("r2plan discover, scan (read + match)", human(f["disc_rows_s"])+" rows/s", "raw SELECT", r, tg, met)
	r, tg, met = ratio("disc_guard_plan_s", "disc_skip_plan_s", 1.5, false)
	t.Append(fmt.Sprintf("deletion plan with the guard (%.0f kept)", f["disc_objects"]-f["disc_guard_deletes"]),
		fmt.Sprintf("%.2f s", f["disc_guard_plan_s"]), fmt.Sprintf("--skip-discovery %.2f s", f["disc_skip_plan_s"]), r, tg, met)
	if busy, cores := f["disc_guard_busy_s"], f["cores"]; busy > 0 && cores > 0 {
		// What the guarded plan's work cannot go below here, every process's CPU time
		// over the cores; against the plan without the guard, the best ratio it allows.
		r := "-"
		if skip := f["disc_skip_plan_s"]; skip > 0 {
			r = fmt.Sprintf("%.2f", busy/cores/skip)
		}
		t.Append("", "", fmt.Sprintf("CPU floor here: %.2f s = %.2f s busy ÷ %.0f cores (without the guard: %.2f s busy)", busy/cores, busy, cores, f["disc_skip_busy_s"]), r, "", "")
	}
	r, _, _ = ratio("disc_guard_lat_plan_s", "disc_skip_lat_plan_s", 1.5, false)
	t.Append(fmt.Sprintf("the same, at %v a listing page, %v a request", discoverListDelay, discoverOpDelay),
		fmt.Sprintf("%.2f s", f["disc_guard_lat_plan_s"]), fmt.Sprintf("--skip-discovery %.2f s", f["disc_skip_lat_plan_s"]), r, "", "")
	t.Render()
	fmt.Fprintln(w, "note: the raw SELECT goes through database/sql, one table after the other; discover reads up to")
	fmt.Fprintln(w, "      4 tables at once through pgx itself (no string per value), and its time excludes the listing.")
	fmt.Fprintln(w, "note: the guard reads only the rows its prefilter of the doomed keys admits (1 in 10 here).")
}
