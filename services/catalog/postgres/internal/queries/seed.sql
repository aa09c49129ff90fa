-- name: LockSeed :exec
-- LockSeed lets one seeder at a time through: a second one waits here, then sees the first
-- one's progress.
LOCK TABLE seed_progress IN EXCLUSIVE MODE;

-- name: UpsertCategory :exec
-- UpsertCategory makes or corrects one category of the demo tree (0: no parent).
INSERT INTO categories (id, parent_id, slug, name) VALUES (@id, nullif(@parent_id::integer, 0), @slug, @name)
ON CONFLICT (id) DO UPDATE SET parent_id = excluded.parent_id, slug = excluded.slug, name = excluded.name;

-- name: SeededProducts :one
-- SeededProducts is how many products the seeder has made so far. (The cast only tells sqlc
-- the type.)
SELECT coalesce(max(products), 0)::integer AS products FROM seed_progress;

-- name: RecordSeed :exec
-- RecordSeed notes that products 1..products are seeded.
INSERT INTO seed_progress (products) VALUES (@products);
