# Shared by infra/kind's scripts and `make k8s-down`; sourced, not run.
KIND_VERSION=v0.33.0
CLUSTER=${KIND_CLUSTER:-flashcrowd}
NODE=$CLUSTER-control-plane
NODE_IMAGE=flashcrowd/kind-node:v1.34.4
# Where `go install` puts kind (k8s-up.sh installs it).
kind_bin=$(go env GOBIN)
kind_bin=${kind_bin:-$(go env GOPATH | cut -d: -f1)/bin}/kind

# kubectl, run in the node: the host needs none.
k() { docker exec -i "$NODE" kubectl "$@"; }
