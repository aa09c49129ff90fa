#!/usr/bin/env bash
# make down: stops the stack and deletes its data volumes. The Postgres members stop first: the
# leader archives its last WAL as it shuts down, to MinIO through HAProxy
# (PGBACKREST_REPO1_S3_ENDPOINT), and in compose's own order (dependents first) HAProxy and
# MinIO, which the members do not depend on, could go first; the leader then waited for them
# until Docker killed it, 30 s later. (A depends_on from the members on HAProxy would order the
# stop, but also restart the database whenever HAProxy is recreated: every mode switch.)
set -euo pipefail
cd "$(dirname "$0")/../.."
docker compose stop postgres-1 postgres-2 postgres-3
docker compose down --volumes --remove-orphans
