package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/flashcrowd/flashcrowd/foundation/web"
	"github.com/flashcrowd/flashcrowd/services/orders"
)

// IdempotencyHeader names the checkout's required header.
const IdempotencyHeader = "Idempotency-Key"

// checkout is what placing and cancelling orders share.
type checkout struct {
	store  Store
	carts  cartAPI // also the catalog and the shared stock count that admits checkouts
	window time.Duration
	nudge  func()
	now    func() time.Time
	memo   *stockMemo
	gate   chan struct{} // bounds this instance's checkout transactions; nil: no bound

	results  *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newCheckout(d Deps, carts cartAPI) *checkout {
	f := promauto.With(d.Registry)
	return &checkout{
		store: d.Store, carts: carts, window: d.CancelWindow, nudge: d.Nudge, now: d.Now,
		memo: newStockMemo(d.Now),
		gate: gate(d.MaxTransactions),
		results: f.NewCounterVec(prometheus.CounterOpts{
			Name: "flashcrowd_orders_total",
			Help: "Checkouts by result: placed, replayed (same key again), sold_out (refused before the database), " +
				"out_of_stock (refused by the stock decrement), rejected (other 4xx), unavailable (503) or error.",
		}, []string{"result"}),
		duration: f.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "flashcrowd_checkout_duration_seconds",
			Help:    "Time to answer a checkout, by result (as flashcrowd_orders_total).",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"result"}),
	}
}

// checkoutRequest is the body of POST /api/v1/orders. A signed-in customer may send no body:
// the order goes to the account's address.
type checkoutRequest struct {
	Email string `json:"email"`
}

func (c checkoutRequest) Valid() map[string]string {
	if c.Email == "" {
		return nil // required of guests only: the handler knows who is asking
	}
	if p := orders.ValidEmail(orders.NormalizeEmail(c.Email)); p != "" {
		return map[string]string{"email": p}
	}
	return nil
}

// decodeCheckout reads a checkout's body. An empty body is an empty request when the caller
// is signed in, whose account gives the address.
func decodeCheckout(w http.ResponseWriter, r *http.Request, signedIn bool) (checkoutRequest, error) {
	var req checkoutRequest
	if signedIn && r.ContentLength == 0 {
		return req, nil
	}
	err := web.Decode(w, r, &req)
	return req, err
}

// requestHash is the SHA-256 of the canonical request: the same key again must come with the
// same request, however its JSON was spelled.
func requestHash(email string) []byte {
	b, _ := json.Marshal(checkoutRequest{Email: email}) // a struct of one string: cannot fail
	sum := sha256.Sum256(b)
	return sum[:]
}

func handleCheckout(co *checkout) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		start := time.Now()
		result, err := co.place(w, r)
		if err != nil {
			var p *web.Problem
			switch {
			case !errors.As(err, &p):
				result = "error"
			case p.Status == http.StatusServiceUnavailable:
				result = "unavailable"
			case result == "":
				result = "rejected"
			}
		}
		co.results.WithLabelValues(result).Inc()
		co.duration.WithLabelValues(result).Observe(time.Since(start).Seconds())
		return err
	}
}

// place runs a checkout: a cart the stock cannot cover is refused before the database when the
// catalog or this instance already knows; the same key again answers the order it placed (the
// same request) or 422 (another one); otherwise one transaction decides. It returns the result
// for the metrics when it is not simply "rejected" or an error.
func (co *checkout) place(w http.ResponseWriter, r *http.Request) (string, error) {
	ctx := r.Context()
	id := who(r)
	key := r.Header.Get(IdempotencyHeader)
	if key == "" {
		return "", web.NewProblem(http.StatusBadRequest, "a checkout needs an %s header: a unique value per order, sent again with a retry", IdempotencyHeader)
	}
	if !orders.ValidKey(key) {
		return "", web.Invalid(map[string]string{IdempotencyHeader: "must be 1 to 64 characters of A-Z, a-z, 0-9, _ and -"})
	}
	req, err := decodeCheckout(w, r, id.SignedIn())
	if err != nil {
		return "", err
	}
	email := orders.NormalizeEmail(req.Email)
	// The body as sent decides whether a retry is the same request, also where it is ignored.
	hash := requestHash(email)
	if id.SignedIn() {
		// The body's address is ignored: orders go to the account's.
		email = orders.NormalizeEmail(id.Email)
		if orders.ValidEmail(email) != "" {
			return "", web.NewProblem(http.StatusUnprocessableEntity, "the account has no valid email address")
		}
	} else if email == "" {
		return "", web.Invalid(map[string]string{"email": "required: where the confirmation goes"})
	}
	owner := orders.Owner(id)

	// What to buy. A checkout that committed emptied its cart, so a retry of it finds none.
	items, err := co.carts.carts.Get(ctx, owner)
	if err != nil {
		web.Log(ctx).Warn("cart", "err", err)
		return "", unavailable("the cart")
	}

	// The fast refusals, before any database work: in a flash sale most checkouts find the
	// product sold out, and they must hear it at once, without a query on the primary and
	// without queueing for the product's row lock. They come before the key look-up: a cart
	// still full means no order was placed with it, except in the moment between a commit
	// and the cart's deletion (a retry then hears 409 and its next retry gets the order).
	var known map[int64]int32
	if len(items) > 0 {
		if known, err = co.soldOut(r, items); err != nil {
			return "sold_out", err
		}
	}

	// The gate, still before any database work: in a flash sale most buyers stop here.
	admitted, err := co.admit(r, owner, items, known)
	if err != nil {
		return "sold_out", err
	}
	// A retry: answer what the first request got (and give back what the gate took for it).
	if o, err := co.store.OrderByKey(ctx, owner, key); err == nil {
		if admitted {
			co.settle(ctx, items, orders.ErrKeyTaken)
		}
		return co.replayPlaced(w, r, owner, o, hash, len(items) > 0)
	} else if !errors.Is(err, orders.ErrNotFound) {
		if admitted {
			co.settle(ctx, items, err)
		}
		return "", storeProblem(r, err)
	}
	if len(items) == 0 {
		return "", web.NewProblem(http.StatusUnprocessableEntity, "the cart is empty")
	}

	c, fast, err := co.transact(ctx, orders.Placement{
		Owner: owner, CustomerID: id.Customer, Email: email, Key: key, RequestHash: hash, Items: items,
	})
	if admitted {
		co.settle(ctx, items, err)
	}
	var short *orders.StockError
	switch {
	case errors.Is(err, orders.ErrKeyTaken):
		// A concurrent request with the same key committed first: answer with its order.
		o, err := co.store.OrderByKey(ctx, owner, key)
		if err != nil {
			return "", storeProblem(r, err)
		}
		return co.replayPlaced(w, r, owner, o, hash, true)
	case errors.As(err, &short) && fast:
		return "sold_out", stockProblem(short)
	case errors.As(err, &short):
		return "out_of_stock", stockProblem(short)
	case errors.Is(err, orders.ErrOutcomeUnknown):
		web.Log(ctx).Warn("checkout outcome unknown", "err", err)
		p := web.NewProblem(http.StatusServiceUnavailable,
			"the order may or may not have been placed: send the same request with the same %s again to find out", IdempotencyHeader)
		// A connection cut mid-transaction is most often a failover or a restart under way.
		p.RetryAfter = failoverRetryAfter
		return "unavailable", p
	case errors.Is(err, orders.ErrCurrencies):
		return "", web.NewProblem(http.StatusConflict, "the cart holds products priced in different currencies: order them separately")
	case errors.Is(err, orders.ErrUnavailable):
		return "unavailable", storeProblem(r, err)
	case err != nil:
		return "", storeProblem(r, err)
	}

	// After the commit: none of this may fail the order, which exists now.
	if err := co.carts.carts.Delete(ctx, owner); err != nil {
		web.Log(ctx).Warn("empty the cart after checkout", "order", c.Order.ID, "err", err)
	}
	if !admitted {
		// The gate was skipped (no catalog figures, or Redis failed): the cart's holds, if any,
		// would keep units the order has taken from the database out of the count until they lapse.
		for _, it := range items {
			co.carts.release(ctx, owner, it.ProductID)
		}
	}
	co.committed(r, c)
	w.Header().Set("Location", "/api/v1/orders/"+strconv.FormatInt(c.Order.ID, 10))
	web.Respond(w, http.StatusCreated, viewOrder(c.Order, co.window))
	return "placed", nil
}

// transact runs the checkout's transaction when its turn comes: checkouts past the bound wait
// here rather than for a pool connection, and then look at what this instance learned while
// they waited (a burst passes the first look all at once, before any of it reached the
// database). fast reports a refusal from that second look, without a transaction.
func (co *checkout) transact(ctx context.Context, p orders.Placement) (c orders.Committed, fast bool, err error) {
	if co.gate != nil {
		select {
		case co.gate <- struct{}{}:
			defer func() { <-co.gate }()
		case <-ctx.Done():
			return c, false, unavailable("checkout")
		}
	}
	if short := co.memoShort(p.Items); short != nil {
		return c, true, short
	}
	c, err = co.store.Place(ctx, p)
	// Learned before the next in line looks.
	var short *orders.StockError
	switch {
	case err == nil:
		for _, ch := range c.Changes {
			co.memo.record(ch.ProductID, ch.Stock)
		}
	case errors.As(err, &short) && !short.Gone:
		co.memo.record(short.ProductID, short.Left)
	}
	return c, false, err
}

// replayPlaced is replay for a checkout that came with a cart (full when cartFull): when it
// is the same request, its order was placed and its cart should have been emptied then, but the
// answer or the emptying was lost on the way (ErrOutcomeUnknown), so the cart is emptied now.
func (co *checkout) replayPlaced(w http.ResponseWriter, r *http.Request, owner string, o orders.Order, hash []byte, cartFull bool) (string, error) {
	result, err := co.replay(w, o, hash)
	if err == nil && cartFull {
		if derr := co.carts.carts.Delete(r.Context(), owner); derr != nil {
			web.Log(r.Context()).Warn("empty the cart of a replayed order", "order", o.ID, "err", derr)
		}
	}
	return result, err
}

// replay answers a checkout whose key placed o already: the same answer when it is the same
// request, a 422 when the key comes with another.
func (co *checkout) replay(w http.ResponseWriter, o orders.Order, hash []byte) (string, error) {
	if !bytes.Equal(o.RequestHash, hash) {
		return "", web.NewProblem(http.StatusUnprocessableEntity,
			"this %s was used for another request: send a new key for a new order", IdempotencyHeader)
	}
	w.Header().Set("Location", "/api/v1/orders/"+strconv.FormatInt(o.ID, 10))
	web.Respond(w, http.StatusCreated, viewOrder(o, co.window))
	return "replayed", nil
}

// soldOut refuses a cart that this instance's recent decrements or the catalog's (cached)
// stock already show cannot be served. When the catalog cannot answer, the database decides.
// It returns the stock the catalog showed, by product (nil when it could not answer).
func (co *checkout) soldOut(r *http.Request, items []orders.Item) (map[int64]int32, error) {
	if short := co.memoShort(items); short != nil {
		return nil, stockProblem(short)
	}
	ids := make([]int64, 0, len(items))
	for _, it := range items {
		ids = append(ids, it.ProductID)
	}
	products, err := co.carts.catalog.Products(r.Context(), ids)
	if err != nil {
		web.Log(r.Context()).Warn("checkout without the catalog's stock", "err", err)
		return nil, nil
	}
	known := make(map[int64]int32, len(items))
	for _, it := range items {
		p, ok := products[it.ProductID]
		switch {
		case !ok:
			return nil, stockProblem(&orders.StockError{ProductID: it.ProductID, Gone: true})
		case p.Stock < it.Quantity:
			return nil, stockProblem(&orders.StockError{ProductID: it.ProductID, Name: p.Name, Left: max(p.Stock, 0)})
		}
		known[it.ProductID] = p.Stock
	}
	return known, nil
}

// admit takes the cart's units before the transaction, from its holds and the shared count:
// false means they are gone (the refusal is the returned error). Without the catalog's figures or Redis,
// everyone is admitted and the database decides.
func (co *checkout) admit(r *http.Request, owner string, items []orders.Item, known map[int64]int32) (bool, error) {
	if co.carts.stock == nil || known == nil {
		return false, nil
	}
	short, err := co.carts.stock.Take(r.Context(), owner, items, known)
	switch {
	case err != nil:
		web.Log(r.Context()).Warn("checkout without the stock count", "err", err)
		return false, nil
	case short != 0:
		return false, stockProblem(&orders.StockError{ProductID: short, Left: 0})
	}
	return true, nil
}

// settle corrects the shared count after a transaction that took units from it and did not
// commit: they go back, and a product the database found short gets the database's figure.
func (co *checkout) settle(ctx context.Context, items []orders.Item, err error) {
	if err == nil {
		return
	}
	ctx = context.WithoutCancel(ctx)
	if gerr := co.carts.stock.Give(ctx, items); gerr != nil {
		web.Log(ctx).Warn("stock count not given back", "err", gerr)
	}
	var short *orders.StockError
	if errors.As(err, &short) && !short.Gone {
		if serr := co.carts.stock.Set(ctx, short.ProductID, short.Left); serr != nil {
			web.Log(ctx).Warn("stock count not set", "err", serr)
		}
	}
}

// memoShort returns the first line of a cart that this instance's recent transactions show
// cannot be served, or nil.
func (co *checkout) memoShort(items []orders.Item) *orders.StockError {
	for _, it := range items {
		if left, ok := co.memo.left(it.ProductID); ok && left < it.Quantity {
			return &orders.StockError{ProductID: it.ProductID, Left: left}
		}
	}
	return nil
}

func gate(n int) chan struct{} {
	if n <= 0 {
		return nil
	}
	return make(chan struct{}, n)
}

// committed does what follows a commit that moved stock: the catalog hears of it (in the
// background), this instance remembers what is left, and the relay wakes up for the outbox.
func (co *checkout) committed(r *http.Request, c orders.Committed) {
	for _, ch := range c.Changes {
		co.memo.record(ch.ProductID, ch.Stock)
	}
	co.carts.catalog.Learned(c.Changes)
	co.carts.catalog.NotifyStock(c.LSN, c.Changes)
	co.nudge()
}

func stockProblem(e *orders.StockError) *web.Problem {
	p := web.NewProblem(http.StatusConflict, "not enough stock: %s", e.Error())
	p.Errors = map[string]string{"product_id": strconv.FormatInt(e.ProductID, 10)}
	return p
}

// storeProblem answers a store failure: a statement that ran out of time, or that no server
// could take (no primary during a failover), is a 503 worth retrying; anything else a 500
// (web.Fail logs it).
func storeProblem(r *http.Request, err error) error {
	switch {
	case errors.Is(err, orders.ErrTimeout):
		web.Log(r.Context()).Warn("database", "err", err)
		return unavailable("the database")
	case errors.Is(err, orders.ErrUnavailable):
		// No primary: a failover takes seconds, and a client retrying every second would only
		// spend its checkout allowance (CHECKOUT_LIMIT_PER_SESSION) on it.
		web.Log(r.Context()).Warn("database", "err", err)
		p := unavailable("the database")
		p.RetryAfter = failoverRetryAfter
		return p
	}
	return fmt.Errorf("store: %w", err)
}

// failoverRetryAfter is Retry-After while no primary takes writes (seconds), as the catalog's.
const failoverRetryAfter = 5

// memoTTL bounds how long a stock figure this instance saw is trusted for the fast refusal:
// only an admin restock or a cancellation elsewhere can raise it in the meantime.
const memoTTL = time.Second

// stockMemo remembers, for a moment, the stock a decrement left or found, so that the
// checkouts right after a product sells out are refused without a query.
type stockMemo struct {
	mu  sync.Mutex
	now func() time.Time
	m   map[int64]memoEntry
}

type memoEntry struct {
	left int32
	at   time.Time
}

func newStockMemo(now func() time.Time) *stockMemo {
	return &stockMemo{now: now, m: map[int64]memoEntry{}}
}

func (s *stockMemo) record(product int64, left int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if len(s.m) >= 10_000 { // bounded: drop what has expired
		for id, e := range s.m {
			if now.Sub(e.at) >= memoTTL {
				delete(s.m, id)
			}
		}
	}
	s.m[product] = memoEntry{left: left, at: now}
}

func (s *stockMemo) left(product int64) (int32, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[product]
	if !ok || s.now().Sub(e.at) >= memoTTL {
		return 0, false
	}
	return e.left, true
}
