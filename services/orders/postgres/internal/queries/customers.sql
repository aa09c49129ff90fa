-- name: CreateCustomer :one
INSERT INTO customers (email, password_hash) VALUES ($1, $2)
RETURNING id;

-- name: CustomerByEmail :one
SELECT id, email, password_hash FROM customers WHERE email = $1;
