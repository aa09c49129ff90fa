# Flashcrowd: `make up` brings the whole stack up, `make test` proves it. `make help` lists the rest.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

COMPOSE ?= docker compose
MODULES := services/foundation services/catalog gateway worker

.PHONY: help up down logs ps test vet unit e2e offline-images

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z0-9-]+:.*## / {printf "  make %-15s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

up: offline-images ## Build and start the stack; wait until every service is healthy
	@start=$$(date +%s); \
	$(COMPOSE) up --build --detach --wait; \
	echo "stack healthy in $$(( $$(date +%s) - start )) s: http://127.0.0.1:$${EDGE_PORT:-8080}/api/v1/products"

down: ## Stop the stack and delete its data volumes
	$(COMPOSE) down --volumes --remove-orphans

logs: ## Follow every service's logs
	$(COMPOSE) logs --follow --tail=100

ps: ## Show the services and their health
	$(COMPOSE) ps --all

offline-images: ## Make the two base images locally when they cannot be pulled
	@infra/scripts/offline-images.sh

vet: ## go vet every module
	@for m in $(MODULES); do (cd $$m && go vet ./... && go vet -tags e2e ./...); done

unit: ## Unit tests of every module
	@for m in $(MODULES); do (cd $$m && go test -race -count=1 ./...); done

e2e: ## End-to-end suite against a running stack (make up first)
	cd gateway && go test -tags e2e -count=1 -v ./e2e/

test: ## vet + unit tests, then the stack up, the end-to-end suite, and the stack down again
	@infra/scripts/test.sh
