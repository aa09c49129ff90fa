//go:build e2e

package e2e

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
)

// raw is a client that leaves Accept-Encoding alone and does not decompress: what the edge
// sends is what the test sees.
var raw = &http.Client{Transport: &http.Transport{DisableCompression: true}}

func rawGet(t *testing.T, path string, header ...string) response {
	t.Helper()
	h := map[string]string{}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i+1] != "" {
			h[header[i]] = header[i+1]
		}
	}
	r, err := sendVia(raw, http.MethodGet, path, nil, h)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func decoded(t *testing.T, r response) string {
	t.Helper()
	var rd io.Reader = bytes.NewReader(r.body)
	switch enc := r.header.Get("Content-Encoding"); enc {
	case "br":
		rd = brotli.NewReader(rd)
	case "gzip":
		z, err := gzip.NewReader(rd)
		if err != nil {
			t.Fatal(err)
		}
		rd = z
	case "":
	default:
		t.Fatalf("Content-Encoding %q", enc)
	}
	b, err := io.ReadAll(rd)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var stylesheet = regexp.MustCompile(`href="(/assets/site\.[0-9a-f]{12}\.css)"`)

// A shopper's way through the read-only pages, through the edge: home with the featured
// products, a category with a filter, a search with a typo, a product.
func TestStorefrontPages(t *testing.T) {
	home := rawGet(t, "/")
	if home.status != 200 || home.header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("GET /: %d %q", home.status, home.header.Get("Content-Type"))
	}
	page := decoded(t, home)
	if !strings.Contains(page, "<h1>Featured</h1>") || !regexp.MustCompile(`href="/products/\d+"`).MatchString(page) {
		t.Fatalf("home page without featured products:\n%.2000s", page)
	}
	cat := regexp.MustCompile(`href="(/categories/[a-z0-9-]+)"`).FindStringSubmatch(page)
	if cat == nil {
		t.Fatalf("home page without categories:\n%.2000s", page)
	}
	listing := rawGet(t, cat[1]+"?sort=price&in_stock=true")
	if body := decoded(t, listing); listing.status != 200 || !strings.Contains(body, `<option value="price" selected>`) {
		t.Fatalf("GET %s: %d\n%.2000s", cat[1], listing.status, body)
	}
	search := rawGet(t, "/search?q=ketle")
	if body := decoded(t, search); search.status != 200 || !strings.Contains(strings.ToLower(body), "kettle") {
		t.Fatalf("search for a typo: %d\n%.2000s", search.status, body)
	}
	product := rawGet(t, "/products/1")
	p, _ := getProduct(t, 1)
	if body := decoded(t, product); product.status != 200 || !strings.Contains(body, p.SKU) {
		t.Fatalf("GET /products/1: %d\n%.2000s", product.status, body)
	}
	if r := rawGet(t, "/products/999999999"); r.status != 404 || r.header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Errorf("missing product: %d %q, want a 404 page", r.status, r.header.Get("Content-Type"))
	}
}

// The sources' caching table, one row each, as the edge answers.
func TestStorefrontCachingRows(t *testing.T) {
	t.Run("HTML is revalidated, and an unchanged page is a 304", func(t *testing.T) {
		r := rawGet(t, "/products/2")
		if cc := r.header.Get("Cache-Control"); r.status != 200 || cc != "no-cache, must-revalidate" {
			t.Fatalf("%d Cache-Control %q", r.status, cc)
		}
		etag := r.header.Get("ETag")
		if etag == "" {
			t.Fatal("no ETag")
		}
		again := rawGet(t, "/products/2", "If-None-Match", etag)
		if again.status != http.StatusNotModified || len(again.body) != 0 {
			t.Fatalf("If-None-Match %s: %d with %d bytes, want 304", etag, again.status, len(again.body))
		}
	})
	t.Run("the edge keeps a page anyone may see, and browsers still revalidate it", func(t *testing.T) {
		// The edge's own instructions never reach a browser, on a miss or a hit.
		var last response
		for range 2 {
			last = rawGet(t, "/categories/kitchen")
			for _, h := range []string{"CDN-Cache-Control", "X-Browser-Cache-Control"} {
				if v := last.header.Get(h); v != "" {
					t.Errorf("%s: %q reached the client", h, v)
				}
			}
			if cc := last.header.Get("Cache-Control"); last.status != 200 || cc != "no-cache, must-revalidate" {
				t.Fatalf("%d Cache-Control %q", last.status, cc)
			}
		}
		if last.header.Get("X-Edge-Cache") != "HIT" {
			t.Errorf("X-Edge-Cache %q on the second GET, want HIT", last.header.Get("X-Edge-Cache"))
		}
	})
	t.Run("a product's page shows a new price within a second of the write", func(t *testing.T) {
		p := createProduct(t, map[string]any{"name": "Edge page kettle"})
		page := fmt.Sprintf("/products/%d", p.ID)
		for range 2 {
			rawGet(t, page)
		}
		if r := rawGet(t, page); r.header.Get("X-Edge-Cache") != "HIT" {
			t.Fatalf("X-Edge-Cache %q, want HIT before the write", r.header.Get("X-Edge-Cache"))
		}
		price := p.PriceCents + 1234
		if r := call(t, http.MethodPatch, fmt.Sprintf("/api/v1/admin/products/%d", p.ID), map[string]any{"price_cents": price}, admin()); r.status != http.StatusOK {
			t.Fatalf("PATCH: %d %s", r.status, r.body)
		}
		want := fmt.Sprintf("%d.%02d", price/100, price%100)
		written := time.Now()
		for !strings.Contains(decoded(t, rawGet(t, page)), want) {
			if time.Since(written) > time.Second {
				t.Fatalf("%s does not show %s a second after the write", page, want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
	t.Run("stylesheets under hashed names are immutable for a year, and the edge keeps them", func(t *testing.T) {
		m := stylesheet.FindStringSubmatch(decoded(t, rawGet(t, "/")))
		if m == nil {
			t.Fatal("no hashed stylesheet on the home page")
		}
		var last response
		for range 2 {
			last = rawGet(t, m[1])
		}
		if last.status != 200 || last.header.Get("Cache-Control") != "public, max-age=31536000, immutable" {
			t.Fatalf("%s: %d %q", m[1], last.status, last.header.Get("Cache-Control"))
		}
		if last.header.Get("X-Edge-Cache") != "HIT" {
			t.Errorf("%s: X-Edge-Cache %q on the second GET, want HIT", m[1], last.header.Get("X-Edge-Cache"))
		}
	})
	t.Run("a customer's data is private and never stored", func(t *testing.T) {
		r := call(t, http.MethodGet, "/api/v1/cart", nil, nil)
		if cc := r.header.Get("Cache-Control"); cc != "private, no-store" {
			t.Fatalf("GET /api/v1/cart: %d Cache-Control %q", r.status, cc)
		}
	})
	t.Run("images are kept for a month", func(t *testing.T) {
		p := productWithImage(t)
		r := rawGet(t, p.ThumbnailURL, "Accept-Encoding", "br, gzip")
		if r.status != 200 || !strings.HasPrefix(r.header.Get("Cache-Control"), "public, max-age=2592000") {
			t.Fatalf("GET %s: %d %q", p.ThumbnailURL, r.status, r.header.Get("Cache-Control"))
		}
		if enc := r.header.Get("Content-Encoding"); enc != "" {
			t.Errorf("an image was recompressed: Content-Encoding %q", enc)
		}
	})
}

// productWithImage is a product that has an image and its thumbnail, uploaded if none has.
func productWithImage(t *testing.T) product {
	t.Helper()
	if p, _ := getProduct(t, 5); p.ThumbnailURL != "" && call(t, http.MethodGet, p.ThumbnailURL, nil, nil).status == 200 {
		return p
	}
	TestImageUploadMakesAThumbnail(t)
	p, _ := getProduct(t, 5)
	return p
}

// Brotli and gzip are each negotiated for text, and the edge keeps one copy per encoding.
func TestCompressionIsNegotiated(t *testing.T) {
	m := stylesheet.FindStringSubmatch(decoded(t, rawGet(t, "/")))
	if m == nil {
		t.Fatal("no hashed stylesheet on the home page")
	}
	for _, path := range []string{"/", m[1], "/api/v1/products?limit=50"} {
		var plain string
		for _, tc := range []struct{ accept, want string }{
			{"", ""}, {"gzip", "gzip"}, {"br, gzip", "br"}, {"gzip, deflate, br", "br"}, {"identity", ""}, {"gzip", "gzip"},
		} {
			header := []string{}
			if tc.accept != "" {
				header = []string{"Accept-Encoding", tc.accept}
			}
			r := rawGet(t, path, header...)
			if r.status != 200 || r.header.Get("Content-Encoding") != tc.want {
				t.Errorf("%s with %q: %d Content-Encoding %q, want %q", path, tc.accept, r.status, r.header.Get("Content-Encoding"), tc.want)
				continue
			}
			if !strings.Contains(r.header.Get("Vary"), "Accept-Encoding") {
				t.Errorf("%s: Vary %q", path, r.header.Get("Vary"))
			}
			body := decoded(t, r)
			if tc.accept == "" {
				plain = body
			} else if body != plain {
				t.Errorf("%s with %q: the decoded body differs from the plain one", path, tc.accept)
			}
			if tc.want != "" && len(r.body) >= len(body) {
				t.Errorf("%s with %q: %d bytes compressed for %d", path, tc.accept, len(r.body), len(body))
			}
		}
	}
}

// The edge keeps a copy per encoding; a write's purge drops every one of them.
func TestPurgeDropsEveryEncodingsCopy(t *testing.T) {
	p := createProduct(t, map[string]any{"name": "Edge teapot"})
	path := fmt.Sprintf("/api/v1/products/%d", p.ID)
	encodings := []string{"", "gzip", "br"}
	for _, enc := range encodings {
		for range 2 {
			rawGet(t, path, "Accept-Encoding", enc)
		}
		if r := rawGet(t, path, "Accept-Encoding", enc); r.header.Get("X-Edge-Cache") != "HIT" {
			t.Fatalf("Accept-Encoding %q: X-Edge-Cache %q, want HIT", enc, r.header.Get("X-Edge-Cache"))
		}
	}
	price := p.PriceCents + 100
	if r := call(t, http.MethodPatch, "/api/v1/admin/products/"+fmt.Sprint(p.ID), map[string]any{"price_cents": price}, admin()); r.status != http.StatusOK {
		t.Fatalf("PATCH: %d %s", r.status, r.body)
	}
	for _, enc := range encodings {
		var got product
		eventually(t, 1500*time.Millisecond, "the new price at the edge, Accept-Encoding "+enc, func() bool {
			r := rawGet(t, path, "Accept-Encoding", enc)
			if err := json.Unmarshal([]byte(decoded(t, r)), &got); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			return got.PriceCents == price
		})
	}
}

// A guest buys through the storefront's forms alone, through the edge, and gets the email.
func TestShopperBuysThroughTheStorefront(t *testing.T) {
	p := createProduct(t, map[string]any{"name": "Storefront lamp", "stock": 5})
	s := newShopper(t)
	form := s.form
	page := decoded(t, rawGet(t, fmt.Sprintf("/products/%d", p.ID)))
	if !strings.Contains(page, `action="/cart/items"`) {
		t.Fatalf("product page without an add-to-cart form:\n%.2000s", page)
	}
	// A form posted from another site is refused: the CSRF check covers the pages too.
	if res, _ := form("/cart/items", url.Values{"product_id": {fmt.Sprint(p.ID)}}, "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"); res.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-site form: %d, want 403", res.StatusCode)
	}
	res, cart := form("/cart/items", url.Values{"product_id": {fmt.Sprint(p.ID)}, "quantity": {"2"}})
	if res.StatusCode != 200 || res.Request.URL.Path != "/cart" || !strings.Contains(cart, "Storefront lamp") {
		t.Fatalf("add to cart: %d at %s\n%.2000s", res.StatusCode, res.Request.URL.Path, cart)
	}
	if cc := res.Header.Get("Cache-Control"); cc != "private, no-store" {
		t.Errorf("cart page Cache-Control %q", cc)
	}
	m := regexp.MustCompile(`name="key" value="([^"]+)"`).FindStringSubmatch(cart)
	if m == nil {
		t.Fatalf("cart page without a checkout form:\n%.2000s", cart)
	}
	email := fmt.Sprintf("storefront-%d@e2e.test", time.Now().UnixNano())
	res, order := form("/checkout", url.Values{"key": {m[1]}, "email": {email}})
	if res.StatusCode != 200 || !regexp.MustCompile(`^/orders/\d+$`).MatchString(res.Request.URL.Path) || !strings.Contains(order, "is placed") {
		t.Fatalf("checkout: %d at %s\n%.2000s", res.StatusCode, res.Request.URL.Path, order)
	}
	// The form sent again (a reload of the POST) is the same order, not a second one.
	again, _ := form("/checkout", url.Values{"key": {m[1]}, "email": {email}})
	if again.Request.URL.Path != res.Request.URL.Path {
		t.Fatalf("the same checkout form again went to %s, want %s", again.Request.URL.Path, res.Request.URL.Path)
	}
	if got, _ := getProduct(t, p.ID); got.Stock != 3 {
		t.Errorf("stock after the order: %d, want 3", got.Stock)
	}
	eventually(t, 30*time.Second, "the confirmation email", func() bool { return len(mails(t, email, 5)) > 0 })
	// Another shopper cannot open it.
	if r := newShopper(t).do(http.MethodGet, res.Request.URL.Path, nil); r.status != http.StatusNotFound {
		t.Errorf("another shopper's view of %s: %d, want 404", res.Request.URL.Path, r.status)
	}
}

// form posts a form as this shopper, following the 303 to the page it names; header is pairs of
// name and value. It returns the last answer and its body.
func (s *shopper) form(path string, v url.Values, header ...string) (*http.Response, string) {
	s.t.Helper()
	req, err := http.NewRequest(http.MethodPost, baseURL+path, strings.NewReader(v.Encode()))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := s.c.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

// A customer signs up by the storefront's forms, buys, finds the order in the history, and
// signs out.
func TestCustomerSignsUpBuysAndSeesTheOrder(t *testing.T) {
	p := createProduct(t, map[string]any{"name": "Account kettle", "stock": 5})
	s := newShopper(t)
	email := fmt.Sprintf("account-%d@e2e.test", time.Now().UnixNano())
	res, page := s.form("/account/register", url.Values{"email": {email}, "password": {"short"}})
	if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, "8 to 128") {
		t.Fatalf("a short password: %d\n%.2000s", res.StatusCode, page)
	}
	res, page = s.form("/account/register", url.Values{"email": {email}, "password": {"correct horse battery"}})
	if res.StatusCode != 200 || res.Request.URL.Path != "/orders" || !strings.Contains(page, "No orders yet") {
		t.Fatalf("sign up: %d at %s\n%.2000s", res.StatusCode, res.Request.URL.Path, page)
	}
	if r := s.do(http.MethodGet, "/account", nil); !strings.Contains(string(r.body), "Signed in as <strong>"+email) {
		t.Fatalf("account page after signing up:\n%.2000s", r.body)
	}
	s.form("/cart/items", url.Values{"product_id": {fmt.Sprint(p.ID)}})
	_, cart := s.form("/cart/items", url.Values{"product_id": {fmt.Sprint(p.ID)}, "quantity": {"1"}})
	m := regexp.MustCompile(`name="key" value="([^"]+)"`).FindStringSubmatch(cart)
	if m == nil {
		t.Fatalf("cart page without a checkout form:\n%.2000s", cart)
	}
	// Signed in, the order goes to the account's address: the form needs none.
	res, order := s.form("/checkout", url.Values{"key": {m[1]}})
	if res.StatusCode != 200 || !strings.Contains(order, email) {
		t.Fatalf("checkout: %d at %s\n%.2000s", res.StatusCode, res.Request.URL.Path, order)
	}
	if r := s.do(http.MethodGet, "/orders", nil); !strings.Contains(string(r.body), `href="`+res.Request.URL.Path+`"`) {
		t.Fatalf("order history without %s:\n%.2000s", res.Request.URL.Path, r.body)
	}
	res, _ = s.form("/account/logout", url.Values{})
	if res.Request.URL.Path != "/" {
		t.Fatalf("sign out went to %s", res.Request.URL.Path)
	}
	if r := s.do(http.MethodGet, "/orders", nil); !strings.Contains(string(r.body), "No orders yet") {
		t.Errorf("order history after signing out:\n%.2000s", r.body)
	}
	res, page = s.form("/account/login", url.Values{"email": {email}, "password": {"wrong password"}})
	if res.StatusCode != http.StatusUnauthorized || !strings.Contains(page, "wrong email or password") {
		t.Errorf("a wrong password: %d\n%.2000s", res.StatusCode, page)
	}
}
