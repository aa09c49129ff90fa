-- +goose Up
-- Full-text search over name and description, ranked (name weighs more), plus trigram
-- word similarity on the name so that a misspelt word ("ketle") still finds "Kettle".
-- pg_trgm is a trusted extension: the database owner may create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
ALTER TABLE products ADD COLUMN search tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('english', name), 'A') || setweight(to_tsvector('english', description), 'B')
) STORED;
CREATE INDEX products_search_idx ON products USING gin (search);
CREATE INDEX products_name_trgm_idx ON products USING gin (name gin_trgm_ops);

-- +goose Down
DROP INDEX products_name_trgm_idx;
DROP INDEX products_search_idx;
ALTER TABLE products DROP COLUMN search;
