#!/usr/bin/env bash
# make k6: runs one scenario of k6/ in the k6 container (compose profile "tools") on the stack's
# network, against the edge, and leaves results/<scenario>-<mode>-<UTC stamp>.json (k6's summary
# data) and .html (the web dashboard's report). The stack must be up (make up).
#   SCENARIO  smoke | browse | spike | breakpoint | soak | flashsale | ratelimit (default smoke)
#   MODE      the stack mode this run measures, a label for the results (default full)
#   QUIET=1   (or CI set) CI-friendly: no progress bars, no TTY; otherwise live progress
#   LIVE=1    also serve k6's live web dashboard on 127.0.0.1:${K6_DASHBOARD_PORT:-5665}
# Scenario settings (RATE, DURATION, ... see each scenario's header) pass through from the
# environment or the make command line; any arguments go to `k6 run` as they are.
set -euo pipefail
cd "$(dirname "$0")/.."

scenario=${SCENARIO:-smoke}
mode=${MODE:-full}
if [ ! -f "k6/$scenario.js" ]; then
  echo "run.sh: no scenario k6/$scenario.js; choose one of: $(cd k6 && ls -- *.js | sed 's/\.js$//' | xargs)" >&2
  exit 2
fi
case "$mode" in *[!a-z0-9_-]*|"") echo "run.sh: MODE must be a short name like full or naive, got '$mode'" >&2; exit 2 ;; esac

# ratelimit needs two client addresses: two k6 containers at once, one per ROLE (the role
# labels its results in place of MODE).
if [ "$scenario" = ratelimit ] && [ -z "${ROLE:-}" ]; then
  ROLE=above MODE=above "$0" "$@" & above=$!
  ROLE=below MODE=below "$0" "$@" & below=$!
  rc=0
  wait "$above" || rc=$?
  wait "$below" || rc=$?
  exit "$rc"
fi

stamp=$(date -u +%Y%m%dT%H%M%SZ)
name="$scenario-$mode-$stamp"
mkdir -p results

# As the caller's user, so the results belong to whoever ran them.
run_args=(--rm --user "$(id -u):$(id -g)"
  -e MODE="$mode" -e RUN_STAMP="$stamp" -e K6_CPU_FILE="/results/$name.cpu"
  -e K6_WEB_DASHBOARD=true -e K6_WEB_DASHBOARD_EXPORT="/results/$name.html" -e K6_WEB_DASHBOARD_PERIOD=2s)
for knob in BASE_URL SEED_PRODUCTS VUS RATE DURATION WRITE_PCT MAX_VUS PRE_VUS P95_MS P99_MS MAX_FAIL_RATE \
  BASE_RATE SPIKE_RATE IDLE RISE HOLD FALL AFTER AFTER_P95_MS START_RATE MAX_RATE STEP STEP_FACTOR STEP_TIME SETTLE LEAD_IN WINDOW ABORT_DROPPED ABORT_FIRST_STEP ABORT_SENT REQUEST_TIMEOUT ZIPF_EXPONENT \
  K BUYERS ARRIVAL SOLD_OUT_P95_MS EMAIL_WAIT MAILPIT_URL ROLE ABOVE_RATE BELOW_RATE CHECKOUT_RATE LIMITED_URL RETRY_FOR; do
  if [ -n "${!knob:-}" ]; then run_args+=(-e "$knob=${!knob}"); fi
done

k6_args=()
quiet=${QUIET:-}
if [ -n "${CI:-}" ] && [ -z "$quiet" ]; then quiet=1; fi
case "$quiet" in
  "" | 0 | false) quiet= ;;
esac
if [ -n "$quiet" ]; then
  k6_args+=(--quiet)
  run_args+=(-T -e K6_WEB_DASHBOARD_PORT=-1) # the report is still exported; no server
elif [ -n "${LIVE:-}" ]; then
  port=${K6_DASHBOARD_PORT:-5665}
  run_args+=(--publish "127.0.0.1:$port:5665")
  echo "live dashboard: http://127.0.0.1:$port/ (while the run lasts)"
else
  run_args+=(-e K6_WEB_DASHBOARD_PORT=-1)
fi
if [ -z "$quiet" ] && { [ ! -t 0 ] || [ ! -t 1 ]; }; then run_args+=(-T); fi

rc=0
docker compose --profile tools run "${run_args[@]}" k6 run ${k6_args[@]+"${k6_args[@]}"} "$@" "/scripts/$scenario.js" || rc=$?
for f in "results/$name.json" "results/$name.html" "results/$name.cpu"; do
  if [ -f "$f" ]; then echo "wrote $f"; else echo "run.sh: $f was not written" >&2; fi
done
# k6 shares the machine with the stack it measures: say what it cost.
if [ -f "results/$name.cpu" ]; then echo "k6 itself used $(cat "results/$name.cpu") CPU-seconds"; fi
# k6 exits 99 when a threshold is crossed (also when one stopped the run: breakpoint does, by
# design), 108 when the script gave up (the stack did not answer the preflight request).
exit "$rc"
