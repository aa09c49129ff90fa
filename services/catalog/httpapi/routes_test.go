package httpapi

import (
	"net/http"
	"testing"
)

func TestRoutesOutsideTheAPI(t *testing.T) {
	a := newAPI(t)
	for _, c := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/healthz", 200},
		{"GET", "/readyz", 200},
		{"GET", "/metrics", 200},
		{"GET", "/nowhere", 404},
		{"GET", "/api/v1/admin", 401}, // the admin group's own root is behind the token too
		{"POST", "/healthz", 405},
		{"POST", "/api/v1/featured", 405},
		{"DELETE", "/api/v1/products/1", 405},
	} {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			// Every answer, errors included, names the instance and the version that gave it.
			checkAnswer(t, a.do(c.method, c.path, ""), c.status, "X-Served-By", "catalog-test", "X-Version", "v-test")
		})
	}
}

// Every admin route refuses a request without the right bearer token before it reads it.
func TestAdminNeedsTheToken(t *testing.T) {
	a := newAPI(t)
	routes := []struct{ method, path, body string }{
		{"POST", "/api/v1/admin/products", `{"sku":"NEW-1","name":"x","price_cents":1,"currency":"EUR"}`},
		{"POST", "/api/v1/admin/products/", `{"sku":"NEW-1","name":"x","price_cents":1,"currency":"EUR"}`},
		{"PATCH", "/api/v1/admin/products/1", `{"name":"Hijacked"}`},
		{"DELETE", "/api/v1/admin/products/1", ""},
		{"POST", "/api/v1/admin/products/1/stock-adjustments", `{"delta":-5}`},
		{"POST", "/api/v1/admin/products/1/image-uploads", `{"content_type":"image/png"}`},
		{"PUT", "/api/v1/admin/products/1/image", `{"key":"uploads/1/a.png"}`},
		{"GET", "/api/v1/admin/products/1", ""}, // 405 with the token
		{"GET", "/api/v1/admin/nothing", ""},    // 404 with the token
		{"PATCH", "/api/v1/admin/products/abc", `{`},
	}
	for _, auth := range []string{"", "Bearer", "Bearer wrong-token", "Basic " + testToken, "bearer " + testToken, "Bearer " + testToken + "x"} {
		for _, rt := range routes {
			t.Run(auth+" "+rt.method+" "+rt.path, func(t *testing.T) {
				w := a.do(rt.method, rt.path, rt.body, "Authorization", auth)
				checkAnswer(t, w, http.StatusUnauthorized)
				if w.Header().Get("WWW-Authenticate") == "" {
					t.Error("401 without WWW-Authenticate")
				}
			})
		}
	}
	a.unchanged(t)
}

// Spellings of admin paths that a proxy might decode or clean into /api/v1/admin/…: chi routes
// on the escaped path, so none of them may reach an admin handler without the token. Each must
// be a 401 (it went through the admin group) or a 404 (it matched no route).
func TestEncodedAdminPathsNeedTheToken(t *testing.T) {
	a := newAPI(t)
	paths := []string{
		"/api/v1/%61dmin/products/1",
		"/api/v1/admin%2Fproducts/1",
		"/api/v1/admin%2fproducts/1",
		"/api/v1/admin/products%2F1",
		"/api/v1/admin/%70roducts/1",
		"/api/v1/admin/products/%31",
		"/api/v1/%2561dmin/products/1",
		"/api%2Fv1/admin/products/1",
		"/api/v1%2Fadmin/products/1",
		"//api/v1/admin/products/1",
		"/api/v1//admin/products/1",
		"/api/v1/./admin/products/1",
		"/api/v1/products/../admin/products/1",
		"/api/v1/admin/products/1/",
		"/api/v1/ADMIN/products/1",
		"/api/v1/admin;/products/1",
		"/api/v1/admin/products/1;x",
	}
	for _, path := range paths {
		for _, m := range []struct{ method, body string }{{"PATCH", `{"name":"Hijacked"}`}, {"DELETE", ""}} {
			for _, auth := range []string{"", "Bearer wrong-token"} {
				t.Run(m.method+" "+path+" "+auth, func(t *testing.T) {
					w := a.do(m.method, path, m.body, "Authorization", auth)
					if w.Code != http.StatusUnauthorized && w.Code != http.StatusNotFound {
						t.Fatalf("status %d, want 401 or 404; body %s", w.Code, w.Body)
					}
					checkAnswer(t, w, w.Code)
				})
			}
		}
	}
	a.unchanged(t)
}

// unchanged fails unless products 1 and 2 are as seeded: no refused request wrote anything.
func (a *api) unchanged(t *testing.T) {
	t.Helper()
	seed := newFakeStore()
	a.store.mu.Lock()
	defer a.store.mu.Unlock()
	if len(a.store.products) != len(seed.products) {
		t.Fatalf("%d products, want %d", len(a.store.products), len(seed.products))
	}
	for id, p := range seed.products {
		if got := a.store.products[id]; got.Version != p.Version || got.Name != p.Name || got.Stock != p.Stock {
			t.Errorf("product %d changed: %+v", id, got)
		}
	}
}
