# r2plan: thin targets over the go tool. The version comes from git describe.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
GO ?= go

.PHONY: build test demo vet fuzz clean reliability lint-ci

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o bin/r2plan ./cmd/r2plan

# The whole suite against real servers: versitygw (pinned in go.mod) and PostgreSQL
# (Debian's), both started by the tests on 127.0.0.1, plus SQLite in-process.
test: vet lint-ci
	$(GO) build -o /dev/null github.com/versity/versitygw/cmd/versitygw
	$(GO) test -count=1 -timeout 20m ./...
	$(MAKE) --no-print-directory fuzz FUZZTIME=10000x

vet:
	$(GO) mod tidy -diff
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }

# The CI examples checked by actionlint (pinned in go.mod; no network). It runs
# shellcheck on each run script when shellcheck is installed (.ci/run installs it).
lint-ci:
	$(GO) tool actionlint examples/ci/*.yml

# Each fuzz target for a short, bounded time (the seed corpora run in every go test).
# `make test` gives each a count of inputs, not a duration: Go 1.26's fuzzing
# coordinator can fail a target with a bare "context deadline exceeded" when a duration
# ends while a worker is busy (golang/go#75804, fixed in Go 1.27), and a count has no
# deadline to race. A real finding always writes its input under testdata/fuzz.
FUZZTIME ?= 30s
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzURLRoundTrip$$' -fuzztime $(FUZZTIME) ./plan
	$(GO) test -run '^$$' -fuzz '^FuzzRead$$' -fuzztime $(FUZZTIME) ./plan
	$(GO) test -run '^$$' -fuzz '^FuzzPrefilter$$' -fuzztime $(FUZZTIME) ./plan
	$(GO) test -run '^$$' -fuzz '^FuzzLoadSource$$' -fuzztime $(FUZZTIME) ./config

# The fault, crash and database suites with more seeds and objects, bounded to a few
# minutes; prints the table: scenario, runs, faults injected, retries, objects verified,
# dangling references seen (must be 0), objects lost (must be 0).
reliability:
	RELIABILITY_LONG=1 $(GO) test -count=1 -timeout 15m -v ./internal/reliability/ > reliability.log 2>&1; rc=$$?; \
	grep -E '^(--- |ok|FAIL|PASS|[|]|r2plan reliability)|SUMMARY|DANGLING|LOST|CLOBBERED|HALF-APPLIED' reliability.log; exit $$rc

# The main job end to end on the embedded default: a local S3 server (versitygw) on a
# temp directory and a seeded SQLite database; validate, plan, show, apply, re-plan.
demo: build
	$(GO) run ./internal/demo -r2plan ./bin/r2plan

clean:
	rm -rf bin dist

# Release archives for linux, darwin and windows on amd64 and arm64, and SHA256SUMS, in
# dist/ (internal/release; not part of `test`, whose test builds the host's archive).
.PHONY: release
release:
	$(GO) run ./internal/release/cmd -version $(VERSION) -out dist

# The performance benchmark of issue 4 (not part of `test`): versitygw and PostgreSQL on
# loopback, BENCH_N objects (default 20000), the raw ceilings, r2plan, and rclone as the
# peer (installed with apt-get where it is missing and apt is there). BENCH_RUNS=3 prints
# medians. Then the discovery section of issue 14 on BENCH_DISCOVER_ROWS rows (default
# 200000; `bench-discover` runs it alone). `bench-smoke` runs the same code on 300
# objects and 2000 rows, as `go test ./...` does.
.PHONY: bench bench-smoke
bench: build
	@if ! command -v rclone >/dev/null 2>&1; then \
		if command -v apt-get >/dev/null 2>&1; then \
			echo "bench: installing rclone (apt-get install rclone)"; \
			apt-get install -y -qq rclone >/dev/null 2>&1 || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq rclone >/dev/null 2>&1; } \
				|| echo "bench: could not install rclone; the peer rows are skipped"; \
		else \
			echo "bench: rclone is not installed and apt-get is not available; the peer rows are skipped"; \
		fi; \
	fi
	R2PLAN=bin/r2plan $(GO) run ./internal/bench

bench-smoke:
	$(GO) test -count=1 -run '^TestBenchSmoke$$' -v ./internal/bench

# The discovery section alone: discover's scan against a raw SELECT, and a deletion plan
# with the deletion guard against --skip-discovery, on BENCH_DISCOVER_ROWS rows.
.PHONY: bench-discover
bench-discover: build
	BENCH_MODE=discover R2PLAN=bin/r2plan $(GO) run ./internal/bench

# The scale benchmark of issue 4: plan of BENCH_N objects (default 1,000,000) and as many
# rows, its peak RSS at N/4 and N and the slope, its wall time against list + scan, and
# apply's peak RSS while streaming that plan (interrupted after BENCH_SCALE_APPLY s).
# About 20 minutes (most of it writing and removing a million files) and 10 GB of
# temporary disk on a 2-core machine.
.PHONY: bench-scale
bench-scale: build
	BENCH_MODE=scale R2PLAN=bin/r2plan $(GO) run ./internal/bench
