#!/usr/bin/env bash
# make test: static checks, unit tests, fuzzing and the Kubernetes manifests' dry run, then the
# composed stack, integration tests against its servers, the k6 smoke scenario, the end-to-end
# suite through the edge, the browser suite (headless Chromium), and teardown (also when a step
# fails).
set -euo pipefail
cd "$(dirname "$0")/../.."
. infra/scripts/lib.sh

log "go vet"
make --no-print-directory vet
log "unit tests"
make --no-print-directory unit
log "fuzzing the request decoder"
make --no-print-directory fuzz
log "Kubernetes manifests: server-side dry run against kube-apiserver"
make --no-print-directory k8s-validate

teardown() {
  local rc=$?
  if [ "$rc" -ne 0 ]; then
    log "failure: service states and recent logs"
    docker compose ps --all || true
    docker compose logs --tail=40 --no-color || true
  fi
  log "stack down"
  infra/scripts/down.sh >/dev/null 2>&1 || true
  exit "$rc"
}
trap teardown EXIT

log "stack up"
infra/scripts/down.sh >/dev/null 2>&1 || true  # start from empty volumes
make --no-print-directory up
log "integration tests"
make --no-print-directory integration
log "k6 smoke scenario (thresholds fail the run)"
QUIET=1 make --no-print-directory k6 SCENARIO=smoke
log "end-to-end suite"
make --no-print-directory e2e
log "browser suite (headless Chromium)"
make --no-print-directory browser
