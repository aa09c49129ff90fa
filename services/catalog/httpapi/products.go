package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"

	"github.com/flashcrowd/flashcrowd/foundation/web"
	"github.com/flashcrowd/flashcrowd/services/catalog"
	"github.com/flashcrowd/flashcrowd/services/catalog/cache"
	"github.com/flashcrowd/flashcrowd/services/catalog/purge"
)

// Listing limits.
const (
	defaultLimit = 20
	maxLimit     = 100
)

// productView is a product as the API shows it, with URLs for its images.
type productView struct {
	catalog.Product
	ImageURL     string `json:"image_url,omitempty"`
	ThumbnailURL string `json:"thumbnail_url,omitempty"`
}

type pageView struct {
	Items      []productView `json:"items"`
	NextCursor string        `json:"next_cursor,omitempty"`
}

func handleGetProduct(store Store, c *cache.Cache, media Media) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		id, err := productID(r)
		if err != nil {
			return err
		}
		t, src, err := c.Product(r.Context(), id, productLoader(store, media, id))
		w.Header().Set("X-Cache", string(src))
		if err != nil {
			return storeProblem(err)
		}
		web.RespondTagged(w, r, web.CachePurged, t)
		return nil
	}
}

// productLoader loads product id as the API shows it, for the cache.
func productLoader(store Store, media Media, id int64) cache.Loader {
	return func(ctx context.Context, minLSN string) (any, error) {
		p, err := store.Product(ctx, id, minLSN)
		if err != nil {
			return nil, err
		}
		return media.view(p), nil
	}
}

// Catalog is what the cache's preload reads products from (*postgres.Store).
type Catalog interface {
	ProductsAfter(ctx context.Context, after int64, limit int) ([]catalog.Product, error)
}

// Preloads reads the products for the cache's preload, each as the API shows it: the answers
// it stores are the ones productLoader would have loaded.
func Preloads(store Catalog, media Media) cache.Batch {
	return func(ctx context.Context, after int64, limit int) ([]cache.Item, error) {
		ps, err := store.ProductsAfter(ctx, after, limit)
		if err != nil {
			return nil, err
		}
		items := make([]cache.Item, len(ps))
		for i, p := range ps {
			items[i] = cache.Item{ID: p.ID, View: media.view(p)}
		}
		return items, nil
	}
}

func handleListProducts(store Store, c *cache.Cache, media Media, tree *catalog.Tree) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		l, key, err := parseListing(r.URL.Query(), tree)
		if err != nil {
			return err
		}
		return respondPage(w, r, c, media, key, func(ctx context.Context, minLSN string) (catalog.Page, error) {
			return store.Products(ctx, l, minLSN)
		})
	}
}

// parseListing reads a listing's query parameters and returns it with its cache key: the
// parsed values, so equivalent URLs share one cache entry.
func parseListing(q url.Values, tree *catalog.Tree) (catalog.Listing, string, error) {
	l := catalog.Listing{Sort: catalog.SortID, MaxPrice: catalog.MaxPriceCents}
	for _, s := range []string{"category", "sort", "cursor", "in_stock"} {
		if !catalog.Text(q.Get(s)) {
			return l, "", web.NewProblem(http.StatusBadRequest, "query parameter %s is not valid UTF-8 without NUL", s)
		}
	}
	slug := q.Get("category")
	if slug != "" {
		ids, ok := tree.Subtree(slug)
		if !ok {
			return l, "", web.NewProblem(http.StatusBadRequest, "query parameter category must be the slug of a category listed at /api/v1/categories")
		}
		l.Categories = ids
	}
	var err error
	if l.MinPrice, err = queryInt(q.Get("min_price"), "min_price", 0, 0, catalog.MaxPriceCents); err != nil {
		return l, "", err
	}
	if l.MaxPrice, err = queryInt(q.Get("max_price"), "max_price", catalog.MaxPriceCents, 0, catalog.MaxPriceCents); err != nil {
		return l, "", err
	}
	if l.MinPrice > l.MaxPrice {
		return l, "", web.NewProblem(http.StatusBadRequest, "min_price must not be above max_price")
	}
	switch q.Get("in_stock") {
	case "", "false":
	case "true":
		l.InStock = true
	default:
		return l, "", web.NewProblem(http.StatusBadRequest, "query parameter in_stock must be true or false")
	}
	if s := q.Get("sort"); s != "" {
		l.Sort = catalog.Sort(s)
		if !slices.Contains(catalog.Sorts, l.Sort) {
			return l, "", web.NewProblem(http.StatusBadRequest, "query parameter sort must be one of %v", catalog.Sorts)
		}
	}
	cursor := q.Get("cursor")
	if cursor != "" {
		c, err := catalog.ParseCursor(cursor, l.Sort)
		if err != nil {
			return l, "", web.NewProblem(http.StatusBadRequest, "query parameter cursor must be a next_cursor this listing returned, with the same sort")
		}
		l.After = &c
	}
	limit, err := queryInt(q.Get("limit"), "limit", defaultLimit, 1, maxLimit)
	if err != nil {
		return l, "", err
	}
	l.Limit = int(limit)
	key := fmt.Sprintf("list:%s:%d:%d:%t:%s:%d:%s", slug, l.MinPrice, l.MaxPrice, l.InStock, l.Sort, l.Limit, cursor)
	return l, key, nil
}

// featuredLimit is how many products the home page shows.
const featuredLimit = 12

func handleFeatured(store Store, c *cache.Cache, media Media) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		return respondPage(w, r, c, media, "featured", func(ctx context.Context, minLSN string) (catalog.Page, error) {
			return store.Featured(ctx, featuredLimit, minLSN)
		})
	}
}

// handleCategories lists the category tree, which each instance holds in memory.
func handleCategories(tree *catalog.Tree) web.HandlerFunc {
	type view struct {
		Items []catalog.Category `json:"items"`
	}
	return func(w http.ResponseWriter, r *http.Request) error {
		web.RespondCacheable(w, r, web.CachePublic, view{tree.All()})
		return nil
	}
}

// respondPage answers with the page cached under key, loading it on a miss.
func respondPage(w http.ResponseWriter, r *http.Request, c *cache.Cache, media Media, key string,
	load func(ctx context.Context, minLSN string) (catalog.Page, error),
) error {
	t, src, err := c.Page(r.Context(), key, func(ctx context.Context, minLSN string) (any, error) {
		page, err := load(ctx, minLSN)
		if err != nil {
			return nil, err
		}
		return media.page(page), nil
	})
	w.Header().Set("X-Cache", string(src))
	if err != nil {
		return storeProblem(err)
	}
	web.RespondTagged(w, r, web.CachePublic, t)
	return nil
}

// Search limits.
const maxQueryLen = 100

func handleSearch(store Store, c *cache.Cache, media Media) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		q := r.URL.Query()
		raw := q.Get("q")
		// Case and spacing do not change the results, so they do not make new cache entries.
		text := strings.Join(strings.Fields(strings.ToLower(raw)), " ")
		if !catalog.Text(raw) || text == "" || utf8.RuneCountInString(text) > maxQueryLen {
			return web.NewProblem(http.StatusBadRequest, "query parameter q must be 1 to %d characters of valid UTF-8, without NUL", maxQueryLen)
		}
		limit, err := queryInt(q.Get("limit"), "limit", defaultLimit, 1, maxLimit)
		if err != nil {
			return err
		}
		return respondPage(w, r, c, media, fmt.Sprintf("search:%d:%s", limit, text), func(ctx context.Context, minLSN string) (catalog.Page, error) {
			return store.Search(ctx, text, int(limit), minLSN)
		})
	}
}

func (m Media) page(p catalog.Page) pageView {
	out := pageView{Items: make([]productView, len(p.Items)), NextCursor: p.NextCursor}
	for i, item := range p.Items {
		out.Items[i] = m.view(item)
	}
	return out
}

// writer is what the admin handlers share: the store, the caches a write must invalidate,
// and what answers need.
type writer struct {
	store Store
	cache *cache.Cache
	purge *purge.Client
	media Media
	tree  *catalog.Tree
}

func handleCreateProduct(wr writer) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var in catalog.NewProduct
		if err := web.Decode(w, r, &in); err != nil {
			return err
		}
		if in.CategoryID != 0 && !wr.tree.Has(in.CategoryID) {
			return unknownCategory()
		}
		p, lsn, err := wr.store.Create(r.Context(), in)
		if err != nil {
			return storeProblem(err)
		}
		wr.written(r.Context(), p.ID, lsn)
		w.Header().Set("Location", "/api/v1/products/"+strconv.FormatInt(p.ID, 10))
		web.Respond(w, http.StatusCreated, wr.media.view(p))
		return nil
	}
}

func handleUpdateProduct(wr writer) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		id, err := productID(r)
		if err != nil {
			return err
		}
		var patch catalog.ProductPatch
		if err := web.Decode(w, r, &patch); err != nil {
			return err
		}
		if patch.CategoryID != nil && *patch.CategoryID != 0 && !wr.tree.Has(*patch.CategoryID) {
			return unknownCategory()
		}
		if patch.Version, err = wr.precondition(r, id, patch.Version); err != nil {
			return err
		}
		p, lsn, err := wr.store.Update(r.Context(), id, patch)
		if err != nil {
			return versionProblem(r, err)
		}
		wr.written(r.Context(), id, lsn)
		web.Respond(w, http.StatusOK, wr.media.view(p))
		return nil
	}
}

func handleAdjustStock(wr writer) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		id, err := productID(r)
		if err != nil {
			return err
		}
		var in catalog.StockAdjustment
		if err := web.Decode(w, r, &in); err != nil {
			return err
		}
		p, lsn, err := wr.store.AdjustStock(r.Context(), id, in.Delta)
		if err != nil {
			return storeProblem(err)
		}
		wr.written(r.Context(), id, lsn)
		web.Respond(w, http.StatusOK, wr.media.view(p))
		return nil
	}
}

func handleDeleteProduct(wr writer) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		id, err := productID(r)
		if err != nil {
			return err
		}
		version, err := wr.precondition(r, id, nil)
		if err != nil {
			return err
		}
		imageKey, lsn, err := wr.store.Delete(r.Context(), id, version)
		if err != nil {
			return versionProblem(r, err)
		}
		wr.written(r.Context(), id, lsn)
		if imageKey != "" { // its image goes with it
			wr.removeImage(r.Context(), imageKey)
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}

// precondition turns an If-Match header into the version a write must find. The tag is the
// ETag of the product as GET shows it, so the product is read from the primary and its tag
// compared: a mismatch is 412 at once, a match pins the version it was computed from, and the
// conditional write catches a change that lands in between. Without If-Match, the version
// from the body (or none) stands.
func (wr writer) precondition(r *http.Request, id int64, version *int32) (*int32, error) {
	header := r.Header.Get("If-Match")
	if header == "" {
		return version, nil
	}
	p, err := wr.store.Current(r.Context(), id)
	if err != nil {
		return nil, storeProblem(err)
	}
	etag, err := web.ETag(wr.media.view(p))
	if err != nil {
		return nil, err
	}
	if !web.Match(header, etag) {
		return nil, web.NewProblem(http.StatusPreconditionFailed, "the product has changed: If-Match %s does not match its ETag", header)
	}
	if version != nil && *version != p.Version {
		return nil, web.NewProblem(http.StatusConflict, "version %d is not the product's current version %d", *version, p.Version)
	}
	return &p.Version, nil
}

// versionProblem maps a failed conditional write: 412 when If-Match set the condition, 409
// when the body's version did.
func versionProblem(r *http.Request, err error) error {
	if errors.Is(err, catalog.ErrVersion) && r.Header.Get("If-Match") != "" {
		return web.NewProblem(http.StatusPreconditionFailed, "the product changed while this request was applied: fetch it again")
	}
	return storeProblem(err)
}

func unknownCategory() error {
	return web.Invalid(map[string]string{"category_id": "must be the id of a category listed at /api/v1/categories"})
}

// written drops every cached copy of product id after a write that committed at lsn: in the
// instances' caches and at the edge. The write has landed either way, so a failure is logged,
// not returned: stale copies expire with their TTL.
func (wr writer) written(ctx context.Context, id int64, lsn string) {
	if err := wr.cache.Invalidate(ctx, id, lsn); err != nil {
		web.Log(ctx).Warn("cache invalidation failed", "product_id", id, "err", err)
	}
	if err := wr.purge.Product(ctx, id); err != nil {
		web.Log(ctx).Warn("edge cache purge failed", "product_id", id, "err", err)
	}
}

// storeProblem maps storage errors to problems: a time-out to a 503 whose Retry-After it sets
// on w. Anything unknown stays an error (a 500).
func storeProblem(err error) error {
	switch {
	case errors.Is(err, catalog.ErrTimeout):
		return unavailable("the catalog is too busy to answer this now: try again shortly")
	case errors.Is(err, catalog.ErrUnavailable):
		// No server takes the statement: a write while there is no primary (a failover), or a
		// read while neither replicas nor primary answer. Fast, and never a 500.
		return unavailable("the database is unavailable for a moment (a failover may be under way): try again shortly")
	case errors.Is(err, catalog.ErrNotFound):
		return web.NewProblem(http.StatusNotFound, "no such product")
	case errors.Is(err, catalog.ErrConflict):
		return web.NewProblem(http.StatusConflict, "%v", err)
	case errors.Is(err, catalog.ErrVersion):
		return web.NewProblem(http.StatusConflict, "the product has changed since the version sent: fetch it again")
	case errors.Is(err, catalog.ErrStock):
		return web.NewProblem(http.StatusConflict, "the stock would go below 0 or above %d", catalog.MaxStock)
	}
	return err
}

// retryAfter is when a client should try again after a 503 (seconds): long enough for a
// burst of load to pass, short enough that a shopper waits for it.
const retryAfter = 5

// unavailable is the 503 problem for a failure that is likely gone by Retry-After.
func unavailable(format string, args ...any) *web.Problem {
	p := web.NewProblem(http.StatusServiceUnavailable, format, args...)
	p.RetryAfter = retryAfter
	return p
}

func productID(r *http.Request) (int64, error) {
	raw := chi.URLParam(r, "id")
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id <= 0 {
		return 0, web.NewProblem(http.StatusBadRequest, "product id must be a positive integer")
	}
	// One URL per product ("/products/7", never "/products/007" or "+7"): each spelling would
	// be a separate copy at the edge, which a purge of the product would not reach.
	if strconv.FormatInt(id, 10) != raw {
		return 0, web.NewProblem(http.StatusNotFound, "no such product: its URL is /api/v1/products/%d", id)
	}
	return id, nil
}

func queryInt(s, name string, def, lo, hi int64) (int64, error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, web.NewProblem(http.StatusBadRequest, "query parameter %s must be an integer from %d to %d", name, lo, hi)
	}
	return n, nil
}
