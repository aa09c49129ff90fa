// Package postgres stores customers and orders in PostgreSQL, on the primary only: checkout
// takes stock from the catalog's products table in the same transaction that writes the order
// and its outbox rows, and every read here must see the writes before it. Its SQL lives in
// internal/queries, as .sql files and the typed Go sqlc generates from them.
package postgres

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/flashcrowd/flashcrowd/contracts/tasks"
	"github.com/flashcrowd/flashcrowd/foundation/db"
	"github.com/flashcrowd/flashcrowd/services/orders"
	"github.com/flashcrowd/flashcrowd/services/orders/postgres/internal/queries"
)

// Store reads and writes customers and orders on the primary.
type Store struct {
	pool *pgxpool.Pool
	db   *queries.Queries
	log  *slog.Logger
}

// NewStore uses pool, a pool on the primary, for everything.
func NewStore(pool *pgxpool.Pool, log *slog.Logger) *Store {
	return &Store{pool: pool, db: queries.New(pool), log: log}
}

// OrderByKey returns owner's order placed with key, or orders.ErrNotFound.
func (s *Store) OrderByKey(ctx context.Context, owner, key string) (orders.Order, error) {
	row, err := s.db.OrderByKey(ctx, queries.OrderByKeyParams{Owner: owner, IdempotencyKey: key})
	if err != nil {
		return orders.Order{}, notFound("order by key", err)
	}
	return s.withLines(ctx, s.db, row)
}

// Order returns owner's order id, or orders.ErrNotFound, also when it is someone else's.
func (s *Store) Order(ctx context.Context, owner string, id int64) (orders.Order, error) {
	row, err := s.db.Order(ctx, queries.OrderParams{ID: id, Owner: owner})
	if err != nil {
		return orders.Order{}, notFound(fmt.Sprintf("order %d", id), err)
	}
	return s.withLines(ctx, s.db, row)
}

// Orders returns up to limit of owner's orders with an id below before, newest first.
func (s *Store) Orders(ctx context.Context, owner string, before int64, limit int) ([]orders.Order, error) {
	rows, err := s.db.Orders(ctx, queries.OrdersParams{Owner: owner, Before: before, Max: int32(limit)})
	if err != nil {
		return nil, dbError("orders", err)
	}
	ids := make([]int64, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	lines, err := s.db.Lines(ctx, ids)
	if err != nil {
		return nil, dbError("order lines", err)
	}
	byOrder := map[int64][]orders.Line{}
	for _, l := range lines {
		byOrder[l.OrderID] = append(byOrder[l.OrderID], line(l))
	}
	out := make([]orders.Order, len(rows))
	for i, r := range rows {
		out[i] = order(r, byOrder[r.ID])
	}
	return out, nil
}

// Place runs a checkout in one transaction that writes the order, its lines at the prices
// read just before, its outbox rows, and takes each item's stock, the decrements last and in
// product id order (concurrent checkouts lock rows in the same order and cannot deadlock). It
// returns orders.ErrKeyTaken when another checkout with the same key committed first, a
// *orders.StockError when a product is gone or short, and orders.ErrCurrencies when the
// products are priced in different currencies; nothing is written then.
func (s *Store) Place(ctx context.Context, p orders.Placement) (orders.Committed, error) {
	items := slices.Clone(p.Items)
	slices.SortFunc(items, func(a, b orders.Item) int { return cmp.Compare(a.ProductID, b.ProductID) })
	o := orders.Order{
		Owner: p.Owner, CustomerID: p.CustomerID, Email: p.Email, Status: orders.StatusPlaced, Key: p.Key, RequestHash: p.RequestHash,
	}

	// Before the transaction, without a lock: what the items cost now, the order's id and time.
	ids := make([]int64, len(items))
	for i, it := range items {
		ids[i] = it.ProductID
	}
	rows, err := s.db.ItemsToOrder(ctx, ids)
	if err != nil {
		return orders.Committed{}, dbError("price order", err)
	}
	products := make(map[int64]queries.ItemsToOrderRow, len(rows))
	for _, r := range rows {
		products[r.ID] = r
	}
	for _, it := range items {
		pr, ok := products[it.ProductID]
		switch {
		case !ok:
			return orders.Committed{}, &orders.StockError{ProductID: it.ProductID, Gone: true}
		case pr.Stock < it.Quantity: // short already: no transaction needed to say so
			return orders.Committed{}, &orders.StockError{ProductID: it.ProductID, Name: pr.Name, Left: pr.Stock}
		case o.Currency == "":
			o.Currency = pr.Currency
		case o.Currency != pr.Currency:
			return orders.Committed{}, orders.ErrCurrencies
		}
		o.Lines = append(o.Lines, orders.Line{ProductID: it.ProductID, SKU: pr.SKU, Name: pr.Name, Quantity: it.Quantity, UnitPriceCents: pr.PriceCents})
		o.TotalCents += int64(it.Quantity) * pr.PriceCents
	}
	head, err := s.db.NewOrder(ctx)
	if err != nil {
		return orders.Committed{}, dbError("new order", err)
	}
	o.ID, o.PlacedAt = head.ID, head.PlacedAt

	// The transaction is one batch without BEGIN: the server runs it as one implicit
	// transaction, committed at its end or rolled back at its first error, in one round trip.
	// A product's row is locked from its decrement to the commit: inside the server, never
	// across a round trip to this process, so the buyers in line behind it wait microseconds,
	// not for this instance's turn on a busy CPU.
	var b pgx.Batch
	q := queries.New(&pipeline{batch: &b})
	var customer *int64
	if p.CustomerID > 0 {
		customer = &p.CustomerID
	}
	// Queued statements return no error here: each fails the batch when it is sent.
	_ = q.InsertOrder(ctx, queries.InsertOrderParams{
		ID: o.ID, Owner: o.Owner, CustomerID: customer, Email: o.Email, Currency: o.Currency, TotalCents: o.TotalCents,
		IdempotencyKey: o.Key, RequestHash: o.RequestHash, PlacedAt: o.PlacedAt,
	})
	for _, l := range o.Lines {
		_ = q.AddLine(ctx, queries.AddLineParams{
			OrderID: o.ID, ProductID: l.ProductID, SKU: l.SKU, Name: l.Name, Quantity: l.Quantity, UnitPriceCents: l.UnitPriceCents,
		})
	}
	if err := addOutbox(ctx, q, tasks.TypeOrderConfirmation, tasks.OrderConfirmationPayload{V: 1, Order: taskOrder(o)}); err != nil {
		return orders.Committed{}, err
	}
	if err := addOutbox(ctx, q, tasks.TypeOrderEvent, event(o, tasks.EventOrderCreated, o.PlacedAt)); err != nil {
		return orders.Committed{}, err
	}
	var c orders.Committed
	var refused int64 // the product whose decrement failed
	for _, it := range items {
		queries.QueueTakeStock(&b, queries.TakeStockParams{Quantity: it.Quantity, ID: it.ProductID}, func(row pgx.Row) error {
			var left int32
			switch err := row.Scan(&left); {
			case errors.Is(err, pgx.ErrNoRows):
				// Deleted since it was priced above: it was for sale when bought, and there is
				// no stock left to take.
				s.log.Warn("order for a product deleted meanwhile", "order", o.ID, "product_id", it.ProductID)
				return nil
			case err != nil:
				refused = it.ProductID
				return err
			}
			c.Changes = append(c.Changes, orders.StockChange{ProductID: it.ProductID, Stock: left, Was: left + it.Quantity})
			return nil
		})
	}
	err = s.pool.SendBatch(ctx, &b).Close()
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == "orders_owner_key":
		return orders.Committed{}, orders.ErrKeyTaken
	case errors.As(err, &pgErr) && pgErr.Code == "23514" && refused != 0: // CHECK (stock >= 0)
		return orders.Committed{}, short(ctx, s.db, refused)
	case err != nil && db.NotSent(err):
		// The batch never reached a server (no primary): nothing was placed.
		return orders.Committed{}, fmt.Errorf("place order: %w: %w", orders.ErrUnavailable, err)
	case err != nil && (pgErr == nil || db.Unavailable(err)):
		// Not the server's refusal of the order (a constraint rolls the batch back): the
		// connection or the request failed, perhaps after the commit.
		return orders.Committed{}, fmt.Errorf("place order: %w: %w", orders.ErrOutcomeUnknown, err)
	case err != nil:
		return orders.Committed{}, dbError("place order", err)
	}
	c.Order = o
	c.LSN = s.commitLSN(ctx)
	return c, nil
}

// short explains a refused decrement: the product is gone, or how many are left.
func short(ctx context.Context, q *queries.Queries, id int64) error {
	row, err := q.StockOf(ctx, id)
	if errors.Is(err, pgx.ErrNoRows) {
		return &orders.StockError{ProductID: id, Gone: true}
	}
	if err != nil {
		return dbError("stock", err)
	}
	return &orders.StockError{ProductID: id, Name: row.Name, Left: row.Stock}
}

// Cancel cancels owner's order id when it is still placed and placed less than window before
// now: its stock goes back (to the products that still exist) and an order.cancelled event
// joins the outbox, in one transaction. It returns orders.ErrNotFound (also for someone
// else's order), orders.ErrCancelled or orders.ErrCancelWindow.
func (s *Store) Cancel(ctx context.Context, owner string, id int64, window time.Duration, now time.Time) (orders.Committed, error) {
	var c orders.Committed
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		q := queries.New(tx)
		row, err := q.OrderForUpdate(ctx, queries.OrderForUpdateParams{ID: id, Owner: owner})
		if err != nil {
			return notFound(fmt.Sprintf("order %d", id), err)
		}
		switch {
		case row.Status == orders.StatusCancelled:
			return orders.ErrCancelled
		case !now.Before(row.PlacedAt.Add(window)):
			return orders.ErrCancelWindow
		}
		o, err := s.withLines(ctx, q, row)
		if err != nil {
			return err
		}
		for _, l := range o.Lines { // in product id order (Lines query): the same lock order as Place
			stock, err := q.ReturnStock(ctx, queries.ReturnStockParams{Quantity: l.Quantity, ID: l.ProductID})
			if errors.Is(err, pgx.ErrNoRows) {
				continue // the product was deleted since: there is nothing to return the stock to
			}
			if err != nil {
				return err
			}
			c.Changes = append(c.Changes, orders.StockChange{ProductID: l.ProductID, Stock: stock, Was: stock - l.Quantity})
		}
		at, err := q.CancelOrder(ctx, id)
		if err != nil {
			return err
		}
		o.Status, o.CancelledAt = orders.StatusCancelled, at
		if err := addOutbox(ctx, q, tasks.TypeOrderEvent, event(o, tasks.EventOrderCancelled, *at)); err != nil {
			return err
		}
		c.Order = o
		return nil
	})
	if err != nil {
		if errors.Is(err, orders.ErrNotFound) || errors.Is(err, orders.ErrCancelled) || errors.Is(err, orders.ErrCancelWindow) {
			return orders.Committed{}, err
		}
		return orders.Committed{}, dbError(fmt.Sprintf("cancel order %d", id), err)
	}
	c.LSN = s.commitLSN(ctx)
	return c, nil
}

// CreateCustomer registers email (normalized) with a password hash; orders.ErrEmailTaken
// when the address is registered already.
func (s *Store) CreateCustomer(ctx context.Context, email, passwordHash string) (orders.Customer, error) {
	id, err := s.db.CreateCustomer(ctx, queries.CreateCustomerParams{Email: email, PasswordHash: passwordHash})
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23505" {
			return orders.Customer{}, orders.ErrEmailTaken
		}
		return orders.Customer{}, dbError("create customer", err)
	}
	return orders.Customer{ID: id, Email: email}, nil
}

// CustomerByEmail returns the customer with email (normalized) and their password hash, or
// orders.ErrNotFound.
func (s *Store) CustomerByEmail(ctx context.Context, email string) (orders.Customer, string, error) {
	row, err := s.db.CustomerByEmail(ctx, email)
	if err != nil {
		return orders.Customer{}, "", notFound("customer by email", err)
	}
	return orders.Customer{ID: row.ID, Email: row.Email}, row.PasswordHash, nil
}

func (s *Store) withLines(ctx context.Context, q *queries.Queries, row queries.Order) (orders.Order, error) {
	lines, err := q.Lines(ctx, []int64{row.ID})
	if err != nil {
		return orders.Order{}, dbError(fmt.Sprintf("order %d lines", row.ID), err)
	}
	out := make([]orders.Line, len(lines))
	for i, l := range lines {
		out[i] = line(l)
	}
	return order(row, out), nil
}

func order(r queries.Order, lines []orders.Line) orders.Order {
	o := orders.Order{
		ID: r.ID, Owner: r.Owner, Email: r.Email, Status: r.Status, Currency: r.Currency, TotalCents: r.TotalCents,
		Key: r.IdempotencyKey, RequestHash: r.RequestHash, Lines: lines, PlacedAt: r.PlacedAt, CancelledAt: r.CancelledAt,
	}
	if r.CustomerID != nil {
		o.CustomerID = *r.CustomerID
	}
	return o
}

func line(l queries.OrderLine) orders.Line {
	return orders.Line{ProductID: l.ProductID, SKU: l.SKU, Name: l.Name, Quantity: l.Quantity, UnitPriceCents: l.UnitPriceCents}
}

// taskOrder is the order as the worker's tasks carry it.
func taskOrder(o orders.Order) tasks.Order {
	lines := make([]tasks.OrderLine, len(o.Lines))
	for i, l := range o.Lines {
		lines[i] = tasks.OrderLine(l)
	}
	return tasks.Order{ID: o.ID, Email: o.Email, Status: o.Status, Currency: o.Currency, TotalCents: o.TotalCents, Lines: lines, PlacedAt: o.PlacedAt}
}

func event(o orders.Order, typ string, at time.Time) tasks.OrderEventPayload {
	// One id per order and event type: a receiver deduplicates on it.
	return tasks.OrderEventPayload{V: 1, ID: fmt.Sprintf("order-%d-%s", o.ID, typ), Type: typ, OccurredAt: at, Order: taskOrder(o)}
}

func addOutbox(ctx context.Context, q *queries.Queries, typ string, payload any) error {
	b, err := json.Marshal(payload)
	if err != nil {
		return fmt.Errorf("outbox %s: %w", typ, err)
	}
	return q.AddOutbox(ctx, queries.AddOutboxParams{TaskType: typ, Payload: b})
}

// commitLSN reads the primary's WAL position after a commit, for the catalog, whose replicas
// must have replayed that far before they answer for the product. The write has landed
// whatever happens here: a failure is logged, not returned.
func (s *Store) commitLSN(ctx context.Context) string {
	lsn, err := s.db.CommitLSN(context.WithoutCancel(ctx))
	if err != nil {
		s.log.Warn("read commit lsn", "err", err)
		return ""
	}
	return lsn
}

func notFound(what string, err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return orders.ErrNotFound
	}
	return dbError(what, err)
}

// dbError says what failed, mapping a statement that ran out of time to orders.ErrTimeout,
// and one no server could take to orders.ErrUnavailable: either way the caller should try
// again later.
func dbError(what string, err error) error {
	switch {
	case db.TimedOut(err):
		return fmt.Errorf("%s: %w", what, orders.ErrTimeout)
	case db.Unavailable(err):
		return fmt.Errorf("%s: %w: %w", what, orders.ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// pipeline is a queries.DBTX that queues statements without results (sqlc's :exec) on a
// batch; each fails the batch when it is sent.
type pipeline struct{ batch *pgx.Batch }

func (p *pipeline) Exec(_ context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	p.batch.Queue(sql, args...)
	return pgconn.CommandTag{}, nil
}

func (p *pipeline) Query(context.Context, string, ...any) (pgx.Rows, error) {
	return nil, errors.New("pipeline: only statements without results may be queued")
}

func (p *pipeline) QueryRow(context.Context, string, ...any) pgx.Row {
	return errRow{errors.New("pipeline: only statements without results may be queued")}
}

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }
