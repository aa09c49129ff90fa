package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"

	"github.com/flashcrowd/flashcrowd/services/catalog"
	"github.com/flashcrowd/flashcrowd/services/catalog/cache"
	"github.com/flashcrowd/flashcrowd/services/catalog/postgres"
	"github.com/flashcrowd/flashcrowd/services/foundation/web"
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
	Items     []productView `json:"items"`
	NextAfter int64         `json:"next_after,omitempty"`
}

func handleGetProduct(store *postgres.Store, c *cache.Cache, media Media) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := productID(r)
		if err != nil {
			web.Fail(w, r, err)
			return
		}
		p, src, err := c.Product(r.Context(), id, store.Product)
		w.Header().Set("X-Cache", string(src))
		if err != nil {
			web.Fail(w, r, storeProblem(err))
			return
		}
		web.RespondCacheable(w, r, web.CachePublic, media.view(p))
	})
}

func handleListProducts(store *postgres.Store, c *cache.Cache, media Media) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		after, err := queryInt(q.Get("after"), "after", 0, 0, 1<<62)
		if err != nil {
			web.Fail(w, r, err)
			return
		}
		limit, err := queryInt(q.Get("limit"), "limit", defaultLimit, 1, maxLimit)
		if err != nil {
			web.Fail(w, r, err)
			return
		}
		respondPage(w, r, c, media, fmt.Sprintf("list:%d:%d", after, limit), func(ctx context.Context, minLSN string) (catalog.Page, error) {
			return store.Products(ctx, after, int(limit), minLSN)
		})
	})
}

// respondPage answers with the page cached under key, loading it on a miss.
func respondPage(w http.ResponseWriter, r *http.Request, c *cache.Cache, media Media, key string,
	load func(ctx context.Context, minLSN string) (catalog.Page, error),
) {
	page, src, err := c.Page(r.Context(), key, load)
	w.Header().Set("X-Cache", string(src))
	if err != nil {
		web.Fail(w, r, err)
		return
	}
	web.RespondCacheable(w, r, web.CachePublic, media.page(page))
}

// Search limits.
const maxQueryLen = 100

func handleSearch(store *postgres.Store, c *cache.Cache, media Media) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		raw := q.Get("q")
		// Case and spacing do not change the results, so they do not make new cache entries.
		text := strings.Join(strings.Fields(strings.ToLower(raw)), " ")
		if !utf8.ValidString(raw) || text == "" || utf8.RuneCountInString(text) > maxQueryLen {
			web.Fail(w, r, web.NewProblem(http.StatusBadRequest, "query parameter q must be 1 to %d characters of valid UTF-8", maxQueryLen))
			return
		}
		limit, err := queryInt(q.Get("limit"), "limit", defaultLimit, 1, maxLimit)
		if err != nil {
			web.Fail(w, r, err)
			return
		}
		respondPage(w, r, c, media, fmt.Sprintf("search:%d:%s", limit, text), func(ctx context.Context, minLSN string) (catalog.Page, error) {
			return store.Search(ctx, text, int(limit), minLSN)
		})
	})
}

func (m Media) page(p catalog.Page) pageView {
	out := pageView{Items: make([]productView, len(p.Items)), NextAfter: p.NextAfter}
	for i, item := range p.Items {
		out.Items[i] = m.view(item)
	}
	return out
}

func handleCreateProduct(store *postgres.Store, c *cache.Cache, media Media) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in catalog.NewProduct
		if err := web.Decode(w, r, &in); err != nil {
			web.Fail(w, r, err)
			return
		}
		p, lsn, err := store.Create(r.Context(), in)
		if err != nil {
			web.Fail(w, r, storeProblem(err))
			return
		}
		invalidate(r.Context(), c, p.ID, lsn)
		w.Header().Set("Location", "/api/v1/products/"+strconv.FormatInt(p.ID, 10))
		web.Respond(w, http.StatusCreated, media.view(p))
	})
}

func handleUpdateProduct(store *postgres.Store, c *cache.Cache, media Media) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := productID(r)
		if err != nil {
			web.Fail(w, r, err)
			return
		}
		var patch catalog.ProductPatch
		if err := web.Decode(w, r, &patch); err != nil {
			web.Fail(w, r, err)
			return
		}
		p, lsn, err := store.Update(r.Context(), id, patch)
		if err != nil {
			web.Fail(w, r, storeProblem(err))
			return
		}
		invalidate(r.Context(), c, id, lsn)
		web.Respond(w, http.StatusOK, media.view(p))
	})
}

// invalidate drops cached copies after a write. The write has landed either way, so a Redis
// failure is logged, not returned: the stale copies expire with their TTL.
func invalidate(ctx context.Context, c *cache.Cache, id int64, lsn string) {
	if err := c.Invalidate(ctx, id, lsn); err != nil {
		web.Log(ctx).Warn("cache invalidation failed", "product_id", id, "err", err)
	}
}

// storeProblem maps storage errors to problems; anything unknown stays an error (a 500).
func storeProblem(err error) error {
	switch {
	case errors.Is(err, catalog.ErrNotFound):
		return web.NewProblem(http.StatusNotFound, "no such product")
	case errors.Is(err, catalog.ErrConflict):
		return web.NewProblem(http.StatusConflict, "%v", err)
	}
	return err
}

func productID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, web.NewProblem(http.StatusBadRequest, "product id must be a positive integer")
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
