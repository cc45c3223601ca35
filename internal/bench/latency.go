package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"

	"github.com/r2plan/r2plan/config"
)

// Latency is the latency mode's fixed delays: R2's regime, where every request takes
// tens to hundreds of milliseconds and the server's CPU is not the limit.
type Latency struct {
	List time.Duration // each ListObjectsV2
	Op   time.Duration // each other request
}

// ParseLatency reads BENCH_LATENCY: "list:300ms,op:60ms" (either part may be left out).
func ParseLatency(s string) (*Latency, error) {
	l := &Latency{}
	for part := range strings.SplitSeq(s, ",") {
		name, v, ok := strings.Cut(strings.TrimSpace(part), ":")
		d, err := time.ParseDuration(v)
		if !ok || err != nil || d < 0 {
			return nil, fmt.Errorf("BENCH_LATENCY: %q is not name:duration (list:300ms,op:60ms)", part)
		}
		switch name {
		case "list":
			l.List = d
		case "op":
			l.Op = d
		default:
			return nil, fmt.Errorf("BENCH_LATENCY: unknown request kind %q (list, op)", name)
		}
	}
	return l, nil
}

func (l *Latency) String() string { return fmt.Sprintf("list:%v,op:%v", l.List, l.Op) }

// runLatency is one run of the latency mode: the objects and rows seeded on loopback,
// then, with the proxy's delays on, a sequential raw listing, r2plan's whole life
// (plan, apply, plan after the grace period, deletion apply) with default settings but
// the copy cap, raw CopyObject at that cap and at the level apply's copies reached, and
// rclone move with and without --fast-list.
func (r *runner) runLatency(ctx context.Context) error {
	o := r.o
	st, err := r.setUp(ctx)
	if err != nil {
		return err
	}
	defer st.close()
	dir, srv, proxy, direct, viaProxy, db := st.dir, st.sv.s3, st.sv.proxy, st.direct, st.viaProxy, st.db
	objs := dataset(o.N)
	buckets := []string{bucketName, "bench-raw"}
	if o.Rclone {
		buckets = append(buckets, "bench-rclone-src", "bench-rclone-dst", "bench-rclone-fl-src", "bench-rclone-fl-dst")
	}
	if err := r.phase(ctx, "seed", func(ctx context.Context) error {
		for _, b := range buckets {
			if _, err := direct.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
				return fmt.Errorf("create bucket %s: %w", b, err)
			}
		}
		if err := loadSchema(ctx, db.Bun(), r.root); err != nil {
			return err
		}
		if err := insertRows(ctx, db.Bun(), objs); err != nil {
			return err
		}
		for _, b := range buckets {
			if !strings.HasSuffix(b, "-dst") {
				if err := putAll(ctx, direct, b, objs, o.Parallelism); err != nil {
					return err
				}
			}
		}
		return nil
	}); err != nil {
		return err
	}
	r.f["objects"] = float64(o.N)
	r.f["cores"] = float64(runtime.NumCPU())
	r.f["latency_list_s"], r.f["latency_op_s"] = o.Latency.List.Seconds(), o.Latency.Op.Seconds()
	proxy.setDelays(o.Latency.List, o.Latency.Op)
	defer proxy.setDelays(0, 0)

	if err := r.phase(ctx, "raw ListObjectsV2 (sequential)", func(ctx context.Context) error {
		got, d, err := rawList(ctx, viaProxy, bucketName)
		if err == nil && got != o.N {
			err = fmt.Errorf("listed %d keys, seeded %d", got, o.N)
		}
		r.f["raw_list_s"] = d.Seconds()
		return err
	}); err != nil {
		return err
	}
	pages := math.Ceil(float64(o.N) / 1000)
	workers := float64(config.DefaultListConcurrency)
	r.f["list_pages"], r.f["list_workers"] = pages, workers
	r.f["list_ideal_s"] = math.Ceil(pages/workers) * o.Latency.List.Seconds()

	life := 0.0
	movePlan := filepath.Join(dir, "move.plan")
	var mp planRun
	cpu := markCPU(srv.Pid())
	if err := r.phase(ctx, "r2plan plan", func(ctx context.Context) error {
		mp, err = r.plan(ctx, movePlan, nil)
		if err == nil && mp.copies == 0 {
			err = fmt.Errorf("the plan copies nothing:\n%s", mp.out)
		}
		return err
	}); err != nil {
		return err
	}
	cpu.since().record(r.f, "plan")
	r.f["plan_wall_s"], r.f["plan_copies"] = mp.wall.Seconds(), float64(mp.copies)
	r.f["plan_cpu_s"] = mp.cpu.Seconds()
	r.requests("plan", mp.requests)
	life += mp.wall.Seconds()

	var ap applyRun
	cpu = markCPU(srv.Pid())
	if err := r.phase(ctx, "r2plan apply", func(ctx context.Context) error {
		ap, err = r.apply(ctx, movePlan, nil)
		if err == nil && ap.copied != mp.copies {
			err = fmt.Errorf("copied %d objects, the plan had %d:\n%s", ap.copied, mp.copies, ap.out)
		}
		return err
	}); err != nil {
		return err
	}
	cpu.since().record(r.f, "apply")
	r.f["apply_wall_s"], r.f["apply_cpu_s"] = ap.wall.Seconds(), ap.cpu.Seconds()
	r.f["apply_copy_obj_s"] = float64(ap.copied) / ap.busy.Seconds()
	r.f["apply_inflight"] = ap.inflight
	r.f["apply_throttled"] = float64(ap.throttled)
	r.requests("apply", ap.requests)
	life += ap.wall.Seconds()
	applied := time.Now()

	level := max(1, int(math.Round(ap.inflight)))
	r.f["apply_level"] = float64(level)
	if err := r.phase(ctx, "raw CopyObject (cap)", func(ctx context.Context) error {
		d, err := rawCopy(ctx, viaProxy, "bench-raw", objs, o.Parallelism)
		r.f["raw_copy_obj_s"] = float64(len(objs)) / d.Seconds()
		return err
	}); err != nil {
		return err
	}
	if err := r.phase(ctx, fmt.Sprintf("raw CopyObject (%d)", level), func(ctx context.Context) error {
		d, err := rawCopy(ctx, viaProxy, "bench-raw", objs, level)
		r.f["raw_copy_level_obj_s"] = float64(len(objs)) / d.Seconds()
		return err
	}); err != nil {
		return err
	}

	grace := []string{"R2_GRACE_PERIOD=1s"}
	if d := time.Until(applied.Add(1500 * time.Millisecond)); d > 0 {
		time.Sleep(d)
	}
	delPlan := filepath.Join(dir, "delete.plan")
	var dp planRun
	cpu = markCPU(srv.Pid())
	if err := r.phase(ctx, "r2plan plan (after grace)", func(ctx context.Context) error {
		dp, err = r.plan(ctx, delPlan, grace, "--max-delete", strconv.Itoa(2*o.N+10))
		if err == nil && dp.deletes == 0 {
			err = fmt.Errorf("the plan after the grace period deletes nothing:\n%s", dp.out)
		}
		return err
	}); err != nil {
		return err
	}
	cpu.since().record(r.f, "delplan")
	r.f["delplan_wall_s"], r.f["delplan_cpu_s"] = dp.wall.Seconds(), dp.cpu.Seconds()
	life += dp.wall.Seconds()
	var da applyRun
	cpu = markCPU(srv.Pid())
	if err := r.phase(ctx, "r2plan apply (deletions)", func(ctx context.Context) error {
		da, err = r.apply(ctx, delPlan, grace)
		if err == nil && da.deleted != dp.deletes {
			err = fmt.Errorf("deleted %d objects, the plan had %d:\n%s", da.deleted, dp.deletes, da.out)
		}
		return err
	}); err != nil {
		return err
	}
	cpu.since().record(r.f, "delete")
	r.f["delete_wall_s"], r.f["delete_cpu_s"] = da.wall.Seconds(), da.cpu.Seconds()
	life += da.wall.Seconds()
	r.f["life_s"] = life

	if o.Rclone {
		if err := r.phase(ctx, "rclone move", func(ctx context.Context) error {
			wall, err := r.rclone(ctx, srv, objs, "bench-rclone-src", "bench-rclone-dst")
			r.f["rclone_wall_s"] = wall.Seconds()
			return err
		}); err != nil {
			return err
		}
		if err := r.phase(ctx, "rclone move --fast-list", func(ctx context.Context) error {
			wall, err := r.rclone(ctx, srv, objs, "bench-rclone-fl-src", "bench-rclone-fl-dst", "--fast-list")
			r.f["rclone_fastlist_wall_s"] = wall.Seconds()
			return err
		}); err != nil {
			return err
		}
	}
	return nil
}

// PrintLatency writes the latency mode's table.
func (rep *Report) PrintLatency(w io.Writer) {
	f := rep.Median()
	o := rep.Options
	runs := "1 run"
	if len(rep.Runs) > 1 {
		runs = fmt.Sprintf("median of %d runs", len(rep.Runs))
	}
	fmt.Fprintf(w, "\nr2plan bench, latency mode (%v at the proxy): %d objects, copy cap %d, %s\n", o.Latency, o.N, o.Parallelism, runs)
	for _, l := range append(rep.Machine, rep.Versions...) {
		fmt.Fprintln(w, "  "+l)
	}
	fmt.Fprintln(w)
	t := tablewriter.NewTable(w, tablewriter.WithHeaderAutoFormat(tw.Off))
	t.Header("figure", "value", "against", "ratio", "target", "met")
	has := func(k string) bool { v, ok := f[k]; return ok && v > 0 }
	secs := func(k string) string {
		if !has(k) {
			return "-"
		}
		return fmt.Sprintf("%.2f s", f[k])
	}
	rate := func(k string) string {
		if !has(k) {
			return "-"
		}
		return fmt.Sprintf("%.0f obj/s", f[k])
	}
	ratio := func(a, b string) (string, float64) {
		if !has(a) || !has(b) {
			return "-", 0
		}
		x := f[a] / f[b]
		return fmt.Sprintf("%.2f", x), x
	}
	met := func(ok bool) string {
		if ok {
			return "✔"
		}
		return "✘"
	}
	r, x := ratio("plan_wall_s", "raw_list_s")
	t.Append("r2plan plan, wall", secs("plan_wall_s"), "sequential ListObjectsV2 "+secs("raw_list_s"), r, "≤ 0.25", met(x > 0 && x <= 0.25))
	r, _ = ratio("plan_wall_s", "list_ideal_s")
	t.Append("", "", fmt.Sprintf("ideal: %.0f pages ÷ %.0f workers × list latency = %s", f["list_pages"], f["list_workers"], secs("list_ideal_s")), r, "", "")
	// What the same work cannot go below on this machine, where the server shares the
	// cores: every process's CPU time during the phase over the cores.
	floor := func(phase string) (string, bool) {
		busy, cores := f[phase+"_busy_s"], f["cores"]
		if !has(phase+"_busy_s") || cores <= 0 {
			return "", false
		}
		return fmt.Sprintf("CPU floor here: %.2f s = %.2f s busy ÷ %.0f cores (versitygw %.2f s, r2plan %.2f s; %.0f %% busy)",
			busy/cores, busy, cores, f[phase+"_server_cpu_s"], f[phase+"_cpu_s"], 100*busy/(cores*f[phase+"_wall_s"])), true
	}
	if line, ok := floor("plan"); ok {
		r = "-"
		if has("raw_list_s") {
			r = fmt.Sprintf("%.2f", f["plan_busy_s"]/f["cores"]/f["raw_list_s"])
		}
		t.Append("", "", line, r, "", "")
	}
	t.Append("raw CopyObject at the cap", rate("raw_copy_obj_s"), fmt.Sprintf("%d in flight", o.Parallelism), "", "", "")
	t.Append("raw CopyObject at apply's level", rate("raw_copy_level_obj_s"), fmt.Sprintf("%.0f in flight (apply's mean)", f["apply_level"]), "", "", "")
	r, x = ratio("apply_copy_obj_s", "raw_copy_level_obj_s")
	t.Append("r2plan apply, copy phase", rate("apply_copy_obj_s"), "raw CopyObject at apply's level", r, "≥ 0.9", met(x >= 0.9))
	r, _ = ratio("apply_copy_obj_s", "raw_copy_obj_s")
	t.Append("", "", "raw CopyObject at the cap", r, "", "")
	t.Append("r2plan apply, throttling answers", fmt.Sprintf("%.0f", f["apply_throttled"]), "", "", "0", met(f["apply_throttled"] == 0))
	t.Append("r2plan apply, wall", secs("apply_wall_s"), "", "", "", "")
	if line, ok := floor("apply"); ok {
		t.Append("", "", line, "", "", "")
	}
	t.Append("r2plan plan after the grace period", secs("delplan_wall_s"), "", "", "", "")
	if line, ok := floor("delplan"); ok {
		t.Append("", "", line, "", "", "")
	}
	t.Append("r2plan apply, deletions", secs("delete_wall_s"), "", "", "", "")
	if line, ok := floor("delete"); ok {
		t.Append("", "", line, "", "", "")
	}
	t.Append("whole life (plan, apply, plan, apply)", secs("life_s"), "", "", "", "")
	lifeFloor := 0.0
	for _, phase := range []string{"plan", "apply", "delplan", "delete"} {
		if f["cores"] > 0 {
			lifeFloor += f[phase+"_busy_s"] / f["cores"]
		}
	}
	if lifeFloor > 0 {
		t.Append("", "", fmt.Sprintf("CPU floor here: %.2f s, the four steps' floors", lifeFloor), "", "", "")
	}
	if has("rclone_wall_s") {
		r, _ = ratio("rclone_wall_s", "life_s")
		t.Append("", "", "rclone move "+secs("rclone_wall_s"), r+"× faster", "", "")
		r, x = ratio("rclone_fastlist_wall_s", "life_s")
		t.Append("", "", "rclone move --fast-list "+secs("rclone_fastlist_wall_s"), r+"× faster", "≥ 4×", met(x >= 4))
	}
	t.Render()
}
