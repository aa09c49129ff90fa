#!/usr/bin/env bash
# Builds flashcrowd/kind-node:v1.34.4, a kind node image made without a registry:
#   1. every image kubeadm v1.34.4 runs, tagged with the exact names it asks for (Dockerfile targets);
#   2. the node's base (Debian trixie, systemd, containerd, kubelet, kubeadm, kubectl);
#   3. kind's own recipe for the preload (pkg/build/nodeimage): run the base with `sleep`, start
#      containerd inside, `ctr images import --no-unpack` the saved images into the k8s.io namespace,
#      stop containerd, `docker commit`. The node's /var then carries containerd's content store.
# Skips everything when the node image carries the hash of this script's inputs.
# The first run compiles Kubernetes, CoreDNS and metrics-server (about 26 min on 2 cores; see
# docs/kubernetes.md); later runs are cached.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$root/infra/scripts/lib.sh"
. "$root/infra/kind/lib.sh"

KUBE_VERSION=v1.34.4
ETCD_TAG=3.5.16-0              # also in cluster.yaml and node/kind/images-check.yaml
PAUSE_VERSION=3.10.1
COREDNS_VERSION=v1.12.1
METRICS_SERVER_VERSION=v0.8.0
BASE_IMAGE=flashcrowd/kind-node-base:$KUBE_VERSION
KUBE_MOD=$root/infra/kube

# Dockerfile target and the name kubeadm (or our metrics-server manifest) runs it by.
targets=(kube-apiserver kube-controller-manager kube-scheduler kube-proxy etcd coredns pause metrics-server)
declare -A tag=(
  [kube-apiserver]=registry.k8s.io/kube-apiserver:$KUBE_VERSION
  [kube-controller-manager]=registry.k8s.io/kube-controller-manager:$KUBE_VERSION
  [kube-scheduler]=registry.k8s.io/kube-scheduler:$KUBE_VERSION
  [kube-proxy]=registry.k8s.io/kube-proxy:$KUBE_VERSION
  [etcd]=registry.k8s.io/etcd:$ETCD_TAG
  [coredns]=registry.k8s.io/coredns/coredns:$COREDNS_VERSION
  [pause]=registry.k8s.io/pause:$PAUSE_VERSION
  [metrics-server]=registry.k8s.io/metrics-server/metrics-server:$METRICS_SERVER_VERSION
)

inputs=$( {
  cat "$here/Dockerfile" "$0" "$KUBE_MOD/go.mod" "$KUBE_MOD/go.sum"
  (cd "$here" && find node -type f | LC_ALL=C sort | xargs sha256sum)
  echo "$KUBE_VERSION $ETCD_TAG $PAUSE_VERSION $COREDNS_VERSION $METRICS_SERVER_VERSION"
} | sha256sum | cut -c1-16)
if [ "$(docker image inspect -f '{{index .Config.Labels "dev.flashcrowd.inputs"}}' "$NODE_IMAGE" 2>/dev/null || true)" = "$inputs" ]; then
  log "$NODE_IMAGE is up to date"
  exit 0
fi

# A small build context: the wrapper module and the node's files, nothing else of infra/.
ctx=$(mktemp -d)
cid=
cleanup() { [ -z "$cid" ] || docker rm -f "$cid" >/dev/null 2>&1 || true; rm -rf "$ctx"; }
trap cleanup EXIT
mkdir -p "$ctx/kube"
cp "$KUBE_MOD/go.mod" "$KUBE_MOD/go.sum" "$ctx/kube/"
cp -a "$here/node" "$ctx/node"

build() { # target image
  DOCKER_BUILDKIT=1 docker build --quiet -f "$here/Dockerfile" --target "$1" -t "$2" \
    --build-arg KUBE_VERSION="$KUBE_VERSION" --build-arg COREDNS_VERSION="$COREDNS_VERSION" \
    --build-arg METRICS_SERVER_VERSION="$METRICS_SERVER_VERSION" --build-arg PAUSE_VERSION="$PAUSE_VERSION" \
    "$ctx" >/dev/null
}

log "building the Kubernetes binaries and images (the first time: about 25 min)"
build node "$BASE_IMAGE"
for t in "${targets[@]}"; do
  log "image ${tag[$t]}"
  build "$t" "${tag[$t]}"
done
etcd_version=$(docker run --rm --entrypoint etcd "${tag[etcd]}" --version)
grep -q "^etcd Version: ${ETCD_TAG%-*}\$" <<<"$etcd_version" ||
  { echo "Debian's etcd is no longer ${ETCD_TAG%-*}: change ETCD_TAG here, in cluster.yaml and in node/kind/images-check.yaml" >&2; exit 1; }

log "preloading the images into the node's containerd"
images=()
for t in "${targets[@]}"; do images+=("${tag[$t]}"); done
docker save -o "$ctx/images.tar" "${images[@]}"
cid=$(docker run -d --entrypoint sleep --security-opt seccomp=unconfined "$BASE_IMAGE" infinity)
docker cp "$ctx/images.tar" "$cid:/kind/images.tar"
# Inside: containerd without systemd, for the content store only (no unpacking: the build
# container's file system is an overlay, on which the overlayfs snapshotter cannot work; the CRI
# unpacks each image on first use in the running node, whose /var is a volume). Then check that
# every image kubeadm will ask for, with our etcd tag, and the sandbox image are there, pin them
# (kubelet image GC; kind's KubeletConfiguration already sets imageGCHighThresholdPercent: 100),
# stop containerd and remove what must not be committed.
docker exec -e EXTRA="${tag[metrics-server]}" "$cid" bash -euo pipefail -c '
  containerd >/tmp/containerd.log 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do ctr version >/dev/null 2>&1 && break; sleep 0.1; done
  ctr version >/dev/null || { cat /tmp/containerd.log >&2; exit 1; }
  ctr -n k8s.io images import --no-unpack /kind/images.tar >/dev/null
  sandbox=$(sed -n "s/^ *sandbox_image = \"\(.*\)\"/\1/p" /etc/containerd/config.toml)
  have=$(ctr -n k8s.io images ls -q)
  missing=0
  refs=$(kubeadm config images list --config /kind/images-check.yaml)
  for ref in $refs "$sandbox" "$EXTRA"; do
    if grep -qxF "$ref" <<<"$have"; then
      ctr -n k8s.io images label "$ref" io.cri-containerd.pinned=pinned >/dev/null
    else
      echo "missing from the node: $ref" >&2; missing=1
    fi
  done
  kill "$pid"; wait "$pid" || true
  rm -rf /kind/images.tar /tmp/containerd.log /run/containerd
  exit "$missing"
'
docker commit \
  --change 'ENTRYPOINT ["/usr/local/bin/entrypoint"]' --change 'CMD ["/sbin/init"]' \
  --change "LABEL dev.flashcrowd.inputs=$inputs" \
  "$cid" "$NODE_IMAGE" >/dev/null
log "$NODE_IMAGE: $(docker image inspect -f '{{.Size}}' "$NODE_IMAGE" | awk '{printf "%.0f MB", $1/1e6}')"
