#!/usr/bin/env bash
# Drill: deployments under load drop no request. While k6's browse scenario runs at a steady
# rate (with admin writes, which are never retried), it rolls out the gateway, then the catalog
# (make rollout: each instance replaced by one of the image just built, the new one ready
# first), then stops one catalog instance by hand (docker stop) and brings it back. It prints
# k6's figures, checks that every instance now runs the image just built, and fails when a
# request failed or an instance runs another image.
#   RATE (100/s), DURATION (130s), WRITE_PCT (10)
set -euo pipefail
cd "$(dirname "$0")/../.."
. infra/scripts/lib.sh

[ -n "$(docker compose ps -q --status running haproxy)" ] || { echo "drill-rollout: the stack is not up (make up)" >&2; exit 1; }
out=$(mktemp); trap 'rm -f "$out"' EXIT
k6_image
log "drill-rollout: k6 browse at ${RATE:-100}/s for ${DURATION:-130s}, ${WRITE_PCT:-10} % admin writes"
QUIET=1 SCENARIO=browse RATE="${RATE:-100}" DURATION="${DURATION:-130s}" WRITE_PCT="${WRITE_PCT:-10}" \
  k6/run.sh >"$out" 2>&1 & k6=$!
sleep 10

infra/scripts/rollout.sh gateway
infra/scripts/rollout.sh catalog
victim=$(docker compose ps -q catalog | head -1)
log "drill-rollout: docker stop of one catalog instance, $(docker inspect -f '{{.Name}}' "$victim")"
docker stop --time 30 "$victim" >/dev/null
sleep 5
docker compose up --detach --no-deps --no-recreate catalog >/dev/null 2>&1
infra/scripts/wait-ready.sh catalog
kill -0 "$k6" 2>/dev/null || { echo "drill-rollout: k6 ended before the rollouts did: raise DURATION" >&2; cat "$out" >&2; exit 1; }
log "drill-rollout: all done; waiting for k6 to finish"
# k6's own verdict is left out: its latency thresholds are for a quiet machine, and the
# rollouts build images on the same cores. What counts here is failed requests.
wait "$k6" || true
rc=0
k6_summary "$out"

# Every instance must run the image the rollouts just built.
for svc in gateway catalog; do
  want=$(docker image inspect -f '{{.Id}}' "flashcrowd/$svc:dev")
  ids=$(docker compose ps -q "$svc")
  total=$(wc -w <<<"$ids")
  new=$(for id in $ids; do docker inspect -f '{{.Image}}' "$id"; done | grep -cx "$want" || true)
  echo "$svc: $new of $total instances run the image just built (${want:7:12})"
  [ "$new" -eq "$total" ] || rc=1
done
failed=$(sed -nE 's/^  requests [0-9]+ .*failed ([0-9]+) .*/\1/p' "$out")
[ "${failed:-x}" = 0 ] || { echo "drill-rollout: ${failed:-unknown} requests failed, want 0" >&2; rc=1; }
exit "$rc"
