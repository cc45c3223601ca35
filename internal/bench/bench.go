package main

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/uptrace/bun"

	"github.com/r2plan/r2plan/internal/testenv"
	"github.com/r2plan/r2plan/providers/sqldb"
)

// Options configure a benchmark.
type Options struct {
	N           int    // objects (and as many rows)
	Runs        int    // whole measurements; the report shows medians
	Parallelism int    // copies in flight, raw and r2plan
	Sample      int    // rows for the one-UPDATE-per-row peer
	Rclone      bool   // run rclone move where it is installed
	R2plan      string // the r2plan binary
	Log         io.Writer
	// PerfDir, when set, runs r2plan plan and apply under `perf record -g` writing
	// there (the RSS and CPU figures are then perf's own, not r2plan's).
	PerfDir string
	// PhaseTimeout bounds each phase (default 10 minutes).
	PhaseTimeout time.Duration
	// Latency, when set, runs the latency mode (latency.go) instead: every
	// ListObjectsV2 waits List and every other request Op at the proxy.
	Latency *Latency
	// DiscoverRows, when positive, adds the discovery section (discover.go) on that
	// many rows after each run; DiscoverOnly runs that section alone.
	DiscoverRows int
	DiscoverOnly bool
}

// Figures are one run's measurements, by name (see the names in report.go).
type Figures map[string]float64

// Report is what Bench measured.
type Report struct {
	Options  Options
	Runs     []Figures
	Notes    []string
	Machine  []string
	Versions []string
	// ReplanOutput is the last line of the final re-plan of the last run.
	ReplanOutput string
	// DeletionAvailable is false when the plan after the grace period proposed nothing.
	DeletionAvailable bool
}

const bucketName = "charhub-media"

// Bench runs o.Runs measurements and returns them with the machine and versions.
func Bench(ctx context.Context, o Options) (*Report, error) {
	if o.PhaseTimeout == 0 {
		o.PhaseTimeout = 10 * time.Minute
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	bin, err := filepath.Abs(o.R2plan)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("r2plan binary: %w (run make build first)", err)
	}
	o.R2plan = bin
	root, err := moduleRoot()
	if err != nil {
		return nil, err
	}
	rep := &Report{Options: o, DeletionAvailable: true}
	rep.Machine = machine()
	if o.Rclone {
		if _, err := exec.LookPath("rclone"); err != nil {
			o.Rclone = false
			rep.Options.Rclone = false
			rep.Notes = append(rep.Notes, "rclone: not installed (apt-get install rclone); the peer rows are skipped")
		}
	}
	for i := range o.Runs {
		fmt.Fprintf(o.Log, "bench: run %d of %d, %d objects\n", i+1, o.Runs, o.N)
		r := &runner{o: o, root: root, rep: rep, f: Figures{}}
		run := r.run
		if o.Latency != nil {
			run = r.runLatency
		}
		if o.DiscoverOnly {
			run = r.discoverRates
		}
		err := run(ctx)
		if err == nil && o.DiscoverRows > 0 && o.Latency == nil && !o.DiscoverOnly {
			err = r.discoverRates(ctx)
		}
		rep.Runs = append(rep.Runs, r.f)
		if err != nil {
			return rep, fmt.Errorf("run %d: %w", i+1, err)
		}
	}
	return rep, nil
}

type runner struct {
	o     Options
	root  string
	rep   *Report
	f     Figures
	env   []string
	proxy *countingProxy
	perfN int
}

func (r *runner) logf(format string, a ...any) {
	fmt.Fprintf(r.o.Log, "bench: "+format+"\n", a...)
}

// phase runs fn under the phase timeout, logging its name and duration.
func (r *runner) phase(ctx context.Context, name string, fn func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, r.o.PhaseTimeout)
	defer cancel()
	start := time.Now()
	err := fn(ctx)
	r.logf("%-28s %8.2fs", name, time.Since(start).Seconds())
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

func (r *runner) run(ctx context.Context) error {
	o := r.o
	st, err := r.setUp(ctx)
	if err != nil {
		return err
	}
	defer st.close()
	dir, srv, proxy, direct, viaProxy, db := st.dir, st.sv.s3, st.sv.proxy, st.direct, st.viaProxy, st.db
	rawURL, err := st.sv.pg.CreateDatabase(ctx, "bench_raw")
	if err != nil {
		return err
	}
	rawDB, err := sqldb.Open(ctx, rawURL)
	if err != nil {
		return err
	}
	defer rawDB.Close()
	objs := dataset(o.N)
	quarter := max(1, o.N/4)
	buckets := []string{bucketName, "bench-raw"}
	if o.Rclone {
		buckets = append(buckets, "bench-rclone-src", "bench-rclone-dst")
	}

	var (
		small, mp, dp planRun
		ap, ra        applyRun
		applied       time.Time
	)
	movePlan := filepath.Join(dir, "move.plan")
	delPlan := filepath.Join(dir, "delete.plan")
	grace := []string{"R2_GRACE_PERIOD=1s"} // deletion after a grace period of one second

	// The phases, in order; each sets its figures in r.f.
	phases := []benchPhase{
		// Seed a quarter first, plan it for the small memory point, then the rest.
		{"seed (first quarter)", func(ctx context.Context) error {
			for _, b := range buckets {
				if _, err := direct.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
					return fmt.Errorf("create bucket %s: %w", b, err)
				}
			}
			for _, d := range []*sqldb.DB{db, rawDB} {
				if err := loadSchema(ctx, d.Bun(), r.root); err != nil {
					return err
				}
			}
			if err := insertRows(ctx, db.Bun(), objs[:quarter]); err != nil {
				return err
			}
			return putAll(ctx, direct, bucketName, objs[:quarter], o.Parallelism)
		}},
		{"r2plan plan (N/4)", func(ctx context.Context) (err error) {
			small, err = r.plan(ctx, filepath.Join(dir, "small.plan"), nil)
			r.f["plan_small_objects"] = float64(quarter)
			r.f["plan_small_wall_s"] = small.wall.Seconds()
			r.f["plan_small_rss"] = float64(small.rss)
			return err
		}},
		{"seed (rest)", func(ctx context.Context) error {
			if err := insertRows(ctx, db.Bun(), objs[quarter:]); err != nil {
				return err
			}
			if err := insertRows(ctx, rawDB.Bun(), objs); err != nil {
				return err
			}
			if err := putAll(ctx, direct, bucketName, objs[quarter:], o.Parallelism); err != nil {
				return err
			}
			for _, b := range buckets[1:] {
				if b == "bench-rclone-dst" {
					continue
				}
				if err := putAll(ctx, direct, b, objs, o.Parallelism); err != nil {
					return err
				}
			}
			r.f["objects"] = float64(o.N)
			return nil
		}},
		// Raw ceilings, all through the proxy like r2plan's requests.
		{"", func(ctx context.Context) error { return r.listAndScan(ctx, viaProxy, db.Bun(), o.N) }},
		{"r2plan plan", func(ctx context.Context) (err error) {
			mp, err = r.plan(ctx, movePlan, nil)
			if err == nil && mp.copies == 0 {
				return fmt.Errorf("the plan copies nothing:\n%s", mp.out)
			}
			r.f["plan_wall_s"], r.f["plan_rss"], r.f["plan_cpu_s"] = mp.wall.Seconds(), float64(mp.rss), mp.cpu.Seconds()
			r.f["plan_copies"], r.f["plan_rewrites"] = float64(mp.copies), float64(mp.rewrites)
			r.requests("plan", mp.requests)
			if o.N > quarter {
				r.f["plan_rss_slope"] = (float64(mp.rss) - float64(small.rss)) / float64(o.N-quarter)
			}
			return err
		}},
		// The same plan with the bucket listed in 8 ranges at once (bucket.list_concurrency).
		{"r2plan plan (8 listings)", func(ctx context.Context) error {
			pp, err := r.plan(ctx, "", []string{"R2_LIST_CONCURRENCY=8"})
			if err == nil && pp.copies != mp.copies {
				err = fmt.Errorf("the plan with parallel listings copies %d objects, not %d:\n%s", pp.copies, mp.copies, pp.out)
			}
			r.f["plan_par_wall_s"] = pp.wall.Seconds()
			return err
		}},
		{"raw CopyObject", func(ctx context.Context) error {
			d, err := rawCopy(ctx, viaProxy, "bench-raw", objs, o.Parallelism)
			r.f["raw_copy_obj_s"] = float64(len(objs)) / d.Seconds()
			return err
		}},
		{"raw checked DeleteObjects", func(ctx context.Context) error {
			copies, check := checkedDeletion(viaProxy, "bench-raw", objs)
			d, err := rawDelete(ctx, viaProxy, "bench-raw", copies, check)
			r.f["raw_checked_delete_keys_s"] = float64(len(objs)) / d.Seconds()
			return err
		}},
		{"raw DeleteObjects", func(ctx context.Context) error {
			keys := make([]string, len(objs))
			for i, o := range objs {
				keys[i] = o.Key
			}
			d, err := rawDelete(ctx, viaProxy, "bench-raw", keys, nil)
			r.f["raw_delete_keys_s"] = float64(len(objs)) / d.Seconds()
			return err
		}},
		{"raw one UPDATE per row", func(ctx context.Context) error {
			n, d, err := rawPerRow(ctx, rawDB.Bun(), objs, o.Sample)
			r.f["raw_perrow_rows"], r.f["raw_perrow_rows_s"] = float64(n), float64(n)/d.Seconds()
			return err
		}},
		{"raw set-based UPDATE", func(ctx context.Context) error {
			n, d, err := rawSetUpdate(ctx, rawDB.Bun())
			r.f["raw_update_values"], r.f["raw_update_values_s"] = float64(n), float64(n)/d.Seconds()
			proxy.take()
			return err
		}},
		// r2plan apply: copies and rewrites.
		{"r2plan apply", func(ctx context.Context) (err error) {
			ap, err = r.apply(ctx, movePlan, nil)
			if err == nil && ap.copied != mp.copies {
				return fmt.Errorf("copied %d objects, the plan had %d:\n%s", ap.copied, mp.copies, ap.out)
			}
			r.f["apply_wall_s"] = ap.wall.Seconds()
			r.f["apply_obj_s"] = float64(ap.copied) / ap.wall.Seconds()
			r.f["apply_s3_busy_s"] = ap.busy.Seconds()
			r.f["apply_copy_obj_s"] = float64(ap.copied) / ap.busy.Seconds()
			// Rewrites run beside the copies; apply reports the time of their transactions.
			r.f["apply_rewrite_s"] = ap.rewriteTime.Seconds()
			r.f["apply_rewrite_values_s"] = float64(ap.rewritten) / max(ap.rewriteTime.Seconds(), 1e-6)
			r.f["apply_rss"] = float64(ap.rss)
			r.f["apply_cpu_s"] = ap.cpu.Seconds()
			r.requests("apply", ap.requests)
			return err
		}},
		// The rewrites again, alone: every row the apply rewrote is put back from the
		// journal, the tables compacted as the seed left them, and the same plan applied
		// again. Its copies are all in place, so the database has the machine to itself,
		// as the set-based UPDATE had.
		{"r2plan apply (rewrites alone)", func(ctx context.Context) (err error) {
			if err := restoreRows(ctx, db.Bun()); err != nil {
				return err
			}
			ra, err = r.apply(ctx, movePlan, nil)
			if err == nil && (ra.copied != 0 || ra.rewritten != ap.rewritten) {
				return fmt.Errorf("copied %d objects and rewrote %d rows, want 0 and %d:\n%s", ra.copied, ra.rewritten, ap.rewritten, ra.out)
			}
			r.f["alone_rewrite_s"] = ra.rewriteTime.Seconds()
			r.f["alone_rewrite_values_s"] = float64(ra.rewritten) / max(ra.rewriteTime.Seconds(), 1e-6)
			applied = time.Now()
			return err
		}},
		{"r2plan re-plan", func(ctx context.Context) error {
			rp, err := r.plan(ctx, "", nil)
			if err == nil && !rp.noChanges {
				err = fmt.Errorf("the re-plan after apply is not \"No changes.\":\n%s", rp.out)
			}
			r.f["replan_wall_s"] = rp.wall.Seconds()
			r.requests("replan", rp.requests)
			return err
		}},
		{"r2plan plan (after grace)", func(ctx context.Context) (err error) {
			if d := time.Until(applied.Add(1500 * time.Millisecond)); d > 0 {
				time.Sleep(d)
			}
			dp, err = r.plan(ctx, delPlan, grace, "--max-delete", strconv.Itoa(2*o.N+10))
			r.requests("delplan", dp.requests)
			r.f["delplan_wall_s"] = dp.wall.Seconds()
			if err == nil && dp.deletes == 0 {
				r.rep.DeletionAvailable = false
				r.logf("deletion phase: not available in this build (the plan after the grace period proposes no deletion)")
			}
			return err
		}},
		{"r2plan apply (deletions)", func(ctx context.Context) error {
			if dp.deletes == 0 {
				return nil
			}
			da, err := r.apply(ctx, delPlan, grace)
			if err == nil && da.deleted != dp.deletes {
				return fmt.Errorf("deleted %d objects, the plan had %d:\n%s", da.deleted, dp.deletes, da.out)
			}
			r.f["delete_keys"] = float64(da.deleted)
			r.f["delete_wall_s"] = da.wall.Seconds()
			r.f["delete_keys_s"] = float64(da.deleted) / da.wall.Seconds()
			r.f["delete_s3_busy_s"] = da.busy.Seconds()
			r.f["delete_cpu_s"] = da.cpu.Seconds()
			r.requests("delapply", da.requests)
			return err
		}},
		{"r2plan re-plan (final)", func(ctx context.Context) error {
			rp, err := r.plan(ctx, "", nil)
			if err == nil && !rp.noChanges {
				err = fmt.Errorf("the final re-plan is not \"No changes.\":\n%s", rp.out)
			}
			r.f["final_replan_wall_s"] = rp.wall.Seconds()
			r.rep.ReplanOutput = rp.summary
			return err
		}},
	}
	if o.Rclone {
		// The peer: rclone move of a fresh copy of the same objects.
		phases = append(phases, benchPhase{"rclone move", func(ctx context.Context) error {
			wall, err := r.rclone(ctx, srv, objs, "bench-rclone-src", "bench-rclone-dst")
			r.f["rclone_wall_s"] = wall.Seconds()
			r.f["rclone_obj_s"] = float64(len(objs)) / wall.Seconds()
			return err
		}})
	}
	for _, ph := range phases {
		if ph.name == "" {
			// A step that times its own phases.
			if err := ph.fn(ctx); err != nil {
				return err
			}
			continue
		}
		if err := r.phase(ctx, ph.name, ph.fn); err != nil {
			return err
		}
	}
	return nil
}

// benchPhase is one timed step of the main bench.
type benchPhase struct {
	name string
	fn   func(ctx context.Context) error
}

// listAndScan measures the ceilings a plan is compared with: one sequential listing of
// the bench's bucket and a plain scan of the reference columns, each of n items.
func (r *runner) listAndScan(ctx context.Context, c *s3.Client, db *bun.DB, n int) error {
	if err := r.phase(ctx, "raw ListObjectsV2", func(ctx context.Context) error {
		got, d, err := rawList(ctx, c, bucketName)
		if err == nil && got != n {
			err = fmt.Errorf("listed %d keys, seeded %d", got, n)
		}
		r.f["raw_list_s"], r.f["raw_list_keys_s"] = d.Seconds(), float64(got)/d.Seconds()
		return err
	}); err != nil {
		return err
	}
	return r.phase(ctx, "raw scan", func(ctx context.Context) error {
		got, d, err := rawScan(ctx, db)
		if err == nil && got != n {
			err = fmt.Errorf("scanned %d rows, seeded %d", got, n)
		}
		r.f["raw_scan_s"], r.f["raw_scan_rows_s"] = d.Seconds(), float64(got)/d.Seconds()
		return err
	})
}

// servers are the bench's versitygw, PostgreSQL and counting proxy.
type servers struct {
	s3    *testenv.S3Server
	pg    *testenv.Postgres
	proxy *countingProxy
}

func (s *servers) stop() {
	if s.proxy != nil {
		s.proxy.Close()
	}
	if s.pg != nil {
		s.pg.Stop()
	}
	if s.s3 != nil {
		s.s3.Stop()
	}
}

// stage is what every run of the bench starts from: a temporary directory, the
// servers, raw S3 clients direct and through the proxy, and the database r2plan uses.
type stage struct {
	dir              string
	sv               *servers
	direct, viaProxy *s3.Client
	db               *sqldb.DB
}

// setUp makes a stage (and records the servers' versions on the first run).
func (r *runner) setUp(ctx context.Context) (_ *stage, err error) {
	st := &stage{}
	defer func() {
		if err != nil {
			st.close()
		}
	}()
	if st.dir, err = os.MkdirTemp("", "r2plan-bench-"); err != nil {
		return nil, err
	}
	if st.sv, err = r.startServers(ctx, st.dir); err != nil {
		return nil, err
	}
	srv := st.sv.s3
	st.direct = rawClient(srv.Endpoint, srv.AccessKey, srv.SecretKey, 2*r.o.Parallelism)
	st.viaProxy = rawClient(st.sv.proxy.Endpoint, srv.AccessKey, srv.SecretKey, 2*r.o.Parallelism)
	if st.db, err = sqldb.Open(ctx, st.sv.pg.URL); err != nil {
		return nil, err
	}
	if len(r.rep.Versions) == 0 {
		r.rep.Versions = r.versions(ctx, st.db)
	}
	return st, nil
}

func (st *stage) close() {
	if st.db != nil {
		st.db.Close()
	}
	if st.sv != nil {
		st.sv.stop()
	}
	if st.dir != "" {
		os.RemoveAll(st.dir)
	}
}

// startServers starts versitygw and PostgreSQL under dir and the counting proxy in
// front of versitygw, and points r2plan's environment (examples/charhub.hcl) at them.
func (r *runner) startServers(ctx context.Context, dir string) (*servers, error) {
	sv := &servers{}
	err := r.phase(ctx, "start servers", func(ctx context.Context) error {
		var err error
		if sv.s3, err = testenv.StartS3(ctx, filepath.Join(dir, "s3"), "", ""); err != nil {
			return err
		}
		if sv.pg, err = testenv.StartPostgres(ctx, filepath.Join(dir, "pg"), ""); err != nil {
			return err
		}
		sv.proxy, err = startProxy(sv.s3.Endpoint)
		return err
	})
	if err != nil {
		sv.stop()
		return nil, err
	}
	r.proxy = sv.proxy
	r.env = append(os.Environ(),
		"R2_ENDPOINT_URL="+sv.proxy.Endpoint,
		"R2_BUCKET_NAME="+bucketName,
		"R2_ACCESS_KEY_ID="+sv.s3.AccessKey,
		"R2_SECRET_ACCESS_KEY="+sv.s3.SecretKey,
		"R2_PUBLIC_URL="+publicURL,
		"DATABASE_URL="+sv.pg.URL,
		"NODE_ENV=development",
	)
	return sv, nil
}

// requests records counts per moved object under "req/<phase>/<operation>".
func (r *runner) requests(phase string, counts map[string]int64) {
	moved := r.f["plan_copies"]
	if moved == 0 {
		moved = r.f["objects"]
	}
	for op, n := range counts {
		r.f["req/"+phase+"/"+op] = float64(n) / moved
	}
}

type planRun struct {
	wall, cpu                 time.Duration
	rss                       int64
	copies, rewrites, deletes int
	noChanges                 bool
	summary, out              string
	requests                  map[string]int64
}

var (
	// "Plan: C to copy, R rows (V values) to rewrite, D to delete." ("R rows" when each
	// row has one value; "V values" from a plan without row counts).
	planLine   = regexp.MustCompile(`(?m)^Plan: (\d+) to copy, (?:(\d+) rows?(?: \((\d+) values\))?|(\d+) values) to rewrite, (\d+) to delete\.`)
	noChanges  = regexp.MustCompile(`(?m)^No changes\.`)
	copiedLine = regexp.MustCompile(`(?m)^Copied (\d+) objects \((\d+) already in place\); rewrote (\d+) rows \((\d+) already rewritten\) in ([0-9.]+)s of database time\.`)
	deleteLine = regexp.MustCompile(`(?m)^Deleted (\d+) objects \((\d+) already gone\)\.`)
)

// plan runs r2plan plan (writing out when not empty) and parses its summary.
func (r *runner) plan(ctx context.Context, out string, env []string, extra ...string) (planRun, error) {
	args := []string{"plan", "--config", filepath.Join(r.root, "examples", "charhub.hcl")}
	if out != "" {
		args = append(args, "--out", out)
	}
	args = append(args, extra...)
	r.proxy.take()
	res, err := r.r2plan(ctx, env, args...)
	p := planRun{wall: res.wall, cpu: res.cpu, rss: res.rss, out: res.out}
	p.requests, _ = r.proxy.take()
	if err != nil {
		return p, err
	}
	if m := planLine.FindStringSubmatch(res.out); m != nil {
		p.copies, _ = strconv.Atoi(m[1])
		p.rewrites, _ = strconv.Atoi(cmp.Or(m[3], m[4], m[2])) // values
		p.deletes, _ = strconv.Atoi(m[5])
		p.summary = m[0]
	} else if m := noChanges.FindString(res.out); m != "" {
		p.noChanges, p.summary = true, m
	} else {
		return p, fmt.Errorf("no summary line in the plan's output:\n%s", res.out)
	}
	return p, nil
}

type applyRun struct {
	wall, busy, cpu            time.Duration
	rss                        int64
	copied, rewritten, deleted int
	rewriteTime                time.Duration // in rewrite transactions, as apply reports it
	inflight                   float64       // mean requests in flight while any was
	throttled                  int64         // 429 and 503 answers
	out                        string
	requests                   map[string]int64
}

// apply runs r2plan apply of planFile and parses what it did.
func (r *runner) apply(ctx context.Context, planFile string, env []string) (applyRun, error) {
	r.proxy.take()
	res, err := r.r2plan(ctx, env, "apply", "--config", filepath.Join(r.root, "examples", "charhub.hcl"),
		"--parallelism", strconv.Itoa(r.o.Parallelism), "--batch-size", "1000", planFile)
	a := applyRun{wall: res.wall, cpu: res.cpu, rss: res.rss, out: res.out}
	a.requests, a.busy = r.proxy.take()
	a.inflight, a.throttled = r.proxy.lastMean, r.proxy.lastThrott
	if err != nil {
		return a, err
	}
	if m := copiedLine.FindStringSubmatch(res.out); m != nil {
		a.copied, _ = strconv.Atoi(m[1])
		a.rewritten, _ = strconv.Atoi(m[3])
		secs, _ := strconv.ParseFloat(m[5], 64)
		a.rewriteTime = time.Duration(secs * float64(time.Second))
	} else {
		return a, fmt.Errorf("no \"Copied …\" line in apply's output:\n%s", res.out)
	}
	if m := deleteLine.FindStringSubmatch(res.out); m != nil {
		a.deleted, _ = strconv.Atoi(m[1])
	}
	return a, nil
}

type childRun struct {
	wall time.Duration
	cpu  time.Duration // user + system
	rss  int64         // peak, bytes
	out  string
}

// r2plan runs the binary with the bench's environment plus env, and returns its wall
// time, peak RSS and combined output. A non-zero exit is an error.
func (r *runner) r2plan(ctx context.Context, env []string, args ...string) (childRun, error) {
	return r.r2planFor(ctx, 0, env, args...)
}

// r2planFor is r2plan that, when interruptAfter is set, sends the child a Ctrl-C
// (SIGINT) after that long; its exit status then does not count as an error.
func (r *runner) r2planFor(ctx context.Context, interruptAfter time.Duration, env []string, args ...string) (childRun, error) {
	cmd := exec.CommandContext(ctx, r.o.R2plan, args...)
	if r.o.PerfDir != "" && (args[0] == "apply" || args[0] == "plan") {
		r.perfN++
		out := filepath.Join(r.o.PerfDir, fmt.Sprintf("%02d-%s.perf.data", r.perfN, args[0]))
		cmd = exec.CommandContext(ctx, "perf", append([]string{"record", "-F", "499", "-g", "-q", "-o", out, "--", r.o.R2plan}, args...)...)
	}
	cmd.Env = append(slices.Clone(r.env), env...)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	err := cmd.Start()
	var rss int64
	if err == nil {
		if interruptAfter > 0 {
			t := time.AfterFunc(interruptAfter, func() { cmd.Process.Signal(os.Interrupt) })
			defer t.Stop()
		}
		stop := make(chan struct{})
		watched := make(chan int64)
		go func() { watched <- watchPeakRSS(cmd.Process.Pid, stop) }()
		err = cmd.Wait()
		close(stop)
		rss = <-watched
		if interruptAfter > 0 && time.Since(start) >= interruptAfter && ctx.Err() == nil {
			err = nil
		}
	}
	res := childRun{wall: time.Since(start), out: buf.String(), rss: rss}
	if cmd.ProcessState != nil {
		res.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	if err != nil {
		return res, fmt.Errorf("r2plan %s: %w\n%s", args[0], err, res.out)
	}
	return res, nil
}

// watchPeakRSS reads the process's peak RSS (VmHWM, which /proc keeps for its current
// program) every 20 ms until stop closes, and returns the last reading. The rusage of a
// waited-for child is no good here: Linux carries the parent's peak into the child's
// ru_maxrss when it execs, so the bench's own memory would show as r2plan's.
func watchPeakRSS(pid int, stop <-chan struct{}) int64 {
	path := fmt.Sprintf("/proc/%d/status", pid)
	var peak int64
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		if b, err := os.ReadFile(path); err == nil {
			for line := range strings.SplitSeq(string(b), "\n") {
				if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
					if kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64); err == nil {
						peak = max(peak, kb*1024)
					}
				}
			}
		}
		select {
		case <-stop:
			return peak
		case <-t.C:
		}
	}
}

// rclone moves bucket src to dst/dev through the proxy, with extra flags, and returns
// its wall time; the requests it sent per object go under "req/rclone/".
func (r *runner) rclone(ctx context.Context, srv *testenv.S3Server, objs []object, src, dst string, extra ...string) (time.Duration, error) {
	args := append([]string{"move", "bench:" + src, "bench:" + dst + "/dev",
		"--transfers", strconv.Itoa(r.o.Parallelism), "--checkers", strconv.Itoa(r.o.Parallelism),
		"--s3-no-check-bucket", "--s3-disable-checksum", "--retries", "1", "--low-level-retries", "3",
		"--stats", "0", "--log-level", "ERROR"}, extra...)
	cmd := exec.CommandContext(ctx, "rclone", args...)
	var environ []string
	for _, kv := range os.Environ() {
		// rclone's AWS SDK refuses an AWS_CA_BUNDLE with its own transport; loopback
		// HTTP needs none of AWS_*.
		if !strings.HasPrefix(kv, "AWS_") && !strings.HasPrefix(kv, "RCLONE_") {
			environ = append(environ, kv)
		}
	}
	cmd.Env = append(environ,
		"RCLONE_CONFIG=/dev/null",
		"RCLONE_CONFIG_BENCH_TYPE=s3",
		"RCLONE_CONFIG_BENCH_PROVIDER=Other",
		"RCLONE_CONFIG_BENCH_ENDPOINT="+r.proxy.Endpoint,
		"RCLONE_CONFIG_BENCH_REGION=auto",
		"RCLONE_CONFIG_BENCH_ACCESS_KEY_ID="+srv.AccessKey,
		"RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY="+srv.SecretKey,
		"RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE=true",
	)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	cmd.WaitDelay = 5 * time.Second
	r.proxy.take()
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	counts, _ := r.proxy.take()
	if err != nil {
		return wall, fmt.Errorf("rclone move: %w\n%s", err, buf.String())
	}
	if got := counts["CopyObject"]; got < int64(len(objs)) {
		return wall, fmt.Errorf("rclone sent %d CopyObject for %d objects:\n%s", got, len(objs), buf.String())
	}
	for op, n := range counts {
		r.f["req/rclone/"+op] = float64(n) / float64(len(objs))
	}
	return wall, nil
}

// versions names every moving part.
func (r *runner) versions(ctx context.Context, db *sqldb.DB) []string {
	run := func(dir string, name string, args ...string) string {
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Dir = dir
		out, err := cmd.Output()
		if err != nil {
			return "unknown (" + err.Error() + ")"
		}
		line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
		return line
	}
	v := []string{
		"go: " + run(r.root, "go", "version"),
		"r2plan: " + run(r.root, r.o.R2plan, "version"),
		"versitygw: " + run(r.root, "go", "list", "-m", "github.com/versity/versitygw"),
		"aws-sdk-go-v2/service/s3: " + run(r.root, "go", "list", "-m", "github.com/aws/aws-sdk-go-v2/service/s3"),
	}
	var pgv string
	if err := db.Bun().QueryRowContext(ctx, "SELECT version()").Scan(&pgv); err != nil {
		pgv = "unknown (" + err.Error() + ")"
	}
	v = append(v, "PostgreSQL: "+pgv)
	if r.o.Rclone {
		v = append(v, "rclone: "+run(r.root, "rclone", "version"))
	}
	return v
}

// machine describes the machine the bench runs on.
func machine() []string {
	m := []string{fmt.Sprintf("cores (nproc): %d, GOMAXPROCS: %d, %s/%s", runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH)}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		line, _, _ := strings.Cut(string(b), "\n")
		f := strings.Fields(line)
		if len(f) >= 2 {
			if kb, err := strconv.ParseFloat(f[1], 64); err == nil {
				m = append(m, fmt.Sprintf("memory: %.1f GiB", kb/(1<<20)))
			}
		}
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m = append(m, "cpu: "+strings.TrimSpace(v))
				break
			}
		}
	}
	return m
}

// moduleRoot finds the directory of the enclosing go.mod.
func moduleRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if d == filepath.Dir(d) {
			return "", errors.New("bench: no go.mod above " + wd + " (run it inside the r2plan module)")
		}
	}
}
