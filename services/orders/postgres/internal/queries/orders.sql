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

-- name: NewOrder :one
-- The order's id and time, taken before its transaction: its outbox payloads carry both.
SELECT nextval(pg_get_serial_sequence('orders', 'id'))::bigint AS id, now()::timestamptz AS placed_at;

-- name: InsertOrder :exec
-- The unique (owner, idempotency_key) makes a concurrent checkout with the same key wait for
-- this one, then fail: the key is taken.
INSERT INTO orders (id, owner, customer_id, email, currency, total_cents, idempotency_key, request_hash, placed_at)
OVERRIDING SYSTEM VALUE
VALUES (@id, @owner, @customer_id, @email, @currency, @total_cents, @idempotency_key, @request_hash, @placed_at);

-- name: AddLine :exec
INSERT INTO order_lines (order_id, product_id, sku, name, quantity, unit_price_cents)
VALUES ($1, $2, $3, $4, $5, $6);

-- name: CancelOrder :one
UPDATE orders SET status = 'cancelled', cancelled_at = now() WHERE id = $1
RETURNING cancelled_at;

-- name: CommitLSN :one
SELECT pg_current_wal_lsn()::text AS lsn;
