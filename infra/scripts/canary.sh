#!/usr/bin/env bash
# The weighted canary: the working tree's catalog, as version "canary", takes WEIGHT % of the
# catalogs' requests beside the stable instances, and the rest stay with stable.
#   infra/scripts/canary.sh WEIGHT     (make canary WEIGHT=10, 50, 100; WEIGHT=0 aborts)
#   infra/scripts/canary.sh            (make canary: the report alone)
# The first WEIGHT above 0 builds the working tree as flashcrowd/catalog:canary and starts it
# (compose's catalog-canary); HAProxy keeps it at weight 0 until it is ready. The weights are set
# through HAProxy's runtime API, without a reload, on every slot of each group, so that a
# group's total is its share however many of its instances run: with n stable and m canary
# instances, each stable one gets (100 - WEIGHT) * m and each canary one WEIGHT * n, scaled
# to HAProxy's 1..256. Run it again after scaling the catalogs. WEIGHT=0 sends the canary
# nothing, then stops and removes it; stable gets its weight back.
# Then it prints each version's share of the requests of the last CANARY_WINDOW seconds (10)
# and their error rate (5xx answers and broken responses), from HAProxy's stats. With the HA
# pair (PROFILE=ha), both nodes get the weights, and the report adds up their counters.
set -euo pipefail
cd "$(dirname "$0")/../.."
. infra/scripts/lib.sh

weight=${1:-}
window=${CANARY_WINDOW:-10}
backend=catalogs
stable_slots=10 canary_slots=2 # haproxy.cfg: server-template catalog (SERVER_SLOTS, 10 in compose), catalog-canary 2

if [ -n "$weight" ] && ! [[ "$weight" =~ ^([0-9]|[1-9][0-9]|100)$ ]]; then
  echo "canary: WEIGHT must be a whole percentage from 0 to 100, got '$weight'" >&2
  exit 2
fi

# The HAProxy nodes: haproxy, and haproxy-2 when the HA pair runs.
mapfile -t nodes < <(docker compose ps --services --status running | grep -xE 'haproxy(-2)?')
[ ${#nodes[@]} -gt 0 ] || { echo "canary: HAProxy is not running (make up first)" >&2; exit 1; }

# runtime sends commands to a node's runtime API (its stats socket, inside the container).
runtime() {
  docker compose exec -T -u haproxy "$1" socat -t 2 stdio unix-connect:/run/haproxy/admin.sock <<<"$2"
}

# stats prints every node's statistics (CSV, each node's with its own header).
stats() {
  local node
  for node in "${nodes[@]}"; do runtime "$node" "show stat"; done
}

# up_count prints how many servers of a group (stable or canary) are UP in the backend, as the
# first node sees them.
up_count() {
  runtime "${nodes[0]}" "show stat" | awk -F, -v b="$backend" -v g="$1" '
    /^# / { sub(/^# /, ""); for (i = 1; i <= NF; i++) col[$i] = i; next }
    $1 != b || $col["status"] != "UP" { next }
    (g == "canary" && $2 ~ /^catalog-canary[0-9]+$/) || (g == "stable" && $2 ~ /^catalog[0-9]+$/) { n++ }
    END { print n + 0 }'
}

# set_weights gives every slot of each group its weight on every node, in one runtime API call
# per node.
set_weights() {
  local ws=$1 wc=$2 cmds="" i node out
  for i in $(seq 1 "$stable_slots"); do cmds+="set weight $backend/catalog$i $ws; "; done
  for i in $(seq 1 "$canary_slots"); do cmds+="set weight $backend/catalog-canary$i $wc; "; done
  for node in "${nodes[@]}"; do
    out=$(runtime "$node" "$cmds")
    # The runtime API answers an empty line per command that worked, a message otherwise.
    if [ -n "$(tr -d '[:space:]' <<<"$out")" ]; then
      echo "canary: $node refused a weight: $out" >&2
      exit 1
    fi
  done
}

# counters prints, per group, the answers and errors its servers have counted since HAProxy
# started, summed over the nodes; the instances UP and their weight, as the first node has them.
counters() {
  stats | awk -F, -v b="$backend" '
    /^# / { sub(/^# /, ""); for (i = 1; i <= NF; i++) col[$i] = i; node++; next }
    $1 != b { next }
    { g = $2 ~ /^catalog-canary[0-9]+$/ ? "canary" : $2 ~ /^catalog[0-9]+$/ ? "stable" : "" }
    g != "" {
      n[g] += $col["hrsp_1xx"] + $col["hrsp_2xx"] + $col["hrsp_3xx"] + $col["hrsp_4xx"] + $col["hrsp_5xx"] + $col["hrsp_other"] + $col["eresp"]
      e[g] += $col["hrsp_5xx"] + $col["eresp"]
      if (node == 1 && $col["status"] == "UP") { up[g]++; w[g] = $col["weight"] }
    }
    END { for (g in n) print g, n[g], e[g], up[g] + 0, w[g] + 0 }'
}

report() {
  local before after
  before=$(counters)
  sleep "$window"
  after=$(counters)
  awk -v window="$window" '
    NR == FNR { n0[$1] = $2; e0[$1] = $3; next }
    { n[$1] = $2 - n0[$1]; e[$1] = $3 - e0[$1]; up[$1] = $4; w[$1] = $5; total += n[$1] }
    END {
      printf "last %d s in the catalogs backend: %d requests\n", window, total
      printf "  %-7s %9s %9s %8s %10s %8s\n", "version", "instances", "weight", "requests", "share", "errors"
      split("stable canary", order, " ")
      for (k = 1; k <= 2; k++) {
        g = order[k]
        share = total ? 100 * n[g] / total : 0
        errs = n[g] ? 100 * e[g] / n[g] : 0
        printf "  %-7s %9d %9d %8d %9.1f%% %7.2f%%\n", g, up[g], w[g], n[g], share, errs
      }
      if (!total) print "no requests in the window: put some load on the shop (make k6 SCENARIO=browse)"
    }' <(echo "$before") <(echo "$after")
}

if [ -z "$weight" ]; then
  report
  exit 0
fi

if [ "$weight" -eq 0 ]; then
  set_weights 1 0
  log "canary: weight 0, stable takes every request"
  if [ -n "$(docker compose ps -q catalog-canary)" ]; then
    # Weight 0 sends it no new request; its own stop (SIGTERM, web.Serve) finishes the rest.
    docker compose stop catalog-canary >/dev/null 2>&1
    docker compose rm -f catalog-canary >/dev/null 2>&1
    log "canary: stopped and removed"
  fi
  report
  exit 0
fi

if [ -z "$(docker compose ps -q catalog-canary)" ]; then
  log "canary: building the working tree's catalog as flashcrowd/catalog:canary"
  docker compose build --quiet catalog-canary
  if ! out=$(docker compose up --detach --no-deps catalog-canary 2>&1); then
    printf '%s\n' "$out" >&2
    exit 1
  fi
  infra/scripts/wait-ready.sh catalog-canary
fi
n=$(up_count stable)
m=$(up_count canary)
[ "$m" -gt 0 ] || { echo "canary: no canary instance is UP in HAProxy" >&2; exit 1; }
[ "$n" -gt 0 ] || [ "$weight" -eq 100 ] || log "canary: no stable instance is UP: the canary takes everything"
ws=$(((100 - weight) * m))
wc=$((weight * n))
max=$((ws > wc ? ws : wc))
if [ "$max" -eq 0 ]; then ws=0 wc=1; else
  ws=$(((ws * 256 + max / 2) / max)) wc=$(((wc * 256 + max / 2) / max))
  # A share too small to round to 1 still gets 1: 0 would mean none at all.
  [ "$weight" -eq 100 ] || [ "$ws" -gt 0 ] || ws=1
  [ "$wc" -gt 0 ] || wc=1
fi
set_weights "$ws" "$wc"
log "canary: $weight % (weights: $n stable at $ws, $m canary at $wc)"
report
