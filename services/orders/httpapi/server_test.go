package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/flashcrowd/flashcrowd/contracts/identity"
	"github.com/flashcrowd/flashcrowd/foundation/web"
	"github.com/flashcrowd/flashcrowd/services/orders"
	"github.com/flashcrowd/flashcrowd/services/orders/cart"
	"github.com/flashcrowd/flashcrowd/services/orders/catalogapi"
	"github.com/flashcrowd/flashcrowd/services/orders/postgres"
)

// The store the binary passes in must keep the signatures the handlers were written against.
var _ Store = (*postgres.Store)(nil)

var testKey = []byte("test-identity-key-0123456789abcdef")

const catalogToken = "test-catalog-internal-token"

// api is the orders API in-process: real carts over miniredis, a fake catalog over HTTP and a
// fake store.
type api struct {
	t       *testing.T
	h       http.Handler
	store   *fakeStore
	catalog *fakeCatalog
	redis   *miniredis.Miniredis
	client  *catalogapi.Client
	nudges  int
	mu      sync.Mutex
	now     time.Time
}

func newAPI(t *testing.T) *api {
	t.Helper()
	a := &api{t: t, store: newFakeStore(), catalog: newFakeCatalog(t), now: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}
	a.store.now = a.clock
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg := web.NewRegistry()
	a.redis = miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: a.redis.Addr(), MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	u, _ := url.Parse(a.catalog.srv.URL)
	a.client = catalogapi.New(u, catalogToken, 0, log, reg) // no copies: the tests change the catalog between calls
	t.Cleanup(func() { _ = a.client.Close(context.Background()) })
	a.h = NewServer(Deps{
		Log:             log,
		Registry:        reg,
		Ready:           map[string]web.Check{"redis": func(ctx context.Context) error { return rdb.Ping(ctx).Err() }},
		Store:           a.store,
		Carts:           cart.New(rdb, time.Hour),
		Stock:           cart.NewStock(rdb, time.Hour, 15*time.Minute),
		Catalog:         a.client,
		IdentityKey:     testKey,
		CancelWindow:    30 * time.Minute,
		MaxTransactions: 1,
		Nudge:           func() { a.mu.Lock(); a.nudges++; a.mu.Unlock() },
		Now:             a.clock,
	})
	return a
}

func (a *api) clock() time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.now
}

func (a *api) advance(d time.Duration) {
	a.mu.Lock()
	a.now = a.now.Add(d)
	a.mu.Unlock()
}

// caller is someone asking: a guest session, or a signed-in customer.
type caller struct {
	session  string
	customer int64
	email    string
}

var (
	guest  = caller{session: "guest-session-1"}
	guest2 = caller{session: "guest-session-2"}
	ada    = caller{session: "ada-session", customer: 7, email: "ada@example.com"}
	bob    = caller{session: "bob-session", customer: 8, email: "bob@example.com"}
	nobody = caller{} // sends no identity
)

func (a *api) token(w caller) string {
	tok, err := identity.Sign(testKey, identity.Identity{Session: w.session, Customer: w.customer, Email: w.email}, a.clock())
	if err != nil {
		a.t.Fatal(err)
	}
	return tok
}

// req is one request; do sends it.
type req struct {
	method, path, body string
	as                 caller
	header             map[string]string
}

func (a *api) do(r req) *httptest.ResponseRecorder {
	a.t.Helper()
	hr := httptest.NewRequest(r.method, r.path, strings.NewReader(r.body))
	if r.body != "" {
		hr.Header.Set("Content-Type", "application/json")
	}
	if r.as != nobody {
		hr.Header.Set(identity.Header, a.token(r.as))
	}
	for k, v := range r.header {
		if v == "" {
			hr.Header.Del(k)
		} else {
			hr.Header.Set(k, v)
		}
	}
	rec := httptest.NewRecorder()
	a.h.ServeHTTP(rec, hr)
	return rec
}

// want checks the status, and for errors that the answer is problem+json; for every answer
// under /api and /internal that it is private.
func want(t *testing.T, rec *httptest.ResponseRecorder, status int) {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status %d, want %d: %s", rec.Code, status, rec.Body)
	}
	ct := rec.Header().Get("Content-Type")
	if status >= 400 && ct != "application/problem+json" {
		t.Fatalf("status %d with content type %q", status, ct)
	}
	if cc := rec.Header().Get("Cache-Control"); cc != web.CachePrivate {
		t.Fatalf("Cache-Control %q, want %q", cc, web.CachePrivate)
	}
}

func decodeJSON[T any](t *testing.T, rec *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("%v: %s", err, rec.Body)
	}
	return v
}

func problem(t *testing.T, rec *httptest.ResponseRecorder) web.Problem {
	return decodeJSON[web.Problem](t, rec)
}

// fakeCatalog serves the catalog's product reads and takes its stock-change notices.
type fakeCatalog struct {
	srv      *httptest.Server
	mu       sync.Mutex
	products map[int64]catalogapi.Product
	down     bool
	reads    int
	notices  []json.RawMessage
	noticed  chan struct{}
}

func newFakeCatalog(t *testing.T) *fakeCatalog {
	c := &fakeCatalog{products: map[int64]catalogapi.Product{
		1: {ID: 1, SKU: "FC-0000001", Name: "Lamp", PriceCents: 1999, Currency: "EUR", Stock: 5},
		2: {ID: 2, SKU: "FC-0000002", Name: "Chair", PriceCents: 4500, Currency: "EUR", Stock: 2},
		3: {ID: 3, SKU: "FC-0000003", Name: "Rug", PriceCents: 9900, Currency: "EUR", Stock: 0},
	}, noticed: make(chan struct{}, 100)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/products/{id}", func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.reads++
		if c.down {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
		p, ok := c.products[id]
		if !ok {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"status":404}`)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"id": p.ID, "sku": p.SKU, "name": p.Name, "price_cents": p.PriceCents,
			"currency": p.Currency, "stock": p.Stock, "description": "", "version": 3})
	})
	mux.HandleFunc("POST /internal/v1/stock-changes", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+catalogToken {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		b, _ := io.ReadAll(r.Body)
		c.mu.Lock()
		c.notices = append(c.notices, b)
		c.mu.Unlock()
		c.noticed <- struct{}{}
		w.WriteHeader(http.StatusNoContent)
	})
	c.srv = httptest.NewServer(mux)
	t.Cleanup(c.srv.Close)
	return c
}

func (c *fakeCatalog) setDown(down bool) {
	c.mu.Lock()
	c.down = down
	c.mu.Unlock()
}

func (c *fakeCatalog) setStock(id int64, stock int32) {
	c.mu.Lock()
	p := c.products[id]
	p.Stock = stock
	c.products[id] = p
	c.mu.Unlock()
}

// fakeStore keeps orders and customers in memory, and the products' stock the way the real
// store's conditional decrement does.
type fakeStore struct {
	mu        sync.Mutex
	now       func() time.Time
	orders    []orders.Order
	customers map[string]fakeCustomer
	stock     map[int64]int32
	places    int
	lookups   int    // OrderByKey calls
	err       error  // returned by every call when set
	placeErr  error  // returned by Place when set
	race      func() // runs inside Place before the key is claimed
}

type fakeCustomer struct {
	c    orders.Customer
	hash string
}

func newFakeStore() *fakeStore {
	return &fakeStore{customers: map[string]fakeCustomer{}, stock: map[int64]int32{1: 5, 2: 2, 3: 0}}
}

func (s *fakeStore) OrderByKey(_ context.Context, owner, key string) (orders.Order, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lookups++
	if s.err != nil {
		return orders.Order{}, s.err
	}
	for _, o := range s.orders {
		if o.Owner == owner && o.Key == key {
			return o, nil
		}
	}
	return orders.Order{}, orders.ErrNotFound
}

func (s *fakeStore) Order(_ context.Context, owner string, id int64) (orders.Order, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return orders.Order{}, s.err
	}
	for _, o := range s.orders {
		if o.ID == id && o.Owner == owner {
			return o, nil
		}
	}
	return orders.Order{}, orders.ErrNotFound
}

func (s *fakeStore) Orders(_ context.Context, owner string, before int64, limit int) ([]orders.Order, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return nil, s.err
	}
	var out []orders.Order
	for _, o := range slices.Backward(s.orders) {
		if o.Owner == owner && o.ID < before && len(out) < limit {
			out = append(out, o)
		}
	}
	return out, nil
}

var prices = map[int64]int64{1: 1999, 2: 4500, 3: 9900}

func (s *fakeStore) Place(_ context.Context, p orders.Placement) (orders.Committed, error) {
	if s.race != nil {
		s.race()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.places++
	if s.err != nil {
		return orders.Committed{}, s.err
	}
	if s.placeErr != nil {
		return orders.Committed{}, s.placeErr
	}
	for _, o := range s.orders {
		if o.Owner == p.Owner && o.Key == p.Key {
			return orders.Committed{}, orders.ErrKeyTaken
		}
	}
	o := orders.Order{ID: int64(len(s.orders) + 1), Owner: p.Owner, CustomerID: p.CustomerID, Email: p.Email,
		Status: orders.StatusPlaced, Currency: "EUR", Key: p.Key, RequestHash: p.RequestHash, PlacedAt: s.now()}
	var c orders.Committed
	for _, it := range p.Items {
		left, ok := s.stock[it.ProductID]
		if !ok {
			return orders.Committed{}, &orders.StockError{ProductID: it.ProductID, Gone: true}
		}
		if left < it.Quantity {
			return orders.Committed{}, &orders.StockError{ProductID: it.ProductID, Name: "product", Left: left}
		}
	}
	for _, it := range p.Items {
		s.stock[it.ProductID] -= it.Quantity
		o.Lines = append(o.Lines, orders.Line{ProductID: it.ProductID, SKU: "FC-" + strconv.FormatInt(it.ProductID, 10), Name: "product",
			Quantity: it.Quantity, UnitPriceCents: prices[it.ProductID]})
		o.TotalCents += int64(it.Quantity) * prices[it.ProductID]
		c.Changes = append(c.Changes, orders.StockChange{ProductID: it.ProductID, Stock: s.stock[it.ProductID], Was: s.stock[it.ProductID] + it.Quantity})
	}
	s.orders = append(s.orders, o)
	c.Order, c.LSN = o, "0/16B3748"
	return c, nil
}

func (s *fakeStore) Cancel(_ context.Context, owner string, id int64, window time.Duration, now time.Time) (orders.Committed, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return orders.Committed{}, s.err
	}
	for i, o := range s.orders {
		if o.ID != id || o.Owner != owner {
			continue
		}
		switch {
		case o.Status == orders.StatusCancelled:
			return orders.Committed{}, orders.ErrCancelled
		case !now.Before(o.PlacedAt.Add(window)):
			return orders.Committed{}, orders.ErrCancelWindow
		}
		var c orders.Committed
		for _, l := range o.Lines {
			s.stock[l.ProductID] += l.Quantity
			c.Changes = append(c.Changes, orders.StockChange{ProductID: l.ProductID, Stock: s.stock[l.ProductID], Was: s.stock[l.ProductID] - l.Quantity})
		}
		o.Status, o.CancelledAt = orders.StatusCancelled, &now
		s.orders[i] = o
		c.Order = o
		return c, nil
	}
	return orders.Committed{}, orders.ErrNotFound
}

func (s *fakeStore) CreateCustomer(_ context.Context, email, hash string) (orders.Customer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return orders.Customer{}, s.err
	}
	if _, ok := s.customers[email]; ok {
		return orders.Customer{}, orders.ErrEmailTaken
	}
	c := orders.Customer{ID: int64(len(s.customers) + 100), Email: email}
	s.customers[email] = fakeCustomer{c: c, hash: hash}
	return c, nil
}

func (s *fakeStore) CustomerByEmail(_ context.Context, email string) (orders.Customer, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return orders.Customer{}, "", s.err
	}
	c, ok := s.customers[email]
	if !ok {
		return orders.Customer{}, "", orders.ErrNotFound
	}
	return c.c, c.hash, nil
}

func (s *fakeStore) setErr(err error) {
	s.mu.Lock()
	s.err = err
	s.mu.Unlock()
}

// quiet drops go-redis's own log lines about the Redis the tests stop on purpose.
type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

func init() { redis.SetLogger(quiet{}) }

var errBroken = errors.New("connection reset by peer")

func TestOperationalRoutesNeedNoIdentity(t *testing.T) {
	a := newAPI(t)
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		if rec := a.do(req{method: "GET", path: path}); rec.Code != 200 {
			t.Errorf("%s: %d", path, rec.Code)
		}
	}
	a.redis.Close()
	if rec := a.do(req{method: "GET", path: "/readyz"}); rec.Code != 503 {
		t.Errorf("/readyz with Redis down: %d", rec.Code)
	}
}

func TestEveryRouteNeedsAValidIdentity(t *testing.T) {
	a := newAPI(t)
	routes := []req{
		{method: "GET", path: "/api/v1/cart"},
		{method: "PUT", path: "/api/v1/cart/items/1", body: `{"quantity":1}`},
		{method: "DELETE", path: "/api/v1/cart/items/1"},
		{method: "POST", path: "/api/v1/orders", body: `{"email":"a@example.com"}`, header: map[string]string{IdempotencyHeader: "k1"}},
		{method: "GET", path: "/api/v1/orders"},
		{method: "GET", path: "/api/v1/orders/1"},
		{method: "POST", path: "/api/v1/orders/1/cancel"},
		{method: "POST", path: "/internal/v1/customers", body: `{"email":"a@example.com","password":"secret-password"}`},
		{method: "POST", path: "/internal/v1/customers/login", body: `{"email":"a@example.com","password":"secret-password"}`},
	}
	expired, _ := identity.Sign(testKey, identity.Identity{Session: "s"}, a.clock().Add(-time.Minute))
	otherKey, _ := identity.Sign([]byte("another-key-0123456789abcdef-0123456"), identity.Identity{Session: "s"}, a.clock())
	for _, r := range routes {
		for name, token := range map[string]string{"missing": "", "garbage": "not.a-token", "expired": expired, "wrong key": otherKey} {
			r := r
			r.header = map[string]string{identity.Header: token}
			for k, v := range routes[0].header {
				r.header[k] = v
			}
			rec := a.do(r)
			if rec.Code != http.StatusUnauthorized || rec.Header().Get("Content-Type") != "application/problem+json" {
				t.Errorf("%s %s with %s identity: %d %s", r.method, r.path, name, rec.Code, rec.Body)
			}
		}
	}
	if a.store.places != 0 {
		t.Errorf("an unauthenticated checkout reached the store")
	}
}

func TestUnknownRoutesAndMethods(t *testing.T) {
	a := newAPI(t)
	if rec := a.do(req{method: "GET", path: "/api/v1/nowhere", as: guest}); rec.Code != 404 {
		t.Errorf("unknown route: %d", rec.Code)
	}
	if rec := a.do(req{method: "PATCH", path: "/api/v1/cart", as: guest}); rec.Code != 405 {
		t.Errorf("wrong method: %d", rec.Code)
	}
}

// body builds a JSON request body.
func body(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(bytes.TrimSpace(b))
}
