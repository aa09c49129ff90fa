#!/usr/bin/env bash
# Fails when a deployable module (one with a cmd/ folder) requires another deployable module:
# services share code only through the plumbing module (foundation/) and the contract module
# (contracts/), so each one builds, tests and ships on its own.
set -euo pipefail
cd "$(dirname "$0")/../.."

mapfile -t gomods < <(git ls-files '*go.mod')
deployables=()
for m in "${gomods[@]}"; do
  d=$(dirname "$m")
  [ -d "$d/cmd" ] && deployables+=("$d")
done

status=0
for d in "${deployables[@]}"; do
  self=$(cd "$d" && GOWORK=off go list -m)
  # Every module the build or tests of $d pull in, not only what go.mod names directly.
  deps=$(cd "$d" && GOWORK=off go list -deps -test -f '{{with .Module}}{{.Path}}{{end}}' ./... | sort -u)
  for other in "${deployables[@]}"; do
    [ "$other" = "$d" ] && continue
    path=$(cd "$other" && GOWORK=off go list -m)
    if grep -qxF "$path" <<<"$deps"; then
      echo "check-modules: $self depends on the deployable module $path; share code through foundation/ or contracts/" >&2
      status=1
    fi
  done
done
[ "$status" -eq 0 ] && echo "check-modules: ${#deployables[@]} deployable modules, none depends on another"
exit "$status"
