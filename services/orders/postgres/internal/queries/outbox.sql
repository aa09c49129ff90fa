-- name: AddOutbox :exec
INSERT INTO outbox (task_type, payload) VALUES ($1, $2);

-- name: OutboxWaiting :one
-- Whether any row waits, before a relay pays for a transaction to claim it: one read of the
-- index outbox_waiting. A row another relay holds counts too; the claim then skips it.
SELECT EXISTS (SELECT 1 FROM outbox WHERE parked_at IS NULL);

-- name: ClaimOutbox :many
-- Rows another relay holds are skipped, not waited for: relays share the work. Parked rows
-- are not claimed (the index outbox_waiting leaves them out).
SELECT id, task_type, payload FROM outbox
WHERE parked_at IS NULL
ORDER BY id
LIMIT $1
FOR UPDATE SKIP LOCKED;

-- name: DeleteOutbox :exec
DELETE FROM outbox WHERE id = ANY(@ids::bigint[]);

-- name: ParkOutbox :exec
-- Sets rows the relay cannot read aside, each with its reason.
UPDATE outbox SET parked_at = now(), parked_reason = r.reason
FROM (SELECT unnest(@ids::bigint[]) AS id, unnest(@reasons::text[]) AS reason) AS r
WHERE outbox.id = r.id;

-- name: UnparkOutbox :execrows
-- Puts back in line the parked rows of types this binary knows (parked by an older one).
UPDATE outbox SET parked_at = NULL, parked_reason = NULL
WHERE parked_at IS NOT NULL AND task_type = ANY(@types::text[]);

-- name: OutboxBacklog :one
-- How long the oldest waiting row has waited (0 when none waits; by the database's clock, which
-- wrote created_at), and how many rows are parked: two index reads (outbox_waiting,
-- outbox_parked).
SELECT
    coalesce(extract(epoch FROM now() - (
        SELECT created_at FROM outbox WHERE parked_at IS NULL ORDER BY id LIMIT 1
    )), 0)::float8 AS oldest_age_seconds,
    (SELECT count(*) FROM outbox WHERE parked_at IS NOT NULL) AS parked;
