// Package postgres stores the catalog in PostgreSQL. Writes and reads that must see them go to
// the primary; other reads go to the replicas, with read-your-writes kept by commit LSNs. Its
// static SQL lives in internal/queries, as .sql files and the typed Go sqlc generates from them;
// only the listing, whose filters and order vary, is built here (listing.go).
package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/flashcrowd/flashcrowd/foundation/db"
	"github.com/flashcrowd/flashcrowd/services/catalog"
	"github.com/flashcrowd/flashcrowd/services/catalog/postgres/internal/queries"
)

// Store reads and writes products.
type Store struct {
	primary   *pgxpool.Pool
	db        *queries.Queries // on the primary
	replica   *pgxpool.Pool    // nil: no replicas
	log       *slog.Logger
	fallbacks *prometheus.CounterVec
}

// NewStore uses primary for writes and replica, the replicas' pool, for reads. replica is nil
// when there are no replicas (main decides at start): the primary then serves every read, and a
// read that fails is not tried again.
func NewStore(primary, replica *pgxpool.Pool, log *slog.Logger, reg prometheus.Registerer) *Store {
	return &Store{
		primary: primary,
		db:      queries.New(primary),
		replica: replica,
		log:     log,
		fallbacks: promauto.With(reg).NewCounterVec(prometheus.CounterOpts{
			Name: "flashcrowd_db_read_fallbacks_total",
			Help: "Reads sent to the primary instead of a replica, by reason (replica_behind or replica_error).",
		}, []string{"reason"}),
	}
}

// Product reads one product. minLSN, when not empty, is the commit LSN of the last write the
// caller must see: a replica that has not replayed that far does not answer, and the primary does.
func (s *Store) Product(ctx context.Context, id int64, minLSN string) (catalog.Product, error) {
	var p catalog.Product
	err := s.read(ctx, minLSN, func(db queries.DBTX) error {
		row, err := queries.New(db).Product(ctx, id)
		if errors.Is(err, pgx.ErrNoRows) {
			return catalog.ErrNotFound
		}
		p = catalog.Product(row)
		return err
	})
	if err != nil && !errors.Is(err, catalog.ErrNotFound) {
		return p, dbError(fmt.Sprintf("product %d", id), err)
	}
	return p, err
}

// read runs fn on a replica and, when no replica can answer for this caller, on the primary.
// fn runs at most once on each pool: without replicas, only on the primary.
func (s *Store) read(ctx context.Context, minLSN string, fn func(queries.DBTX) error) error {
	if s.replica == nil {
		return fn(s.primary) // the primary has every write: minLSN is met
	}
	err := s.fromReplica(ctx, minLSN, fn)
	var reason string
	switch {
	case err == nil, errors.Is(err, catalog.ErrNotFound) && minLSN == "":
		return err
	case ctx.Err() != nil:
		return ctx.Err()
	case db.StatementTimedOut(err):
		// The statement, not the replica, is at fault: on the primary it would only take as
		// long again, on the one server every write needs. (A replica that did not answer in
		// time, its connect timeout, is a replica_error: the primary may well answer.)
		return err
	case errors.Is(err, errBehind), errors.Is(err, catalog.ErrNotFound):
		// Not found on a replica that must see a recent write: it may be the write that made
		// it, so the primary decides.
		reason = "replica_behind"
	default:
		reason = "replica_error"
	}
	s.fallbacks.WithLabelValues(reason).Inc()
	return fn(s.primary)
}

// errBehind means the replica has not yet replayed the write the caller must see.
var errBehind = errors.New("replica behind the caller's last write")

// fromReplica runs read on a replica. With a minLSN it first checks, in a statement of its
// own, that the replica has replayed that far: the read that follows takes a fresh snapshot,
// so it sees the write. (Checking in the same statement would not do: its snapshot is taken
// before the check runs.) A transaction holds the two together, so PgBouncer cannot send them
// to different replicas.
func (s *Store) fromReplica(ctx context.Context, minLSN string, read func(queries.DBTX) error) error {
	if minLSN == "" {
		return read(s.replica)
	}
	return pgx.BeginTxFunc(ctx, s.replica, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		ok, err := queries.New(tx).ReplayedPast(ctx, minLSN)
		if err != nil {
			return err
		}
		if !ok {
			return errBehind
		}
		return read(tx)
	})
}

// Products returns one page of a listing. minLSN works as for Product.
func (s *Store) Products(ctx context.Context, l catalog.Listing, minLSN string) (catalog.Page, error) {
	q, args := listingQuery(l)
	var page catalog.Page
	err := s.read(ctx, minLSN, func(db queries.DBTX) error {
		rows, err := db.Query(ctx, q, args...)
		if err != nil {
			return err
		}
		items, err := pgx.CollectRows(rows, pgx.RowToStructByPos[catalog.Product])
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
		return catalog.Page{}, dbError("products", err)
	}
	return page, nil
}

// Featured returns up to limit featured products in stock, most recently updated first: the
// home page's shop window.
func (s *Store) Featured(ctx context.Context, limit int, minLSN string) (catalog.Page, error) {
	var page catalog.Page
	err := s.read(ctx, minLSN, func(db queries.DBTX) error {
		rows, err := queries.New(db).Featured(ctx, int32(limit))
		page.Items = products(rows)
		return err
	})
	if err != nil {
		return catalog.Page{}, dbError("featured", err)
	}
	return page, nil
}

// ProductsAfter returns up to limit products with ids above after, in id order: the cache's
// preload. Every write committed before the call is in it: it reads a replica only once that
// has replayed the primary's position at the call (the primary otherwise), because a preload
// overwrites what Redis holds, and a lagging replica's copy could replace a newer one.
func (s *Store) ProductsAfter(ctx context.Context, after int64, limit int) ([]catalog.Product, error) {
	var out []catalog.Product
	lsn, err := s.db.CommitLSN(ctx)
	if err != nil {
		return nil, dbError("wal position", err)
	}
	err = s.read(ctx, lsn, func(db queries.DBTX) error {
		rows, err := queries.New(db).ProductsAfter(ctx, queries.ProductsAfterParams{After: after, Max: int32(limit)})
		out = products(rows)
		return err
	})
	if err != nil {
		return nil, dbError(fmt.Sprintf("products after %d", after), err)
	}
	return out, nil
}

// products turns rows of a query that lists products into domain products: every such row type
// has catalog.Product's fields, so each converts.
func products[R queries.FeaturedRow | queries.SearchRow | queries.ProductsAfterRow](rows []R) []catalog.Product {
	out := make([]catalog.Product, len(rows))
	for i, r := range rows {
		out[i] = catalog.Product(r)
	}
	return out
}

// Categories returns the category tree. It reads the primary: instances load the tree once at
// start, and a replica that has not yet replayed the seed would hand them an empty one.
func (s *Store) Categories(ctx context.Context) (*catalog.Tree, error) {
	rows, err := s.db.Categories(ctx)
	if err != nil {
		return nil, dbError("categories", err)
	}
	if len(rows) == 0 {
		return nil, errors.New("categories: none in the database; run the migrate command first")
	}
	all := make([]catalog.Category, len(rows))
	for i, r := range rows {
		all[i] = catalog.Category(r)
	}
	return catalog.NewTree(all), nil
}

// Search finds up to limit products matching text, best first: full-text matches on name and
// description (websearch syntax: words, "phrases", -exclusions), and names with a word like one
// of the text's words (trigram word similarity), which forgives typos.
func (s *Store) Search(ctx context.Context, text string, limit int, minLSN string) (catalog.Page, error) {
	var page catalog.Page
	err := s.read(ctx, minLSN, func(db queries.DBTX) error {
		rows, err := queries.New(db).Search(ctx, queries.SearchParams{Text: text, Max: int32(limit)})
		page.Items = products(rows)
		return err
	})
	if err != nil {
		return catalog.Page{}, dbError(fmt.Sprintf("search %q", text), err)
	}
	return page, nil
}

// Create inserts a product and returns it with the commit LSN of the write.
func (s *Store) Create(ctx context.Context, n catalog.NewProduct) (catalog.Product, string, error) {
	if n.Attributes == nil {
		n.Attributes = catalog.Attrs{} // a nil map would be NULL, and the column holds an object
	}
	// A conversion: it compiles only while NewProduct's fields are the statement's parameters.
	row, err := s.db.CreateProduct(ctx, queries.CreateProductParams(n))
	if err != nil {
		return catalog.Product{}, "", dbError(fmt.Sprintf("create product %s", n.SKU), err)
	}
	return catalog.Product(row), s.commitLSN(ctx), nil
}

// Update applies a patch and returns the new product with the commit LSN of the write. With
// patch.Version set it changes only that version of the product (optimistic concurrency).
func (s *Store) Update(ctx context.Context, id int64, patch catalog.ProductPatch) (catalog.Product, string, error) {
	row, err := s.db.UpdateProduct(ctx, queries.UpdateProductParams{
		ID: id, Name: patch.Name, Description: patch.Description, PriceCents: patch.PriceCents, Stock: patch.Stock,
		CategoryID: patch.CategoryID, Attributes: patch.Attributes, Featured: patch.Featured, Version: patch.Version,
	})
	return s.written(ctx, id, patch.Version, catalog.Product(row), err)
}

// AdjustStock adds delta to the product's stock in one statement, so concurrent adjustments
// never lose one another; the stock's bounds are the table's checks (ErrStock).
func (s *Store) AdjustStock(ctx context.Context, id int64, delta int32) (catalog.Product, string, error) {
	row, err := s.db.AdjustStock(ctx, queries.AdjustStockParams{ID: id, Delta: delta})
	return s.written(ctx, id, nil, catalog.Product(row), err)
}

// SetImage records the product's image and returns the product, the image it replaced ("" for
// none) and the commit LSN of the write. The old key is read under the row's lock in the same
// transaction, so two writers at once each learn exactly the image they replaced.
func (s *Store) SetImage(ctx context.Context, id int64, key string) (catalog.Product, string, string, error) {
	var p catalog.Product
	var previous string
	err := pgx.BeginFunc(ctx, s.primary, func(tx pgx.Tx) error {
		q := s.db.WithTx(tx)
		var err error
		if previous, err = q.LockImage(ctx, id); err != nil {
			return err
		}
		row, err := q.SetImage(ctx, queries.SetImageParams{ID: id, ImageKey: key})
		p = catalog.Product(row)
		return err
	})
	p, lsn, err := s.written(ctx, id, nil, p, err)
	return p, previous, lsn, err
}

// Delete removes a product (only that version, when version is not nil) and returns its image
// key ("" for none) and the commit LSN of the write.
func (s *Store) Delete(ctx context.Context, id int64, version *int32) (string, string, error) {
	imageKey, err := s.db.DeleteProduct(ctx, queries.DeleteProductParams{ID: id, Version: version})
	if errors.Is(err, pgx.ErrNoRows) {
		return "", "", s.missing(ctx, id, version)
	}
	if err != nil {
		return "", "", dbError(fmt.Sprintf("delete product %d", id), err)
	}
	return imageKey, s.commitLSN(ctx), nil
}

// written finishes an UPDATE … RETURNING of product id: p and err are what it returned. No row
// means the product does not exist or, when version is set, has another version.
func (s *Store) written(ctx context.Context, id int64, version *int32, p catalog.Product, err error) (catalog.Product, string, error) {
	if errors.Is(err, pgx.ErrNoRows) {
		return catalog.Product{}, "", s.missing(ctx, id, version)
	}
	if err != nil {
		return catalog.Product{}, "", dbError(fmt.Sprintf("update product %d", id), err)
	}
	return p, s.commitLSN(ctx), nil
}

// missing explains why a conditional write of product id touched no row.
func (s *Store) missing(ctx context.Context, id int64, version *int32) error {
	if version == nil {
		return catalog.ErrNotFound
	}
	exists, err := s.db.ProductExists(ctx, id)
	if err != nil {
		return dbError(fmt.Sprintf("product %d", id), err)
	}
	if !exists {
		return catalog.ErrNotFound
	}
	return catalog.ErrVersion
}

// dbError says what failed, mapping the database errors a valid request can still meet to
// domain errors: a statement that ran out of time, no server to take it, and a write the
// table's constraints refuse.
func dbError(what string, err error) error {
	switch {
	case db.TimedOut(err):
		return fmt.Errorf("%s: %w", what, catalog.ErrTimeout)
	case db.Unavailable(err):
		return fmt.Errorf("%s: %w: %w", what, catalog.ErrUnavailable, err)
	}
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
// logged, not returned. LSNs travel as decimal byte positions in the WAL (pg_lsn minus '0/0'), so
// Redis can compare them as numbers.
func (s *Store) commitLSN(ctx context.Context) string {
	// Not the request's context: a client gone right after the write must not cost its LSN.
	lsn, err := s.db.CommitLSN(context.WithoutCancel(ctx))
	if err != nil {
		s.log.Warn("read commit lsn", "err", err)
		return ""
	}
	return lsn
}

// Writable checks that the primary's pool reaches a server that takes writes: while it does
// not (no primary during a failover), the shop is read-only.
func (s *Store) Writable(ctx context.Context) error {
	inRecovery, err := s.db.InRecovery(ctx)
	switch {
	case err != nil:
		return dbError("writable", err)
	case inRecovery:
		return fmt.Errorf("writable: the primary's pool reached a replica: %w", catalog.ErrUnavailable)
	}
	return nil
}

// Ping checks that reads can be served: by a replica, or failing that by the primary.
func (s *Store) Ping(ctx context.Context) error {
	if s.replica != nil && s.replica.Ping(ctx) == nil {
		return nil
	}
	err := s.primary.Ping(ctx)
	switch {
	case err == nil:
		return nil
	case s.replica == nil:
		return fmt.Errorf("primary unreachable: %w", err)
	}
	return fmt.Errorf("neither replicas nor primary reachable: %w", err)
}

// Current reads product id from the primary: the version a conditional write compares with.
func (s *Store) Current(ctx context.Context, id int64) (catalog.Product, error) {
	row, err := s.db.Product(ctx, id)
	if errors.Is(err, pgx.ErrNoRows) {
		return catalog.Product{}, catalog.ErrNotFound
	}
	if err != nil {
		return catalog.Product{}, dbError(fmt.Sprintf("product %d", id), err)
	}
	return catalog.Product(row), nil
}
