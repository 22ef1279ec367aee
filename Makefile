# Customer Reactivation: `make run` and `make test` work on a fresh machine.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

SERVICES := deploy/local/services.sh
# Exports DATABASE_URL, REDIS_URL, ELASTICSEARCH_URL, SEARCH_FLAVOR for the
# local services unless they are already set.
WITH_ENV := eval "$$($(SERVICES) env)" &&
DEMO_CUSTOMERS ?= 20000
SCENARIO ?= sync
CUSTOMERS ?= 800000
TEST_TIMEOUT ?= 60m
# staticcheck, pinned, installed into .local/bin by `make lint`.
STATICCHECK_VERSION := v0.8.2
STATICCHECK := .local/bin/staticcheck

.PHONY: all build services services-down run test test-race lint bench fuzz clean fuzz-api browser-check

all: build

# The commit, for --version and build_info where the toolchain stamps none
# (a git worktree, GOFLAGS=-buildvcs=false).
LDFLAGS := -X github.com/reactivation/reactivation/internal/buildinfo.linkedRevision=$(shell git rev-parse HEAD 2>/dev/null)

build:
	go build -ldflags "$(LDFLAGS)" -o bin/ ./cmd/...

services:
	$(SERVICES) up

services-down:
	$(SERVICES) down

## run: start what is missing, migrate, seed demo data if empty, sync, serve.
run: build services
	$(WITH_ENV) ./bin/reactivation run --demo $(DEMO_CUSTOMERS)

## test: lint, start what is missing, then every test against the real services.
test: lint services
	$(WITH_ENV) go test -count=1 -timeout $(TEST_TIMEOUT) -p 2 ./...
	$(WITH_ENV) go test -count=1 -race -timeout 20m ./internal/config/ ./internal/profile/ ./internal/segment/ ./internal/jobs/ ./internal/auth/ ./internal/source/ ./api/

## lint: gofmt, go vet, staticcheck (pinned) and a tidy go.mod.
lint: $(STATICCHECK)
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	go vet ./...
	$(STATICCHECK) ./...
	go mod tidy -diff

$(STATICCHECK):
	GOBIN=$(CURDIR)/.local/bin go install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

## bench: make bench SCENARIO=sync CUSTOMERS=800000 [ENGINE=postgres|elastic]
bench: build services
	$(WITH_ENV) ./bin/reactivation bench --scenario $(SCENARIO) --customers $(CUSTOMERS) $(if $(ENGINE),--engine $(ENGINE)) --out bench-$(SCENARIO)$(if $(ENGINE),-$(ENGINE)).json

fuzz:
	go test -run '^$$' -fuzz FuzzDecode -fuzztime 60s ./internal/segment/

clean:
	rm -rf bin

## fuzz-api: Schemathesis against /openapi.json of a demo API of its own.
fuzz-api:
	deploy/local/fuzz-api.sh

## browser-check: headless Chromium renders /docs and /monitoring.
browser-check:
	deploy/local/browser-check.sh
