// Package postgres stores the catalog in PostgreSQL. Writes and reads that must see them go to
// the primary; other reads go to the replicas, with read-your-writes kept by commit LSNs.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

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
	log       *slog.Logger
	fallbacks *prometheus.CounterVec
}

// NewStore uses primary for writes and replica for reads. They may be the same pool.
func NewStore(primary, replica *pgxpool.Pool, log *slog.Logger, reg prometheus.Registerer) *Store {
	return &Store{
		primary: primary,
		replica: replica,
		log:     log,
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

// LSNs travel as decimal byte positions in the WAL (pg_lsn minus '0/0'), so Redis can
// compare them as numbers.

// Product reads one product. minLSN, when not empty, is the commit LSN of the last write the
// caller must see: a replica that has not replayed that far does not answer, and the primary does.
func (s *Store) Product(ctx context.Context, id int64, minLSN string) (catalog.Product, error) {
	const q = `SELECT ` + productColumns + ` FROM products WHERE id = $1`
	var p catalog.Product
	err := s.read(ctx, minLSN, func(db querier) error {
		var err error
		p, err = scanProduct(db.QueryRow(ctx, q, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return catalog.ErrNotFound
		}
		return err
	})
	if err != nil && !errors.Is(err, catalog.ErrNotFound) {
		return p, fmt.Errorf("product %d: %w", id, err)
	}
	return p, err
}

// read runs fn on a replica and, when no replica can answer for this caller, on the primary.
func (s *Store) read(ctx context.Context, minLSN string, fn func(querier) error) error {
	err := s.fromReplica(ctx, minLSN, fn)
	switch {
	case err == nil, errors.Is(err, catalog.ErrNotFound):
		return err
	case ctx.Err() != nil:
		return ctx.Err()
	}
	return fn(s.primary)
}

// errBehind means the replica has not yet replayed the write the caller must see.
var errBehind = errors.New("replica behind the caller's last write")

// fromReplica runs read on a replica. With a minLSN it first checks, in a statement of its
// own, that the replica has replayed that far: the read that follows takes a fresh snapshot,
// so it sees the write. (Checking in the same statement would not do: its snapshot is taken
// before the check runs.) A transaction holds the two together, so PgBouncer cannot send them
// to different replicas. Any failure is counted, and read asks the primary instead.
func (s *Store) fromReplica(ctx context.Context, minLSN string, read func(querier) error) error {
	if s.replica == s.primary {
		minLSN = "" // no replicas: the primary has every write
	}
	var err error
	if minLSN == "" {
		err = read(s.replica)
	} else {
		err = pgx.BeginTxFunc(ctx, s.replica, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
			var ok bool
			err := tx.QueryRow(ctx, `SELECT coalesce(pg_last_wal_replay_lsn() >= '0/0'::pg_lsn + $1::numeric, false)`, minLSN).Scan(&ok)
			if err != nil {
				return err
			}
			if !ok {
				return errBehind
			}
			return read(tx)
		})
	}
	switch {
	case err == nil, errors.Is(err, catalog.ErrNotFound) && minLSN == "":
	case errors.Is(err, errBehind), errors.Is(err, catalog.ErrNotFound):
		// Not found on a replica that must see a recent write: it may be the write that made
		// it, so the primary decides.
		s.fallbacks.WithLabelValues("replica_behind").Inc()
		return errBehind
	case ctx.Err() == nil:
		s.fallbacks.WithLabelValues("replica_error").Inc()
	}
	return err
}

// Products lists up to limit products with ids above after, in id order. minLSN works as for Product.
func (s *Store) Products(ctx context.Context, after int64, limit int, minLSN string) (catalog.Page, error) {
	const q = `SELECT ` + productColumns + ` FROM products WHERE id > $1 ORDER BY id LIMIT $2`
	var page catalog.Page
	err := s.read(ctx, minLSN, func(db querier) error {
		var err error
		page, err = list(ctx, db, q, after, limit)
		return err
	})
	if err != nil {
		return catalog.Page{}, fmt.Errorf("products: %w", err)
	}
	return page, nil
}

// Search finds up to limit products matching text, best first: full-text matches on name and
// description (websearch syntax: words, "phrases", -exclusions), and names with a word like one
// of the text's words (trigram word similarity), which forgives typos.
func (s *Store) Search(ctx context.Context, text string, limit int, minLSN string) (catalog.Page, error) {
	const q = `SELECT ` + productColumns + ` FROM products, websearch_to_tsquery('english', $1) AS query
		WHERE search @@ query OR $1 <% name
		ORDER BY ts_rank(search, query) + word_similarity($1, name) DESC, id
		LIMIT $2`
	var page catalog.Page
	err := s.read(ctx, minLSN, func(db querier) error {
		rows, err := db.Query(ctx, q, text, limit)
		if err != nil {
			return err
		}
		page.Items, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (catalog.Product, error) { return scanProduct(r) })
		return err
	})
	if err != nil {
		return catalog.Page{}, fmt.Errorf("search %q: %w", text, err)
	}
	return page, nil
}

// querier is what a pool and a transaction have in common.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func list(ctx context.Context, db querier, q string, after int64, limit int) (catalog.Page, error) {
	rows, err := db.Query(ctx, q, after, limit)
	if err != nil {
		return catalog.Page{}, err
	}
	items, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (catalog.Product, error) { return scanProduct(r) })
	if err != nil {
		return catalog.Page{}, err
	}
	page := catalog.Page{Items: items}
	if len(items) == limit {
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
	return p, s.commitLSN(ctx), nil
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
	return p, s.commitLSN(ctx), nil
}

// commitLSN reads the primary's WAL position after a write committed: a replica that has
// replayed this far has the write. The write has landed whatever happens here, so a failure
// only costs read-your-writes for a moment (the caller still invalidates the cache): it is
// logged, not returned.
func (s *Store) commitLSN(ctx context.Context) string {
	var lsn string
	err := s.primary.QueryRow(ctx, `SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::text`).Scan(&lsn)
	if err != nil {
		s.log.Warn("read commit lsn", "err", err)
		return ""
	}
	return lsn
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
