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
cd "$here/../.."
. infra/scripts/lib.sh
. infra/kind/lib.sh
COMPOSE=${COMPOSE:-docker compose}

# 1. kind. `go install` of a module with no replace directives; a few seconds once cached.
if ! "$kind_bin" version 2>/dev/null | grep -q "kind $KIND_VERSION "; then
  log "installing kind $KIND_VERSION"
  GOTOOLCHAIN=local go install "sigs.k8s.io/kind@$KIND_VERSION"
fi

# 2. The node image.
"$here/build-node-image.sh"

# kind runs its node with `docker run --privileged`. Some engines refuse that flag, their own
# capability set lacking one (these machines: CAP_SYS_RESOURCE); kind then sees a `docker` that
# grants every other capability instead (shim/docker says how).
if ! probe=$(docker run --rm --privileged --entrypoint true "$NODE_IMAGE" 2>&1); then
  grep -q 'unable to apply caps' <<<"$probe" || { echo "k8s-up: docker run --privileged failed: $probe" >&2; exit 1; }
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
# The node keeps the hash of the cluster configuration it was made with: a running cluster made
# from the same node image and the same configuration is reused, any other recreated.
config=$(sha256sum "$here/cluster.yaml" | cut -c1-16)
if kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
  running=$(docker inspect -f '{{.State.Running}} {{.Image}}' "$NODE" 2>/dev/null || true)
  made_with=$(docker exec "$NODE" cat /kind/flashcrowd-cluster.sha 2>/dev/null || true)
  if [ "$running" != "true $(docker image inspect -f '{{.Id}}' "$NODE_IMAGE")" ] || [ "$made_with" != "$config" ]; then
    log "cluster $CLUSTER is stopped, or from another node image or configuration: recreating it"
    kind delete cluster --name "$CLUSTER"
  fi
fi
if ! kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
  docker network inspect kind >/dev/null 2>&1 ||
    docker network create -d bridge -o com.docker.network.bridge.enable_ip_masquerade=true kind >/dev/null
  log "creating cluster $CLUSTER"
  kind create cluster --name "$CLUSTER" --image "$NODE_IMAGE" --config "$here/cluster.yaml" --wait 180s
  docker exec "$NODE" sh -c "echo $config >/kind/flashcrowd-cluster.sha"
fi

# 4. metrics-server, for the autoscalers, once kube-proxy's Service rules exist (it reads its
#    configuration from the API server's ClusterIP at start).
k -n kube-system rollout status daemonset/kube-proxy --timeout=120s >/dev/null
k apply -f /kind/manifests/metrics-server.yaml >/dev/null

# 5. The stack's images: those the local overlay names, built by compose and loaded into the node.
#    kubectl kustomize runs in the node, on a copy of deploy/k8s.
docker exec "$NODE" rm -rf /tmp/k8s
tar -C deploy/k8s -c . | docker exec -i "$NODE" sh -c 'mkdir -p /tmp/k8s && tar -C /tmp/k8s -x'
rendered=$(k kustomize /tmp/k8s/overlays/local)
mapfile -t images < <(sed -n 's/^[ -]*image: *//p' <<<"$rendered" | sort -u)
[ "${#images[@]}" -gt 0 ] || { echo "k8s-up: the local overlay names no image" >&2; exit 1; }
log "building the stack's images"
$COMPOSE build --quiet
log "loading ${#images[@]} images into the node"
kind load docker-image --name "$CLUSTER" "${images[@]}"

# 6. The stack. A Job's Pod template cannot change: delete the finished ones first, so that the
#    migrations run again, as at every `make up`.
k -n flashcrowd delete job migrate minio-setup --ignore-not-found >/dev/null 2>&1 || true
log "applying deploy/k8s/overlays/local"
k apply -k /tmp/k8s/overlays/local >/dev/null
# Each Job: complete, or failed for good (its retries spent; its logs then say why), within 10 min.
for job in migrate minio-setup; do
  deadline=$((SECONDS + 600))
  while :; do
    state=$(k -n flashcrowd get job "$job" -o jsonpath='{.status.conditions[?(@.status=="True")].type}')
    case " $state " in *" Complete "*) break ;; esac
    if [[ " $state " == *" Failed "* ]] || [ "$SECONDS" -ge "$deadline" ]; then
      k -n flashcrowd logs "job/$job" --all-containers --tail=30 >&2 || true
      echo "k8s-up: Job $job did not complete" >&2
      exit 1
    fi
    sleep 2
  done
done
for r in $(k -n flashcrowd get deployment,statefulset -o name); do
  k -n flashcrowd rollout status "$r" --timeout=600s >/dev/null
done
# One request through HAProxy's edge, by the API server's service proxy (no port-forward needed).
k get --raw "/api/v1/namespaces/flashcrowd/services/http:edge:8080/proxy/api/v1/products" >/dev/null
log "stack up on kind cluster $CLUSTER: kubectl --context kind-$CLUSTER -n flashcrowd port-forward svc/edge 8080:8080 8443:8443"
