-- Read-your-writes across replicas. LSNs travel as decimal byte positions in the WAL (pg_lsn
-- minus '0/0'), so Redis can compare them as numbers.

-- name: CommitLSN :one
-- CommitLSN is the primary's WAL position after a write committed: a replica that has replayed
-- this far has the write.
SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::text AS lsn;

-- name: ReplayedPast :one
-- ReplayedPast reports whether this replica has replayed the WAL up to lsn; false on a server
-- that replays nothing. (The cast only tells sqlc the type.)
SELECT coalesce(pg_last_wal_replay_lsn() >= '0/0'::pg_lsn + sqlc.arg(lsn)::text::numeric, false)::boolean AS replayed;

-- name: InRecovery :one
-- True on a replica. Asked of the primary's pool: false there means the shop takes writes.
SELECT pg_is_in_recovery()::bool;
