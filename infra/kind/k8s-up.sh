#!/usr/bin/env bash
# `make k8s-up`: the whole stack on a local kind cluster, with no registry.
#   1. kind v0.33.0, built from its Go module;
#   2. the node image (build-node-image.sh: Kubernetes v1.34.4 and every image it runs, preloaded);
#   3. the cluster (cluster.yaml), reused when it already runs from the same node image;
#   4. metrics-server (its manifest ships in the node image);
#   5. the stack's images (compose builds them, as for `make up`), loaded into the node;
#   6. deploy/k8s/overlays/local applied, then waited for: the migrations, every rollout, and one
#      request through the edge.
# kubectl runs inside the node (`docker exec`), so the host needs no kubectl; kind writes the
# cluster's context into the host's kubeconfig for people who have one.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"
. infra/scripts/lib.sh

KIND_VERSION=v0.33.0
CLUSTER=${KIND_CLUSTER:-flashcrowd}
NODE=$CLUSTER-control-plane
NODE_IMAGE=${KIND_NODE_IMAGE:-flashcrowd/kind-node:v1.34.4}
COMPOSE=${COMPOSE:-docker compose}
export KIND_NODE_IMAGE=$NODE_IMAGE

k() { docker exec -i "$NODE" kubectl "$@"; }

# 1. kind. `go install` of a module with no replace directives; a few seconds once cached.
kind_bin=$(go env GOPATH)/bin/kind
if ! "$kind_bin" version 2>/dev/null | grep -q "kind $KIND_VERSION "; then
  log "installing kind $KIND_VERSION"
  GOTOOLCHAIN=local go install "sigs.k8s.io/kind@$KIND_VERSION"
fi

# 2. The node image.
"$here/build-node-image.sh"

# kind runs its node with `docker run --privileged`. Some engines refuse that flag, their own
# capability set lacking one (these machines: CAP_SYS_RESOURCE); kind then sees a `docker` that
# grants every other capability instead (shim/docker says how).
if ! docker run --rm --privileged --entrypoint true "$NODE_IMAGE" 2>/dev/null; then
  export KIND_REAL_DOCKER KIND_CAP_DROP=${KIND_CAP_DROP:-SYS_RESOURCE}
  KIND_REAL_DOCKER=$(command -v docker)
  drops=(); for c in $KIND_CAP_DROP; do drops+=("--cap-drop=$c"); done
  docker run --rm --cap-add=ALL "${drops[@]}" --entrypoint true "$NODE_IMAGE" ||
    { echo "this Docker engine refuses --privileged, and every capability but $KIND_CAP_DROP too: set KIND_CAP_DROP to the capabilities it lacks" >&2; exit 1; }
  log "this Docker engine refuses --privileged: kind's node gets every capability but $KIND_CAP_DROP"
  kind_path=$here/shim:$PATH
else
  kind_path=$PATH
fi
kind() { PATH=$kind_path "$kind_bin" "$@"; }

# 3. The cluster. kind reuses a Docker network named "kind" when one exists: make it IPv4-only, so
# that kind's IPv6 attempt cannot fail on an engine without IPv6 set up (Docker 20.10 here).
if kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
  running=$(docker inspect -f '{{.State.Running}} {{.Image}}' "$NODE" 2>/dev/null || true)
  if [ "$running" != "true $(docker image inspect -f '{{.Id}}' "$NODE_IMAGE")" ]; then
    log "cluster $CLUSTER is stopped or from another node image: recreating it"
    kind delete cluster --name "$CLUSTER"
  fi
fi
if ! kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
  docker network inspect kind >/dev/null 2>&1 ||
    docker network create -d bridge -o com.docker.network.bridge.enable_ip_masquerade=true kind >/dev/null
  log "creating cluster $CLUSTER"
  kind create cluster --name "$CLUSTER" --config "$here/cluster.yaml" --wait 180s
fi

# 4. metrics-server, for the autoscalers.
k apply -f /kind/manifests/metrics-server.yaml >/dev/null

# 5. The stack's images: those the local overlay names, built by compose and loaded into the node.
#    kubectl kustomize runs in the node, on a copy of deploy/k8s.
docker exec "$NODE" rm -rf /tmp/k8s
tar -C deploy/k8s -c . | docker exec -i "$NODE" sh -c 'mkdir -p /tmp/k8s && tar -C /tmp/k8s -x'
mapfile -t images < <(k kustomize /tmp/k8s/overlays/local | sed -n 's/^ *image: *//p' | sort -u)
log "building the stack's images"
$COMPOSE build --quiet
log "loading ${#images[@]} images into the node"
kind load docker-image --name "$CLUSTER" "${images[@]}"

# 6. The stack. A Job's Pod template cannot change: delete the finished ones first, so that the
#    migrations run again, as at every `make up`.
k -n flashcrowd delete job migrate minio-setup --ignore-not-found >/dev/null 2>&1 || true
log "applying deploy/k8s/overlays/local"
k apply -k /tmp/k8s/overlays/local >/dev/null
k -n flashcrowd wait --for=condition=complete job/migrate --timeout=600s
for r in $(k -n flashcrowd get deployment,statefulset -o name); do
  k -n flashcrowd rollout status "$r" --timeout=600s >/dev/null
done
# One request through HAProxy's edge, by the API server's service proxy (no port-forward needed).
k get --raw "/api/v1/namespaces/flashcrowd/services/http:edge:8080/proxy/api/v1/products" >/dev/null
log "stack up on kind cluster $CLUSTER: kubectl --context kind-$CLUSTER -n flashcrowd port-forward svc/edge 8080:8080 8443:8443"
