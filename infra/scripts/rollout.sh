#!/usr/bin/env bash
# Zero-downtime rollout: rebuilds a service's image from the working tree, then replaces every
# instance, one at a time (also when the image did not change: a rolling restart). For each old instance, one new instance starts and must be UP in
# HAProxy (its /readyz passed two checks) before the old one gets SIGTERM, which it answers by
# failing /readyz while still serving, until HAProxy stops sending it requests, then finishing
# what is in flight (web.Serve). At every moment at least as many ready instances as before.
#   infra/scripts/rollout.sh catalog|gateway|orders      (make rollout SERVICE=…)
set -euo pipefail
cd "$(dirname "$0")/../.."
. infra/scripts/lib.sh

svc=${1:-}
case "$svc" in
  catalog | gateway | orders) ;;
  *) echo "rollout: SERVICE must be catalog, gateway or orders, got '$svc'" >&2; exit 2 ;;
esac

log "building $svc"
docker compose build --quiet "$svc"
mapfile -t old < <(docker compose ps -q "$svc")
[ ${#old[@]} -gt 0 ] || { echo "rollout: no running $svc instance (make up first)" >&2; exit 1; }
n=${#old[@]}
replaced=0
for id in "${old[@]}"; do
  name=$(docker inspect -f '{{.Name}}' "$id"); name=${name#/}
  # One more instance: compose keeps the running ones (--no-recreate) and starts the new one
  # from the image just built.
  if ! out=$(docker compose up --detach --no-deps --no-recreate --scale "$svc=$((n + 1))" "$svc" 2>&1); then
    printf '%s\n' "$out" >&2
    exit 1
  fi
  infra/scripts/wait-ready.sh "$svc"
  log "a new $svc is ready; stopping $name"
  docker stop --time 30 "$id" >/dev/null
  docker rm "$id" >/dev/null
  replaced=$((replaced + 1))
done
infra/scripts/wait-ready.sh "$svc"
log "$svc: $replaced of $n instances replaced by ones of the image just built"
