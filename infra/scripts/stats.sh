#!/usr/bin/env bash
# make stats: what the running stack uses now, from `docker stats` (one sample): memory and CPU
# per service (instances added up), then the whole stack's. Run it on an idle stack to see the
# price of having every layer up; docs/architecture.md has the memory budget.
#   STATS_BUDGET_MIB   the idle stack's memory budget (default 1430 MiB, 1.5 GB): the last line says
#                      whether the stack is within it
set -euo pipefail
cd "$(dirname "$0")/../.."
. infra/scripts/lib.sh

ids=$(docker compose ps -q)
[ -n "$ids" ] || { log "the stack is not running: make up"; exit 1; }
budget=${STATS_BUDGET_MIB:-1430}
# shellcheck disable=SC2086 # one argument per container id
docker stats --no-stream --format '{{.Name}}\t{{.MemUsage}}\t{{.CPUPerc}}' $ids | awk -F'\t' -v budget="$budget" '
  function mib(s,   n, u) {
    n = s + 0; u = s; sub(/^[0-9.]+/, "", u)
    if (u == "GiB") return n * 1024
    if (u == "MiB") return n
    if (u == "KiB" || u == "kB") return n / 1024
    return n / 1048576
  }
  {
    name = $1; sub(/^[^-]+-/, "", name); sub(/-[0-9]+$/, "", name)
    split($2, m, " / "); cpu = $3; sub(/%/, "", cpu)
    mem[name] += mib(m[1]); cores[name] += cpu / 100; n[name]++
    total += mib(m[1]); tcpu += cpu / 100
  }
  END {
    printf "%-30s %9s %7s\n", "service (instances)", "memory", "CPU"
    for (s in mem) printf "%-30s %6.0f MiB %7.2f\n", s " (" n[s] ")", mem[s], cores[s] | "sort -k3 -rn"
    close("sort -k3 -rn")
    printf "%-30s %6.0f MiB %7.2f cores\n", "the stack", total, tcpu
    verdict = total <= budget ? "within" : "OVER"
    printf "%s the idle budget of %d MiB\n", verdict, budget
  }'
