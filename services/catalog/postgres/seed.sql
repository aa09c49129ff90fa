-- Deterministic seed: product i always gets the same SKU, name, price and stock, so runs are
-- comparable. Idempotent: existing SKUs are left alone. $1 is the number of products.
INSERT INTO products (sku, name, description, price_cents, currency, stock)
SELECT format('FC-%s', lpad(i::text, 7, '0')),
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
ON CONFLICT (sku) DO NOTHING;
