#!/bin/sh
# Stands in for pgBackRest in the local cluster, which keeps no backups (compose's backup, pg-tls
# and HAProxy's s3_tls are not mapped: docs/kubernetes.md). Every Postgres member runs it, ahead
# of the real one on PATH: the leader's archive_command ("pgbackrest ... archive-push %p") then
# succeeds and drops the segment, so pg_wal does not grow for ever behind a failing archive, and
# pg-entrypoint's "pgbackrest server" has nothing to serve.
exit 0
