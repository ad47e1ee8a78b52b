# DECNET-Go developer tasks. CI runs .ci/run, which uses the same commands.
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
BIN      := bin/decnet

.PHONY: build test test-short lint bench fuzz run clean

build: ## static binary in bin/decnet (pure Go, no cgo)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/decnet

test: ## the whole suite (gated tests skip when their tools are missing)
	$(GO) test ./...

test-short: ## unit tests only, no binary builds
	$(GO) test -short ./...

lint: ## what CI checks besides the tests
	@test -z "$$(gofmt -l .)" || { gofmt -l .; echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet ./...
	staticcheck ./...

bench: ## hot-path benchmarks (ingest, API reads, connection handling)
	$(GO) test -run '^$$' -bench . -benchtime 200000x ./internal/pipeline/
	$(GO) test -run '^$$' -bench . ./internal/store/ ./internal/api/ ./internal/honeypot/...

fuzz: ## a short run of every fuzz target
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list 'Fuzz.*' $$pkg | grep ^Fuzz); do \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime 20s $$pkg || exit 1; \
	  done; \
	done

run: build ## run everything locally with data in ./decnet-data
	$(BIN) up --data-dir ./decnet-data

clean:
	rm -rf bin decnet-data
