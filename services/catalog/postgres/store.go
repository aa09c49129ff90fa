// Package postgres stores the catalog in PostgreSQL. Writes and reads that must see them go to
// the primary; other reads go to the replicas, with read-your-writes kept by commit LSNs.
package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/flashcrowd/flashcrowd/services/catalog"
)

// Store reads and writes products.
type Store struct {
	primary   *pgxpool.Pool
	replica   *pgxpool.Pool
	fallbacks *prometheus.CounterVec
}

// NewStore uses primary for writes and replica for reads. They may be the same pool.
func NewStore(primary, replica *pgxpool.Pool, reg prometheus.Registerer) *Store {
	return &Store{
		primary: primary,
		replica: replica,
		fallbacks: promauto.With(reg).NewCounterVec(prometheus.CounterOpts{
			Name: "flashcrowd_db_read_fallbacks_total",
			Help: "Reads sent to the primary instead of a replica, by reason (replica_behind or replica_error).",
		}, []string{"reason"}),
	}
}

const productColumns = `id, sku, name, description, price_cents, currency, stock, coalesce(image_key, ''),
	version, created_at, updated_at`

func scanProduct(row pgx.Row) (catalog.Product, error) {
	var p catalog.Product
	err := row.Scan(&p.ID, &p.SKU, &p.Name, &p.Description, &p.PriceCents, &p.Currency, &p.Stock,
		&p.ImageKey, &p.Version, &p.CreatedAt, &p.UpdatedAt)
	return p, err
}

// Product reads one product. minLSN, when not empty, is the commit LSN of the last write the
// caller must see: a replica that has not replayed that far does not answer, and the primary does.
func (s *Store) Product(ctx context.Context, id int64, minLSN string) (catalog.Product, error) {
	const q = `SELECT ` + productColumns + ` FROM products WHERE id = $1`
	// The LSN test sits in the same statement, so PgBouncer cannot hand it another replica's connection.
	const qCaughtUp = `SELECT ` + productColumns + ` FROM products
		WHERE id = $1 AND pg_last_wal_replay_lsn() >= $2::pg_lsn`

	var (
		p   catalog.Product
		err error
	)
	if minLSN == "" {
		p, err = scanProduct(s.replica.QueryRow(ctx, q, id))
	} else {
		p, err = scanProduct(s.replica.QueryRow(ctx, qCaughtUp, id, minLSN))
	}
	switch {
	case err == nil:
		return p, nil
	case errors.Is(err, pgx.ErrNoRows) && minLSN == "":
		return p, catalog.ErrNotFound
	case errors.Is(err, pgx.ErrNoRows):
		s.fallbacks.WithLabelValues("replica_behind").Inc() // or gone: the primary knows which
	case ctx.Err() != nil:
		return p, fmt.Errorf("product %d: %w", id, ctx.Err())
	default:
		s.fallbacks.WithLabelValues("replica_error").Inc()
	}
	p, err = scanProduct(s.primary.QueryRow(ctx, q, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return p, catalog.ErrNotFound
	}
	if err != nil {
		return p, fmt.Errorf("product %d: %w", id, err)
	}
	return p, nil
}

// Products lists up to limit products with ids above after, in id order. minLSN works as for Product.
func (s *Store) Products(ctx context.Context, after int64, limit int, minLSN string) (catalog.Page, error) {
	const q = `SELECT ` + productColumns + ` FROM products WHERE id > $1 ORDER BY id LIMIT $2`
	const qCaughtUp = `SELECT ` + productColumns + ` FROM products
		WHERE id > $1 AND pg_last_wal_replay_lsn() >= $3::pg_lsn ORDER BY id LIMIT $2`

	var (
		page catalog.Page
		err  error
	)
	if minLSN == "" {
		page, err = s.list(ctx, s.replica, q, after, limit)
	} else {
		page, err = s.list(ctx, s.replica, qCaughtUp, after, limit, minLSN)
	}
	switch {
	case err == nil && (len(page.Items) > 0 || minLSN == ""):
		return page, nil
	case err == nil:
		s.fallbacks.WithLabelValues("replica_behind").Inc() // an empty page may only mean "not caught up"
	case ctx.Err() != nil:
		return page, fmt.Errorf("products: %w", ctx.Err())
	default:
		s.fallbacks.WithLabelValues("replica_error").Inc()
	}
	return s.list(ctx, s.primary, q, after, limit)
}

func (s *Store) list(ctx context.Context, pool *pgxpool.Pool, q string, args ...any) (catalog.Page, error) {
	rows, err := pool.Query(ctx, q, args...)
	if err != nil {
		return catalog.Page{}, fmt.Errorf("products: %w", err)
	}
	items, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (catalog.Product, error) { return scanProduct(r) })
	if err != nil {
		return catalog.Page{}, fmt.Errorf("products: %w", err)
	}
	page := catalog.Page{Items: items}
	if limit := args[1].(int); len(items) == limit {
		page.NextAfter = items[len(items)-1].ID
	}
	return page, nil
}

// Create inserts a product and returns it with the commit LSN of the write.
func (s *Store) Create(ctx context.Context, n catalog.NewProduct) (catalog.Product, string, error) {
	const q = `INSERT INTO products (sku, name, description, price_cents, currency, stock)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING ` + productColumns
	p, err := scanProduct(s.primary.QueryRow(ctx, q, n.SKU, n.Name, n.Description, n.PriceCents, n.Currency, n.Stock))
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23505" { // unique_violation
			return p, "", fmt.Errorf("sku %s: %w", n.SKU, catalog.ErrConflict)
		}
		return p, "", fmt.Errorf("create product: %w", err)
	}
	lsn, err := s.commitLSN(ctx)
	return p, lsn, err
}

// Update applies a patch and returns the new product with the commit LSN of the write.
func (s *Store) Update(ctx context.Context, id int64, patch catalog.ProductPatch) (catalog.Product, string, error) {
	const q = `UPDATE products SET
			name        = coalesce($2, name),
			description = coalesce($3, description),
			price_cents = coalesce($4, price_cents),
			stock       = coalesce($5, stock),
			version     = version + 1,
			updated_at  = now()
		WHERE id = $1 RETURNING ` + productColumns
	return s.write(ctx, id, q, id, patch.Name, patch.Description, patch.PriceCents, patch.Stock)
}

// SetImage records the product's image and returns the product with the commit LSN of the write.
func (s *Store) SetImage(ctx context.Context, id int64, key string) (catalog.Product, string, error) {
	const q = `UPDATE products SET image_key = $2, version = version + 1, updated_at = now()
		WHERE id = $1 RETURNING ` + productColumns
	return s.write(ctx, id, q, id, key)
}

func (s *Store) write(ctx context.Context, id int64, q string, args ...any) (catalog.Product, string, error) {
	p, err := scanProduct(s.primary.QueryRow(ctx, q, args...))
	if errors.Is(err, pgx.ErrNoRows) {
		return p, "", catalog.ErrNotFound
	}
	if err != nil {
		return p, "", fmt.Errorf("update product %d: %w", id, err)
	}
	lsn, err := s.commitLSN(ctx)
	return p, lsn, err
}

// commitLSN reads the primary's WAL position after a write committed: a replica that has
// replayed this far has the write.
func (s *Store) commitLSN(ctx context.Context) (string, error) {
	var lsn string
	if err := s.primary.QueryRow(ctx, `SELECT pg_current_wal_lsn()::text`).Scan(&lsn); err != nil {
		return "", fmt.Errorf("read commit lsn: %w", err)
	}
	return lsn, nil
}

// Ping checks that reads can be served: by a replica, or failing that by the primary.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.replica.Ping(ctx); err == nil {
		return nil
	}
	if err := s.primary.Ping(ctx); err != nil {
		return fmt.Errorf("neither replicas nor primary reachable: %w", err)
	}
	return nil
}
