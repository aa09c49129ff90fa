// Package httpapi is the catalog's HTTP API: public product reads, served through the cache,
// and the admin writes that invalidate it. routes.go lists all of it; each handler is a maker
// function closing over what it needs and returning its errors to web.HandlerFunc.
package httpapi

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/flashcrowd/flashcrowd/foundation/web"
	"github.com/flashcrowd/flashcrowd/services/catalog"
	"github.com/flashcrowd/flashcrowd/services/catalog/cache"
	"github.com/flashcrowd/flashcrowd/services/catalog/purge"
)

// Deps is everything the API needs.
type Deps struct {
	Log        *slog.Logger
	Registry   *prometheus.Registry // the binary's metrics, served at /metrics
	Ready      map[string]web.Check // what /readyz checks
	Writable   web.Check            // answers nil while the database takes writes (GET /api/v1/status)
	Store      Store
	Cache      *cache.Cache
	Media      Media
	Queue      *asynq.Client
	Tree       *catalog.Tree // categories, loaded at start
	Purge      *purge.Client // drops a product from the edge cache after each write
	AdminToken string        // the bearer token admin routes require
	// InternalToken is the bearer token of /internal/v1/*, the calls other services make (the
	// orders service's stock changes). Not the admin token: that service may do this and no more.
	InternalToken string
	Instance      string // answers in X-Served-By, so a learner sees the load balancer at work
	Version       string // answers in X-Version: stable, or canary beside it (make canary)
}

// Store is the product storage the handlers use (*postgres.Store); tests fake it.
type Store interface {
	Product(ctx context.Context, id int64, minLSN string) (catalog.Product, error)
	Products(ctx context.Context, l catalog.Listing, minLSN string) (catalog.Page, error)
	Featured(ctx context.Context, limit int, minLSN string) (catalog.Page, error)
	Search(ctx context.Context, text string, limit int, minLSN string) (catalog.Page, error)
	Create(ctx context.Context, n catalog.NewProduct) (catalog.Product, string, error)
	Update(ctx context.Context, id int64, patch catalog.ProductPatch) (catalog.Product, string, error)
	AdjustStock(ctx context.Context, id int64, delta int32) (catalog.Product, string, error)
	SetImage(ctx context.Context, id int64, key string) (catalog.Product, string, string, error)
	Delete(ctx context.Context, id int64, version *int32) (string, string, error)
	Current(ctx context.Context, id int64) (catalog.Product, error)
}

// NewServer returns the catalog API. The gateway checks admin calls too, but the catalog does
// not rely on it: anything that reaches it inside the network must also hold the token.
//
// chi routes on the escaped path (r.URL.RawPath) when there is one, so a spelling such as
// /api/v1/%61dmin/… or /api/v1/admin%2F… matches no route and is a 404; whatever reaches an
// admin handler has come through the admin group, behind RequireBearer.
func NewServer(d Deps) http.Handler {
	r := web.NewRouter(d.Log, d.Registry, d.Ready)
	r.Route("/api/v1", func(r chi.Router) {
		r.Method(http.MethodGet, "/products", handleListProducts(d.Store, d.Cache, d.Media, d.Tree))
		r.Method(http.MethodGet, "/products/{id}", handleGetProduct(d.Store, d.Cache, d.Media))
		r.Method(http.MethodGet, "/search", handleSearch(d.Store, d.Cache, d.Media))
		r.Method(http.MethodGet, "/featured", handleFeatured(d.Store, d.Cache, d.Media))
		r.Method(http.MethodGet, "/categories", handleCategories(d.Tree))
		r.Method(http.MethodGet, "/status", handleStatus(&writeProbe{check: d.Writable}))

		wr := writer{store: d.Store, cache: d.Cache, purge: d.Purge, media: d.Media, tree: d.Tree}
		r.Route("/admin", func(r chi.Router) {
			r.Use(web.RequireBearer(d.AdminToken), noStore)
			r.Route("/products", func(r chi.Router) {
				r.Method(http.MethodPost, "/", handleCreateProduct(wr))
				r.Method(http.MethodPatch, "/{id}", handleUpdateProduct(wr))
				r.Method(http.MethodDelete, "/{id}", handleDeleteProduct(wr))
				r.Method(http.MethodPost, "/{id}/stock-adjustments", handleAdjustStock(wr))
				r.Method(http.MethodPost, "/{id}/image-uploads", handleImageUpload(d.Store, d.Cache, d.Media))
				r.Method(http.MethodPut, "/{id}/image", handleAttachImage(wr, d.Queue))
			})
		})
	})
	r.Route("/internal/v1", func(r chi.Router) {
		r.Use(web.RequireBearer(d.InternalToken), noStore)
		r.Method(http.MethodPost, "/stock-changes", handleStockChanges(writer{cache: d.Cache, purge: d.Purge}))
	})
	// Outside the router, whose middleware must all come before its routes: every answer,
	// 404s and /healthz included, says which instance and which version gave it.
	return web.Announce("X-Version", d.Version)(web.Announce("X-Served-By", d.Instance)(r))
}

// noStore marks admin answers as never cacheable, by browsers or the edge.
func noStore(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", web.CachePrivate)
		next.ServeHTTP(w, r)
	})
}
