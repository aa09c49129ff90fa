#!/usr/bin/env bash
# make k8s-lab: a surge against the stack on the kind cluster (make k8s-up), to watch its
# HorizontalPodAutoscalers work. k6 (k6/hpa.js) offers the browse mix through the edge's NodePort:
# quiet, then SPIKE_RATE req/s for HOLD, then quiet again for AFTER, through which the catalog's
# autoscaler must keep its Pods for the 300 s stabilization window before it lets them go. Every
# 5 s the lab samples the ready Pods of catalog, gateway and orders and the catalog autoscaler's
# desired count and CPU reading. k6/lab lines the two up, judges the catalog's autoscaler (3 → at
# least 5 Pods within 3 minutes of the surge; the first Pod removed no sooner than 300 s after the
# load fell; back at 3 before the run ends) and writes results/k8s-lab-<stamp>.md and .svg.
# About 14 minutes. k6's knobs (SPIKE_RATE, HOLD, AFTER, ...: see k6/hpa.js) pass through.
set -euo pipefail
cd "$(dirname "$0")/../.."
. infra/scripts/lib.sh

CLUSTER=${KIND_CLUSTER:-flashcrowd}
NODE=$CLUSTER-control-plane
FLOOR=3
k() { docker exec -i "$NODE" kubectl "$@"; }

[ "$(docker inspect -f '{{.State.Running}}' "$NODE" 2>/dev/null)" = true ] ||
  { echo "k8s-lab: no kind cluster $CLUSTER running: make k8s-up first" >&2; exit 1; }

# One line per sample: Unix ms, catalog's ready Pods, its autoscaler's desired count and CPU
# reading (% of the Pods' CPU request; "-" while metrics-server has none), gateway's and orders'
# ready Pods.
sample() {
  local now counts
  now=$(date +%s%3N)
  counts=$(docker exec "$NODE" sh -c 'kubectl -n flashcrowd get deployment/catalog horizontalpodautoscaler/catalog deployment/gateway deployment/orders -o json |
    jq -r "[.items[] | {(.kind + \"/\" + .metadata.name): .}] | add as \$o | [
      (\$o[\"Deployment/catalog\"].status.readyReplicas // 0),
      (\$o[\"HorizontalPodAutoscaler/catalog\"].status.desiredReplicas // 0),
      ([\$o[\"HorizontalPodAutoscaler/catalog\"].status.currentMetrics[]? | select(.resource.name == \"cpu\") | .resource.current.averageUtilization][0] // \"-\"),
      (\$o[\"Deployment/gateway\"].status.readyReplicas // 0),
      (\$o[\"Deployment/orders\"].status.readyReplicas // 0)
    ] | @tsv"' | tr '\t' ' ') || return 1
  # One whole line or none: a failed kubectl must not leave half a line.
  [ "$(wc -w <<<"$counts")" = 5 ] && echo "$now $counts"
}

# The autoscaler needs a CPU reading, and a run judged from the floor needs the catalog there:
# after an earlier run that is up to seven minutes of scale-down.
log "waiting for the catalog's autoscaler: a CPU reading, and $FLOOR Pods"
deadline=$((SECONDS + 600))
until s=$(sample) && read -r _ catalog desired cpu _ _ <<<"$s" && [ "$cpu" != - ] && [ "$catalog" = "$FLOOR" ] && [ "$desired" = "$FLOOR" ]; do
  [ "$SECONDS" -lt "$deadline" ] || { echo "k8s-lab: the catalog's autoscaler is not ready at $FLOOR Pods (last sample: ${s:-none}); is metrics-server up? (kubectl -n kube-system get pods)" >&2; exit 1; }
  sleep 5
done

# k6 runs as in every lab (k6/run.sh, compose's k6 service) and reaches the node on compose's
# loadgen network, whose addresses the local overlay exempts from the per-client limits.
docker compose --profile tools create --no-recreate k6 >/dev/null 2>&1
net=$(docker network ls --filter label=com.docker.compose.project=flashcrowd --filter label=com.docker.compose.network=loadgen -q)
[ -n "$net" ] || { echo "k8s-lab: compose's loadgen network was not created" >&2; exit 1; }
docker network connect "$net" "$NODE" 2>/dev/null || true
node_ip=$(docker inspect -f "{{(index .NetworkSettings.Networks \"$(docker network inspect -f '{{.Name}}' "$net")\").IPAddress}}" "$NODE")

stamp=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p results
samples=results/k8s-lab-$stamp.samples
( while :; do sample >>"$samples" || true; sleep 5; done ) &
sampler=$!
trap 'kill "$sampler" 2>/dev/null || true' EXIT

log "k6/hpa.js against the edge at $node_ip:30080 (about 13 min)"
rc=0
BASE_URL=http://$node_ip:30080 SCENARIO=hpa MODE=k8s QUIET=1 k6/run.sh || rc=$?
kill "$sampler" 2>/dev/null || true
# 99: a threshold crossed (reported below; the lab judges the autoscaler); anything else: no run.
[ "$rc" = 0 ] || [ "$rc" = 99 ] || { echo "k8s-lab: k6 failed (exit $rc)" >&2; exit "$rc"; }
summary=$(ls -t results/hpa-k8s-*.json | head -1)

lab=$(mktemp -d)
trap 'kill "$sampler" 2>/dev/null || true; rm -rf "$lab"' EXIT
go build -o "$lab/lab" ./k6/lab
"$lab/lab" hpa -summary "$summary" -samples "$samples" -min "$FLOOR" -reach 5 -within 3m -hold 300s \
  -out "results/k8s-lab-$stamp.md" -chart "results/k8s-lab-$stamp.svg"
echo "wrote results/k8s-lab-$stamp.md and .svg"
