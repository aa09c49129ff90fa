package storefront

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

const testToken = "t0ken-for-tests"

// adminAPI plays the gateway's API for the admin pages: product 7 at version "v1", its
// conditional PATCH, the upload grant and the attach. Every admin call must carry the token.
type adminAPI struct {
	mu      sync.Mutex
	etag    string
	price   int64
	patches []map[string]any
	grants  []map[string]string
	puts    []string
}

func (f *adminAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	problem := func(code int, body string) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(code)
		_, _ = io.WriteString(w, body)
	}
	if strings.HasPrefix(r.URL.Path, "/api/v1/admin/") && r.Header.Get("Authorization") != "Bearer "+testToken {
		problem(http.StatusUnauthorized, `{"detail":"admin token required"}`)
		return
	}
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/api/v1/products/7":
		w.Header().Set("ETag", f.etag)
		_ = json.NewEncoder(w).Encode(product{ID: 7, Name: "Desk lamp", PriceCents: f.price, Currency: "EUR",
			ThumbnailURL: "http://127.0.0.1:8080/media/thumbs/products/7/a.jpg"})
	case r.Method == http.MethodGet && r.URL.Path == "/api/v1/products/8":
		problem(http.StatusNotFound, `{"detail":"product not found"}`)
	case r.Method == http.MethodPatch && r.URL.Path == "/api/v1/admin/products/7":
		if r.Header.Get("If-Match") != f.etag {
			problem(http.StatusPreconditionFailed, `{"detail":"the product has changed"}`)
			return
		}
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		if body["name"] == "" {
			problem(http.StatusUnprocessableEntity, `{"detail":"the request has invalid fields","errors":{"name":"must be 1 to 200 characters, without NUL"}}`)
			return
		}
		f.patches = append(f.patches, body)
		f.price = int64(body["price_cents"].(float64))
		f.etag = `"v2"`
		_ = json.NewEncoder(w).Encode(product{ID: 7})
	case r.Method == http.MethodPost && r.URL.Path == "/api/v1/admin/products/7/image-uploads":
		var body map[string]string
		_ = json.NewDecoder(r.Body).Decode(&body)
		f.grants = append(f.grants, body)
		if body["content_type"] != "image/png" && body["content_type"] != "image/jpeg" {
			problem(http.StatusUnprocessableEntity, `{"detail":"the request has invalid fields","errors":{"content_type":"must be image/jpeg or image/png"}}`)
			return
		}
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(map[string]any{"key": "uploads/7/abc.png", "url": "http://127.0.0.1:8080/media/",
			"fields": map[string]string{"key": "uploads/7/abc.png", "Content-Type": body["content_type"], "policy": "cG9saWN5",
				"success_action_redirect": "http://127.0.0.1:8080" + body["return_path"]}})
	case r.Method == http.MethodPut && r.URL.Path == "/api/v1/admin/products/7/image":
		var body map[string]string
		_ = json.NewDecoder(r.Body).Decode(&body)
		f.puts = append(f.puts, body["key"])
		_ = json.NewEncoder(w).Encode(product{ID: 7})
	default:
		problem(http.StatusNotFound, `{"detail":"no such resource"}`)
	}
}

func newAdminBrowser(t *testing.T, token string) (*browser, *adminAPI) {
	t.Helper()
	up := httptest.NewServer(&fakeCatalog{})
	t.Cleanup(up.Close)
	u, _ := url.Parse(up.URL)
	mk, err := New(Deps{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Catalog: u, Transport: http.DefaultTransport, AdminToken: token})
	if err != nil {
		t.Fatal(err)
	}
	api := &adminAPI{etag: `"v1"`, price: 1999}
	return &browser{h: mk(api)}, api
}

func signIn(t *testing.T, b *browser) {
	t.Helper()
	rec := b.do(http.MethodPost, "/admin/login", url.Values{"token": {testToken}})
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/admin" {
		t.Fatalf("sign in: %d %q", rec.Code, rec.Header().Get("Location"))
	}
	c := rec.Result().Cookies()
	if len(c) != 1 || c[0].Name != adminCookie || c[0].Path != "/admin" || !c[0].HttpOnly || c[0].SameSite != http.SameSiteStrictMode {
		t.Fatalf("admin cookie %+v", c)
	}
}

func TestAdminNeedsTheToken(t *testing.T) {
	b, api := newAdminBrowser(t, testToken)
	if rec := b.do(http.MethodGet, "/admin", nil); rec.Code != 200 || !strings.Contains(rec.Body.String(), `action="/admin/login"`) ||
		rec.Header().Get("Cache-Control") != "private, no-store" {
		t.Fatalf("GET /admin signed out: %d %q\n%s", rec.Code, rec.Header().Get("Cache-Control"), rec.Body)
	}
	for _, c := range []struct{ method, path string }{
		{http.MethodGet, "/admin/products/7"}, {http.MethodPost, "/admin/products/7"},
		{http.MethodPost, "/admin/products/7/image-uploads"}, {http.MethodPost, "/admin/products/7/image"},
	} {
		if rec := b.do(c.method, c.path, url.Values{"price": {"1"}}); rec.Code != http.StatusUnauthorized {
			t.Errorf("%s %s signed out: %d, want 401", c.method, c.path, rec.Code)
		}
	}
	if rec := b.do(http.MethodPost, "/admin/login", url.Values{"token": {"guess"}}); rec.Code != http.StatusUnauthorized ||
		!strings.Contains(rec.Body.String(), "not the admin token") || len(rec.Result().Cookies()) != 0 {
		t.Fatalf("a wrong token: %d %v", rec.Code, rec.Result().Cookies())
	}
	if len(api.patches)+len(api.grants)+len(api.puts) != 0 {
		t.Fatalf("signed-out requests reached the admin API")
	}

	signIn(t, b)
	if rec := b.do(http.MethodGet, "/admin/products/7", nil); rec.Code != 200 {
		t.Fatalf("signed in: %d", rec.Code)
	}
	// A cookie whose expiry was changed, or one signed by another token, is refused.
	expires, mac, _ := strings.Cut(strings.TrimPrefix(b.cookie, adminCookie+"="), ".")
	for _, forged := range []string{"9" + expires + "." + mac, expires + "." + newAdmin("other").mac(expires), expires} {
		b.cookie = adminCookie + "=" + forged
		if rec := b.do(http.MethodGet, "/admin/products/7", nil); rec.Code != http.StatusUnauthorized {
			t.Errorf("forged cookie %q: %d, want 401", forged, rec.Code)
		}
	}
}

func TestAdminCookieExpires(t *testing.T) {
	a := newAdmin(testToken)
	r := httptest.NewRequest(http.MethodGet, "/admin", nil)
	r.AddCookie(a.cookie(r))
	if !a.signedIn(r) {
		t.Fatal("a fresh cookie is refused")
	}
	later := a
	later.now = func() time.Time { return time.Now().Add(adminTTL + time.Minute) }
	if later.signedIn(r) {
		t.Fatal("an expired cookie is accepted")
	}
}

func TestWithoutATokenThereIsNoAdmin(t *testing.T) {
	b, _ := newAdminBrowser(t, "")
	if rec := b.do(http.MethodGet, "/admin", nil); rec.Code != http.StatusNotFound {
		t.Fatalf("GET /admin without a token configured: %d, want 404", rec.Code)
	}
}

func TestAdminEditsAProduct(t *testing.T) {
	b, api := newAdminBrowser(t, testToken)
	signIn(t, b)
	page := b.do(http.MethodGet, "/admin/products/7", nil).Body.String()
	if !strings.Contains(page, `name="etag" value="&#34;v1&#34;"`) || !strings.Contains(page, `value="19.99"`) {
		t.Fatalf("edit page without the version or the price:\n%s", page)
	}

	// A price that is not an amount never reaches the API.
	if rec := b.do(http.MethodPost, "/admin/products/7", url.Values{"etag": {`"v1"`}, "name": {"Desk lamp"}, "price": {"12,5"}}); rec.Code != http.StatusUnprocessableEntity ||
		!strings.Contains(rec.Body.String(), "an amount such as 19.99") || len(api.patches) != 0 {
		t.Fatalf("a bad price: %d, %d patches", rec.Code, len(api.patches))
	}
	// The API's refusal comes back on the form, field by field.
	if rec := b.do(http.MethodPost, "/admin/products/7", url.Values{"etag": {`"v1"`}, "name": {""}, "price": {"12"}}); rec.Code != http.StatusUnprocessableEntity ||
		!strings.Contains(rec.Body.String(), "must be 1 to 200 characters") {
		t.Fatalf("an empty name: %d\n%s", rec.Code, rec.Body)
	}

	rec := b.do(http.MethodPost, "/admin/products/7", url.Values{"etag": {`"v1"`}, "name": {"Desk lamp"}, "description": {"Warm light"}, "price": {"21.5"}})
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/admin/products/7?done=saved" {
		t.Fatalf("save: %d %q\n%s", rec.Code, rec.Header().Get("Location"), rec.Body)
	}
	if len(api.patches) != 1 || api.patches[0]["price_cents"] != float64(2150) || api.patches[0]["description"] != "Warm light" {
		t.Fatalf("PATCH bodies %v", api.patches)
	}
	if page := b.do(http.MethodGet, "/admin/products/7?done=saved", nil).Body.String(); !strings.Contains(page, "Saved.") || !strings.Contains(page, `value="21.50"`) {
		t.Fatalf("after saving:\n%s", page)
	}

	// A form shown before someone else's change does not overwrite it.
	rec = b.do(http.MethodPost, "/admin/products/7", url.Values{"etag": {`"v1"`}, "name": {"Old"}, "price": {"1"}})
	if rec.Code != http.StatusPreconditionFailed || !strings.Contains(rec.Body.String(), "Someone changed this product") ||
		!strings.Contains(rec.Body.String(), `value="21.50"`) || len(api.patches) != 1 {
		t.Fatalf("stale form: %d, %d patches\n%s", rec.Code, len(api.patches), rec.Body)
	}
}

func TestAdminUploadsAnImageStraightToStorage(t *testing.T) {
	b, api := newAdminBrowser(t, testToken)
	signIn(t, b)
	rec := b.do(http.MethodPost, "/admin/products/7/image-uploads", url.Values{"content_type": {"image/png"}})
	page := rec.Body.String()
	if rec.Code != 200 || !strings.Contains(page, `action="http://127.0.0.1:8080/media/"`) || !strings.Contains(page, `enctype="multipart/form-data"`) ||
		!strings.Contains(page, `name="policy" value="cG9saWN5"`) || !strings.Contains(page, `type="file"`) {
		t.Fatalf("upload form: %d\n%s", rec.Code, page)
	}
	// The file comes last: storage reads the fields before it.
	if strings.Index(page, `type="file"`) < strings.Index(page, `name="success_action_redirect"`) {
		t.Error("the file input comes before the policy's fields")
	}
	if len(api.grants) != 1 || api.grants[0]["return_path"] != "/admin/products/7/image" {
		t.Fatalf("grant requests %v", api.grants)
	}
	if rec := b.do(http.MethodPost, "/admin/products/7/image-uploads", url.Values{"content_type": {"image/gif"}}); rec.Code != http.StatusUnprocessableEntity {
		t.Errorf("a GIF grant: %d, want 422", rec.Code)
	}

	// Storage sends the browser back with the key; publishing takes a POST.
	if rec := b.do(http.MethodGet, "/admin/products/7/image?bucket=media&key=uploads/8/x.png&etag=1", nil); rec.Code != http.StatusBadRequest {
		t.Errorf("another product's upload: %d, want 400", rec.Code)
	}
	back := b.do(http.MethodGet, "/admin/products/7/image?bucket=media&key=uploads/7/abc.png&etag=1", nil)
	if back.Code != 200 || !strings.Contains(back.Body.String(), `name="key" value="uploads/7/abc.png"`) || len(api.puts) != 0 {
		t.Fatalf("back from storage: %d, %d attaches\n%s", back.Code, len(api.puts), back.Body)
	}
	rec = b.do(http.MethodPost, "/admin/products/7/image", url.Values{"key": {"uploads/7/abc.png"}})
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/admin/products/7?done=published" || len(api.puts) != 1 || api.puts[0] != "uploads/7/abc.png" {
		t.Fatalf("publish: %d %q %v", rec.Code, rec.Header().Get("Location"), api.puts)
	}
}
