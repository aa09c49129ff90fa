# Shared helpers for the scripts in this folder; sourced, not run.

log() { printf '==> [%4ds] %s\n' "$SECONDS" "$*" >&2; }

# k6_summary prints the figures of a k6/run.sh output file: the run's line, its requests (failed
# included) and the table per endpoint; the file's end when it has none (k6 failed to run).
k6_summary() {
  grep -E '^(flashcrowd|  requests|  endpoint|  [a-z_]+ +[0-9])' "$1" || tail -30 "$1"
}

# newest_summary <scenario> <mode> <marker>: the newest results/<scenario>-<mode>-*.json, if it
# was written after the file <marker> was touched. A run that died leaves no summary: stop rather
# than reuse an older run's. (-nt, not stat: stat's flags differ on macOS.)
newest_summary() {
  local f
  f=$(ls -t results/"$1-$2"-*.json 2>/dev/null | head -1 || true)
  if [ -z "$f" ] || ! [ "$f" -nt "$3" ]; then
    echo "the $1 run in $2 mode wrote no summary; see its output above" >&2
    return 1
  fi
  echo "$f"
}

# k6_image builds k6's image (compose profile tools) unless it is built: a drill that starts k6
# in the background and its fault a few seconds later must not spend those seconds building.
k6_image() {
  docker compose --profile tools build --quiet k6 >/dev/null
}

# The host's own Debian mirror, read from its apt sources, so no script names a package host.
debian_mirror() {
  local uri
  uri=$(grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep -E '/debian/?$' | head -1 || true)
  [ -n "$uri" ] || uri=$(grep -hE '^deb[[:space:]]' /etc/apt/sources.list 2>/dev/null | awk '{print $2}' | grep -E '/debian/?$' | head -1 || true)
  [ -n "$uri" ] || { echo "no Debian mirror found in this host's apt sources" >&2; return 1; }
  printf '%s\n' "${uri%/}"
}

apt_install() {
  if [ -z "${_apt_updated:-}" ]; then apt-get update -qq; _apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# pg_member prints the first Postgres member (compose service) that runs.
pg_member() {
  local m
  for m in postgres-1 postgres-2 postgres-3; do
    if [ -n "$(docker compose ps -q --status running "$m" 2>/dev/null)" ]; then
      echo "$m"
      return
    fi
  done
  echo "no Postgres member is running (make up)" >&2
  return 1
}

# pg_leader prints the Postgres cluster's leader (its compose service), as Patroni in a running
# member sees it.
pg_leader() {
  local m
  m=$(pg_member) || return
  docker compose exec -T "$m" patronictl -c /run/patroni/patroni.yml list -f tsv |
    awk -F'\t' '$4 == "Leader" { print $2; found = 1 } END { exit !found }'
}
