//go:build e2e

package e2e

import (
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"
)

type category struct {
	ID       int    `json:"id"`
	ParentID int    `json:"parent_id"`
	Slug     string `json:"slug"`
}

// subtree returns the ids of category slug and its children, from the API's own tree.
func subtree(t *testing.T, slug string) map[int]bool {
	t.Helper()
	r := call(t, http.MethodGet, "/api/v1/categories", nil, nil)
	var tree struct{ Items []category }
	r.json(t, &tree)
	ids := map[int]bool{}
	for _, c := range tree.Items {
		if c.Slug == slug {
			ids[c.ID] = true
		}
	}
	for _, c := range tree.Items {
		if ids[c.ParentID] {
			ids[c.ID] = true
		}
	}
	if len(ids) == 0 {
		t.Fatalf("no category %s in %s", slug, r.body)
	}
	return ids
}

// walk pages through a listing by its cursors, calling between() after each page. Its reads go
// past the edge cache, so a rerun within a minute still asks the catalogs.
func walk(t *testing.T, query url.Values, between func()) []product {
	t.Helper()
	var all []product
	for pages := 0; ; pages++ {
		r := call(t, http.MethodGet, "/api/v1/products?"+query.Encode(), nil, pastTheEdge)
		if r.status != http.StatusOK {
			t.Fatalf("listing %s: %d %s", query.Encode(), r.status, r.body)
		}
		var p page
		r.json(t, &p)
		all = append(all, p.Items...)
		if p.NextCursor == "" {
			return all
		}
		if pages > 1000 {
			t.Fatal("listing does not end")
		}
		query.Set("cursor", p.NextCursor)
		between()
	}
}

func TestListingFiltersAndSorts(t *testing.T) {
	home := subtree(t, "home")
	q := url.Values{"category": {"home"}, "min_price": {"2000"}, "max_price": {"3000"}, "in_stock": {"true"},
		"sort": {"-price"}, "limit": {"100"}}
	items := walk(t, q, func() {})
	if len(items) < 100 {
		t.Fatalf("%d products in home between 20.00 and 30.00; the seed should have hundreds", len(items))
	}
	for i, p := range items {
		if !home[p.CategoryID] || p.PriceCents < 2000 || p.PriceCents > 3000 || p.Stock == 0 {
			t.Fatalf("product %d (category %d, price %d, stock %d) does not match the filter", p.ID, p.CategoryID, p.PriceCents, p.Stock)
		}
		if i > 0 && (items[i-1].PriceCents < p.PriceCents || items[i-1].PriceCents == p.PriceCents && items[i-1].ID < p.ID) {
			t.Fatalf("not sorted by price, highest first: %d (%d) before %d (%d)", items[i-1].ID, items[i-1].PriceCents, p.ID, p.PriceCents)
		}
	}
}

func TestPaginationReturnsEveryRowOnceWhileInsertsHappen(t *testing.T) {
	lighting := subtree(t, "lighting")
	var leaf int
	for id := range lighting {
		leaf = id // "lighting" is a leaf: its subtree is itself
	}
	q := url.Values{"category": {"lighting"}, "min_price": {"2500"}, "max_price": {"2900"}, "sort": {"price"}, "limit": {"25"}}
	before := walk(t, url.Values{"category": {"lighting"}, "min_price": {"2500"}, "max_price": {"2900"}, "limit": {"100"}}, func() {})
	if len(before) < 100 {
		t.Fatalf("only %d products to page through", len(before))
	}
	// Between pages, an admin adds products that sort before and after the cursor.
	var inserted int
	got := walk(t, q, func() {
		for _, price := range []int{2500, 2700, 2900} {
			createProduct(t, map[string]any{"name": "Inserted lantern", "price_cents": price, "category_id": leaf})
			inserted++
		}
	})
	seen := map[int64]int{}
	for _, p := range got {
		seen[p.ID]++
	}
	for _, p := range before {
		if seen[p.ID] != 1 {
			t.Fatalf("product %d returned %d times while %d products were inserted", p.ID, seen[p.ID], inserted)
		}
	}
	for id, n := range seen {
		if n > 1 {
			t.Fatalf("product %d returned %d times", id, n)
		}
	}
	t.Logf("%d products paged through once each, %d inserted meanwhile, %d of those returned", len(before), inserted, len(got)-len(before))
}

func TestFeaturedAndCategories(t *testing.T) {
	r := call(t, http.MethodGet, "/api/v1/featured", nil, nil)
	var p page
	r.json(t, &p)
	if r.status != http.StatusOK || len(p.Items) == 0 {
		t.Fatalf("featured: %d %s", r.status, r.body)
	}
	for _, item := range p.Items {
		if !item.Featured || item.Stock == 0 {
			t.Errorf("featured shows product %d (featured %v, stock %d)", item.ID, item.Featured, item.Stock)
		}
	}
	// A product an admin features shows up on the home page at once (it is the most recently updated).
	created := createProduct(t, map[string]any{"name": "Featured kettle", "featured": true})
	eventually(t, 2*time.Second, "a new featured product on the home page", func() bool {
		r := call(t, http.MethodGet, "/api/v1/featured", nil, pastTheEdge)
		r.json(t, &p)
		return len(p.Items) > 0 && p.Items[0].ID == created.ID
	})
}

func TestEdgeCacheServesRepeatsAndIsPurgedOnWrite(t *testing.T) {
	p := createProduct(t, map[string]any{"name": "Edge kettle"})
	path := fmt.Sprintf("/api/v1/products/%d", p.ID)
	first := call(t, http.MethodGet, path, nil, nil)
	second := call(t, http.MethodGet, path, nil, nil)
	if first.header.Get("X-Edge-Cache") != "MISS" || second.header.Get("X-Edge-Cache") != "HIT" || second.header.Get("Age") == "" {
		t.Fatalf("edge cache: first %q, then %q (Age %q); want MISS then HIT",
			first.header.Get("X-Edge-Cache"), second.header.Get("X-Edge-Cache"), second.header.Get("Age"))
	}
	// A shopper's hard reload does not get past it, nor does a made-up query string.
	if r := call(t, http.MethodGet, path, nil, map[string]string{"Cache-Control": "no-cache"}); r.header.Get("X-Edge-Cache") != "HIT" {
		t.Fatalf("Cache-Control: no-cache got past the edge cache (%q)", r.header.Get("X-Edge-Cache"))
	}
	if r := call(t, http.MethodGet, path+"?bust=42", nil, nil); r.header.Get("X-Edge-Cache") != "HIT" {
		t.Fatalf("a query string got past the edge cache (%q)", r.header.Get("X-Edge-Cache"))
	}

	price := p.PriceCents + 250
	if r := call(t, http.MethodPatch, "/api/v1/admin/products/"+fmt.Sprint(p.ID), map[string]any{"price_cents": price}, admin()); r.status != http.StatusOK {
		t.Fatalf("PATCH: %d %s", r.status, r.body)
	}
	// The purge is done when the PATCH answers. A read racing the invalidation to an instance
	// may still bring the old price back to the edge; the purges 1 s and 5 s later remove it, so
	// the new price must be there within about a second, and stay.
	var got product
	eventually(t, 1500*time.Millisecond, "the new price at the edge", func() bool {
		call(t, http.MethodGet, path, nil, nil).json(t, &got)
		return got.PriceCents == price
	})
	for range 5 {
		if call(t, http.MethodGet, path, nil, nil).json(t, &got); got.PriceCents != price {
			t.Fatalf("the edge went back to price %d after serving the new one", got.PriceCents)
		}
	}
	if r := call(t, "PURGE", path, nil, nil); r.status != http.StatusMethodNotAllowed {
		t.Fatalf("PURGE from outside: %d, want 405", r.status)
	}

	if r := call(t, http.MethodDelete, "/api/v1/admin/products/"+fmt.Sprint(p.ID), nil, admin()); r.status != http.StatusNoContent {
		t.Fatalf("DELETE: %d %s", r.status, r.body)
	}
	if r := call(t, http.MethodGet, path, nil, nil); r.status != http.StatusNotFound {
		t.Fatalf("deleted product: the edge answered %d (X-Edge-Cache %s), want 404", r.status, r.header.Get("X-Edge-Cache"))
	}
}

func TestConditionalWrites(t *testing.T) {
	p := createProduct(t, map[string]any{"name": "Versioned kettle", "stock": 3})
	path := "/api/v1/admin/products/" + fmt.Sprint(p.ID)
	_, r := getProduct(t, p.ID)
	etag := r.header.Get("ETag")

	ok := call(t, http.MethodPatch, path, map[string]any{"price_cents": 100}, withAdmin("If-Match", etag))
	if ok.status != http.StatusOK {
		t.Fatalf("PATCH with a current If-Match: %d %s", ok.status, ok.body)
	}
	stale := call(t, http.MethodPatch, path, map[string]any{"price_cents": 200}, withAdmin("If-Match", etag))
	if stale.status != http.StatusPreconditionFailed || stale.header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("PATCH with a stale If-Match: %d %s, want 412", stale.status, stale.body)
	}
	conflict := call(t, http.MethodPatch, path, map[string]any{"price_cents": 200, "version": p.Version}, admin())
	if conflict.status != http.StatusConflict {
		t.Fatalf("PATCH with a stale version: %d %s, want 409", conflict.status, conflict.body)
	}

	// Concurrent stock adjustments all land: none is lost to a read-modify-write race.
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r, err := send(http.MethodPost, path+"/stock-adjustments", map[string]any{"delta": 2}, admin()); err != nil || r.status != http.StatusOK {
				t.Errorf("stock +2: %d %s %v", r.status, r.body, err)
			}
		}()
	}
	wg.Wait()
	r = call(t, http.MethodPost, path+"/stock-adjustments", map[string]any{"delta": -24}, admin())
	if r.status != http.StatusConflict {
		t.Fatalf("stock 23 - 24: %d %s, want 409", r.status, r.body)
	}
	r = call(t, http.MethodPost, path+"/stock-adjustments", map[string]any{"delta": -23}, admin())
	var after product
	r.json(t, &after)
	if r.status != http.StatusOK || after.Stock != 0 {
		t.Fatalf("stock 23 - 23: %d, stock %d", r.status, after.Stock)
	}
	if r := call(t, http.MethodDelete, path, nil, withAdmin("If-Match", etag)); r.status != http.StatusPreconditionFailed {
		t.Fatalf("DELETE with a stale If-Match: %d, want 412", r.status)
	}
}

func withAdmin(k, v string) map[string]string {
	h := admin()
	h[k] = v
	return h
}
