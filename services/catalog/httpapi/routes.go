// Package httpapi is the catalog's HTTP API. routes.go lists all of it; each handler is a
// maker function closing over what it needs.
package httpapi

import (
	"log/slog"
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/hibiken/asynq"

	"github.com/flashcrowd/flashcrowd/foundation/web"
	"github.com/flashcrowd/flashcrowd/services/catalog"
	"github.com/flashcrowd/flashcrowd/services/catalog/cache"
	"github.com/flashcrowd/flashcrowd/services/catalog/postgres"
)

// Deps is everything the API needs.
type Deps struct {
	Log      *slog.Logger
	Metrics  *web.Metrics
	Store    *postgres.Store
	Cache    *cache.Cache
	Media    Media
	Queue    *asynq.Client
	Tree     *catalog.Tree // categories, loaded at start
	Edge     *Edge         // the edge cache, purged of a product after each write
	Instance string        // answers in X-Served-By, so a learner sees the load balancer at work
	Ready    map[string]web.Check
	Scrape   http.Handler // Prometheus metrics
}

// NewServer returns the catalog API. Admin routes are authenticated by the gateway, the only
// way in from outside the private network.
func NewServer(d Deps) http.Handler {
	r := chi.NewRouter()
	r.Use(web.Stack(d.Log, d.Metrics), servedBy(d.Instance))
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		web.WriteProblem(w, r, web.NewProblem(http.StatusNotFound, "no such resource"))
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		web.WriteProblem(w, r, web.NewProblem(http.StatusMethodNotAllowed, "method %s not allowed here", r.Method))
	})

	r.Method(http.MethodGet, "/healthz", web.Healthz())
	r.Method(http.MethodGet, "/readyz", web.Readyz(d.Ready))
	r.Method(http.MethodGet, "/metrics", d.Scrape)

	r.Route("/api/v1", func(r chi.Router) {
		r.Method(http.MethodGet, "/products", handleListProducts(d.Store, d.Cache, d.Media, d.Tree))
		r.Method(http.MethodGet, "/products/{id}", handleGetProduct(d.Store, d.Cache, d.Media))
		r.Method(http.MethodGet, "/search", handleSearch(d.Store, d.Cache, d.Media))
		r.Method(http.MethodGet, "/featured", handleFeatured(d.Store, d.Cache, d.Media))
		r.Method(http.MethodGet, "/categories", handleCategories(d.Tree))

		wr := writer{store: d.Store, cache: d.Cache, edge: d.Edge, media: d.Media, tree: d.Tree}
		r.Route("/admin/products", func(r chi.Router) {
			r.Use(noStore)
			r.Method(http.MethodPost, "/", handleCreateProduct(wr))
			r.Method(http.MethodPatch, "/{id}", handleUpdateProduct(wr))
			r.Method(http.MethodDelete, "/{id}", handleDeleteProduct(wr))
			r.Method(http.MethodPost, "/{id}/stock-adjustments", handleAdjustStock(wr))
			r.Method(http.MethodPost, "/{id}/image-uploads", handleImageUpload(d.Store, d.Cache, d.Media))
			r.Method(http.MethodPut, "/{id}/image", handleAttachImage(wr, d.Queue))
		})
	})
	return r
}

// noStore marks admin answers as never cacheable, by browsers or the edge.
func noStore(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", web.CachePrivate)
		next.ServeHTTP(w, r)
	})
}

func servedBy(instance string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Served-By", instance)
			next.ServeHTTP(w, r)
		})
	}
}
