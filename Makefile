# mtlskit: see README.md.
GO        ?= go
BIN       ?= bin/mtlskit
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: build test lint fmt demo bench bench-load bench-scale man clean fuzz

# The product is built with urfave_cli_no_docs: urfave/cli's man page and
# Markdown generator (and go-md2man and blackfriday under it) stay out of
# it, and their package initialisation out of every process start. `make
# man` builds without it (cmd/mtlskit/man.go).
TAGS      := urfave_cli_no_docs

# mtlskit-lint (zlint, which mtlskit does not link: pki/lint_proc.go) goes
# next to mtlskit, where mtlskit looks for it.
build:
	$(GO) build -trimpath -tags $(TAGS) -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/mtlskit
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(dir $(BIN))mtlskit-lint ./cmd/mtlskit-lint

# The README's test command: race-enabled tests, including the openssl,
# keytool and zlint cross-checks (tests skip a tool only when it is absent;
# .ci/run installs them). CRASHTAGS compiles pki's test-only crash points
# into the tests, so TestCrashAtEveryPoint runs (it builds its own
# mtlskit with the tag; the other tests drive the untagged binary). A
# plain `go test ./...` skips that one test.
CRASHTAGS := mtlskit_crashtest

test:
	$(GO) test -race -count=1 -timeout 15m -tags $(CRASHTAGS) ./...

# gofmt, go mod tidy (go.mod and go.sum must be as tidy leaves them), go
# vet and staticcheck, each on the build with and without the crash tag.
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change: $$out"; exit 1; fi
	@$(GO) mod tidy -diff || { echo "go mod tidy would change go.mod/go.sum (above): run go mod tidy"; exit 1; }
	$(GO) vet ./...
	$(GO) vet -tags $(CRASHTAGS) ./...
	$(GO) run $(STATICCHECK) ./...
	$(GO) run $(STATICCHECK) -tags $(CRASHTAGS) ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

# The main job on an embedded default: a throwaway CA in a temp dir, the
# full scenario matrix against the reference pair, a verdict table.
demo: build
	./$(BIN) harness run

# Fuzz every target in pki (FuzzParseSANs, FuzzParseCerts, ...) and in
# harness (FuzzReadUpgradeAnswer, FuzzEchoFrames, ...) for FUZZTIME each
# (a duration such as 10m, or an execution count such as 300x), one at a
# time with one worker. A crasher is written to
# <package>/testdata/fuzz/<Target>/ and fails the run. Go 1.26's fuzz
# coordinator can end a duration-limited run with a bare "context deadline
# exceeded" and no crasher (golang/go#75804, fixed in Go 1.27): that is
# reported and ignored, only a written crasher fails. .ci/run uses a
# count (FUZZTIME=300x), which has no deadline to race.
FUZZTIME ?= 60s
FUZZ_PKGS = pki harness internal/wire

fuzz:
	@for p in $(FUZZ_PKGS); do \
	  for t in $$(grep -ho '^func Fuzz[A-Za-z0-9]*' $$p/*_test.go | sed 's/^func //'); do \
	    echo "fuzz: $$p $$t for $(FUZZTIME)"; \
	    before=$$(ls $$p/testdata/fuzz/$$t 2>/dev/null | wc -l); \
	    if ! $(GO) test -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) -parallel 1 ./$$p/; then \
	      after=$$(ls $$p/testdata/fuzz/$$t 2>/dev/null | wc -l); \
	      if [ "$$after" -gt "$$before" ]; then echo "fuzz: $$t wrote a crasher to $$p/testdata/fuzz/$$t"; exit 1; fi; \
	      echo "fuzz: $$t stopped without a crasher (golang/go#75804 deadline race): ignored"; \
	    fi; \
	  done; \
	done

# The man page, generated from the command definitions by the hidden
# `man` command, which only a build without $(TAGS) has.
man:
	$(GO) run ./cmd/mtlskit man > docs/mtlskit.1

# Benchmarks (BENCH selects them), summarised by benchstat, then the
# workflow race against openssl, mkcert, step and cfssl (bench/compare.sh;
# peers that are not installed are left out). docs/performance.md has a run.
BENCH ?= .
BENCHSTAT := golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da

bench:
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchmem -count 6 ./pki/ ./harness/ | tee bench.out
	$(GO) run $(BENCHSTAT) bench.out
	bash bench/compare.sh 15

# The load figures of docs/load.md (bench/load.sh): the floor, mtlskit load
# against the reference server, openssl s_time against the same server, and
# HELD connections held at once with the memory per connection. A few
# minutes; run it alone on the machine.
HELD ?= 5000

bench-load:
	bash bench/load.sh $(HELD)

# The scale table of docs/performance.md: bench/scale.sh for each store
# size in SCALE, one at a time (SCALE=100000: 400,000 files, ~2 minutes
# and ~2 GB of disk here). RELINT=1 also times verify --relint.
SCALE ?= 1000 10000

bench-scale:
	@for n in $(SCALE); do bash bench/scale.sh $$n || exit 1; done

clean:
	rm -rf bin bench.out
