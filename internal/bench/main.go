// Command bench measures r2plan against the ceilings of the servers it talks to, in one
// run on one machine (issue 4): it starts versitygw and PostgreSQL on loopback in a
// temporary directory, seeds objects and Prisma-shaped rows like the motivating case,
// measures the raw ceilings with its own minimal clients (ListObjectsV2, CopyObject,
// DeleteObjects, a set-based UPDATE, a plain scan), then runs r2plan's plan, apply,
// deletion apply and re-plan as child processes, and the peer (rclone move plus one
// UPDATE per row), and prints every figure with its ratio to its ceiling.
//
// Run it with `make bench` (after `make build`). Environment:
//
//	BENCH_N            objects to seed (default 20000)
//	BENCH_RUNS         repeat the whole measurement and print medians (default 1)
//	BENCH_PARALLELISM  copies in flight, for the raw client and r2plan apply (default 32)
//	BENCH_RCLONE       "0" skips rclone (default: use it when it is on PATH)
//	BENCH_SAMPLE       rows updated one by one for the hand-written-script peer (default 2000)
//	R2PLAN             the r2plan binary (default bin/r2plan)
//	BENCH_PERF_DIR     run r2plan plan and apply under `perf record -g`, data written there
//	BENCH_MODE         "scale": the scale benchmark instead (`make bench-scale`): plan of
//	                   BENCH_N objects (default 1000000) and rows, memory and wall time
//	BENCH_SCALE_APPLY  seconds the scale benchmark lets apply run before Ctrl-C (default 60)
//	BENCH_LATENCY      "list:300ms,op:60ms": the latency mode (`make bench-latency`): the
//	                   proxy holds every ListObjectsV2 and every other request that long,
//	                   as R2 would; plan against a sequential listing and the ideal,
//	                   apply's copies against raw CopyObject at its level, the whole life
//	                   against rclone move with and without --fast-list. The copy cap
//	                   (BENCH_PARALLELISM) defaults to 128 there, apply's default.
//	BENCH_DISCOVER_ROWS rows of the discovery section (default 200000), run after the
//	                   main bench: discover's scan against a raw SELECT, and a deletion
//	                   plan with the guard against --skip-discovery (discover.go).
//	                   BENCH_MODE=discover runs that section alone.
//
// Every request of r2plan and rclone goes through a small counting reverse proxy in
// front of versitygw, and so do the raw ceilings' requests, so all pay the same hop.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx))
}

func run(ctx context.Context) int {
	o := Options{
		N:           envInt("BENCH_N", 20000),
		Runs:        envInt("BENCH_RUNS", 1),
		Parallelism: envInt("BENCH_PARALLELISM", 32),
		Sample:      envInt("BENCH_SAMPLE", 2000),
		Rclone:      os.Getenv("BENCH_RCLONE") != "0",
		R2plan:      os.Getenv("R2PLAN"),
		PerfDir:     os.Getenv("BENCH_PERF_DIR"),
		Log:         os.Stderr,

		DiscoverRows: envInt("BENCH_DISCOVER_ROWS", 200000),
		DiscoverOnly: os.Getenv("BENCH_MODE") == "discover",
	}
	if o.R2plan == "" {
		o.R2plan = "bin/r2plan"
	}
	if os.Getenv("BENCH_MODE") == "scale" {
		so := ScaleOptions{Options: o, ApplyFor: time.Duration(envInt("BENCH_SCALE_APPLY", 60)) * time.Second}
		so.N = envInt("BENCH_N", 1000000)
		f, err := Scale(ctx, so)
		if f != nil {
			PrintScale(os.Stdout, so, machine(), nil, f)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: %v\n", err)
			return 1
		}
		return 0
	}
	if v := os.Getenv("BENCH_LATENCY"); v != "" {
		l, err := ParseLatency(v)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: %v\n", err)
			return 1
		}
		o.Latency = l
		o.Parallelism = envInt("BENCH_PARALLELISM", 128)
	}
	rep, err := Bench(ctx, o)
	if rep != nil && o.DiscoverOnly {
		rep.PrintDiscover(os.Stdout)
	} else if rep != nil && o.Latency != nil {
		rep.PrintLatency(os.Stdout)
	} else if rep != nil {
		rep.Print(os.Stdout)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		return 1
	}
	return 0
}

func envInt(name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		fmt.Fprintf(os.Stderr, "bench: %s=%q is not a positive integer; using %d\n", name, s, def)
		return def
	}
	return n
}
