package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/flashcrowd/flashcrowd/foundation/web"
	"github.com/flashcrowd/flashcrowd/services/catalog"
)

func TestReads(t *testing.T) {
	a := newAPI(t)
	for _, c := range []struct {
		path   string
		status int
		header []string
	}{
		{"/api/v1/products/1", 200, []string{"Cache-Control", web.CachePurged, "Content-Type", "application/json", "X-Cache", "miss"}},
		{"/api/v1/products/999", 404, []string{"X-Cache", "miss"}},
		// One URL per product, so that a purge reaches every copy at the edge.
		{"/api/v1/products/007", 404, nil},
		{"/api/v1/products/+7", 404, nil},
		{"/api/v1/products/0", 400, nil},
		{"/api/v1/products/-1", 400, nil},
		{"/api/v1/products/abc", 400, nil},
		{"/api/v1/products/99999999999999999999", 400, nil},
		{"/api/v1/products", 200, []string{"Cache-Control", web.CachePublic, "X-Cache", "miss"}},
		{"/api/v1/products?category=home&sort=-price&in_stock=true&limit=5", 200, []string{"Cache-Control", web.CachePublic}},
		{"/api/v1/products?limit=0", 400, nil},
		{"/api/v1/products?limit=101", 400, nil},
		{"/api/v1/products?limit=x", 400, nil},
		{"/api/v1/products?category=garden", 400, nil},
		{"/api/v1/products?category=%00", 400, nil},
		{"/api/v1/products?category=%FF", 400, nil},
		{"/api/v1/products?min_price=5&max_price=1", 400, nil},
		{"/api/v1/products?min_price=-1", 400, nil},
		{"/api/v1/products?in_stock=yes", 400, nil},
		{"/api/v1/products?sort=popular", 400, nil},
		{"/api/v1/products?cursor=junk", 400, nil},
		{"/api/v1/search?q=LAMP", 200, []string{"Cache-Control", web.CachePublic, "X-Cache", "miss"}},
		{"/api/v1/search", 400, nil},
		{"/api/v1/search?q=%20%20", 400, nil},
		{"/api/v1/search?q=lamp%00", 400, nil},
		{"/api/v1/search?q=" + strings.Repeat("a", maxQueryLen+1), 400, nil},
		{"/api/v1/search?q=lamp&limit=0", 400, nil},
		{"/api/v1/featured", 200, []string{"Cache-Control", web.CachePublic}},
		{"/api/v1/categories", 200, []string{"Cache-Control", web.CachePublic}},
	} {
		t.Run(c.path, func(t *testing.T) {
			w := a.do("GET", c.path, "")
			checkAnswer(t, w, c.status, c.header...)
			if c.status == 200 && w.Header().Get("ETag") == "" {
				t.Error("200 without an ETag")
			}
		})
	}
}

func TestReadsAreCachedAndRevalidated(t *testing.T) {
	a := newAPI(t)
	for _, path := range []string{"/api/v1/products/1", "/api/v1/products?category=home", "/api/v1/search?q=lamp", "/api/v1/featured", "/api/v1/categories"} {
		t.Run(path, func(t *testing.T) {
			first := a.do("GET", path, "")
			checkAnswer(t, first, 200)
			etag := first.Header().Get("ETag")
			second := a.do("GET", path, "", "If-None-Match", etag)
			checkAnswer(t, second, http.StatusNotModified, "ETag", etag, "Cache-Control", first.Header().Get("Cache-Control"))
			if second.Body.Len() != 0 {
				t.Errorf("304 with a body: %s", second.Body)
			}
			if path != "/api/v1/categories" { // the tree is in memory, not in the cache
				checkAnswer(t, second, http.StatusNotModified, "X-Cache", "l1-hit")
			}
			checkAnswer(t, a.do("GET", path, "", "If-None-Match", `"stale"`), 200, "ETag", etag)
		})
	}
}

// A write drops the product from every cache level at once and purges it from the edge.
func TestWriteInvalidatesAndPurges(t *testing.T) {
	a := newAPI(t)
	checkAnswer(t, a.do("GET", "/api/v1/products/1", ""), 200, "X-Cache", "miss")
	checkAnswer(t, a.do("GET", "/api/v1/search?q=lamp", ""), 200, "X-Cache", "miss")
	checkAnswer(t, a.do("GET", "/api/v1/products/1", ""), 200, "X-Cache", "l1-hit")

	checkAnswer(t, a.admin("PATCH", "/api/v1/admin/products/1", `{"name":"Copper lamp"}`), 200)
	if n := a.edge.count("PURGE /api/v1/products/1"); n != 1 {
		t.Errorf("%d purges of the product at the edge, want 1", n)
	}

	w := a.do("GET", "/api/v1/products/1", "")
	checkAnswer(t, w, 200, "X-Cache", "miss")
	if !strings.Contains(w.Body.String(), "Copper lamp") {
		t.Errorf("read after write: %s", w.Body)
	}
	w = a.do("GET", "/api/v1/search?q=lamp", "")
	checkAnswer(t, w, 200, "X-Cache", "miss")
	if !strings.Contains(w.Body.String(), "Copper lamp") {
		t.Errorf("search after write: %s", w.Body)
	}
}

func TestAdminWrites(t *testing.T) {
	const newProduct = `{"sku":"KETTLE-9","name":"Kettle","price_cents":2500,"currency":"EUR","stock":3,"category_id":100}`
	for _, c := range []struct {
		name         string
		method, path string
		body         string
		header       []string
		ifMatch      bool // send the product's current ETag as If-Match
		status       int
		want         []string // headers
	}{
		{name: "create", method: "POST", path: "/api/v1/admin/products", body: newProduct,
			status: 201, want: []string{"Location", "/api/v1/products/3", "Cache-Control", web.CachePrivate}},
		{name: "create with the path's slash", method: "POST", path: "/api/v1/admin/products/", body: newProduct, status: 201},
		{name: "create, SKU taken", method: "POST", path: "/api/v1/admin/products",
			body: `{"sku":"LAMP-001","name":"Lamp","price_cents":1,"currency":"EUR"}`, status: 409},
		{name: "create, invalid fields", method: "POST", path: "/api/v1/admin/products",
			body: `{"sku":"x","name":"","price_cents":-1,"currency":"euro"}`, status: 422},
		{name: "create, NUL in the name", method: "POST", path: "/api/v1/admin/products",
			body: `{"sku":"NUL-1","name":"a\u0000b","price_cents":1,"currency":"EUR"}`, status: 422},
		{name: "create, unknown category", method: "POST", path: "/api/v1/admin/products",
			body: `{"sku":"NEW-1","name":"x","price_cents":1,"currency":"EUR","category_id":999}`, status: 422},
		{name: "create, malformed JSON", method: "POST", path: "/api/v1/admin/products", body: `{"sku":`, status: 400},
		{name: "create, unknown field", method: "POST", path: "/api/v1/admin/products", body: `{"colour":"red"}`, status: 400},
		{name: "create, wrong type", method: "POST", path: "/api/v1/admin/products", body: `{"price_cents":"cheap"}`, status: 400},
		{name: "create, two objects", method: "POST", path: "/api/v1/admin/products", body: newProduct + "{}", status: 400},
		{name: "create, empty body", method: "POST", path: "/api/v1/admin/products", body: "", status: 400},
		{name: "create, invalid UTF-8", method: "POST", path: "/api/v1/admin/products", body: "{\"name\":\"\xff\"}", status: 400},
		{name: "create, text/plain", method: "POST", path: "/api/v1/admin/products", body: newProduct,
			header: []string{"Content-Type", "text/plain"}, status: 415},
		{name: "create, body too large", method: "POST", path: "/api/v1/admin/products",
			body: `{"description":"` + strings.Repeat("x", web.MaxBodyBytes) + `"}`, status: 413},

		{name: "update", method: "PATCH", path: "/api/v1/admin/products/1", body: `{"name":"Copper lamp"}`,
			status: 200, want: []string{"Cache-Control", web.CachePrivate, "Content-Type", "application/json"}},
		{name: "update at the current version", method: "PATCH", path: "/api/v1/admin/products/1", body: `{"stock":9,"version":1}`, status: 200},
		{name: "update If-Match current", method: "PATCH", path: "/api/v1/admin/products/1", body: `{"stock":9}`, ifMatch: true, status: 200},
		{name: "update If-Match *", method: "PATCH", path: "/api/v1/admin/products/1", body: `{"stock":9}`,
			header: []string{"If-Match", "*"}, status: 200},
		{name: "update, stale body version", method: "PATCH", path: "/api/v1/admin/products/1", body: `{"stock":9,"version":7}`, status: 409},
		{name: "update, If-Match current but a stale body version", method: "PATCH", path: "/api/v1/admin/products/1",
			body: `{"stock":9,"version":7}`, ifMatch: true, status: 409},
		{name: "update, stale If-Match", method: "PATCH", path: "/api/v1/admin/products/1", body: `{"stock":9}`,
			header: []string{"If-Match", `"stale"`}, status: 412},
		{name: "update, weak If-Match", method: "PATCH", path: "/api/v1/admin/products/1", body: `{"stock":9}`,
			header: []string{"If-Match", `W/"stale"`}, status: 412},
		{name: "update, If-Match on an unknown product", method: "PATCH", path: "/api/v1/admin/products/999", body: `{"stock":9}`,
			header: []string{"If-Match", `"x"`}, status: 404},
		{name: "update, unknown product", method: "PATCH", path: "/api/v1/admin/products/999", body: `{"stock":9}`, status: 404},
		{name: "update, padded id", method: "PATCH", path: "/api/v1/admin/products/001", body: `{"stock":9}`, status: 404},
		{name: "update, bad id", method: "PATCH", path: "/api/v1/admin/products/x", body: `{"stock":9}`, status: 400},
		{name: "update, nothing to change", method: "PATCH", path: "/api/v1/admin/products/1", body: `{}`, status: 422},
		{name: "update, version 0", method: "PATCH", path: "/api/v1/admin/products/1", body: `{"stock":1,"version":0}`, status: 422},
		{name: "update, unknown category", method: "PATCH", path: "/api/v1/admin/products/1", body: `{"category_id":999}`, status: 422},
		{name: "update, malformed JSON", method: "PATCH", path: "/api/v1/admin/products/1", body: `{"stock":`, status: 400},
		{name: "update, text/plain", method: "PATCH", path: "/api/v1/admin/products/1", body: `{"stock":1}`,
			header: []string{"Content-Type", "text/plain; charset=utf-8"}, status: 415},

		{name: "adjust stock", method: "POST", path: "/api/v1/admin/products/1/stock-adjustments", body: `{"delta":-5}`,
			status: 200, want: []string{"Cache-Control", web.CachePrivate}},
		{name: "adjust stock below 0", method: "POST", path: "/api/v1/admin/products/1/stock-adjustments", body: `{"delta":-6}`, status: 409},
		{name: "adjust stock above the maximum", method: "POST", path: "/api/v1/admin/products/1/stock-adjustments",
			body: fmt.Sprintf(`{"delta":%d}`, catalog.MaxStock), status: 409},
		{name: "adjust stock by 0", method: "POST", path: "/api/v1/admin/products/1/stock-adjustments", body: `{"delta":0}`, status: 422},
		{name: "adjust stock, unknown product", method: "POST", path: "/api/v1/admin/products/999/stock-adjustments", body: `{"delta":1}`, status: 404},
		{name: "adjust stock, bad id", method: "POST", path: "/api/v1/admin/products/0/stock-adjustments", body: `{"delta":1}`, status: 400},
		{name: "adjust stock, too large for int32", method: "POST", path: "/api/v1/admin/products/1/stock-adjustments",
			body: `{"delta":3000000000}`, status: 400},

		{name: "delete", method: "DELETE", path: "/api/v1/admin/products/1", status: 204,
			want: []string{"Cache-Control", web.CachePrivate}},
		{name: "delete If-Match current", method: "DELETE", path: "/api/v1/admin/products/1", ifMatch: true, status: 204},
		{name: "delete, stale If-Match", method: "DELETE", path: "/api/v1/admin/products/1",
			header: []string{"If-Match", `"stale"`}, status: 412},
		{name: "delete, unknown product", method: "DELETE", path: "/api/v1/admin/products/999", status: 404},
		{name: "delete, bad id", method: "DELETE", path: "/api/v1/admin/products/1.0", status: 400},

		{name: "read through the admin path", method: "GET", path: "/api/v1/admin/products/1", status: 405},
		{name: "unknown admin route", method: "GET", path: "/api/v1/admin/orders", status: 404},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := newAPI(t)
			header := c.header
			if c.ifMatch {
				header = append(header, "If-Match", a.etag(1))
			}
			w := a.admin(c.method, c.path, c.body, header...)
			checkAnswer(t, w, c.status, c.want...)
			if c.status == 200 || c.status == 201 {
				var p productView
				if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || p.ID == 0 {
					t.Errorf("answer %s is not a product (%v)", w.Body, err)
				}
			}
			if c.status == 204 && w.Body.Len() != 0 {
				t.Errorf("204 with a body: %s", w.Body)
			}
		})
	}
}

// A write whose condition fails at the store (the product changed between the If-Match check
// and the write) is a 412 when If-Match set the condition.
func TestWriteRacingIfMatchIs412(t *testing.T) {
	for _, r := range []struct{ method, body string }{{"PATCH", `{"stock":1}`}, {"DELETE", ""}} {
		t.Run(r.method, func(t *testing.T) {
			a := newAPI(t)
			etag := a.etag(1)
			a.store.afterCurrent = func() { // another admin's write lands right after the check
				if _, _, err := a.store.AdjustStock(t.Context(), 1, 1); err != nil {
					t.Error(err)
				}
			}
			checkAnswer(t, a.admin(r.method, "/api/v1/admin/products/1", r.body, "If-Match", etag), http.StatusPreconditionFailed)
		})
	}
}

// The store's errors other than the domain's: a time-out is a 503 the client may retry,
// anything else a 500 that says nothing of the cause.
func TestStoreFailures(t *testing.T) {
	for _, c := range []struct {
		name   string
		err    error
		status int
	}{
		{"statement timeout", catalog.ErrTimeout, http.StatusServiceUnavailable},
		{"no primary", fmt.Errorf("update product 1: %w", catalog.ErrUnavailable), http.StatusServiceUnavailable},
		{"connection lost", errors.New("dial tcp 10.1.2.3:5432: connection refused"), http.StatusInternalServerError},
	} {
		for _, r := range []struct{ method, path, body string }{
			{"GET", "/api/v1/products/1", ""},
			{"GET", "/api/v1/products?sort=name", ""},
			{"GET", "/api/v1/search?q=lamp", ""},
			{"GET", "/api/v1/featured", ""},
			{"POST", "/api/v1/admin/products", `{"sku":"NEW-1","name":"x","price_cents":1,"currency":"EUR"}`},
			{"PATCH", "/api/v1/admin/products/1", `{"stock":1}`},
			{"DELETE", "/api/v1/admin/products/1", ""},
			{"POST", "/api/v1/admin/products/1/stock-adjustments", `{"delta":1}`},
			{"POST", "/api/v1/admin/products/1/image-uploads", `{"content_type":"image/png"}`},
		} {
			t.Run(c.name+" "+r.method+" "+r.path, func(t *testing.T) {
				a := newAPI(t)
				a.store.fail(c.err)
				w := a.admin(r.method, r.path, r.body)
				retry := ""
				if c.status == http.StatusServiceUnavailable {
					retry = strconv.Itoa(retryAfter)
				}
				checkAnswer(t, w, c.status, "Retry-After", retry)
				if strings.Contains(w.Body.String(), "10.1.2.3") {
					t.Errorf("the answer leaks the cause: %s", w.Body)
				}
			})
		}
	}
}
