-- name: ItemsToOrder :many
-- What checkout sells at: the products' prices and names as they are now (no lock).
SELECT id, stock, price_cents, currency, sku, name FROM products WHERE id = ANY(@ids::bigint[]);

-- name: TakeStock :one
-- The decrement, sent last before the commit: the products table's CHECK (stock >= 0) refuses
-- it, and with it the whole transaction, when fewer than @quantity are left, so stock never
-- goes below zero however many checkouts race (each waits for the row lock and applies its
-- decrement to the row as the last one left it).
UPDATE products
SET stock = stock - @quantity::integer, version = version + 1, updated_at = now()
WHERE id = @id
RETURNING stock;

-- name: StockOf :one
SELECT stock, name FROM products WHERE id = $1;

-- name: ReturnStock :one
UPDATE products
SET stock = stock + @quantity::integer, version = version + 1, updated_at = now()
WHERE id = @id
RETURNING stock;
