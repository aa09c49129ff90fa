package storefront

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
)

// fakeCatalog answers the catalog API's public reads with fixed data, and records the queries.
type fakeCatalog struct {
	mu       sync.Mutex
	queries  []string
	down     bool
	readOnly bool // GET /api/v1/status says writes are unavailable
}

func (f *fakeCatalog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.queries = append(f.queries, r.URL.RequestURI())
	down, readOnly := f.down, f.readOnly
	f.mu.Unlock()
	if down {
		w.WriteHeader(http.StatusBadGateway)
		return
	}
	answer := func(v any) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}
	problem := func(code int, detail string) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(map[string]any{"status": code, "detail": detail})
	}
	lamp := map[string]any{"id": 7, "sku": "LAMP-1", "name": "Desk <lamp>", "price_cents": 1999, "currency": "EUR", "stock": 3,
		"description": "Warm light.", "attributes": map[string]string{"colour": "brass"},
		"image_url": "/media/products/7.jpg", "thumbnail_url": "/media/products/7-thumb.jpg"}
	gone := map[string]any{"id": 8, "sku": "MUG-1", "name": "Mug", "price_cents": 500, "currency": "EUR", "stock": 0}
	switch r.URL.Path {
	case "/api/v1/status":
		if readOnly {
			answer(map[string]string{"writes": "unavailable"})
			return
		}
		answer(map[string]string{"writes": "available"})
	case "/api/v1/featured":
		answer(map[string]any{"items": []any{lamp, gone}})
	case "/api/v1/products/7":
		answer(lamp)
	case "/api/v1/products/8":
		answer(gone)
	case "/api/v1/products/9":
		problem(http.StatusNotFound, "no product 9")
	case "/api/v1/categories":
		answer(map[string]any{"items": []any{
			map[string]any{"id": 1, "slug": "home", "name": "Home & living"},
			map[string]any{"id": 2, "parent_id": 1, "slug": "lighting", "name": "Lighting"},
		}})
	case "/api/v1/products":
		if r.URL.Query().Get("sort") == "bogus" {
			problem(http.StatusBadRequest, "query parameter sort must be one of [id price -price name newest]")
			return
		}
		next := ""
		if r.URL.Query().Get("cursor") == "" {
			next = "abc"
		}
		answer(map[string]any{"items": []any{lamp}, "next_cursor": next})
	case "/api/v1/search":
		if r.URL.Query().Get("q") == "lamp" {
			answer(map[string]any{"items": []any{lamp}})
			return
		}
		answer(map[string]any{"items": []any{}})
	default:
		problem(http.StatusNotFound, "no such resource")
	}
}

func (f *fakeCatalog) last() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := len(f.queries) - 1; i >= 0; i-- {
		if q := f.queries[i]; !strings.HasPrefix(q, "/api/v1/categories") && q != "/api/v1/status" {
			return f.queries[i]
		}
	}
	return ""
}

// newShop is the storefront over a fake catalog and a fake gateway API.
func newShop(t *testing.T) (http.Handler, *fakeCatalog, *fakeAPI) {
	t.Helper()
	fc := &fakeCatalog{}
	up := httptest.NewServer(fc)
	t.Cleanup(up.Close)
	u, _ := url.Parse(up.URL)
	mk, err := New(Deps{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Catalog: u, Transport: http.DefaultTransport})
	if err != nil {
		t.Fatal(err)
	}
	api := newFakeAPI()
	return mk(api), fc, api
}

func get(h http.Handler, target string, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestPages(t *testing.T) {
	h, fc, _ := newShop(t)
	for _, tc := range []struct {
		target    string
		want      int
		contains  []string
		catalogAt string // the catalog query the page made ("" to skip)
	}{
		{"/", 200, []string{"<h1>Featured</h1>", `href="/products/7"`, "19.99 EUR", "Sold out", `href="/categories/home"`}, "/api/v1/featured"},
		{"/products/7", 200, []string{"<h1>Desk &lt;lamp&gt;</h1>", `src="/media/products/7.jpg"`, `alt="Desk &lt;lamp&gt;"`, "Only 3 left", "<dt>colour</dt><dd>brass</dd>"}, "/api/v1/products/7"},
		{"/products/8", 200, []string{"Sold out"}, ""},
		{"/products/9", 404, []string{"There is no such page."}, ""},
		{"/products/x", 404, []string{"There is no such product."}, ""},
		{"/categories/home?sort=price&min_price=10&in_stock=true", 200, []string{"<h1>Home &amp; living</h1>", `<option value="price" selected>`, `value="10"`, "checked", `rel="next"`, "cursor=abc", `href="/categories/lighting"`},
			"/api/v1/products?category=home&in_stock=true&min_price=1000&sort=price"},
		{"/categories/home?cursor=abc", 200, []string{"Desk"}, "/api/v1/products?category=home&cursor=abc"},
		{"/categories/nope", 404, []string{"There is no such category."}, ""},
		{"/categories/home?min_price=-1", 400, []string{"Prices are whole numbers"}, ""},
		{"/categories/home?sort=bogus", 400, []string{"query parameter sort must be one of"}, ""},
		{"/search?q=lamp", 200, []string{"Results for “lamp”", `href="/products/7"`, `value="lamp"`}, "/api/v1/search?q=lamp"},
		{"/search?q=zzz", 200, []string{"Nothing matches “zzz”"}, ""},
		{"/search", 200, []string{"a typo or two is fine"}, ""},
		{"/no/such/page", 404, []string{"There is no such page."}, ""},
	} {
		t.Run(tc.target, func(t *testing.T) {
			rec := get(h, tc.target)
			if rec.Code != tc.want {
				t.Fatalf("%d, want %d: %s", rec.Code, tc.want, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
			body := rec.Body.String()
			for _, s := range tc.contains {
				if !strings.Contains(body, s) {
					t.Errorf("page lacks %q:\n%s", s, body)
				}
			}
			if tc.catalogAt != "" && fc.last() != tc.catalogAt {
				t.Errorf("catalog asked %q, want %q", fc.last(), tc.catalogAt)
			}
			if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
				t.Errorf("Content-Security-Policy %q", csp)
			}
		})
	}
}

// Row by row of the caching table: HTML anyone may see is revalidated with a validator, and an
// unchanged page costs a 304 without a body; error pages are never kept.
func TestHTMLRevalidates(t *testing.T) {
	h, _, _ := newShop(t)
	rec := get(h, "/products/7")
	if cc := rec.Header().Get("Cache-Control"); cc != "no-cache, must-revalidate" {
		t.Fatalf("Cache-Control %q", cc)
	}
	etag := rec.Header().Get("ETag")
	if !regexp.MustCompile(`^W/"[0-9a-f]{24}"$`).MatchString(etag) {
		t.Fatalf("ETag %q", etag)
	}
	again := get(h, "/products/7", "If-None-Match", etag)
	if again.Code != http.StatusNotModified || again.Body.Len() != 0 {
		t.Fatalf("If-None-Match: %d with %d bytes, want 304 and none", again.Code, again.Body.Len())
	}
	if again.Header().Get("ETag") != etag || again.Header().Get("Cache-Control") != "no-cache, must-revalidate" {
		t.Errorf("304 headers: %v", again.Header())
	}
	other := get(h, "/products/8", "If-None-Match", etag)
	if other.Code != http.StatusOK {
		t.Errorf("another page with this ETag: %d, want 200", other.Code)
	}
	for _, target := range []string{"/products/9", "/no/such/page"} {
		if cc := get(h, target).Header().Get("Cache-Control"); cc != "private, no-store" {
			t.Errorf("%s: Cache-Control %q, want private, no-store", target, cc)
		}
	}
}

func TestCatalogDownIs503(t *testing.T) {
	h, fc, _ := newShop(t)
	fc.down = true
	rec := get(h, "/")
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("%d Retry-After %q", rec.Code, rec.Header().Get("Retry-After"))
	}
	if !strings.Contains(rec.Body.String(), "cannot show this right now") {
		t.Errorf("body: %s", rec.Body)
	}
}

// Stylesheets go out under their content's hash and are kept for a year; any other name is a
// 404 nobody keeps.
func TestAssetsAreImmutable(t *testing.T) {
	h, _, _ := newShop(t)
	page := get(h, "/").Body.String()
	m := regexp.MustCompile(`href="(/assets/site\.[0-9a-f]{12}\.css)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no hashed stylesheet link in:\n%s", page)
	}
	rec := get(h, m[1])
	if rec.Code != 200 || rec.Header().Get("Cache-Control") != "public, max-age=31536000, immutable" {
		t.Fatalf("%s: %d %q", m[1], rec.Code, rec.Header().Get("Cache-Control"))
	}
	if ct := rec.Header().Get("Content-Type"); ct != "text/css; charset=utf-8" || !strings.Contains(rec.Body.String(), ".cards") {
		t.Errorf("Content-Type %q, body %.60q", ct, rec.Body)
	}
	for _, target := range []string{"/assets/site.000000000000.css", "/assets/site.css"} {
		rec := get(h, target)
		if rec.Code != 404 || rec.Header().Get("Cache-Control") != "private, no-store" {
			t.Errorf("%s: %d %q", target, rec.Code, rec.Header().Get("Cache-Control"))
		}
	}
}

func TestOnlyReads(t *testing.T) {
	h, _, _ := newShop(t)
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("x"))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /: %d", rec.Code)
	}
	// HEAD is a GET without the body, also mounted in a router as the gateway mounts it.
	mounted := chi.NewRouter()
	mounted.Mount("/", h)
	for name, handler := range map[string]http.Handler{"alone": h, "mounted": mounted} {
		head := httptest.NewRequest(http.MethodHead, "/products/7", nil)
		rec = httptest.NewRecorder()
		handler.ServeHTTP(rec, head)
		if rec.Code != 200 || rec.Body.Len() != 0 {
			t.Errorf("HEAD, %s: %d with %d bytes", name, rec.Code, rec.Body.Len())
		}
	}
}

// While the shop takes no changes (no primary), every page says so; the banner goes when
// writes come back. The storefront asks in the background, so the page after next shows it.
func TestReadOnlyBanner(t *testing.T) {
	h, fc, _ := newShop(t)
	banner := func() bool {
		rec := get(h, "/products/7")
		if rec.Code != http.StatusOK {
			t.Fatalf("product page: %d", rec.Code)
		}
		return strings.Contains(rec.Body.String(), `class="readonly"`)
	}
	waitFor := func(want bool) {
		t.Helper()
		for deadline := time.Now().Add(3 * statusEvery); banner() != want; time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("banner shown %v after %s, want %v", !want, 3*statusEvery, want)
			}
		}
	}
	if banner() {
		t.Fatal("banner while writes are taken")
	}
	fc.mu.Lock()
	fc.readOnly = true
	fc.mu.Unlock()
	waitFor(true)
	fc.mu.Lock()
	fc.readOnly = false
	fc.mu.Unlock()
	waitFor(false)
}
