// Package postgres stores the catalog in PostgreSQL. Writes and reads that must see them go to
// the primary; other reads go to the replicas, with read-your-writes kept by commit LSNs.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

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

const productColumns = `id, sku, name, description, price_cents, currency, stock, coalesce(category_id, 0),
	attributes, featured, coalesce(image_key, ''), version, created_at, updated_at`

func scanProduct(row pgx.Row) (catalog.Product, error) {
	var p catalog.Product
	err := row.Scan(&p.ID, &p.SKU, &p.Name, &p.Description, &p.PriceCents, &p.Currency, &p.Stock, &p.CategoryID,
		&p.Attributes, &p.Featured, &p.ImageKey, &p.Version, &p.CreatedAt, &p.UpdatedAt)
	return p, err
}

// LSNs travel as decimal byte positions in the WAL (pg_lsn minus '0/0'), so Redis can
// compare them as numbers.

// The read queries, named so that the plan test (explain_integration_test.go) checks the very
// statements the store runs.
const (
	productQuery  = `SELECT ` + productColumns + ` FROM products WHERE id = $1`
	featuredQuery = `SELECT ` + productColumns + ` FROM products WHERE featured AND stock > 0
		ORDER BY updated_at DESC, id DESC LIMIT $1`
	searchQuery = `SELECT ` + productColumns + ` FROM products, websearch_to_tsquery('english', $1) AS query
		WHERE search @@ query OR $1 <% name
		ORDER BY ts_rank(search, query) + word_similarity($1, name) DESC, id
		LIMIT $2`
)

// Product reads one product. minLSN, when not empty, is the commit LSN of the last write the
// caller must see: a replica that has not replayed that far does not answer, and the primary does.
func (s *Store) Product(ctx context.Context, id int64, minLSN string) (catalog.Product, error) {
	var p catalog.Product
	err := s.read(ctx, minLSN, func(db querier) error {
		var err error
		p, err = scanProduct(db.QueryRow(ctx, productQuery, id))
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

// Products returns one page of a listing. minLSN works as for Product.
func (s *Store) Products(ctx context.Context, l catalog.Listing, minLSN string) (catalog.Page, error) {
	q, args := listingQuery(l)
	var page catalog.Page
	err := s.read(ctx, minLSN, func(db querier) error {
		items, err := collect(ctx, db, q, args...)
		if err != nil {
			return err
		}
		page.Items = items
		if len(items) > l.Limit { // one row more than asked for: there is a next page
			page.Items = items[:l.Limit]
			page.NextCursor = catalog.CursorAfter(l.Sort, page.Items[l.Limit-1]).String()
		}
		return nil
	})
	if err != nil {
		return catalog.Page{}, fmt.Errorf("products: %w", err)
	}
	return page, nil
}

// orders maps each sort to its column and direction. Every order ends with id, and a page
// after a cursor starts with a row comparison on (column, id): both match the order's index
// (see migration 00003), so any page is one index range scan.
var orders = map[catalog.Sort]struct {
	column string // "" for id alone
	desc   bool
}{
	catalog.SortID:        {"", false},
	catalog.SortPrice:     {"price_cents", false},
	catalog.SortPriceDesc: {"price_cents", true},
	catalog.SortName:      {"name", false},
	catalog.SortNewest:    {"created_at", true},
}

// listingQuery builds the SQL for a listing. Only fixed SQL text is concatenated; every
// value is a parameter. A listing of several categories (a parent and its children) is one
// ordered branch per category, merged: each branch reads the (category_id, price_cents, id)
// index in order and stops after a page, where a single "category_id = ANY(…)" scan would
// walk the price index of the whole catalog and discard the other categories' rows.
func listingQuery(l catalog.Listing) (string, []any) {
	var where []string
	var args []any
	param := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if l.MinPrice > 0 {
		where = append(where, "price_cents >= "+param(l.MinPrice))
	}
	if l.MaxPrice < catalog.MaxPriceCents {
		where = append(where, "price_cents <= "+param(l.MaxPrice))
	}
	if l.InStock {
		where = append(where, "stock > 0")
	}
	o := orders[l.Sort]
	cmp, dir := ">", ""
	if o.desc {
		cmp, dir = "<", " DESC"
	}
	orderBy := "id" + dir
	if o.column != "" {
		orderBy = o.column + dir + ", " + orderBy
	}
	if c := l.After; c != nil {
		var key any
		switch o.column {
		case "":
			where = append(where, "id "+cmp+" "+param(c.ID))
		case "price_cents":
			key = c.Price
		case "name":
			key = c.Name
		case "created_at":
			key = c.Created
		}
		if key != nil {
			where = append(where, fmt.Sprintf("(%s, id) %s (%s, %s)", o.column, cmp, param(key), param(c.ID)))
		}
	}
	limit := param(l.Limit + 1)
	branch := func(conds []string) string {
		q := `SELECT ` + productColumns + ` FROM products`
		if len(conds) > 0 {
			q += ` WHERE ` + strings.Join(conds, " AND ")
		}
		return q + ` ORDER BY ` + orderBy + ` LIMIT ` + limit
	}
	switch len(l.Categories) {
	case 0:
		return branch(where), args
	case 1:
		return branch(append([]string{"category_id = " + param(l.Categories[0])}, where...)), args
	}
	branches := make([]string, len(l.Categories))
	for i, id := range l.Categories {
		branches[i] = "(" + branch(append([]string{"category_id = " + param(id)}, where...)) + ")"
	}
	return `SELECT * FROM (` + strings.Join(branches, " UNION ALL ") + `) AS page ORDER BY ` + orderBy + ` LIMIT ` + limit, args
}

// Featured returns up to limit featured products in stock, most recently updated first: the
// home page's shop window.
func (s *Store) Featured(ctx context.Context, limit int, minLSN string) (catalog.Page, error) {
	var page catalog.Page
	err := s.read(ctx, minLSN, func(db querier) error {
		var err error
		page.Items, err = collect(ctx, db, featuredQuery, limit)
		return err
	})
	if err != nil {
		return catalog.Page{}, fmt.Errorf("featured: %w", err)
	}
	return page, nil
}

// Categories returns the category tree. It reads the primary: instances load the tree once at
// start, and a replica that has not yet replayed the seed would hand them an empty one.
func (s *Store) Categories(ctx context.Context) (*catalog.Tree, error) {
	rows, err := s.primary.Query(ctx, `SELECT id, coalesce(parent_id, 0), slug, name FROM categories ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("categories: %w", err)
	}
	all, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (catalog.Category, error) {
		var c catalog.Category
		err := r.Scan(&c.ID, &c.ParentID, &c.Slug, &c.Name)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("categories: %w", err)
	}
	if len(all) == 0 {
		return nil, errors.New("categories: none in the database; run the migrate command first")
	}
	return catalog.NewTree(all), nil
}

// Search finds up to limit products matching text, best first: full-text matches on name and
// description (websearch syntax: words, "phrases", -exclusions), and names with a word like one
// of the text's words (trigram word similarity), which forgives typos.
func (s *Store) Search(ctx context.Context, text string, limit int, minLSN string) (catalog.Page, error) {
	var page catalog.Page
	err := s.read(ctx, minLSN, func(db querier) error {
		var err error
		page.Items, err = collect(ctx, db, searchQuery, text, limit)
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

func collect(ctx context.Context, db querier, q string, args ...any) ([]catalog.Product, error) {
	rows, err := db.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (catalog.Product, error) { return scanProduct(r) })
}

// Create inserts a product and returns it with the commit LSN of the write.
func (s *Store) Create(ctx context.Context, n catalog.NewProduct) (catalog.Product, string, error) {
	const q = `INSERT INTO products (sku, name, description, price_cents, currency, stock, category_id, attributes, featured)
		VALUES ($1, $2, $3, $4, $5, $6, nullif($7, 0), $8, $9) RETURNING ` + productColumns
	attrs := n.Attributes
	if attrs == nil {
		attrs = catalog.Attrs{}
	}
	p, err := scanProduct(s.primary.QueryRow(ctx, q, n.SKU, n.Name, n.Description, n.PriceCents, n.Currency, n.Stock,
		n.CategoryID, attrs, n.Featured))
	if err != nil {
		return p, "", writeError(fmt.Sprintf("create product %s", n.SKU), err)
	}
	return p, s.commitLSN(ctx), nil
}

// Update applies a patch and returns the new product with the commit LSN of the write. With
// patch.Version set it changes only that version of the product (optimistic concurrency).
func (s *Store) Update(ctx context.Context, id int64, patch catalog.ProductPatch) (catalog.Product, string, error) {
	const q = `UPDATE products SET
			name        = coalesce($2, name),
			description = coalesce($3, description),
			price_cents = coalesce($4, price_cents),
			stock       = coalesce($5, stock),
			category_id = CASE WHEN $6::integer IS NULL THEN category_id ELSE nullif($6, 0) END,
			attributes  = coalesce($7, attributes),
			featured    = coalesce($8, featured),
			version     = version + 1,
			updated_at  = now()
		WHERE id = $1 AND ($9::integer IS NULL OR version = $9) RETURNING ` + productColumns
	return s.write(ctx, id, patch.Version, q, id, patch.Name, patch.Description, patch.PriceCents, patch.Stock,
		patch.CategoryID, patch.Attributes, patch.Featured, patch.Version)
}

// AdjustStock adds delta to the product's stock in one statement, so concurrent adjustments
// never lose one another; the stock's bounds are the table's checks (ErrStock).
func (s *Store) AdjustStock(ctx context.Context, id int64, delta int32) (catalog.Product, string, error) {
	const q = `UPDATE products SET stock = stock + $2, version = version + 1, updated_at = now()
		WHERE id = $1 RETURNING ` + productColumns
	return s.write(ctx, id, nil, q, id, delta)
}

// SetImage records the product's image and returns the product with the commit LSN of the write.
func (s *Store) SetImage(ctx context.Context, id int64, key string) (catalog.Product, string, error) {
	const q = `UPDATE products SET image_key = $2, version = version + 1, updated_at = now()
		WHERE id = $1 RETURNING ` + productColumns
	return s.write(ctx, id, nil, q, id, key)
}

// Delete removes a product (only that version, when version is not nil) and returns the
// commit LSN of the write.
func (s *Store) Delete(ctx context.Context, id int64, version *int32) (string, error) {
	tag, err := s.primary.Exec(ctx, `DELETE FROM products WHERE id = $1 AND ($2::integer IS NULL OR version = $2)`, id, version)
	if err != nil {
		return "", fmt.Errorf("delete product %d: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return "", s.missing(ctx, id, version)
	}
	return s.commitLSN(ctx), nil
}

// write runs an UPDATE … RETURNING of one product. No row means the product does not exist
// or, when version is set, has another version.
func (s *Store) write(ctx context.Context, id int64, version *int32, q string, args ...any) (catalog.Product, string, error) {
	p, err := scanProduct(s.primary.QueryRow(ctx, q, args...))
	if errors.Is(err, pgx.ErrNoRows) {
		return p, "", s.missing(ctx, id, version)
	}
	if err != nil {
		return p, "", writeError(fmt.Sprintf("update product %d", id), err)
	}
	return p, s.commitLSN(ctx), nil
}

// missing explains why a conditional write of product id touched no row.
func (s *Store) missing(ctx context.Context, id int64, version *int32) error {
	if version == nil {
		return catalog.ErrNotFound
	}
	var exists bool
	if err := s.primary.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM products WHERE id = $1)`, id).Scan(&exists); err != nil {
		return fmt.Errorf("product %d: %w", id, err)
	}
	if !exists {
		return catalog.ErrNotFound
	}
	return catalog.ErrVersion
}

// writeError maps the constraint violations a valid request can still meet to domain errors.
func writeError(what string, err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case pgErr.Code == "23505": // unique_violation: the SKU is taken
			return fmt.Errorf("%s: %w", what, catalog.ErrConflict)
		case pgErr.Code == "23514" && strings.HasPrefix(pgErr.ConstraintName, "products_stock"), // check_violation
			pgErr.Code == "22003": // numeric_value_out_of_range: stock + delta overflowed
			return fmt.Errorf("%s: %w", what, catalog.ErrStock)
		}
	}
	return fmt.Errorf("%s: %w", what, err)
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

// Current reads product id from the primary: the version a conditional write compares with.
func (s *Store) Current(ctx context.Context, id int64) (catalog.Product, error) {
	p, err := scanProduct(s.primary.QueryRow(ctx, productQuery, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return p, catalog.ErrNotFound
	}
	if err != nil {
		return p, fmt.Errorf("product %d: %w", id, err)
	}
	return p, nil
}
