-- +goose Up
-- The category tree (rows come from the seeder: they are the demo's reference data), the
-- product fields that go with it, and the indexes behind listings. Each listing order has a
-- btree index ending in id, the tie-break that makes the order total, so a keyset page is an
-- index range scan that stops after `limit` rows, however deep the page.
CREATE TABLE categories (
    id        integer PRIMARY KEY,
    parent_id integer REFERENCES categories (id),
    slug      text    NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9-]{1,64}$'),
    name      text    NOT NULL CHECK (length(name) BETWEEN 1 AND 100)
);

ALTER TABLE products
    ADD COLUMN category_id integer REFERENCES categories (id),
    ADD COLUMN attributes  jsonb   NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(attributes) = 'object'),
    ADD COLUMN featured    boolean NOT NULL DEFAULT false,
    ADD CONSTRAINT products_stock_max CHECK (stock <= 1000000000);

-- A category page sorted by price (the commonest storefront query) reads one index range per
-- category of the subtree; the other orders have their own index over all products.
CREATE INDEX products_category_price_idx ON products (category_id, price_cents, id);
CREATE INDEX products_price_idx ON products (price_cents, id);
CREATE INDEX products_name_idx ON products (name, id);
CREATE INDEX products_created_idx ON products (created_at, id);
-- The home page's featured products: a few rows, so a partial index keeps it tiny.
CREATE INDEX products_featured_idx ON products (updated_at, id) WHERE featured;

-- How many products the seeder has made, so a rerun neither repeats work nor brings back
-- products an admin deleted.
CREATE TABLE seed_progress (
    products integer NOT NULL,
    seeded_at timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE seed_progress;
DROP INDEX products_featured_idx;
DROP INDEX products_created_idx;
DROP INDEX products_name_idx;
DROP INDEX products_price_idx;
DROP INDEX products_category_price_idx;
ALTER TABLE products
    DROP CONSTRAINT products_stock_max,
    DROP COLUMN featured,
    DROP COLUMN attributes,
    DROP COLUMN category_id;
DROP TABLE categories;
