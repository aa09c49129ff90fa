-- name: Product :one
-- Product reads one product. Every statement here that returns products returns these columns,
-- in the order of catalog.Product's fields: the store converts each row type to catalog.Product,
-- so a list that drifts does not compile. (The hand-built listing, postgres/listing.go, repeats
-- them; a test keeps it in step.)
SELECT id, sku, name, description, price_cents, currency, stock, coalesce(category_id, 0) AS category_id,
    attributes, featured, coalesce(image_key, '') AS image_key, version, created_at, updated_at
FROM products
WHERE id = $1;

-- name: Featured :many
-- Featured lists featured products in stock, most recently updated first: the home page's
-- shop window.
SELECT id, sku, name, description, price_cents, currency, stock, coalesce(category_id, 0) AS category_id,
    attributes, featured, coalesce(image_key, '') AS image_key, version, created_at, updated_at
FROM products
WHERE featured AND stock > 0
ORDER BY updated_at DESC, id DESC
LIMIT $1;

-- name: ProductsAfter :many
-- ProductsAfter reads products in id order after an id: the cache's preload walks the catalog
-- with it, a batch at a time.
SELECT id, sku, name, description, price_cents, currency, stock, coalesce(category_id, 0) AS category_id,
    attributes, featured, coalesce(image_key, '') AS image_key, version, created_at, updated_at
FROM products
WHERE id > @after
ORDER BY id
LIMIT @max;

-- name: Search :many
-- Search ranks full-text matches on name and description (websearch syntax) together with names
-- that have a word like one of the text's words (trigram word similarity, which forgives typos).
SELECT id, sku, name, description, price_cents, currency, stock, coalesce(category_id, 0) AS category_id,
    attributes, featured, coalesce(image_key, '') AS image_key, version, created_at, updated_at
FROM products, websearch_to_tsquery('english', @text) AS query
WHERE search @@ query OR @text <% name
ORDER BY ts_rank(search, query) + word_similarity(@text, name) DESC, id
LIMIT @max;

-- name: CreateProduct :one
INSERT INTO products (sku, name, description, price_cents, currency, stock, category_id, attributes, featured)
VALUES (@sku, @name, @description, @price_cents, @currency, @stock, nullif(@category_id::integer, 0), @attributes, @featured)
RETURNING id, sku, name, description, price_cents, currency, stock, coalesce(category_id, 0) AS category_id,
    attributes, featured, coalesce(image_key, '') AS image_key, version, created_at, updated_at;

-- name: UpdateProduct :one
-- UpdateProduct changes the fields that are not null (a category of 0 means none) and, when
-- version is not null, only that version of the product.
UPDATE products SET
    name        = coalesce(sqlc.narg(name), name),
    description = coalesce(sqlc.narg(description), description),
    price_cents = coalesce(sqlc.narg(price_cents), price_cents),
    stock       = coalesce(sqlc.narg(stock), stock),
    category_id = CASE WHEN sqlc.narg(category_id)::integer IS NULL THEN category_id ELSE nullif(sqlc.narg(category_id), 0) END,
    attributes  = coalesce(sqlc.narg(attributes)::jsonb, attributes),
    featured    = coalesce(sqlc.narg(featured), featured),
    version     = version + 1,
    updated_at  = now()
WHERE id = @id AND (sqlc.narg(version)::integer IS NULL OR version = sqlc.narg(version))
RETURNING id, sku, name, description, price_cents, currency, stock, coalesce(category_id, 0) AS category_id,
    attributes, featured, coalesce(image_key, '') AS image_key, version, created_at, updated_at;

-- name: AdjustStock :one
-- AdjustStock adds delta in one statement, so concurrent adjustments never lose one another;
-- the table's checks keep the stock in bounds.
UPDATE products SET stock = stock + @delta, version = version + 1, updated_at = now()
WHERE id = @id
RETURNING id, sku, name, description, price_cents, currency, stock, coalesce(category_id, 0) AS category_id,
    attributes, featured, coalesce(image_key, '') AS image_key, version, created_at, updated_at;

-- name: SetImage :one
UPDATE products SET image_key = @image_key::text, version = version + 1, updated_at = now()
WHERE id = @id
RETURNING id, sku, name, description, price_cents, currency, stock, coalesce(category_id, 0) AS category_id,
    attributes, featured, coalesce(image_key, '') AS image_key, version, created_at, updated_at;

-- name: DeleteProduct :one
-- DeleteProduct removes the product (only that version, when version is not null) and returns
-- its image key, so the caller removes the image it actually deleted.
DELETE FROM products WHERE id = @id AND (sqlc.narg(version)::integer IS NULL OR version = sqlc.narg(version))
RETURNING coalesce(image_key, '')::text AS image_key;

-- name: LockImage :one
-- LockImage locks the product's row for the rest of the transaction and returns its image key:
-- the image a SetImage in the same transaction replaces, whatever other writers do meanwhile.
SELECT coalesce(image_key, '')::text AS image_key FROM products WHERE id = $1 FOR UPDATE;

-- name: ProductExists :one
SELECT EXISTS (SELECT 1 FROM products WHERE id = $1);
