# r2plan: thin targets over the go tool. The version comes from git describe.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
GO ?= go

.PHONY: build test demo vet fuzz clean

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o bin/r2plan ./cmd/r2plan

# The whole suite against real servers: versitygw (pinned in go.mod) and PostgreSQL
# (Debian's), both started by the tests on 127.0.0.1, plus SQLite in-process.
test: vet
	$(GO) build -o /dev/null github.com/versity/versitygw/cmd/versitygw
	$(GO) test -count=1 -timeout 20m ./...
	$(MAKE) --no-print-directory fuzz FUZZTIME=10s

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }

# Each fuzz target for a short, bounded time (the seed corpora run in every go test).
FUZZTIME ?= 30s
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzURLRoundTrip$$' -fuzztime $(FUZZTIME) ./plan
	$(GO) test -run '^$$' -fuzz '^FuzzLoadSource$$' -fuzztime $(FUZZTIME) ./config

# The main job end to end on the embedded default: a local S3 server (versitygw) on a
# temp directory and a seeded SQLite database; validate, plan, show, apply, re-plan.
demo: build
	$(GO) run ./internal/demo -r2plan ./bin/r2plan

clean:
	rm -rf bin
