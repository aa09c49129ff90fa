#!/usr/bin/env bash
# Waits until HAProxy sends traffic to every running instance of the services it balances
# (gateway, catalog, orders, and the Postgres members): each container's address is UP in its
# backend (a Postgres member: as the leader in pg_write or as a replica in pg_replicas). Those services have no Docker healthcheck (compose.yaml says why), so `compose up
# --wait` only knows they run; HAProxy's own checks say they are ready. Reads HAProxy's stats on
# the host's published port: no `docker exec`.
#   infra/scripts/wait-ready.sh [service ...]     (default: all six; WAIT_READY_TIMEOUT, 120 s)
set -euo pipefail
cd "$(dirname "$0")/../.."
. infra/scripts/lib.sh

stats="http://127.0.0.1:${HAPROXY_STATS_PORT:-8404}/;csv"
declare -A backend_of=([gateway]=gateways [catalog]=catalogs [catalog-canary]=catalogs [orders]=orders
  [postgres-1]='pg_write|pg_replicas' [postgres-2]='pg_write|pg_replicas' [postgres-3]='pg_write|pg_replicas')
services=("$@")
[ ${#services[@]} -gt 0 ] || services=(gateway catalog orders postgres-1 postgres-2 postgres-3)
deadline=$((SECONDS + ${WAIT_READY_TIMEOUT:-120}))

# not_ready prints "service addresses" for every running instance HAProxy does not route to
# yet. An instance on two networks (the HA pair's) is routed to at one of its addresses. Two
# docker calls for all the instances, not two per instance: on a machine busy starting the
# stack each call takes a second, and a pass over ten instances took longer than the checks.
not_ready() {
  local csv ids svc ips
  csv=$(curl -fsS --max-time 2 "$stats" 2>/dev/null) || { echo "haproxy stats"; return; }
  ids=$(docker compose ps -q "${services[@]}")
  declare -A running=()
  # Each instance's service and addresses, from one docker inspect ($ids unquoted there: one
  # argument per container).
  while read -r svc ips; do
    running[$svc]=1
    awk -F, -v b="${backend_of[$svc]}" -v ips="$ips" '
      BEGIN { n = split(ips, ip, " ") }
      NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
      $1 ~ "^(" b ")$" && $col["status"] == "UP" { for (i = 1; i <= n; i++) if ($col["addr"] ~ "^" ip[i] ":") up = 1 }
      END { exit !up }' <<<"${csv#\# }" || echo "$svc $ips"
  done < <([ -z "$ids" ] || docker inspect -f '{{index .Config.Labels "com.docker.compose.service"}} {{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}' $ids)
  for svc in "${services[@]}"; do
    [ -n "${running[$svc]:-}" ] || echo "$svc (no running instance)"
  done
}

while :; do
  waiting=$(not_ready)
  [ -z "$waiting" ] && break
  if [ "$SECONDS" -ge "$deadline" ]; then
    log "not ready after ${WAIT_READY_TIMEOUT:-120} s: $(echo "$waiting" | paste -sd, -)"
    exit 1
  fi
  sleep 1
done
