#!/usr/bin/env bash
# make down: stops the stack and deletes its data volumes. Nothing is kept, so nothing needs a
# graceful stop: each container gets 2 s after SIGTERM, not Docker's 10 (HAProxy would wait up
# to hard-stop-after, 20 s, for a database client's session; the Postgres leader archives its
# last WAL to MinIO through HAProxy as it stops, and waited for them until killed).
set -euo pipefail
cd "$(dirname "$0")/../.."
docker compose down --volumes --remove-orphans --timeout 2
