#!/usr/bin/env bash
# Makes sure a Docker engine with compose v2 and buildx is installed and running.
# Used by CI on a fresh Debian machine; on a machine that already has Docker it only checks.
set -euo pipefail

. "$(dirname "$0")/lib.sh"

if ! command -v dockerd >/dev/null 2>&1; then
  log "installing docker.io from Debian packages"
  apt_install docker.io
fi

if ! docker info >/dev/null 2>&1; then
  log "starting dockerd"
  mkdir -p /var/log
  (dockerd >/var/log/dockerd.log 2>&1 &)
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { tail -n 30 /var/log/dockerd.log >&2; echo "dockerd did not start" >&2; exit 1; }
fi

# Compose v2 and buildx: the current Debian release ships neither, the next one (trixie) does, as static binaries.
if ! docker compose version >/dev/null 2>&1 || ! docker buildx version >/dev/null 2>&1; then
  log "installing docker compose v2 and buildx from Debian trixie packages"
  mirror=$(debian_mirror)
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  mkdir -p "$tmp/lists/partial" "$tmp/cache/archives/partial"
  echo "deb $mirror trixie main" >"$tmp/sources.list"
  aptopts=(-o APT::Sandbox::User=root -o "Dir::Etc::SourceList=$tmp/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State::Lists=$tmp/lists" -o "Dir::Cache=$tmp/cache")
  apt-get "${aptopts[@]}" update -qq
  (cd "$tmp" && apt-get "${aptopts[@]}" download docker-compose docker-buildx >/dev/null)
  plugins=/usr/local/lib/docker/cli-plugins
  mkdir -p "$plugins"
  for deb in "$tmp"/docker-compose_*.deb "$tmp"/docker-buildx_*.deb; do
    dpkg -x "$deb" "$tmp/x"
  done
  install -m 0755 "$tmp/x/usr/libexec/docker/cli-plugins/docker-compose" "$plugins/docker-compose"
  install -m 0755 "$tmp/x/usr/libexec/docker/cli-plugins/docker-buildx" "$plugins/docker-buildx"
fi

docker compose version >&2
docker buildx version >&2
