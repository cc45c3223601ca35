package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"
	"golang.org/x/sync/errgroup"

	"github.com/r2plan/r2plan/internal/testenv"
	"github.com/r2plan/r2plan/providers/sqldb"
)

// ScaleOptions configure the scale benchmark (`make bench-scale`).
type ScaleOptions struct {
	Options
	// ApplyFor bounds the apply of the big plan: it is interrupted (Ctrl-C) after this
	// long, which shows its memory while it streams the plan without waiting the quarter
	// of an hour a million copies take here.
	ApplyFor time.Duration
}

// Scale measures what the main benchmark cannot seed in time: plan of N objects (default
// one million) and as many rows, its peak RSS at N/4 and N and the slope between, its
// wall time against the raw listing and scan, and apply's peak RSS while it streams
// that plan. Objects are written straight into versitygw's directory (see
// testenv.WriteObject) with 64-byte bodies: PUTting a million would take ten minutes. Keys
// are sharded (see sharded).
func Scale(ctx context.Context, o ScaleOptions) (Figures, error) {
	if o.PhaseTimeout == 0 {
		o.PhaseTimeout = 30 * time.Minute
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	root, err := moduleRoot()
	if err != nil {
		return nil, err
	}
	if o.R2plan, err = filepath.Abs(o.R2plan); err != nil {
		return nil, err
	}
	r := &runner{o: o.Options, root: root, rep: &Report{}, f: Figures{}}
	dir, err := os.MkdirTemp("", "r2plan-bench-scale-")
	if err != nil {
		return nil, err
	}
	defer func() {
		r.logf("removing %s (a million files take minutes)", dir)
		os.RemoveAll(dir)
	}()
	sv, err := r.startServers(ctx, dir)
	if err != nil {
		return nil, err
	}
	defer sv.stop()
	db, err := sqldb.Open(ctx, sv.pg.URL)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	viaProxy := rawClient(sv.proxy.Endpoint, sv.s3.AccessKey, sv.s3.SecretKey, 2*o.Parallelism)

	objs := sharded(dataset(o.N))
	quarter := max(1, o.N/4)
	f := r.f
	f["objects"] = float64(o.N)
	seed := func(name string, part []object) error {
		return r.phase(ctx, name, func(ctx context.Context) error {
			if err := insertRows(ctx, db.Bun(), part); err != nil {
				return err
			}
			return writeAll(ctx, sv.s3, bucketName, part)
		})
	}
	if err := r.phase(ctx, "create bucket and tables", func(ctx context.Context) error {
		if _, err := viaProxy.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucketName)}); err != nil {
			return fmt.Errorf("create bucket %s: %w", bucketName, err)
		}
		return loadSchema(ctx, db.Bun(), root)
	}); err != nil {
		return f, err
	}
	if err := seed("seed (first quarter)", objs[:quarter]); err != nil {
		return f, err
	}
	small, err := r.plan(ctx, filepath.Join(dir, "small.plan"), nil)
	if err != nil {
		return f, err
	}
	f["plan_small_objects"], f["plan_small_rss"], f["plan_small_wall_s"] = float64(quarter), float64(small.rss), small.wall.Seconds()
	r.logf("plan of %d objects: %.1f s, %.0f MiB peak RSS", quarter, small.wall.Seconds(), float64(small.rss)/(1<<20))
	if err := seed("seed (rest)", objs[quarter:]); err != nil {
		return f, err
	}
	if err := r.listAndScan(ctx, viaProxy, db.Bun(), o.N); err != nil {
		return f, err
	}
	planFile := filepath.Join(dir, "big.plan")
	var big planRun
	if err := r.phase(ctx, "r2plan plan", func(ctx context.Context) error {
		big, err = r.plan(ctx, planFile, nil)
		if err == nil && big.copies != o.N {
			err = fmt.Errorf("the plan copies %d objects, not %d:\n%s", big.copies, o.N, big.out)
		}
		return err
	}); err != nil {
		return f, err
	}
	f["plan_wall_s"], f["plan_rss"], f["plan_cpu_s"] = big.wall.Seconds(), float64(big.rss), big.cpu.Seconds()
	f["plan_copies"], f["plan_rewrites"] = float64(big.copies), float64(big.rewrites)
	f["plan_rss_slope"] = (float64(big.rss) - float64(small.rss)) / float64(o.N-quarter)
	r.logf("plan of %d objects: %.1f s, %.0f MiB peak RSS (%.0f B/object from N/4)", o.N, big.wall.Seconds(), float64(big.rss)/(1<<20), f["plan_rss_slope"])
	if st, err := os.Stat(planFile); err == nil {
		f["plan_file_bytes"] = float64(st.Size())
	}
	if err := r.phase(ctx, "r2plan apply (interrupted)", func(ctx context.Context) error {
		res, err := r.r2planFor(ctx, o.ApplyFor, nil, "apply", "--config", filepath.Join(root, "examples", "charhub.hcl"),
			"--parallelism", strconv.Itoa(o.Parallelism), planFile)
		f["apply_rss"], f["apply_wall_s"] = float64(res.rss), res.wall.Seconds()
		r.logf("apply of that plan, interrupted: %.0f MiB peak RSS", float64(res.rss)/(1<<20))
		if m := copiedLine.FindStringSubmatch(res.out); m != nil {
			f["apply_copied"], _ = strconv.ParseFloat(m[1], 64)
		} else if err == nil {
			err = fmt.Errorf("no \"Copied …\" line in apply's output:\n%s", res.out)
		}
		return err
	}); err != nil {
		return f, err
	}
	return f, nil
}

// sharded puts a directory of a thousand after each key's first segment
// ("characters/417/c1417/avatars/…"): versitygw's posix backend reads a whole directory
// for every listing page, so a million subdirectories of characters/ would make its
// listing, and every figure measured against it, quadratic.
func sharded(objs []object) []object {
	for i := range objs {
		first, rest, _ := strings.Cut(objs[i].Key, "/")
		objs[i].Key = fmt.Sprintf("%s/%03d/%s", first, i%1000, rest)
	}
	return objs
}

// writeAll writes objs into the bucket's directory, 64 bytes each, with a few workers.
func writeAll(ctx context.Context, srv *testenv.S3Server, bucket string, objs []object) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	const batch = 1000
	for start := 0; start < len(objs); start += batch {
		part := objs[start:min(start+batch, len(objs))]
		g.Go(func() error {
			for _, o := range part {
				if err := ctx.Err(); err != nil {
					return err
				}
				body := make([]byte, 64)
				copy(body, o.Key)
				if err := srv.WriteObject(bucket, o.Key, body); err != nil {
					return fmt.Errorf("write %q: %w", o.Key, err)
				}
			}
			return nil
		})
	}
	return g.Wait()
}

// PrintScale writes the scale benchmark's table.
func PrintScale(w io.Writer, o ScaleOptions, machine, versions []string, f Figures) {
	fmt.Fprintf(w, "\nr2plan bench (scale): %d objects of 64 bytes written into versitygw's directory, %d rows\n", o.N, o.N)
	for _, l := range append(machine, versions...) {
		fmt.Fprintln(w, "  "+l)
	}
	fmt.Fprintln(w)
	mib := func(k string) string { return fmt.Sprintf("%.0f MiB", f[k]/(1<<20)) }
	met := func(ok bool) string {
		if ok {
			return "yes"
		}
		return "NO"
	}
	t := tablewriter.NewTable(w, tablewriter.WithHeaderAutoFormat(tw.Off))
	t.Header("figure", "value", "against", "ratio", "target", "met")
	t.Append("raw ListObjectsV2, sequential", human(f["raw_list_keys_s"])+" keys/s", fmt.Sprintf("%.1f s", f["raw_list_s"]), "", "", "")
	t.Append("raw scan of the reference columns", human(f["raw_scan_rows_s"])+" rows/s", fmt.Sprintf("%.1f s", f["raw_scan_s"]), "", "", "")
	ceiling := f["raw_list_s"] + f["raw_scan_s"]
	ratio := f["plan_wall_s"] / ceiling
	t.Append(fmt.Sprintf("r2plan plan, wall (%s objects, %s rewrites)", human(f["plan_copies"]), human(f["plan_rewrites"])),
		fmt.Sprintf("%.1f s, %.1f s CPU", f["plan_wall_s"], f["plan_cpu_s"]), fmt.Sprintf("list+scan %.1f s", ceiling),
		fmt.Sprintf("%.2f", ratio), "<= 1.30", met(ratio <= 1.3))
	t.Append(fmt.Sprintf("r2plan plan, peak RSS at N/4 (%s objects)", human(f["plan_small_objects"])), mib("plan_small_rss"), "", "", "", "")
	t.Append("r2plan plan, peak RSS at N", mib("plan_rss"), "", "", "< 512 MiB", met(f["plan_rss"] < 512<<20))
	t.Append("r2plan plan, RSS slope (N/4 to N)", fmt.Sprintf("%.0f B/object", f["plan_rss_slope"]), "", "", "<= 300 B", met(f["plan_rss_slope"] <= 300))
	t.Append("plan file", mib("plan_file_bytes"), "", "", "", "")
	t.Append(fmt.Sprintf("r2plan apply, peak RSS (interrupted after %.0f s, %s copied)", f["apply_wall_s"], human(f["apply_copied"])),
		mib("apply_rss"), "", "", "< 512 MiB", met(f["apply_rss"] < 512<<20))
	t.Render()
}
