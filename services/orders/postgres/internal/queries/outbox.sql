-- name: AddOutbox :exec
INSERT INTO outbox (task_type, payload) VALUES ($1, $2);

-- name: ClaimOutbox :many
-- Rows another relay holds are skipped, not waited for: relays share the work.
SELECT id, task_type, payload FROM outbox
ORDER BY id
LIMIT $1
FOR UPDATE SKIP LOCKED;

-- name: DeleteOutbox :exec
DELETE FROM outbox WHERE id = ANY(@ids::bigint[]);

-- name: OldestOutbox :one
SELECT created_at FROM outbox ORDER BY id LIMIT 1;
