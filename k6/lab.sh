#!/usr/bin/env bash
# make lab: the before/after table. For a baseline mode and the full stack in turn, it brings
# the stack up in that mode, finds the highest request rate it sustains (breakpoint scenario),
# then holds the same fixed load on both (browse scenario) and reads what the databases and
# caches did meanwhile from Prometheus, and what CPU each container used from Docker. k6/lab
# turns the runs' own figures into the table, and draws beside it a chart of the requests/s and
# p95 each mode achieved at each step of its breakpoint staircase.
#   LAYER          empty: naive vs full; cache | pooler | replicas | instances: that layer alone
#   LAB_RATE       the common load for the browse runs, requests/s (default: the baseline's maximum
#                  sustainable rate from its breakpoint run, the load it can just carry)
#   LAB_DURATION   length of the browse run (default 60s)
#   LAB_MAX_RATE   the top of the breakpoint staircase (default 800/s; a 2-core laptop sustains a
#                  few hundred, and the run stops itself a step or two past the limit)
set -euo pipefail
cd "$(dirname "$0")/.."

case "${LAYER:-}" in
  "") base=naive ;;
  cache | pooler | replicas) base="no-$LAYER" ;;
  instances) base=one-instance ;;
  *) echo "lab.sh: LAYER must be empty, cache, pooler, replicas or instances" >&2; exit 2 ;;
esac
rate=${LAB_RATE:-}
duration=${LAB_DURATION:-60s}
stamp=$(date -u +%Y%m%dT%H%M%SZ)
report="results/lab-${LAYER:-naive}-$stamp.md"
chart="${report%.md}.svg"
mkdir -p results

# newest <scenario> <mode> <marker>: the newest results/<scenario>-<mode>-*.json, if it was
# written after the file <marker> was touched. A run that died leaves no summary: stop rather
# than reuse an older run's, or the warm-up's. (-nt, not stat: stat's flags differ on macOS.)
newest() {
  local f
  f=$(ls -t results/"$1-$2"-*.json 2>/dev/null | head -1 || true)
  if [ -z "$f" ] || ! [ "$f" -nt "$3" ]; then
    echo "lab.sh: the $1 run in $2 mode wrote no summary; see its output above" >&2
    exit 1
  fi
  echo "$f"
}

lab=$(mktemp -d)/lab
marker=$(dirname "$lab")/marker
trap 'rm -rf "$(dirname "$lab")"' EXIT
go build -o "$lab" ./k6/lab
# cpu_snapshot: each stack container's CPU time so far, read from the Engine API wherever the
# docker CLI finds it.
docker_host=${DOCKER_HOST:-$(docker context inspect --format '{{.Endpoints.docker.Host}}')}
cpu_snapshot() { DOCKER_HOST="$docker_host" "$lab" cpu >"$1"; }

args=()
for mode in "$base" full; do
  echo "==> lab: $mode mode"
  make --no-print-directory up MODE="$mode"
  # Warm-up, not measured: freshly started instances plan their first queries, fill pools and
  # read cold index pages; without it the first step could fail on start-up costs.
  QUIET=1 make --no-print-directory k6 SCENARIO=browse MODE="$mode" RATE=20 DURATION=15s >/dev/null || true
  # k6 exits 99 when a threshold breaks: for the breakpoint that is how it ends, and at the common
  # load a mode that cannot keep up is a finding, not a failure of the lab.
  # (A run that failed outright leaves no summary, and `newest` stops the lab.)
  touch "$marker"
  QUIET=1 make --no-print-directory k6 SCENARIO=breakpoint MODE="$mode" \
    MAX_RATE="${LAB_MAX_RATE:-800}" || true
  breakpoint=$(newest breakpoint "$mode" "$marker")
  if [ -z "$rate" ]; then
    # The baseline's limit, rounded down to a multiple of 10.
    max=$(grep -o '"max_sustainable_rps": *[0-9.]*' "$breakpoint" | head -1 | grep -o '[0-9.]*$' || true)
    max=${max:-0}
    rate=$(( ${max%.*} / 10 * 10 ))
    [ "$rate" -ge 10 ] || { echo "lab.sh: $breakpoint gives no usable maximum ($max req/s); set LAB_RATE" >&2; exit 1; }
    echo "==> lab: the common load is $rate req/s, the most $mode sustained"
  fi
  cpu="results/cpu-$mode-$stamp"
  cpu_snapshot "$cpu-before.json"
  touch "$marker"
  start=$(date +%s)
  QUIET=1 make --no-print-directory k6 SCENARIO=browse MODE="$mode" RATE="$rate" DURATION="$duration" || true
  end=$(date +%s)
  cpu_snapshot "$cpu-after.json"
  browse=$(newest browse "$mode" "$marker")
  args+=(-run "$mode,$breakpoint,$browse,$start,$end,$cpu-before.json,$cpu-after.json")
done

"$lab" -prometheus "http://127.0.0.1:${PROMETHEUS_PORT:-9090}" -rate "$rate" -out "$report" -chart "$chart" "${args[@]}"
echo "==> lab: table written to $report, chart to $chart; the stack is left in full mode"
