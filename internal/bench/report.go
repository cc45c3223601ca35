package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"
)

// derive adds the figures computed from others: the lifecycles and the plan ceiling.
func derive(f Figures) {
	if f["raw_list_s"] > 0 && f["raw_scan_s"] > 0 {
		f["plan_ceiling_s"] = f["raw_list_s"] + f["raw_scan_s"]
		// After apply the bucket holds the copies too: twice the keys to list.
		f["replan_ceiling_s"] = 2*f["raw_list_s"] + f["raw_scan_s"]
	}
	if copies, w := f["plan_copies"], f["apply_wall_s"]+f["delete_wall_s"]; copies > 0 && w > 0 && f["delete_wall_s"] > 0 {
		f["lifecycle_obj_s"] = copies / w
	}
	if f["rclone_wall_s"] > 0 && f["raw_perrow_rows_s"] > 0 {
		// One row per object: the script's UPDATEs, extrapolated from the sample.
		f["peer_rows_s"] = f["objects"] / f["raw_perrow_rows_s"]
		f["peer_obj_s"] = f["objects"] / (f["rclone_wall_s"] + f["peer_rows_s"])
	}
}

// Median is the median of each figure over the runs.
func (rep *Report) Median() Figures {
	all := map[string][]float64{}
	for _, f := range rep.Runs {
		derive(f)
		for k, v := range f {
			all[k] = append(all[k], v)
		}
	}
	m := Figures{}
	for k, vs := range all {
		slices.Sort(vs)
		n := len(vs)
		if n%2 == 1 {
			m[k] = vs[n/2]
		} else {
			m[k] = (vs[n/2-1] + vs[n/2]) / 2
		}
	}
	return m
}

// Print writes the machine, the versions, the figures table, the requests per moved
// object and the 10-million-object R2 estimate.
func (rep *Report) Print(w io.Writer) {
	f := rep.Median()
	o := rep.Options
	runs := "1 run"
	if len(rep.Runs) > 1 {
		runs = fmt.Sprintf("median of %d runs", len(rep.Runs))
	}
	fmt.Fprintf(w, "\nr2plan bench: %d objects of 1-4 KiB (1 in 50 awkward keys), parallelism %d, %s\n", o.N, o.Parallelism, runs)
	for _, l := range rep.Machine {
		fmt.Fprintln(w, "  "+l)
	}
	for _, l := range rep.Versions {
		fmt.Fprintln(w, "  "+l)
	}
	fmt.Fprintln(w, "  every S3 request (raw, r2plan, rclone) passes the same counting proxy on 127.0.0.1")
	fmt.Fprintln(w)

	t := tablewriter.NewTable(w, tablewriter.WithHeaderAutoFormat(tw.Off))
	t.Header("figure", "value", "ceiling / peer", "ratio", "target", "met")
	row := func(name, value, ceiling, ratio, target, met string) {
		t.Append(name, value, ceiling, ratio, target, met)
	}
	has := func(k string) bool { _, ok := f[k]; return ok }
	rate := func(k, unit string) string {
		if !has(k) {
			return "-"
		}
		return fmt.Sprintf("%s %s", human(f[k]), unit)
	}
	secs := func(k string) string {
		if !has(k) {
			return "-"
		}
		return fmt.Sprintf("%.2f s", f[k])
	}
	ratio := func(num, den string, target float64, atLeast bool) (string, string, string) {
		if !has(num) || !has(den) || f[den] == 0 {
			return "-", targetText(target, atLeast), "-"
		}
		r := f[num] / f[den]
		met := "yes"
		if atLeast && r < target || !atLeast && r > target {
			met = "NO"
		}
		return fmt.Sprintf("%.2f", r), targetText(target, atLeast), met
	}

	row("raw ListObjectsV2, sequential", rate("raw_list_keys_s", "keys/s"), "", "", "", "")
	row("raw scan of the reference columns", rate("raw_scan_rows_s", "rows/s"), "", "", "", "")
	row(fmt.Sprintf("raw CopyObject, %d in flight", o.Parallelism), rate("raw_copy_obj_s", "obj/s"), "", "", "", "")
	row("raw DeleteObjects, 1000 keys, 8 in flight", rate("raw_delete_keys_s", "keys/s"), "", "", "", "")
	row("raw checked DeleteObjects (2 keys listed each)", rate("raw_checked_delete_keys_s", "keys/s"), "", "", "", "")
	row("raw set-based UPDATE, one per column", rate("raw_update_values_s", "values/s"), "", "", "", "")

	r, tg, met := ratio("plan_wall_s", "plan_ceiling_s", 1.3, false)
	row("r2plan plan, wall", secs("plan_wall_s")+", "+secs("plan_cpu_s")+" CPU", "list+scan "+secs("plan_ceiling_s"), r, tg, met)
	r, _, _ = ratio("plan_par_wall_s", "plan_ceiling_s", 1.3, false)
	row("r2plan plan, wall, list_concurrency = 8", secs("plan_par_wall_s"), "list+scan "+secs("plan_ceiling_s"), r, "", "")
	row("r2plan plan, peak RSS", mib(f["plan_rss"]), fmt.Sprintf("%s at N/4", mib(f["plan_small_rss"])), "", "", "")
	slope, slopeMet := "-", "-"
	if has("plan_rss_slope") {
		slope = fmt.Sprintf("%.0f B/object", f["plan_rss_slope"])
		slopeMet = yesNo(f["plan_rss_slope"] <= 300)
	}
	row("r2plan plan, RSS slope (N/4 to N)", slope, "", "", "<= 300 B", slopeMet)
	row("r2plan apply, whole (copy+rewrite)", rate("apply_obj_s", "obj/s"),
		fmt.Sprintf("%s wall, %s CPU, %s S3-busy", secs("apply_wall_s"), secs("apply_cpu_s"), secs("apply_s3_busy_s")), "", "", "")
	r, tg, met = ratio("apply_copy_obj_s", "raw_copy_obj_s", 0.9, true)
	row("r2plan apply, copy phase (S3-busy time)", rate("apply_copy_obj_s", "obj/s"), "raw CopyObject", r, tg, met)
	r, _, _ = ratio("apply_rewrite_values_s", "raw_update_values_s", 0.9, true)
	row("r2plan apply, rewrites beside the copies", rate("apply_rewrite_values_s", "values/s"), "set-based UPDATE", r, "", "")
	r, tg, met = ratio("alone_rewrite_values_s", "raw_update_values_s", 0.9, true)
	row("r2plan apply, rewrites alone", rate("alone_rewrite_values_s", "values/s"), "set-based UPDATE", r, tg, met)
	row("r2plan apply, peak RSS", mib(f["apply_rss"]), "", "", "< 512 MiB", yesNo(f["apply_rss"] < 512<<20))
	if rep.DeletionAvailable {
		r, tg, met = ratio("delete_keys_s", "raw_delete_keys_s", 0.9, true)
		row("r2plan apply, deletions after grace", rate("delete_keys_s", "keys/s"), "raw DeleteObjects", r, tg, met)
		r, _, _ = ratio("delete_keys_s", "raw_checked_delete_keys_s", 0.9, true)
		row("  the same, against the checked ceiling", rate("delete_keys_s", "keys/s"), "raw checked DeleteObjects", r, "", "")
		row("  deletion apply: wall, CPU, S3-busy", secs("delete_wall_s"), fmt.Sprintf("%s CPU, %s S3-busy", secs("delete_cpu_s"), secs("delete_s3_busy_s")), "", "", "")
	} else {
		row("r2plan apply, deletions after grace", "deletion phase: not available in this build", "", "", ">= 0.90", "-")
	}
	r, _, _ = ratio("replan_wall_s", "replan_ceiling_s", 0, false)
	row("r2plan re-plan after apply (2N keys), wall", secs("replan_wall_s"), "2×list+scan "+secs("replan_ceiling_s"), r, "", "")
	if o.Rclone {
		row("peer: rclone move, 32/32", rate("rclone_obj_s", "obj/s"), "raw CopyObject", ratioText(f, "rclone_obj_s", "raw_copy_obj_s"), "", "")
	}
	row(fmt.Sprintf("peer: one UPDATE per row (sample of %.0f)", f["raw_perrow_rows"]), rate("raw_perrow_rows_s", "rows/s"), "extrapolated to N rows", "", "", "")
	if o.Rclone && rep.DeletionAvailable {
		r, tg, met = ratio("lifecycle_obj_s", "peer_obj_s", 1.8, true)
		row("lifecycle: r2plan copy+rewrite+delete", rate("lifecycle_obj_s", "obj/s"),
			"rclone move + per-row: "+rate("peer_obj_s", "obj/s"), r, tg, met)
	} else {
		row("lifecycle: r2plan copy+rewrite+delete", rate("lifecycle_obj_s", "obj/s"), "no peer", "", ">= 1.80", "-")
	}
	t.Render()

	rep.printRequests(w, f)
	for _, n := range rep.Notes {
		fmt.Fprintln(w, "note: "+n)
	}
	if !rep.DeletionAvailable {
		fmt.Fprintln(w, "note: deletion phase: not available in this build (the plan after the grace period proposed no deletion)")
	}
	fmt.Fprintln(w, "note: copy phase = copies / time with an S3 request in flight during apply (seen at the proxy);")
	fmt.Fprintln(w, "      rewrites = rows rewritten / the time apply spent in rewrite transactions (the rows and their journal);")
	fmt.Fprintln(w, "      alone = the same plan applied again after its rows were put back, its copies all in place.")
	fmt.Fprintln(w, "note: checked DeleteObjects lists each key and its copy before deleting, as any re-checked deletion must;")
	fmt.Fprintln(w, "      r2plan's deletion apply does that and reads the reference tables.")
	fmt.Fprintln(w, "note: the per-row peer is measured on a sample and extrapolated to one UPDATE per object's row.")
	fmt.Fprintln(w, "note: a million objects and rows (plan memory and wall time, apply memory): make bench-scale.")
	rep.PrintDiscover(w)
}

// printRequests prints requests per moved object, r2plan's lifecycle beside rclone's,
// and what 10 million objects would cost on R2.
func (rep *Report) printRequests(w io.Writer, f Figures) {
	phases := []string{"plan", "apply", "replan", "delplan", "delapply"}
	ops := map[string]bool{}
	for k := range f {
		if rest, ok := strings.CutPrefix(k, "req/"); ok {
			_, op, _ := strings.Cut(rest, "/")
			ops[op] = true
		}
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for op := range ops {
			if !yield(op) {
				return
			}
		}
	})
	fmt.Fprintln(w, "\nRequests per moved object (lifecycle = plan + apply + plan after grace + deletion apply):")
	t := tablewriter.NewTable(w, tablewriter.WithHeaderAutoFormat(tw.Off))
	head := []any{"request", "R2 class"}
	for _, p := range phases {
		head = append(head, "r2plan "+p)
	}
	head = append(head, "r2plan lifecycle", "rclone move")
	t.Header(head...)
	lifecycle := func(op string) float64 {
		return f["req/plan/"+op] + f["req/apply/"+op] + f["req/delplan/"+op] + f["req/delapply/"+op]
	}
	var total, rtotal, classA, classB, rA, rB float64
	for _, op := range names {
		cells := []any{op, r2Class(op)}
		for _, p := range phases {
			cells = append(cells, fmt.Sprintf("%.3f", f["req/"+p+"/"+op]))
		}
		l, rc := lifecycle(op), f["req/rclone/"+op]
		rcText := "-"
		if rep.Options.Rclone {
			rcText = fmt.Sprintf("%.3f", rc)
		}
		cells = append(cells, fmt.Sprintf("%.3f", l), rcText)
		t.Append(cells...)
		total += l
		rtotal += rc
		switch r2Class(op) {
		case "A":
			classA += l
			rA += rc
		case "B":
			classB += l
			rB += rc
		}
	}
	foot := []any{"total", ""}
	for range phases {
		foot = append(foot, "")
	}
	rtotalText := "-"
	if rep.Options.Rclone {
		rtotalText = fmt.Sprintf("%.3f", rtotal)
	}
	foot = append(foot, fmt.Sprintf("%.3f", total), rtotalText)
	t.Append(foot...)
	t.Render()

	const objects = 10e6
	cost := func(a, b float64) float64 { return objects * (a*4.50 + b*0.36) / 1e6 }
	fmt.Fprintf(w, "\n10 million objects on R2 (Class A $4.50/M: CopyObject, ListObjectsV2, UploadPartCopy; Class B $0.36/M: HeadObject; deletes free):\n")
	fmt.Fprintf(w, "  r2plan lifecycle: %.2f Class A + %.2f Class B per object = %.1fM A + %.1fM B requests = $%.2f\n",
		classA, classB, objects*classA/1e6, objects*classB/1e6, cost(classA, classB))
	if rep.Options.Rclone {
		fmt.Fprintf(w, "  rclone move:      %.2f Class A + %.2f Class B per object = %.1fM A + %.1fM B requests = $%.2f (its row rewrites not included)\n",
			rA, rB, objects*rA/1e6, objects*rB/1e6, cost(rA, rB))
	}
}

func human(v float64) string {
	switch {
	case math.IsInf(v, 0) || math.IsNaN(v):
		return "-"
	case v >= 100:
		return commas(int64(math.Round(v)))
	default:
		return fmt.Sprintf("%.1f", v)
	}
}

func commas(n int64) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func mib(b float64) string { return fmt.Sprintf("%.1f MiB", b/(1<<20)) }

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "NO"
}

func targetText(t float64, atLeast bool) string {
	if t == 0 {
		return ""
	}
	if atLeast {
		return fmt.Sprintf(">= %.2f", t)
	}
	return fmt.Sprintf("<= %.2f", t)
}

func ratioText(f Figures, num, den string) string {
	if f[den] == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", f[num]/f[den])
}
