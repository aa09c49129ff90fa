//go:build integration

package postgres_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/flashcrowd/flashcrowd/contracts/tasks"
	"github.com/flashcrowd/flashcrowd/foundation/db"
	"github.com/flashcrowd/flashcrowd/services/orders"
	"github.com/flashcrowd/flashcrowd/services/orders/postgres"
	"github.com/flashcrowd/flashcrowd/services/orders/postgres/internal/queries"
)

// open connects to the stack's real PgBouncer (DATABASE_URL, the primary). With
// MIGRATE_DATABASE_URL set it first applies the orders migrations (a no-op when the stack's
// `orders migrate` ran).
func open(t *testing.T) (*postgres.Store, *pgxpool.Pool) {
	t.Helper()
	return openPool(t, 16, prometheus.NewRegistry())
}

// openPool is open with a pool of at most conns connections, whose statements are counted in
// reg (flashcrowd_db_queries_total).
func openPool(t *testing.T, conns int, reg prometheus.Registerer) (*postgres.Store, *pgxpool.Pool) {
	t.Helper()
	url := os.Getenv("DATABASE_URL")
	if url == "" {
		t.Fatal("integration tests need DATABASE_URL (make integration sets it)")
	}
	ctx := context.Background()
	if m := os.Getenv("MIGRATE_DATABASE_URL"); m != "" {
		if _, err := postgres.Migrate(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	pool, err := db.Open(ctx, url, db.Primary, conns, db.NewMetrics(reg))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return postgres.NewStore(pool, quietLog()), pool
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func random(t *testing.T) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return strings.ToUpper(hex.EncodeToString(b))
}

// product adds a product with stock units, removed at the end of the test.
func product(t *testing.T, pool *pgxpool.Pool, stock int32, price int64) int64 {
	t.Helper()
	ctx := context.Background()
	var id int64
	err := pool.QueryRow(ctx, `INSERT INTO products (sku, name, price_cents, currency, stock) VALUES ($1, $2, $3, 'EUR', $4) RETURNING id`,
		"IT-"+random(t), "Integration test product", price, stock).Scan(&id)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = pool.Exec(context.Background(), `DELETE FROM products WHERE id = $1`, id) })
	return id
}

func stockOf(t *testing.T, pool *pgxpool.Pool, id int64) int32 {
	t.Helper()
	var s int32
	if err := pool.QueryRow(context.Background(), `SELECT stock FROM products WHERE id = $1`, id).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

func placement(owner, key string, items ...orders.Item) orders.Placement {
	return orders.Placement{Owner: owner, Email: "integration@flashcrowd.test", Key: key, RequestHash: []byte("h"), Items: items}
}

// Each order's stock decrement must be a heap-only (HOT) update: no new entry in any of the
// products table's indexes. An index on a column the decrement changes (stock, version,
// updated_at) would make every order write all nine of them, two GIN among them.
func TestTakingStockWritesNoIndex(t *testing.T) {
	_, pool := open(t)
	id := product(t, pool, 10, 100)
	ctx := context.Background()
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := queries.New(tx).TakeStock(ctx, queries.TakeStockParams{Quantity: 1, ID: id}); err != nil {
		t.Fatal(err)
	}
	// This transaction's own counts, exact and at once (the cumulative views lag).
	var updated, hot int64
	err = tx.QueryRow(ctx, `SELECT pg_stat_get_xact_tuples_updated('products'::regclass),
		pg_stat_get_xact_tuples_hot_updated('products'::regclass)`).Scan(&updated, &hot)
	if err != nil {
		t.Fatal(err)
	}
	if updated != 1 || hot != 1 {
		t.Fatalf("%d rows updated, %d of them HOT: the decrement must be a heap-only update", updated, hot)
	}
}

// K units, many more buyers at once: exactly K orders, the stock at zero, never below.
func TestConcurrentCheckoutsNeverOversell(t *testing.T) {
	// As many transactions at once as one orders instance runs (its checkout gate is half its
	// pool of 10): more would only queue on the products' row locks until the app role's 2 s
	// statement limit cancels one, which is this machine's load, not the store's rule.
	store, pool := openPool(t, 5, prometheus.NewRegistry())
	const k, buyers = 25, 120
	id := product(t, pool, k, 1000)
	other := product(t, pool, 1000, 500) // a second line, so rows lock in product order under load
	run := "s:it-" + random(t)

	var placed, short atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, buyers)
	for i := range buyers {
		wg.Go(func() {
			c, err := store.Place(context.Background(), placement(fmt.Sprintf("%s-%d", run, i), "k",
				orders.Item{ProductID: other, Quantity: 1}, orders.Item{ProductID: id, Quantity: 1}))
			var se *orders.StockError
			switch {
			case err == nil:
				placed.Add(1)
				if c.Order.TotalCents != 1500 || len(c.Order.Lines) != 2 || c.LSN == "" {
					errs <- fmt.Errorf("order %+v lsn %q", c.Order, c.LSN)
				}
			case errors.As(err, &se) && se.ProductID == id && se.Left == 0:
				short.Add(1)
			default:
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if placed.Load() != k || short.Load() != buyers-k {
		t.Errorf("placed %d, refused %d; want %d and %d", placed.Load(), short.Load(), k, buyers-k)
	}
	if s := stockOf(t, pool, id); s != 0 {
		t.Errorf("stock %d, want 0", s)
	}
	if s := stockOf(t, pool, other); s != 1000-k {
		t.Errorf("the other product's stock %d, want %d: a refused order kept its decrement", s, 1000-k)
	}
	var sold int64
	if err := pool.QueryRow(context.Background(),
		`SELECT coalesce(sum(quantity), 0) FROM order_lines WHERE product_id = $1`, id).Scan(&sold); err != nil {
		t.Fatal(err)
	}
	if sold != k {
		t.Errorf("order lines sell %d units of %d", sold, k)
	}
}

// The same owner and key from many requests at once: one order, one decrement; the others
// learn the key is taken and find that order.
func TestIdempotencyRace(t *testing.T) {
	store, pool := open(t)
	id := product(t, pool, 100, 250)
	owner := "s:it-" + random(t)
	var wg sync.WaitGroup
	var placed, taken atomic.Int32
	for range 16 {
		wg.Go(func() {
			_, err := store.Place(context.Background(), placement(owner, "same-key", orders.Item{ProductID: id, Quantity: 3}))
			switch {
			case err == nil:
				placed.Add(1)
			case errors.Is(err, orders.ErrKeyTaken):
				taken.Add(1)
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if placed.Load() != 1 || taken.Load() != 15 {
		t.Errorf("placed %d, key taken %d; want 1 and 15", placed.Load(), taken.Load())
	}
	if s := stockOf(t, pool, id); s != 97 {
		t.Errorf("stock %d, want 97", s)
	}
	o, err := store.OrderByKey(context.Background(), owner, "same-key")
	if err != nil || o.TotalCents != 750 || o.Currency != "EUR" || len(o.Lines) != 1 || string(o.RequestHash) != "h" {
		t.Errorf("OrderByKey = %+v, %v", o, err)
	}
	if _, err := store.OrderByKey(context.Background(), "s:someone-else", "same-key"); !errors.Is(err, orders.ErrNotFound) {
		t.Errorf("another owner's key: %v", err)
	}
}

func TestPlaceRefusesAndWritesNothing(t *testing.T) {
	store, pool := open(t)
	ctx := context.Background()
	plenty := product(t, pool, 10, 100)
	few := product(t, pool, 1, 100)
	owner := "s:it-" + random(t)
	_, err := store.Place(ctx, placement(owner, "k", orders.Item{ProductID: plenty, Quantity: 2}, orders.Item{ProductID: few, Quantity: 2}))
	var se *orders.StockError
	if !errors.As(err, &se) || se.ProductID != few || se.Left != 1 || se.Name != "Integration test product" {
		t.Fatalf("Place = %v, want a StockError for product %d", err, few)
	}
	if s := stockOf(t, pool, plenty); s != 10 {
		t.Errorf("stock of the other line %d: the refused order kept its decrement", s)
	}
	if _, err := store.OrderByKey(ctx, owner, "k"); !errors.Is(err, orders.ErrNotFound) {
		t.Errorf("a refused order left a row: %v", err)
	}
	_, err = store.Place(ctx, placement(owner, "k2", orders.Item{ProductID: 1 << 60, Quantity: 1}))
	if !errors.As(err, &se) || !se.Gone {
		t.Errorf("unknown product: %v", err)
	}
}

func TestCancel(t *testing.T) {
	store, pool := open(t)
	ctx := context.Background()
	id := product(t, pool, 5, 100)
	owner := "s:it-cancel-" + random(t)
	c, err := store.Place(ctx, placement(owner, "k", orders.Item{ProductID: id, Quantity: 2}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Cancel(ctx, "s:not-the-owner", c.Order.ID, time.Hour, time.Now()); !errors.Is(err, orders.ErrNotFound) {
		t.Errorf("someone else's cancel: %v", err)
	}
	if _, err := store.Cancel(ctx, owner, c.Order.ID, time.Hour, c.Order.PlacedAt.Add(2*time.Hour)); !errors.Is(err, orders.ErrCancelWindow) {
		t.Errorf("late cancel: %v", err)
	}
	cc, err := store.Cancel(ctx, owner, c.Order.ID, time.Hour, time.Now())
	if err != nil || cc.Order.Status != orders.StatusCancelled || cc.Order.CancelledAt == nil ||
		len(cc.Changes) != 1 || cc.Changes[0] != (orders.StockChange{ProductID: id, Stock: 5, Was: 3}) {
		t.Fatalf("Cancel = %+v, %v", cc, err)
	}
	if s := stockOf(t, pool, id); s != 5 {
		t.Errorf("stock %d after cancel, want 5", s)
	}
	if _, err := store.Cancel(ctx, owner, c.Order.ID, time.Hour, time.Now()); !errors.Is(err, orders.ErrCancelled) {
		t.Errorf("second cancel: %v", err)
	}
	list, err := store.Orders(ctx, owner, 1<<62, 10)
	if err != nil || len(list) != 1 || list[0].Status != orders.StatusCancelled || len(list[0].Lines) != 1 {
		t.Errorf("Orders = %+v, %v", list, err)
	}
}

func TestCustomers(t *testing.T) {
	store, _ := open(t)
	ctx := context.Background()
	email := "it-" + strings.ToLower(random(t)) + "@flashcrowd.test"
	c, err := store.CreateCustomer(ctx, email, "$2a$10$hash")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.CreateCustomer(ctx, email, "$2a$10$other"); !errors.Is(err, orders.ErrEmailTaken) {
		t.Errorf("second registration: %v", err)
	}
	got, hash, err := store.CustomerByEmail(ctx, email)
	if err != nil || got != c || hash != "$2a$10$hash" {
		t.Errorf("CustomerByEmail = %+v %q %v", got, hash, err)
	}
	if _, _, err := store.CustomerByEmail(ctx, "nobody-"+email); !errors.Is(err, orders.ErrNotFound) {
		t.Errorf("unknown email: %v", err)
	}
}

// recorder is an asynq stand-in that counts each event it is given and fails now and then,
// the way a Redis that drops out does.
type recorder struct {
	failEvery int // every failEvery-th call fails as an unreachable Redis would; 0: none
	mu        sync.Mutex
	seen      map[string]int
	calls     int
}

func (r *recorder) EnqueueContext(_ context.Context, task *asynq.Task, _ ...asynq.Option) (*asynq.TaskInfo, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	if r.failEvery > 0 && r.calls%r.failEvery == 0 {
		return nil, errors.New("dial tcp redis:6379: connection refused")
	}
	var p tasks.OrderEventPayload
	if err := json.Unmarshal(task.Payload(), &p); err != nil {
		return nil, err
	}
	r.seen[p.ID]++
	return &asynq.TaskInfo{}, nil
}

// Two relays at once over the same outbox: each row is enqueued by one of them, once, and
// leaves the outbox. (The stack's running orders instances relay too and may take some rows;
// those never reach the recorder, so the test counts only what it saw.)
func TestTwoRelaysMoveEachRowOnce(t *testing.T) {
	_, pool := open(t)
	ctx := context.Background()
	run := "relay-it-" + random(t)
	const n = 450
	for i := range n {
		b, _ := json.Marshal(tasks.OrderEventPayload{V: 1, ID: fmt.Sprintf("%s-%d", run, i), Type: tasks.EventOrderCreated,
			OccurredAt: time.Now(), Order: tasks.Order{Email: "integration@flashcrowd.test", Status: "placed", Currency: "EUR"}})
		if _, err := pool.Exec(ctx, `INSERT INTO outbox (task_type, payload) VALUES ($1, $2)`, tasks.TypeOrderEvent, b); err != nil {
			t.Fatal(err)
		}
	}
	rec := &recorder{failEvery: 37, seen: map[string]int{}}
	rctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for range 2 {
		relay := postgres.NewRelay(pool, rec, 20*time.Millisecond, quietLog(), prometheus.NewRegistry())
		wg.Go(func() { relay.Run(rctx) })
	}
	var left int
	relayed := poll(60*time.Second, func() bool {
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE payload->>'id' LIKE $1`, run+"-%").Scan(&left); err != nil {
			t.Fatal(err)
		}
		return left == 0
	})
	cancel()
	wg.Wait()
	if !relayed {
		t.Fatalf("%d rows still in the outbox after 60 s", left)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	mine := 0
	for id, count := range rec.seen {
		if !strings.HasPrefix(id, run) {
			continue
		}
		mine++
		if count != 1 {
			t.Errorf("%s enqueued %d times", id, count)
		}
	}
	t.Logf("the two relays moved %d of %d rows (%d enqueue calls, every 37th failed)", mine, n, rec.calls)
	if mine == 0 {
		t.Error("the relays moved nothing")
	}
}

// A row enqueued before (a relay that died before its delete committed) is done, not an
// error: its task id is taken. Needs the stack's queue Redis as the orders service's user, which
// may only enqueue.
func TestRelayTreatsATakenTaskIDAsDone(t *testing.T) {
	_, pool := open(t)
	addr, password := os.Getenv("REDIS_QUEUE_ADDR"), os.Getenv("REDIS_QUEUE_ORDERS_PASSWORD")
	if addr == "" || password == "" {
		t.Fatal("this test needs REDIS_QUEUE_ADDR and REDIS_QUEUE_ORDERS_PASSWORD (make integration sets them)")
	}
	queue := asynq.NewClient(asynq.RedisClientOpt{Addr: addr, Username: "orders", Password: password})
	t.Cleanup(func() { queue.Close() })
	ctx := context.Background()
	b, _ := json.Marshal(tasks.OrderEventPayload{V: 1, ID: "relay-it-" + random(t), Type: tasks.EventOrderCreated, OccurredAt: time.Now()})
	var id int64
	if err := pool.QueryRow(ctx, `INSERT INTO outbox (task_type, payload) VALUES ($1, $2) RETURNING id`, tasks.TypeOrderEvent, b).Scan(&id); err != nil {
		t.Fatal(err)
	}
	task, err := tasks.Outboxed(tasks.TypeOrderEvent, b, id)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := queue.EnqueueContext(ctx, task); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		t.Fatal(err)
	}
	relay := postgres.NewRelay(pool, queue, time.Second, quietLog(), prometheus.NewRegistry())
	if !poll(10*time.Second, func() bool {
		if _, err := relay.RelayOnce(ctx); err != nil {
			t.Fatalf("RelayOnce: %v", err)
		}
		var left int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE id = $1`, id).Scan(&left); err != nil {
			t.Fatal(err)
		}
		return left == 0
	}) {
		t.Fatal("the row was never relayed")
	}
}

// A pass over an empty outbox is one query, not a transaction: every instance polls every
// second, so this is the relay's whole cost on an idle stack. A row that waits is still relayed.
func TestRelayLooksBeforeItClaims(t *testing.T) {
	reg := prometheus.NewRegistry()
	_, pool := openPool(t, 2, reg)
	ctx := context.Background()
	rec := &recorder{seen: map[string]int{}}
	relay := postgres.NewRelay(pool, rec, time.Second, quietLog(), prometheus.NewRegistry())
	// Rows another test left waiting go first.
	if !poll(10*time.Second, func() bool {
		n, err := relay.RelayOnce(ctx)
		if err != nil {
			t.Fatalf("RelayOnce: %v", err)
		}
		return n == 0
	}) {
		t.Fatal("the outbox never emptied")
	}

	before := value(t, reg, "flashcrowd_db_queries_total")
	if n, err := relay.RelayOnce(ctx); n != 0 || err != nil {
		t.Fatalf("RelayOnce over an empty outbox = %d, %v", n, err)
	}
	if sent := value(t, reg, "flashcrowd_db_queries_total") - before; sent != 1 {
		t.Errorf("a pass over an empty outbox sent %.0f statements, want 1", sent)
	}

	id := "relay-it-" + random(t)
	b, _ := json.Marshal(tasks.OrderEventPayload{V: 1, ID: id, Type: tasks.EventOrderCreated, OccurredAt: time.Now()})
	if _, err := pool.Exec(ctx, `INSERT INTO outbox (task_type, payload) VALUES ($1, $2)`, tasks.TypeOrderEvent, b); err != nil {
		t.Fatal(err)
	}
	if n, err := relay.RelayOnce(ctx); n != 1 || err != nil {
		t.Fatalf("RelayOnce over one waiting row = %d, %v", n, err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.seen[id] != 1 {
		t.Errorf("the waiting row was enqueued %d times", rec.seen[id])
	}
}

// poll calls done every 20 ms until it reports true, for at most within; it reports whether
// done did.
func poll(within time.Duration, done func() bool) bool {
	deadline := time.Now().Add(within)
	for !done() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// syncBuffer is a log the relay's goroutine writes while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// More rows of a task type no binary knows than one claim takes, an hour old, ahead of good
// rows: the good rows are enqueued and leave the outbox; the others are parked, each logged
// once, and neither claimed again nor counted as the oldest waiting row.
func TestRelayParksRowsItCannotRead(t *testing.T) {
	_, pool := open(t)
	ctx := context.Background()
	run := "relay-it-" + random(t)
	const unknown = "order:refund" // a type from some other binary
	rows, err := pool.Query(ctx, `INSERT INTO outbox (task_type, payload, created_at)
		SELECT $1, jsonb_build_object('v', 1, 'id', $2::text || '-bad-' || i), now() - interval '1 hour'
		FROM generate_series(1, 101) AS i RETURNING id`, unknown, run)
	if err != nil {
		t.Fatal(err)
	}
	var bad []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		bad = append(bad, id)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = pool.Exec(context.Background(), `DELETE FROM outbox WHERE id = ANY($1)`, bad) })
	var good []int64
	for i := range 3 {
		b, _ := json.Marshal(tasks.OrderEventPayload{V: 1, ID: fmt.Sprintf("%s-good-%d", run, i), Type: tasks.EventOrderCreated, OccurredAt: time.Now()})
		var id int64
		if err := pool.QueryRow(ctx, `INSERT INTO outbox (task_type, payload) VALUES ($1, $2) RETURNING id`, tasks.TypeOrderEvent, b).Scan(&id); err != nil {
			t.Fatal(err)
		}
		good = append(good, id)
	}

	q := &recorder{seen: map[string]int{}}
	var logs syncBuffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	relay := postgres.NewRelay(pool, q, 20*time.Millisecond, log, prometheus.NewRegistry())
	rctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { relay.Run(rctx) })
	var left, parked int
	done := poll(30*time.Second, func() bool {
		if err := pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE id = ANY($1)), count(*) FILTER (WHERE id = ANY($2) AND parked_at IS NOT NULL)
			FROM outbox`, good, bad).Scan(&left, &parked); err != nil {
			t.Fatal(err)
		}
		return left == 0 && parked == len(bad)
	})
	cancel()
	wg.Wait()
	if !done {
		t.Fatalf("after 30 s: %d good rows left, %d of %d unreadable rows parked", left, parked, len(bad))
	}

	// The gauges, as a new relay reads them on its first pass (its next is a minute away):
	// the parked rows count there, not as the oldest waiting row.
	reg := prometheus.NewRegistry()
	watcher := postgres.NewRelay(pool, q, time.Minute, log, reg)
	wctx, stop := context.WithCancel(ctx)
	wg.Go(func() { watcher.Run(wctx) })
	done = poll(10*time.Second, func() bool { return value(t, reg, "flashcrowd_outbox_parked") > 0 })
	stop()
	wg.Wait()
	if !done {
		t.Fatal("the parked gauge stayed 0")
	}
	if n := value(t, reg, "flashcrowd_outbox_parked"); n < float64(len(bad)) {
		t.Errorf("parked gauge %.0f, want at least %d", n, len(bad))
	}
	if age := value(t, reg, "flashcrowd_outbox_oldest_age_seconds"); age >= 3000 {
		t.Errorf("oldest-row gauge %.0f s: it counts the parked rows, an hour old", age)
	}

	// Parked: still there, with when and why, and left alone by further passes.
	type parking struct {
		at     time.Time
		reason string
	}
	parkedAt := func() map[int64]parking {
		t.Helper()
		rows, err := pool.Query(ctx, `SELECT id, parked_at, parked_reason FROM outbox WHERE id = ANY($1) AND parked_at IS NOT NULL`, bad)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		m := map[int64]parking{}
		for rows.Next() {
			var id int64
			var p parking
			if err := rows.Scan(&id, &p.at, &p.reason); err != nil {
				t.Fatal(err)
			}
			m[id] = p
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return m
	}
	before := parkedAt()
	if len(before) != len(bad) {
		t.Fatalf("%d of the %d unreadable rows are parked", len(before), len(bad))
	}
	for id, p := range before {
		if !strings.Contains(p.reason, unknown) {
			t.Errorf("row %d parked for %q, which does not name the type", id, p.reason)
		}
	}
	for range 3 {
		if _, err := relay.RelayOnce(ctx); err != nil {
			t.Fatalf("RelayOnce: %v", err)
		}
	}
	if after := parkedAt(); !maps.Equal(after, before) {
		t.Error("a further pass changed the parked rows: it claimed them again")
	}

	// A row of a known type that an older binary parked: the next relay to start puts it back
	// in line, and it is relayed; the unknown type's rows stay parked.
	b, _ := json.Marshal(tasks.OrderEventPayload{V: 1, ID: run + "-unparked", Type: tasks.EventOrderCreated, OccurredAt: time.Now()})
	var unparked int64
	if err := pool.QueryRow(ctx, `INSERT INTO outbox (task_type, payload, parked_at, parked_reason)
		VALUES ($1, $2, now(), 'unknown task type') RETURNING id`, tasks.TypeOrderEvent, b).Scan(&unparked); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = pool.Exec(context.Background(), `DELETE FROM outbox WHERE id = $1`, unparked) })
	nctx, stopNew := context.WithCancel(ctx)
	wg.Go(func() { postgres.NewRelay(pool, q, 20*time.Millisecond, log, prometheus.NewRegistry()).Run(nctx) })
	done = poll(10*time.Second, func() bool {
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE id = $1`, unparked).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 0
	})
	stopNew()
	wg.Wait()
	if !done {
		t.Fatal("a parked row of a known type was not relayed by a relay that started after")
	}
	if after := parkedAt(); !maps.Equal(after, before) {
		t.Error("a starting relay changed the unknown type's parked rows")
	}

	q.mu.Lock()
	defer q.mu.Unlock()
	if n := q.seen[run+"-unparked"]; n != 1 {
		t.Errorf("the unparked row was enqueued %d times", n)
	}
	for i := range good {
		if n := q.seen[fmt.Sprintf("%s-good-%d", run, i)]; n != 1 {
			t.Errorf("good row %d enqueued %d times", good[i], n)
		}
	}
	for id, n := range q.seen {
		if strings.HasPrefix(id, run+"-bad-") {
			t.Errorf("unreadable row %s enqueued %d times", id, n)
		}
	}
	for _, id := range bad {
		if n := strings.Count(logs.String(), fmt.Sprintf(`"msg":"outbox row parked","id":%d,`, id)); n != 1 {
			t.Errorf("row %d logged as parked %d times", id, n)
		}
	}
}

// value reads a gauge's or a counter's value from reg (its first series).
func value(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		m := f.GetMetric()[0]
		if m.GetCounter() != nil {
			return m.GetCounter().GetValue()
		}
		return m.GetGauge().GetValue()
	}
	t.Fatalf("no metric %s", name)
	return 0
}
