// Package httpapi is the orders service's HTTP API: carts, checkout and orders for shoppers
// (through the gateway), and the customer accounts the gateway's login and registration use.
// routes.go lists all of it; each handler is a maker function closing over what it needs and
// returning its errors to web.HandlerFunc. Every route but the operational ones needs the
// gateway's signed identity (identity.go).
package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/flashcrowd/flashcrowd/foundation/web"
	"github.com/flashcrowd/flashcrowd/services/orders"
	"github.com/flashcrowd/flashcrowd/services/orders/cart"
	"github.com/flashcrowd/flashcrowd/services/orders/catalogapi"
)

// Deps is everything the API needs.
type Deps struct {
	Log          *slog.Logger
	Registry     *prometheus.Registry // the binary's metrics, served at /metrics
	Ready        map[string]web.Check // what /readyz checks
	Store        Store
	Carts        *cart.Store
	Stock        *cart.Stock // admits checkouts against a shared count of units; nil: none
	Catalog      *catalogapi.Client
	IdentityKey  []byte        // verifies the gateway's X-Flashcrowd-Identity
	CancelWindow time.Duration // how long after checkout an order may be cancelled
	Nudge        func()        // wakes the outbox relay after a commit
	// MaxTransactions bounds the checkout transactions this instance runs at once (a share of
	// the pool: more would only wait for a connection); 0 means no bound.
	MaxTransactions int
	Now             func() time.Time
	Instance        string // answers in X-Served-By, as the catalog does
}

// Store is the order storage the handlers use (*postgres.Store); tests fake it.
type Store interface {
	OrderByKey(ctx context.Context, owner, key string) (orders.Order, error)
	Order(ctx context.Context, owner string, id int64) (orders.Order, error)
	Orders(ctx context.Context, owner string, before int64, limit int) ([]orders.Order, error)
	Place(ctx context.Context, p orders.Placement) (orders.Committed, error)
	Cancel(ctx context.Context, owner string, id int64, window time.Duration, now time.Time) (orders.Committed, error)
	CreateCustomer(ctx context.Context, email, passwordHash string) (orders.Customer, error)
	CustomerByEmail(ctx context.Context, email string) (orders.Customer, string, error)
}

// NewServer returns the orders API.
func NewServer(d Deps) http.Handler {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Nudge == nil {
		d.Nudge = func() {}
	}
	r := web.NewRouter(d.Log, d.Registry, d.Ready)
	carts := cartAPI{carts: d.Carts, catalog: d.Catalog, stock: d.Stock, log: d.Log}
	co := newCheckout(d, carts)
	r.Group(func(r chi.Router) {
		r.Use(requireIdentity(d.IdentityKey, d.Now), private)
		r.Route("/api/v1", func(r chi.Router) {
			r.Method(http.MethodGet, "/cart", handleGetCart(carts))
			r.Method(http.MethodPut, "/cart/items/{product_id}", handlePutCartItem(carts))
			r.Method(http.MethodDelete, "/cart/items/{product_id}", handleDeleteCartItem(carts))

			r.Method(http.MethodPost, "/orders", handleCheckout(co))
			r.Method(http.MethodGet, "/orders", handleListOrders(d.Store, d.CancelWindow))
			r.Method(http.MethodGet, "/orders/{id}", handleGetOrder(d.Store, d.CancelWindow))
			r.Method(http.MethodPost, "/orders/{id}/cancel", handleCancelOrder(co))
		})
		// For the gateway only: it never forwards /internal/* from a client.
		r.Route("/internal/v1/customers", func(r chi.Router) {
			r.Method(http.MethodPost, "/", handleRegister(d.Store))
			r.Method(http.MethodPost, "/login", handleLogin(d.Store, carts))
		})
	})
	return web.Announce("X-Served-By", d.Instance)(r)
}

// private marks every cart, order and customer answer as never cacheable, by browsers or the
// edge: they belong to one shopper.
func private(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", web.CachePrivate)
		next.ServeHTTP(w, r)
	})
}

// unavailable is the answer when a dependency (the catalog, Redis, the database) cannot answer
// for a moment: a 503 the client may retry after a second, never a 500.
func unavailable(what string) *web.Problem {
	p := web.NewProblem(http.StatusServiceUnavailable, "%s is unavailable for a moment; try again", what)
	p.RetryAfter = 1
	return p
}
