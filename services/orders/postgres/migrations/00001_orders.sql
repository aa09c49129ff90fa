-- +goose Up
-- The orders service's tables, in the catalog's database: checkout takes stock from its
-- products table in the same transaction that writes the order. Goose keeps this schema's
-- versions in orders_goose_db_version (postgres/migrate.go), apart from the catalog's.
CREATE TABLE customers (
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email         text        NOT NULL UNIQUE CHECK (email = lower(email) AND length(email) BETWEEN 3 AND 254),
    password_hash text        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE orders (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- 'c:<customer id>' or 's:<session>': only its owner ever sees an order.
    owner           text        NOT NULL CHECK (owner ~ '^[cs]:.'),
    customer_id     bigint      REFERENCES customers (id),
    email           text        NOT NULL,
    status          text        NOT NULL DEFAULT 'placed' CHECK (status IN ('placed', 'cancelled')),
    currency        char(3)     NOT NULL,
    total_cents     bigint      NOT NULL CHECK (total_cents >= 0),
    idempotency_key text        NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 64),
    request_hash    bytea       NOT NULL,
    placed_at       timestamptz NOT NULL DEFAULT now(),
    cancelled_at    timestamptz,
    -- A retried checkout finds its order here, and two racing ones cannot both insert.
    CONSTRAINT orders_owner_key UNIQUE (owner, idempotency_key)
);
-- An owner's orders, newest first (the keyset list).
CREATE INDEX orders_owner_id ON orders (owner, id DESC);
-- A period's orders (the worker's sales report and best sellers).
CREATE INDEX orders_placed_at ON orders (placed_at);

-- A snapshot of what was sold at what price: no foreign key to products, which may change or go.
CREATE TABLE order_lines (
    order_id         bigint  NOT NULL REFERENCES orders (id),
    product_id       bigint  NOT NULL,
    sku              text    NOT NULL,
    name             text    NOT NULL,
    quantity         integer NOT NULL CHECK (quantity BETWEEN 1 AND 99),
    unit_price_cents bigint  NOT NULL CHECK (unit_price_cents >= 0),
    PRIMARY KEY (order_id, product_id)
);

-- Tasks written in the transaction that makes them true; the relay moves them to asynq.
CREATE TABLE outbox (
    id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    task_type  text        NOT NULL,
    payload    jsonb       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE outbox;
DROP TABLE order_lines;
DROP TABLE orders;
DROP TABLE customers;
