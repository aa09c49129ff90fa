#!/usr/bin/env bash
# make lab: the before/after table. For a baseline mode, the machine's ceiling (a bare Go server,
# infra/ceiling, measured with the same k6 beside the idle stack) and the full stack in turn, it
# finds the highest request rate each sustains: a coarse breakpoint staircase, ×1.5 per short
# step, finds the range; a fine one, ×1.06 per step from a little below it, finds the limit
# within 6 %; a hold of 28 s at that step confirms it. For both modes it then holds the same fixed
# load (browse scenario) and reads what the databases and caches did meanwhile from Prometheus,
# what CPU each container used from Docker and what k6 used itself, then sends 3× the baseline's
# limit with a shopper's 10 s timeout. k6/lab turns the runs' own figures into the table, and
# draws beside it a chart of the requests/s and p95 each mode achieved at each step of its fine
# staircase.
#   LAYER          empty: naive vs full; cache | pooler | replicas | instances: that layer alone
#   LAB_RATE       the common load for the browse runs, requests/s (default: the baseline's maximum
#                  sustainable rate, the load it can just carry)
#   LAB_DURATION   length of the browse run (default 60s)
#   LAB_OVERLOAD   length of the run at 3× the baseline's limit (default 30s)
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
began=$(date +%s)
report="results/lab-${LAYER:-naive}-$stamp.md"
chart="${report%.md}.svg"
. infra/scripts/lib.sh
mkdir -p results

lab=$(mktemp -d)/lab
marker=$(dirname "$lab")/marker
# On any exit: the scratch directory goes, and so does the ceiling server if it still runs.
trap 'rm -rf "$(dirname "$lab")"; docker compose --profile tools rm --stop --force ceiling >/dev/null 2>&1 || true' EXIT
go build -o "$lab" ./k6/lab
# cpu_snapshot: each stack container's CPU time so far, read from the Engine API wherever the
# docker CLI finds it.
docker_host=${DOCKER_HOST:-$(docker context inspect --format '{{.Endpoints.docker.Host}}')}
cpu_snapshot() { DOCKER_HOST="$docker_host" "$lab" cpu >"$1"; }

# k6_as <label> VAR=value...: a k6 run whose results are labelled <label>. A stack mode goes
# through make, which lays that mode's settings over compose's (naive's k6 calls the catalog
# directly); anything else (the ceiling) is not a mode, and runs with compose's defaults.
k6_as() {
  local label=$1
  shift
  if [ -f "infra/modes/$label.env" ] || [ "$label" = full ]; then
    QUIET=1 make --no-print-directory k6 MODE="$label" "$@"
  else
    env QUIET=1 MODE="$label" "$@" k6/run.sh
  fi
}

# staircase <label> <from>: the coarse and then the fine breakpoint run against what BASE_URL
# (default: the mode's) points at, then holds; prints the fine run's summary and the holds' joined by "+"
# (`lab limit` reads the limit from them). The coarse one climbs ×1.5 from <from> until it is
# clearly past the limit (k6 exits 99 then, by design) and says roughly where the limit lies:
# it stops after 3,000 dropped iterations, several seconds' worth past the limit, while a jump
# of ×1.5 below it can drop a few hundred before the stack catches up, or after a step that sent
# under half its plan (where k6 is what falls behind, it drops nothing until its VUs run out). The fine one climbs
# eleven steps of ×1.06, 10 s each, from a little under what the coarse one served (lab
# fine-start) to 1.8 × that start (past the coarse step that failed, at 1.5 × what it held: a
# limit between the two needs no second fine run), and does not stop early (unless its first
# step fails: it started too high): k6 counts dropped iterations over the whole run, so stalls
# below the limit (a hypervisor's pause, a garbage collection) added up to a stop at a rate that
# moved from run to run. Near its limit a server whose slow requests
# queue can hold an 8 s step by luck and fail the minute after, so the limit is the highest fine
# step that then holds for 28 s as well. (Each run climbs into its first step over 4 s, k6's
# LEAD_IN, so that its own start does not load a server near its limit.)
staircase() {
  local from=$2 coarse start fine held= tries=0
  while :; do
    touch "$marker"
    k6_as "$1" SCENARIO=breakpoint START_RATE="$from" STEP_FACTOR=1.5 STEP_TIME=8s SETTLE=3s MAX_RATE=100000 \
      ABORT_DROPPED=3000 ABORT_SENT=0.5 >&2 || true
    # (set -e does not reach into a command substitution: each step returns on failure itself.)
    coarse=$(newest_summary breakpoint "$1" "$marker") || return 1
    start=$("$lab" fine-start "$coarse" 2>/dev/null) && break
    # Started above the limit: nothing held. Again from the bottom, or give up there.
    [ "$from" -gt 50 ] || { "$lab" fine-start "$coarse"; return 1; }
    echo "==> lab: $1 held no step of the coarse staircase from $from req/s; again from 50" >&2
    from=50
  done
  echo "==> lab: $1 held $(max_of "$coarse") req/s on the coarse staircase; the fine one starts at $start" >&2
  # span: how far the fine staircase climbs, in tenths of its start.
  local span=18
  while :; do
    touch "$marker"
    k6_as "$1" SCENARIO=breakpoint START_RATE="$start" STEP_FACTOR=1.06 STEP_TIME=10s SETTLE=3s \
      MAX_RATE=$((start * span / 10)) ABORT_DROPPED=off ABORT_FIRST_STEP=on >&2 || true
    fine=$(newest_summary breakpoint "$1" "$marker") || return 1
    tries=$((tries + 1))
    [ "$tries" -lt 4 ] || break
    # A coarse step that held by luck can put the start above the limit: the first step fails
    # (and k6 stops then) and finds nothing; start again a quarter lower. A coarse staircase cut
    # short by a stall can put the whole fine range below it: every step holds; go on from the top one (held
    # again, so that this run has a step to hold if the next fails), six steps (to ×1.4) rather
    # than eleven: the limit is usually just past it (full's coarse staircase can fail its ×1.5
    # jump at 72 to 95 % of its limit, and in three labs in a row its limit lay 3 to 34 % above
    # the fine range's top).
    if [ "$(max_of "$fine")" -eq 0 ] && [ -n "$held" ]; then
      # A continuation that failed its first step, the top step the run before held: the
      # limit lies there, and the holds start from that run.
      echo "==> lab: $1 failed the continuation's first step; holds from the run before" >&2
      fine=$held
      break
    elif [ "$(max_of "$fine")" -eq 0 ]; then
      start=$((start * 3 / 4))
      span=18
      echo "==> lab: $1 failed the fine staircase's first step; again from $start" >&2
    elif grep -q '"broke": *false' "$fine"; then
      held=$fine
      start=$(grep -o '"target_rps_reached": *[0-9]*' "$fine" | grep -o '[0-9]*$')
      span=14
      echo "==> lab: $1 held the fine staircase's top step; on from $start" >&2
    else
      break
    fi
  done
  # Then hold the fine staircase's highest held step for 28 s (24 s judged), and after a failed
  # hold the same rate once more if it failed on a burst, else at what it achieved in time, or
  # one or two fine steps below it (lab hold-rate says where, and when to stop: k6/lab/limit.go).
  local spec=$fine rate hold
  while rate=$("$lab" hold-rate "$spec") && [ -n "$rate" ]; do
    echo "==> lab: $1 holds $rate req/s for 28 s" >&2
    touch "$marker"
    k6_as "$1" SCENARIO=breakpoint START_RATE="$rate" MAX_RATE="$rate" STEP_TIME=28s SETTLE=4s ABORT_DROPPED=off >&2 || true
    hold=$(newest_summary breakpoint "$1" "$marker") || return 1
    spec="$spec+$hold"
  done
  echo "$spec"
}

# On a virtual machine the host may run something else while this machine's cores are ready to
# run: "steal" in /proc/stat. A staircase run while a fifth of the time is stolen finds a fifth
# less, so the lab says how much was taken during each one. (No /proc/stat, as on macOS: n/a.)
cpu_times() { awk '/^cpu /{ t = 0; for (i = 2; i <= 9; i++) t += $i; print t, $9 }' /proc/stat 2>/dev/null || echo "0 0"; }
steal_pct() {
  awk -v a="$1" -v b="$2" 'BEGIN { split(a, x, " "); split(b, y, " "); d = y[1] - x[1]
    if (d > 0) printf "%.1f %%", 100 * (y[2] - x[2]) / d; else printf "n/a" }'
}
steal=()
# One core's speed just before and just after each staircase (`lab speed`, SHA-256 MB/s): a
# host can also slow the cores it lends without taking them, which steal does not show. A
# CPU-bound limit follows that speed, so the table also gives each limit per GB/s of the mean.
speed=()
speed_args=()
# speed_after <label> <MB/s before>: measures again and records both, and their mean.
speed_after() {
  local after
  after=$("$lab" speed)
  speed+=("$1 $2 → $after")
  speed_args+=("$1=$(( ($2 + after) / 2 ))")
}

# max_of <breakpoint summary or staircase's spec>: its maximum sustainable rate, rounded down to
# a multiple of 10 (0: none).
max_of() { "$lab" limit "$1"; }

docker compose --profile tools build --quiet k6 ceiling
args=()
overload=
# Where each coarse staircase starts: at 50 req/s, and the ceiling's at the baseline's limit,
# which it exceeds (if not, it starts again from 50), without a minute of steps far below its
# own. Not full's: its low steps warm its caches, and started at naive's limit (400/s), its
# coarse staircase broke on cold caches at 2,025/s, where it holds 3,000 warm.
for mode in "$base" ceiling full; do
  if [ "$mode" = ceiling ]; then
    # The stack is up in the baseline's mode, idle, while the ceiling is measured, as it is
    # beside each mode's runs.
    echo "==> lab: the machine's ceiling (a bare Go server, infra/ceiling), beside the idle stack"
    docker compose --profile tools up --detach ceiling
    before=$("$lab" speed)
    t0=$(cpu_times)
    ceiling=$(BASE_URL=http://ceiling:8080 staircase ceiling "$base_limit")
    steal+=("ceiling $(steal_pct "$t0" "$(cpu_times)")")
    speed_after ceiling "$before"
    echo "==> lab: the machine's ceiling is $(max_of "$ceiling") req/s"
    docker compose --profile tools rm --stop --force ceiling >/dev/null
    continue
  fi
  echo "==> lab: $mode mode"
  make --no-print-directory up MODE="$mode"
  # Warm-up, not measured: freshly started instances plan their first queries, fill pools and
  # read cold index pages; without it the first step could fail on start-up costs.
  k6_as "$mode" SCENARIO=browse RATE=20 DURATION=15s >/dev/null || true
  before=$("$lab" speed)
  t0=$(cpu_times)
  breakpoint=$(staircase "$mode" 50)
  steal+=("$mode $(steal_pct "$t0" "$(cpu_times)")")
  speed_after "$mode" "$before"
  limit=$(max_of "$breakpoint")
  if [ -z "$rate" ]; then
    rate=$limit
    [ "$rate" -ge 10 ] || { echo "lab.sh: $breakpoint gives no usable maximum; set LAB_RATE" >&2; exit 1; }
    echo "==> lab: the common load is $rate req/s, the most $mode sustained"
  fi
  if [ -z "$overload" ]; then
    overload=$(( limit * 3 ))
    [ "$overload" -ge 30 ] || overload=$(( rate * 3 ))
    base_limit=$(( limit >= 50 ? limit : 50 ))
  fi
  cpu="results/cpu-$mode-$stamp"
  cpu_snapshot "$cpu-before.json"
  touch "$marker"
  start=$(date +%s)
  k6_as "$mode" SCENARIO=browse RATE="$rate" DURATION="$duration" || true
  end=$(date +%s)
  cpu_snapshot "$cpu-after.json"
  browse=$(newest_summary browse "$mode" "$marker")
  # Our sources' error row: 3× the baseline's limit, and shoppers who give up after 10 s. VUs
  # for 10 s of answers at that rate, up to 1,000 (about 550 MiB of k6's 1 GiB), all made
  # before the run: VUs made mid-run come too late for a stall's backlog, and k6 would count
  # requests it dropped for its own slowness against the stack. Past 1,000 busy VUs, requests
  # k6 could not send count as failed (in an open model they would have waited longer too).
  echo "==> lab: $mode at $overload req/s, 3× $base's limit, with a 10 s timeout"
  touch "$marker"
  vus=$(( overload * 10 < 1000 ? overload * 10 : 1000 ))
  k6_as "$mode" SCENARIO=browse RATE="$overload" DURATION="${LAB_OVERLOAD:-30s}" \
    REQUEST_TIMEOUT=10s MAX_VUS="$vus" PRE_VUS="$vus" || true
  over=$(newest_summary browse "$mode" "$marker")
  args+=(-run "$mode,$breakpoint,$browse,$start,$end,$cpu-before.json,$cpu-after.json,$over")
done

"$lab" -prometheus "http://127.0.0.1:${PROMETHEUS_PORT:-9090}" -rate "$rate" -overload "$overload" -ceiling "$ceiling" -speed "$(IFS=,; echo "${speed_args[*]}")" -out "$report" -chart "$chart" "${args[@]}"
elapsed=$(( $(date +%s) - began ))
note="CPU time the hypervisor took from this machine's cores during each staircase (steal, /proc/stat): $(IFS=,; echo "${steal[*]}" | sed 's/,/, /g'). One core's speed just before and just after each (SHA-256, MB/s): $(IFS=,; echo "${speed[*]}" | sed 's/,/, /g'). The lab took $((elapsed / 60)) min $((elapsed % 60)) s."
printf '\n%s\n' "$note" >>"$report"
echo "==> lab: $note"
echo "==> lab: table written to $report, chart to $chart; the stack is left in full mode"
