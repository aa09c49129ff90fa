#!/usr/bin/env bash
# make profile SERVICE=catalog|orders|gateway|worker: a CPU profile of one instance of SERVICE
# while k6's browse scenario loads the stack through the edge, then its hottest functions.
#   INSTANCE         which instance (default 1)
#   PROFILE_SECONDS  how long the profile runs (default 30); the load starts 10 s before it
#   RATE             the browse scenario's requests per second (default 400)
# The profile comes from the instance's profile port (DEBUG_ADDR, as .env sets it), which no
# HAProxy route reaches and compose does not publish: Go's own pprof fetches it from a container
# on the stack's network. It is left in results/ for `go tool pprof -http=:0 <file>`.
set -euo pipefail
cd "$(dirname "$0")/../.."
. infra/scripts/lib.sh

service=${SERVICE:-}
case "$service" in
  catalog | orders | gateway | worker) ;;
  *) echo "make profile SERVICE=catalog|orders|gateway|worker [INSTANCE=1] [PROFILE_SECONDS=30] [RATE=400]" >&2; exit 2 ;;
esac
instance=${INSTANCE:-1}
seconds=${PROFILE_SECONDS:-30}
rate=${RATE:-400}
case "$instance$seconds$rate" in *[!0-9]*) echo "INSTANCE, PROFILE_SECONDS and RATE are whole numbers" >&2; exit 2 ;; esac
[ "$seconds" -ge 5 ] && [ "$seconds" -le 300 ] || { echo "PROFILE_SECONDS: 5 to 300" >&2; exit 2; }
port=${DEBUG_ADDR:-}
port=${port##*:}
[ -n "$port" ] || { echo "DEBUG_ADDR is empty (production mode, make secrets): the services serve no profiles" >&2; exit 1; }

target=$(docker compose ps --format '{{.Name}}' "$service" 2>/dev/null | grep -E -- "-$instance\$" || true)
[ -n "$target" ] || { echo "no running $service instance $instance: make up first (docker compose ps $service)" >&2; exit 1; }
network=$(docker inspect -f '{{range $k, $v := .NetworkSettings.Networks}}{{println $k}}{{end}}' "$target" | grep -E '_default$' | head -1)

stamp=$(date -u +%Y%m%dT%H%M%SZ)
name="profile-$service-$instance-$stamp"
mkdir -p results
k6log=$(mktemp)
trap 'rm -f "$k6log"' EXIT

# Go's pprof, built once into a small image (the toolchain's source has it; Go 1.26 ships it
# unbuilt), run on the stack's network as the caller's user.
docker build --quiet -t flashcrowd/pprof:dev - >/dev/null <<'DOCKERFILE'
FROM golang:1.26-trixie
RUN go build -o /usr/local/bin/pprof cmd/pprof
ENTRYPOINT ["pprof"]
DOCKERFILE
pprof() {
  docker run --rm --network "$network" --user "$(id -u):$(id -g)" --read-only --tmpfs /tmp \
    -e HOME=/tmp -v "$PWD/results:/results" flashcrowd/pprof:dev "$@"
}

log "browse load at $rate req/s for $((seconds + 15)) s; profiling $target for $seconds s after 10 s"
k6_image
RATE=$rate DURATION=$((seconds + 15))s SCENARIO=browse QUIET=1 k6/run.sh >"$k6log" 2>&1 &
k6pid=$!
sleep 10
pprof -proto -output "/results/$name.pb.gz" "http://$target:$port/debug/pprof/profile?seconds=$seconds" \
  2>&1 | grep -Ev '^(Fetching|Saved|Generating)' || true
k6rc=0
wait "$k6pid" || k6rc=$?
k6_summary "$k6log"
[ "$k6rc" -eq 0 ] || log "k6 ended with $k6rc (thresholds crossed: the profile shows an overloaded instance)"
[ -s "results/$name.pb.gz" ] || { echo "no profile was written" >&2; exit 1; }

echo
pprof -top -nodecount=25 "/results/$name.pb.gz" 2>/dev/null
echo
echo "wrote results/$name.pb.gz; explore it: go tool pprof -http=127.0.0.1:0 results/$name.pb.gz"
