#!/usr/bin/env bash
# make stats: what the running stack costs. Memory per service now (docker stats; instances added
# up) against the idle budget, then CPU per service measured over STATS_SECONDS (one sample would
# say little: scrapes, checks and polls come every few seconds), with the Docker engine's own
# share (health checks' `docker exec`s, port proxies), against the idle CPU budget. Run it on an
# idle stack to see the price of having every layer up; docs/architecture.md has both budgets.
#   STATS_BUDGET_MIB   the idle stack's memory budget (default 1430 MiB, 1.5 GB)
#   STATS_BUDGET_CPU   the idle stack's CPU budget, % of one core (default 10)
#   STATS_SECONDS      how long to measure CPU (default 60)
set -euo pipefail
cd "$(dirname "$0")/../.."
. infra/scripts/lib.sh

ids=$(docker compose ps -q)
[ -n "$ids" ] || { log "the stack is not running: make up"; exit 1; }
budget=${STATS_BUDGET_MIB:-1430}
# shellcheck disable=SC2086 # one argument per container id
docker stats --no-stream --format '{{.Name}}\t{{.MemUsage}}' $ids | awk -F'\t' -v budget="$budget" '
  function mib(s,   n, u) {
    n = s + 0; u = s; sub(/^[0-9.]+/, "", u)
    if (u == "GiB") return n * 1024
    if (u == "MiB") return n
    if (u == "KiB" || u == "kB") return n / 1024
    return n / 1048576
  }
  {
    name = $1; sub(/^[^-]+-/, "", name); sub(/-[0-9]+$/, "", name)
    split($2, m, " / ")
    mem[name] += mib(m[1]); n[name]++; total += mib(m[1])
  }
  END {
    printf "%-30s %9s\n", "memory now (instances)", "MiB"
    for (s in mem) printf "  %-28s %9.0f\n", s " (" n[s] ")", mem[s] | "sort -k3 -rn"
    close("sort -k3 -rn")
    printf "  %-28s %9.0f  %s the idle budget of %d MiB\n", "the stack", total, total <= budget ? "within" : "OVER", budget
  }'

seconds=${STATS_SECONDS:-60}
lab=$(mktemp -d)
trap 'rm -rf "$lab"' EXIT
(cd k6/lab && go build -o "$lab/lab" .)
log "measuring CPU for ${seconds} s; leave the stack alone meanwhile for its idle cost"
docker_host=${DOCKER_HOST:-$(docker context inspect --format '{{.Endpoints.docker.Host}}')}
DOCKER_HOST="$docker_host" "$lab/lab" idle -for "${seconds}s" -budget "${STATS_BUDGET_CPU:-10}"
