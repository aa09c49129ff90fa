-- name: OrderByKey :one
SELECT id, owner, customer_id, email, status, currency, total_cents, idempotency_key, request_hash, placed_at, cancelled_at
FROM orders WHERE owner = $1 AND idempotency_key = $2;

-- name: Order :one
SELECT id, owner, customer_id, email, status, currency, total_cents, idempotency_key, request_hash, placed_at, cancelled_at
FROM orders WHERE id = $1 AND owner = $2;

-- name: OrderForUpdate :one
SELECT id, owner, customer_id, email, status, currency, total_cents, idempotency_key, request_hash, placed_at, cancelled_at
FROM orders WHERE id = $1 AND owner = $2
FOR UPDATE;

-- name: Orders :many
-- An owner's orders, newest first, after the keyset cursor (the last id of the page before).
SELECT id, owner, customer_id, email, status, currency, total_cents, idempotency_key, request_hash, placed_at, cancelled_at
FROM orders WHERE owner = @owner AND id < @before
ORDER BY id DESC
LIMIT @max;

-- name: Lines :many
SELECT order_id, product_id, sku, name, quantity, unit_price_cents
FROM order_lines WHERE order_id = ANY(@order_ids::bigint[])
ORDER BY order_id, product_id;

-- name: ClaimOrder :one
-- Claims (owner, key) first: a concurrent checkout with the same key waits here for this
-- transaction, then finds the key taken. Currency and total are set once the lines are known,
-- before the commit; 'XXX' is ISO 4217's "no currency" and no other transaction ever sees it.
INSERT INTO orders (owner, customer_id, email, currency, total_cents, idempotency_key, request_hash)
VALUES (@owner, @customer_id, @email, 'XXX', 0, @idempotency_key, @request_hash)
ON CONFLICT (owner, idempotency_key) DO NOTHING
RETURNING id, placed_at;

-- name: CompleteOrder :exec
UPDATE orders SET currency = @currency, total_cents = @total_cents WHERE id = @id;

-- name: AddLine :exec
INSERT INTO order_lines (order_id, product_id, sku, name, quantity, unit_price_cents)
VALUES ($1, $2, $3, $4, $5, $6);

-- name: CancelOrder :one
UPDATE orders SET status = 'cancelled', cancelled_at = now() WHERE id = $1
RETURNING cancelled_at;

-- name: CommitLSN :one
SELECT pg_current_wal_lsn()::text AS lsn;
