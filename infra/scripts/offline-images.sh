#!/usr/bin/env bash
# Makes the two base images every Dockerfile here starts from, for hosts that cannot pull them
# (air gaps, no registry access). Images that exist or can be pulled are left alone.
#   debian:trixie-slim   a minimal Debian trixie root made with debootstrap
#   golang:1.26-trixie   that root plus this host's Go toolchain and CA bundle (so module downloads
#                        work behind TLS-inspecting proxies too)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

DEBIAN_IMAGE=debian:trixie-slim
GO_IMAGE=golang:1.26-trixie

have_or_pull() {
  docker image inspect "$1" >/dev/null 2>&1 && return 0
  docker pull -q "$1" >/dev/null 2>&1
}

need_debian=1 need_go=1
have_or_pull "$DEBIAN_IMAGE" && need_debian=
have_or_pull "$GO_IMAGE" && need_go=
[ -n "$need_debian$need_go" ] || { log "base images present"; exit 0; }

if [ -n "$need_go" ]; then
  command -v go >/dev/null || { echo "making $GO_IMAGE needs a Go 1.26 toolchain on this host" >&2; exit 1; }
  case "$(go env GOVERSION)" in go1.26*) ;; *) echo "making $GO_IMAGE needs Go 1.26, found $(go env GOVERSION)" >&2; exit 1;; esac
fi
command -v debootstrap >/dev/null || { log "installing debootstrap"; apt_install debootstrap; }

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
log "debootstrap trixie (minbase)"
debootstrap --variant=minbase trixie "$root" "$(debian_mirror)" >/dev/null
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*

if [ -n "$need_debian" ]; then
  log "importing $DEBIAN_IMAGE"
  tar -C "$root" -c . | docker import -c 'CMD ["bash"]' - "$DEBIAN_IMAGE" >/dev/null
fi

if [ -n "$need_go" ]; then
  log "importing $GO_IMAGE with $(go env GOVERSION) from this host"
  mkdir -p "$root/usr/local/go" "$root/go" "$root/etc/ssl/certs"
  cp -a "$(go env GOROOT)/." "$root/usr/local/go/"
  cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
  tar -C "$root" -c . | docker import \
    -c 'ENV PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    -c 'ENV GOPATH=/go' -c 'ENV GOTOOLCHAIN=local' -c 'WORKDIR /go' -c 'CMD ["bash"]' \
    - "$GO_IMAGE" >/dev/null
fi
docker image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep -E "^($DEBIAN_IMAGE|$GO_IMAGE) " >&2
