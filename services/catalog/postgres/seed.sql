-- Deterministic seed: product i always has id i and the same SKU, name, price and stock, so
-- runs are comparable. Idempotent: rows that exist are left alone. $1 is the number of products.
-- The identity sequence is moved past the seeded ids, so products created later never collide.
WITH seeded AS (
INSERT INTO products (id, sku, name, description, price_cents, currency, stock)
SELECT i,
       format('FC-%s', lpad(i::text, 7, '0')),
       initcap(adj[1 + i % array_length(adj, 1)] || ' ' || mat[1 + (i / 7) % array_length(mat, 1)]
               || ' ' || noun[1 + (i / 77) % array_length(noun, 1)]),
       format('A %s %s %s, item %s of the Flashcrowd demo catalog.',
              adj[1 + i % array_length(adj, 1)], mat[1 + (i / 7) % array_length(mat, 1)],
              noun[1 + (i / 77) % array_length(noun, 1)], i),
       199 + (i * 7919) % 49800,
       'EUR',
       (i * 31) % 250
FROM generate_series(1, $1::int) AS i,
     (SELECT ARRAY['classic', 'compact', 'deluxe', 'ergonomic', 'rugged', 'sleek', 'vintage'] AS adj,
             ARRAY['bamboo', 'ceramic', 'copper', 'cotton', 'leather', 'oak', 'steel', 'wool', 'glass', 'linen', 'granite'] AS mat,
             ARRAY['kettle', 'backpack', 'lamp', 'mug', 'chair', 'notebook', 'headphones', 'jacket', 'sneakers', 'watch',
                   'teapot', 'blanket', 'desk', 'bottle', 'umbrella', 'wallet', 'skillet', 'speaker', 'scarf', 'planter'] AS noun) AS words
ORDER BY i
ON CONFLICT DO NOTHING
RETURNING id
)
SELECT setval(pg_get_serial_sequence('products', 'id'),
              greatest((SELECT max(id) FROM products), (SELECT max(id) FROM seeded), 1));
