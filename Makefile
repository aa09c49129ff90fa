# Flashcrowd: `make up` brings the whole stack up, `make test` proves it. `make help` lists the rest.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

COMPOSE ?= docker compose
MODULES := contracts foundation services/catalog gateway worker k6/lab
# Compose reads .env; so does make, for the passwords the integration tests need.
include .env
# MODE selects a stack mode (infra/modes/): its env file is laid over .env for every compose
# command, in make and in the scripts and tests it runs.
MODE ?= full
ifneq ($(MODE),full)
$(if $(wildcard infra/modes/$(MODE).env),,$(error MODE=$(MODE) is not a mode: see infra/modes/))
export COMPOSE_ENV_FILES := .env,infra/modes/$(MODE).env
endif

.PHONY: help up down logs ps test vet unit fuzz integration bench e2e lab offline-images

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z0-9-]+:.*## / {printf "  make %-15s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

up: offline-images ## Build and start the stack; wait until every service is healthy
	@start=$$(date +%s); \
	$(COMPOSE) up --build --detach --wait; \
	echo "stack healthy in $$(( $$(date +%s) - start )) s: http://127.0.0.1:$(EDGE_PORT)/api/v1/products"

down: ## Stop the stack and delete its data volumes
	$(COMPOSE) down --volumes --remove-orphans

logs: ## Follow every service's logs
	$(COMPOSE) logs --follow --tail=100

ps: ## Show the services and their health
	$(COMPOSE) ps --all

offline-images: ## Make the two base images locally when they cannot be pulled
	@infra/scripts/offline-images.sh

vet: ## gofmt, go vet, module boundaries and a linux/arm64 build of every module
	@unformatted=$$(gofmt -l $(MODULES)); [ -z "$$unformatted" ] || { echo "gofmt needed: $$unformatted"; exit 1; }
	@for m in $(MODULES); do (cd $$m && go vet ./... && go vet -tags integration,e2e ./...); done
	@infra/scripts/check-modules.sh
	@# Apple-silicon users build these images natively: a cgo or assembly dependency must not break arm64.
	@for m in $(MODULES); do (cd $$m && CGO_ENABLED=0 GOOS=linux GOARCH=arm64 go build -o /dev/null ./...); done
	@echo "vet: gofmt, go vet, module boundaries and the linux/arm64 build are clean"

unit: ## Unit tests of every module
	@for m in $(MODULES); do (cd $$m && go test -race -count=1 ./...); done

fuzz: ## Fuzz the request decoders (JSON bodies, listing queries) for a bounded time each (FUZZTIME, default 15s)
	cd foundation && go test -run='^$$' -fuzz=FuzzDecode -fuzztime=$(or $(FUZZTIME),15s) ./web/
	cd services/catalog && go test -run='^$$' -fuzz=FuzzParseListing -fuzztime=$(or $(FUZZTIME),15s) ./httpapi/

# Runs in a container on the stack's network, where Postgres (through PgBouncer) and Redis are;
# it shares this host's Go module and build caches, so it compiles no more than `make unit` did.
ON_STACK := docker run --rm --network flashcrowd_default \
	  -v "$(CURDIR)":/src:ro -w /src/services/catalog \
	  -v "$$(go env GOMODCACHE)":/go/pkg/mod -v "$$(go env GOCACHE)":/root/.cache/go-build \
	  -e DATABASE_URL=postgres://flashcrowd_app:$(PG_APP_PASSWORD)@pgbouncer:6432/flashcrowd \
	  -e DATABASE_READ_URL=postgres://flashcrowd_app:$(PG_APP_PASSWORD)@pgbouncer:6432/flashcrowd_ro \
	  -e REDIS_ADDR=redis:6379 -e REDIS_CACHE_USER=cache -e REDIS_CACHE_PASSWORD=$(REDIS_CACHE_PASSWORD) \
	  golang:1.26-trixie

integration: ## Integration tests against the running stack's PgBouncer, Postgres and Redis
	$(ON_STACK) go test -tags integration -count=1 ./...

bench: ## The cached read path's benchmark and the main queries' plans, against the running stack
	$(ON_STACK) go test -tags integration -count=1 -run QueryPlans -v -bench ProductRead -benchtime 2s ./cache/ ./postgres/

e2e: ## End-to-end suite against a running stack (make up first)
	cd gateway && FLASHCROWD_URL=http://127.0.0.1:$(EDGE_PORT) go test -tags e2e -count=1 -v ./e2e/

# k6 is also a folder name: without .PHONY, make would call the target up to date.
.PHONY: k6
SCENARIO ?= smoke
k6: ## Run a k6 scenario against the running stack: make k6 SCENARIO=browse MODE=full (QUIET=1 for CI)
	@SCENARIO="$(SCENARIO)" MODE="$(MODE)" k6/run.sh

test: ## vet, unit tests, fuzzing; then the stack up, integration tests, k6 smoke, end-to-end suite, stack down
	@infra/scripts/test.sh

lab: ## The before/after table: naive vs full (or LAYER=cache|pooler|replicas|instances alone)
	@LAYER="$(LAYER)" k6/lab.sh
