#!/usr/bin/env bash
# make k8s-lab: a surge against the stack on the kind cluster (make k8s-up), to watch its
# HorizontalPodAutoscalers work. k6 (k6/hpa.js) offers the browse mix through the edge's NodePort:
# quiet, then SPIKE_RATE req/s for HOLD, then quiet again for AFTER, through which the catalog's
# autoscaler must keep its Pods for its stabilization window before it lets them go. Every 5 s
# the lab samples the ready Pods of catalog, gateway and orders and the catalog autoscaler's
# desired count and CPU reading. k6/lab lines the two up and judges the catalog's autoscaler
# against its own settings, read from the cluster: from its floor to at least 5 Pods within
# 3 minutes of the surge; the first Pod removed no sooner than its window after its last high CPU
# reading; back at the floor before the run ends; at most 1 % of requests failed. It writes
# results/k8s-lab-<stamp>.md and .svg. About 14 minutes. k6's knobs (SPIKE_RATE, HOLD, AFTER, ...:
# see k6/hpa.js) pass through.
set -euo pipefail
cd "$(dirname "$0")/../.."
. infra/scripts/lib.sh
. infra/kind/lib.sh
COMPOSE=${COMPOSE:-docker compose}

[ "$(docker inspect -f '{{.State.Running}}' "$NODE" 2>/dev/null)" = true ] ||
  { echo "k8s-lab: no kind cluster $CLUSTER running: make k8s-up first" >&2; exit 1; }

# The judge first: a compile error must not throw away a 13-minute run.
scratch=$(mktemp -d)
go build -o "$scratch/lab" ./k6/lab

# The catalog autoscaler's own settings.
hpa=$(k -n flashcrowd get hpa catalog -o jsonpath='{.spec.minReplicas} {.spec.metrics[?(@.resource.name=="cpu")].resource.target.averageUtilization} {.spec.behavior.scaleDown.stabilizationWindowSeconds}')
read -r floor cpu_target window <<<"$hpa"
[ -n "$window" ] || { echo "k8s-lab: could not read the catalog autoscaler's settings" >&2; exit 1; }

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
log "waiting for the catalog's autoscaler: a CPU reading, and $floor Pods"
deadline=$((SECONDS + 600))
until s=$(sample) && read -r _ catalog desired cpu _ _ <<<"$s" && [ "$cpu" != - ] && [ "$catalog" = "$floor" ] && [ "$desired" = "$floor" ]; do
  [ "$SECONDS" -lt "$deadline" ] || { echo "k8s-lab: the catalog's autoscaler is not ready at $floor Pods (last sample: ${s:-none}); is metrics-server up? (kubectl -n kube-system get pods)" >&2; exit 1; }
  sleep 5
done

# k6 runs as in every lab (k6/run.sh, compose's k6 service) and reaches the node on compose's
# loadgen network, whose addresses the local overlay exempts from the per-client limits. The
# node leaves that network when the lab ends, so that `make down` can remove it.
$COMPOSE --profile tools create --no-recreate k6 >/dev/null
net=$(docker network ls -q --filter label=com.docker.compose.project=flashcrowd --filter label=com.docker.compose.network=loadgen)
[ -n "$net" ] || { echo "k8s-lab: compose's loadgen network was not created" >&2; exit 1; }
net=$(docker network inspect -f '{{.Name}}' "$net")
sampler=
cleanup() {
  if [ -n "$sampler" ]; then kill "$sampler" 2>/dev/null || true; wait "$sampler" 2>/dev/null || true; fi
  docker network disconnect "$net" "$NODE" 2>/dev/null || true
  rm -rf "$scratch"
}
trap cleanup EXIT
docker network inspect -f '{{range .Containers}}{{.Name}} {{end}}' "$net" | grep -qw "$NODE" || docker network connect "$net" "$NODE"
node_ip=$(docker inspect -f "{{(index .NetworkSettings.Networks \"$net\").IPAddress}}" "$NODE")
[ -n "$node_ip" ] || { echo "k8s-lab: the node has no address on $net" >&2; exit 1; }

stamp=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p results
samples=results/k8s-lab-$stamp.samples
( while :; do sample >>"$samples" || true; sleep 5; done ) &
sampler=$!

log "k6/hpa.js against the edge at $node_ip:30080 (about 13 min)"
touch "$scratch/marker"
rc=0
BASE_URL=http://$node_ip:30080 SCENARIO=hpa MODE=k8s QUIET=1 k6/run.sh || rc=$?
kill "$sampler" 2>/dev/null || true
wait "$sampler" 2>/dev/null || true
sampler=
# 99: a k6 threshold crossed; its table says which, and the judge below counts the failures.
[ "$rc" = 0 ] || [ "$rc" = 99 ] || { echo "k8s-lab: k6 failed (exit $rc)" >&2; exit "$rc"; }
summary=$(newest_summary hpa k8s "$scratch/marker")

"$scratch/lab" hpa -summary "$summary" -samples "$samples" \
  -min "$floor" -cpu-target "$cpu_target" -hold "${window}s" -reach 5 -within 3m -max-failed 0.01 \
  -out "results/k8s-lab-$stamp.md" -chart "results/k8s-lab-$stamp.svg"
echo "wrote results/k8s-lab-$stamp.md and .svg"
