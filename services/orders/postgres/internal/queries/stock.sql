-- name: TakeStock :one
-- The conditional decrement: no row when the product is gone or has fewer than @quantity, so
-- stock never goes below zero however many checkouts race (each waits for the row lock and
-- re-checks the condition on the row as the last one left it).
UPDATE products
SET stock = stock - @quantity::integer, version = version + 1, updated_at = now()
WHERE id = @id AND stock >= @quantity::integer
RETURNING stock, price_cents, currency, sku, name;

-- name: StockOf :one
SELECT stock, name FROM products WHERE id = $1;

-- name: ReturnStock :one
UPDATE products
SET stock = stock + @quantity::integer, version = version + 1, updated_at = now()
WHERE id = @id
RETURNING stock;
