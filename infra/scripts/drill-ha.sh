#!/usr/bin/env bash
# Drill: the HA pair loses its active node. Under a steady k6 browse run against the virtual
# address, the HAProxy of the node that holds it is killed (SIGKILL to its master process); the
# script prints how long the address took to answer again (a product read from this host, every
# 0.05 s), which node holds it now, k6's failed requests over the run, and the killed node's
# return (as standby). It fails when the address took more than 3 s. Needs the pair (make up
# PROFILE=ha) and a host that routes to the containers' addresses (Linux; not Docker Desktop).
#   RATE (100/s), DURATION (45s), KILL_AFTER (15 s into the run)
#   KILL=haproxy (default: kill -9 of HAProxy, whose node's entrypoint then hands the address
#   over at once) or KILL=node (docker kill of the whole container, keepalived with it: the peer
#   notices after 3 missed adverts)
set -euo pipefail
cd "$(dirname "$0")/../.."
. infra/scripts/lib.sh
set -a; . ./.env; [ ! -f .env.local ] || . ./.env.local; set +a

[ -n "$(docker compose ps -q haproxy-2 2>/dev/null)" ] || {
  echo "drill-ha: the HA pair is not running: make up PROFILE=ha" >&2; exit 1; }

# holder prints the node (compose service) that says it holds the virtual address: each
# node's stats port serves haproxy_ha_holds_virtual_address (/ha), at its fixed address.
holder() {
  curl -fsS --max-time 1 "http://$HA_NODE_1:8404/ha" 2>/dev/null | grep -q '^haproxy_ha_holds_virtual_address 1$' && echo haproxy
  curl -fsS --max-time 1 "http://$HA_NODE_2:8404/ha" 2>/dev/null | grep -q '^haproxy_ha_holds_virtual_address 1$' && echo haproxy-2
  true
}

probe="http://$HA_VIP:8080/api/v1/products/1"
curl -fsS -o /dev/null --max-time 2 "$probe" || { echo "drill-ha: $probe does not answer before the drill" >&2; exit 1; }
active=$(holder)
[ "$(wc -w <<<"$active")" -eq 1 ] || { echo "drill-ha: want one node holding $HA_VIP, found: '${active:-none}'" >&2; exit 1; }
log "drill-ha: $active holds $HA_VIP; k6 browse at ${RATE:-100}/s for ${DURATION:-45s} against it"

out=$(mktemp); trap 'rm -f "$out"' EXIT
k6_image
QUIET=1 SCENARIO=browse RATE="${RATE:-100}" DURATION="${DURATION:-45s}" k6/run.sh >"$out" 2>&1 & k6=$!
sleep "${KILL_AFTER:-15}"

if [ "${KILL:-haproxy}" = node ]; then
  log "drill-ha: docker kill of $active (the whole node)"
  start=$(date +%s%N)
  docker kill --signal KILL "$(docker compose ps -q "$active")" >/dev/null
else
  # The master process is the haproxy whose parent is not one (ha-entrypoint's shell); its workers
  # go with it.
  # As the haproxy user: root in the container has no CAP_KILL. The time is taken in there, right
  # before the kill (the container shares this host's clock): the container, and this docker exec
  # with it, is gone right after.
  log "drill-ha: kill -9 of $active's HAProxy"
  start=$(docker compose exec -T -u haproxy "$active" sh -c 'for p in /proc/[0-9]*; do
    if [ "$(cat $p/comm 2>/dev/null)" = haproxy ] && [ "$(cat /proc/$(cut -d" " -f4 $p/stat)/comm)" != haproxy ]; then
      date +%s%N; kill -KILL "${p#/proc/}"; fi
    done' | head -1 || true)
fi
[[ "$start" =~ ^[0-9]+$ ]] || { echo "drill-ha: could not kill $active's HAProxy: $start" >&2; exit 1; }
failed=0
# Each probe gives up after 0.3 s (a connection to an address nobody holds just waits), so the
# time printed is at most about 0.35 s later than the first moment the address answered.
until curl -fsS -o /dev/null --max-time 0.3 "$probe" 2>/dev/null; do
  failed=$((failed + 1))
  [ $(( ($(date +%s%N) - start) / 1000000 )) -lt 30000 ] || { echo "drill-ha: $HA_VIP still silent after 30 s" >&2; break; }
  sleep 0.05
done
ms=$(( ($(date +%s%N) - start) / 1000000 ))
printf 'the virtual address answered again %d.%03d s after the kill (%d probes failed); it is now on %s\n' \
  $((ms / 1000)) $((ms % 1000)) "$failed" "$(holder | xargs)"
rc=0
[ "$ms" -le 3000 ] || { echo "drill-ha: that is over 3 s" >&2; rc=1; }

wait "$k6" || true
k6_summary "$out"

# Docker restarts a node whose HAProxy died (restart: unless-stopped), not one killed with
# docker kill: that one is started here. It comes back as the standby.
id=$(docker compose ps -aq "$active")
for i in $(seq 1 60); do
  [ "$(docker inspect -f '{{.State.Running}}' "$id" 2>/dev/null)" = true ] && break
  [ "$i" -ne 10 ] || docker start "$id" >/dev/null
  sleep 1
done
sleep 3
printf '%s is back: the address is on %s\n' "$active" "$(holder | xargs)"
exit "$rc"
