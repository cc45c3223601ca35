package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBenchSmoke runs the whole benchmark on a few hundred objects, without rclone, so
// it cannot rot. It checks only that every phase ran and produced positive numbers and
// that the final re-plan says "No changes.": never timings.
func TestBenchSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts versitygw and PostgreSQL")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	bin := buildR2plan(ctx, t)
	var log bytes.Buffer
	rep, err := Bench(ctx, Options{N: 300, Runs: 1, Parallelism: 8, Sample: 50, R2plan: bin, Log: &log, PhaseTimeout: 5 * time.Minute, DiscoverRows: 2000})
	if err != nil {
		t.Fatalf("bench: %v\nlog:\n%s", err, log.String())
	}
	var out bytes.Buffer
	rep.Print(&out)
	t.Logf("\n%s", out.String())
	f := rep.Median()
	for _, k := range []string{
		"raw_list_keys_s", "raw_scan_rows_s", "raw_copy_obj_s", "raw_delete_keys_s", "raw_checked_delete_keys_s", "raw_update_values_s", "raw_perrow_rows_s",
		"plan_wall_s", "plan_par_wall_s", "plan_rss", "plan_small_rss", "plan_copies", "plan_rewrites",
		"apply_wall_s", "apply_obj_s", "apply_copy_obj_s", "apply_rewrite_values_s", "alone_rewrite_values_s",
		"replan_wall_s", "delplan_wall_s", "delete_keys_s", "final_replan_wall_s", "lifecycle_obj_s",
		"req/plan/ListObjectsV2", "req/apply/CopyObject", "req/delapply/DeleteObjects",
		"disc_raw_rows_s", "disc_rows_s", "disc_guard_plan_s", "disc_skip_plan_s", "disc_guard_deletes", "disc_guard_lat_plan_s", "disc_skip_lat_plan_s", "disc_guard_busy_s",
	} {
		if v, ok := f[k]; !ok || !(v > 0) {
			t.Errorf("figure %s = %v (present %v), want a positive number", k, v, ok)
		}
	}
	if f["plan_copies"] != 300 {
		t.Errorf("the plan copies %v objects, want 300", f["plan_copies"])
	}
	if !rep.DeletionAvailable {
		t.Errorf("the plan after the grace period proposed no deletion")
	}
	if rep.ReplanOutput != "No changes." {
		t.Errorf("final re-plan says %q, want \"No changes.\"", rep.ReplanOutput)
	}
	if f["disc_rows"] != 2000 {
		t.Errorf("the discovery section read %v rows, want 2000", f["disc_rows"])
	}
	if !strings.Contains(out.String(), "deletion plan with the guard") {
		t.Errorf("the report lacks the discovery section:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "r2plan apply, copy phase") {
		t.Errorf("the table lacks the copy phase row:\n%s", out.String())
	}
}

// TestScaleSmoke runs the scale benchmark (make bench-scale) on a few hundred objects.
func TestScaleSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts versitygw and PostgreSQL")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var log bytes.Buffer
	o := ScaleOptions{Options: Options{N: 400, Parallelism: 8, R2plan: buildR2plan(ctx, t), Log: &log}, ApplyFor: time.Second}
	f, err := Scale(ctx, o)
	if err != nil {
		t.Fatalf("scale: %v\nlog:\n%s", err, log.String())
	}
	var out bytes.Buffer
	PrintScale(&out, o, machine(), nil, f)
	t.Logf("\n%s", out.String())
	for _, k := range []string{"raw_list_keys_s", "plan_wall_s", "plan_rss", "plan_small_rss", "plan_file_bytes", "apply_rss"} {
		if v := f[k]; !(v > 0) {
			t.Errorf("figure %s = %v, want a positive number", k, v)
		}
	}
	if f["plan_copies"] != 400 {
		t.Errorf("the plan copies %v objects, want 400", f["plan_copies"])
	}
}

// buildR2plan builds the r2plan binary into a temporary directory.
func buildR2plan(ctx context.Context, t *testing.T) string {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "r2plan")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/r2plan")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/r2plan: %v\n%s", err, out)
	}
	return bin
}

// TestBenchLatencySmoke runs the latency mode on a few hundred objects with small
// delays, without rclone: every figure present and positive, never a timing.
func TestBenchLatencySmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts versitygw and PostgreSQL")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	bin := buildR2plan(ctx, t)
	lat, err := ParseLatency("list:20ms,op:5ms")
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	rep, err := Bench(ctx, Options{N: 2500, Runs: 1, Parallelism: 16, R2plan: bin, Log: &log, PhaseTimeout: 5 * time.Minute, Latency: lat})
	if err != nil {
		t.Fatalf("bench: %v\nlog:\n%s", err, log.String())
	}
	var out bytes.Buffer
	rep.PrintLatency(&out)
	t.Logf("\n%s", out.String())
	f := rep.Median()
	for _, k := range []string{
		"raw_list_s", "list_ideal_s", "plan_wall_s", "apply_wall_s", "apply_copy_obj_s", "apply_inflight",
		"raw_copy_obj_s", "raw_copy_level_obj_s", "delplan_wall_s", "delete_wall_s", "life_s",
		"plan_busy_s", "plan_server_cpu_s", "plan_cpu_s", "delete_busy_s", "cores",
	} {
		if v, ok := f[k]; !ok || !(v > 0) {
			t.Errorf("figure %s = %v (present %v), want a positive number", k, v, ok)
		}
	}
	// The machine's CPU during a phase holds the CPU of the processes in it.
	if f["plan_busy_s"] < f["plan_server_cpu_s"]+f["plan_cpu_s"]/2 {
		t.Errorf("the machine was busy %v s while planning, versitygw %v s and r2plan %v s of it", f["plan_busy_s"], f["plan_server_cpu_s"], f["plan_cpu_s"])
	}
	if !strings.Contains(out.String(), "CPU floor here") {
		t.Errorf("no CPU floor in the table:\n%s", out.String())
	}
	if f["plan_copies"] != 2500 {
		t.Errorf("the plan copies %v objects, want 2500", f["plan_copies"])
	}
	if f["req/plan/ListObjectsV2"]*2500 < 3 {
		t.Errorf("the plan sent %v listings for 3 pages of keys", f["req/plan/ListObjectsV2"]*2500)
	}
}

func TestParseLatency(t *testing.T) {
	tests := map[string]struct {
		in      string
		want    Latency
		wantErr bool
	}{
		"both":      {in: "list:300ms,op:60ms", want: Latency{List: 300 * time.Millisecond, Op: 60 * time.Millisecond}},
		"list only": {in: "list:1s", want: Latency{List: time.Second}},
		"unknown":   {in: "copy:5ms", wantErr: true},
		"no colon":  {in: "300ms", wantErr: true},
		"negative":  {in: "op:-1ms", wantErr: true},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := ParseLatency(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseLatency(%q) = %v, %v", tt.in, got, err)
			}
			if err == nil && *got != tt.want {
				t.Errorf("ParseLatency(%q) = %+v, want %+v", tt.in, *got, tt.want)
			}
		})
	}
}

// TestCPUMark: this process's own CPU time and the machine's grow by what a busy loop
// spends, read the way the latency mode reads versitygw's.
func TestCPUMark(t *testing.T) {
	m := markCPU(os.Getpid())
	if !m.ok {
		t.Skip("no /proc here")
	}
	deadline := time.Now().Add(300 * time.Millisecond)
	n := 0
	for time.Now().Before(deadline) {
		n++
	}
	u := m.since()
	if !u.ok || u.server < 0.1 || u.busy < u.server-0.05 {
		t.Errorf("after 0.3 s of busy loop (%d turns): %+v; want this process ≥ 0.1 s and the machine at least that", n, u)
	}
}
