-- name: Categories :many
-- Categories lists the category tree, with 0 for a top-level category's parent.
SELECT id, coalesce(parent_id, 0) AS parent_id, slug, name FROM categories ORDER BY id;
