package httpapi

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flashcrowd/flashcrowd/contracts/identity"
	"github.com/flashcrowd/flashcrowd/foundation/web"
	"github.com/flashcrowd/flashcrowd/gateway/storefront"
)

const token = "test-admin-token-0123456789"

func newGateway(t *testing.T, upstream string) http.Handler {
	t.Helper()
	gw, _ := newGatewayWith(t, upstream, nil)
	return gw
}

func TestGatewayForwardsAndAuthenticates(t *testing.T) {
	var seen []string
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.Method+" "+r.URL.Path+" id="+r.Header.Get(web.RequestIDHeader))
		if xff := r.Header.Get("X-Forwarded-For"); !strings.HasPrefix(xff, "203.0.113.7, ") {
			t.Errorf("X-Forwarded-For %q: the edge's client address must come first", xff)
		}
		w.Header().Set(web.RequestIDHeader, r.Header.Get(web.RequestIDHeader)) // as every service does
		w.WriteHeader(http.StatusTeapot)
	}))
	defer upstream.Close()
	gw := newGateway(t, upstream.URL)

	tests := []struct {
		method, path, auth string
		want               int
	}{
		{http.MethodGet, "/api/v1/products/1", "", http.StatusTeapot},
		{http.MethodPatch, "/api/v1/admin/products/1", "", http.StatusUnauthorized},
		{http.MethodPatch, "/api/v1/admin/products/1", "Bearer wrong", http.StatusUnauthorized},
		{http.MethodPatch, "/api/v1/admin/products/1", token, http.StatusUnauthorized}, // scheme missing
		{http.MethodPatch, "/api/v1/admin/products/1", "Bearer " + token, http.StatusTeapot},
		{http.MethodGet, "/metrics-not-here", "", http.StatusNotFound},
		// Other spellings of an admin path are admin paths too.
		{http.MethodPatch, "/api/v1/%61dmin/products/1", "", http.StatusUnauthorized},
		{http.MethodPatch, "/api/v1/admin%2Fproducts/1", "", http.StatusUnauthorized},
		{http.MethodPatch, "/api/v1/ADMIN/products/1", "", http.StatusUnauthorized},
		{http.MethodPatch, "/api/v1/x/../admin/products/1", "", http.StatusUnauthorized},
		{http.MethodPatch, "/api//v1/admin/products/1", "", http.StatusUnauthorized},
		{http.MethodGet, "/api/v1/admin", "", http.StatusUnauthorized},
		{http.MethodGet, "/api/v1/administrators", "", http.StatusTeapot}, // not under /admin
	}
	for _, tt := range tests {
		req := httptest.NewRequest(tt.method, tt.path, strings.NewReader("{}"))
		req.Header.Set(web.RequestIDHeader, "rid-1")
		req.Header.Set("X-Forwarded-For", "203.0.113.7") // as HAProxy's edge sets it
		if tt.auth != "" {
			req.Header.Set("Authorization", tt.auth)
		}
		rec := httptest.NewRecorder()
		gw.ServeHTTP(rec, req)
		if rec.Code != tt.want {
			t.Errorf("%s %s auth=%q: status %d, want %d", tt.method, tt.path, tt.auth, rec.Code, tt.want)
		}
		if ids := rec.Header().Values(web.RequestIDHeader); len(ids) != 1 || ids[0] != "rid-1" {
			t.Errorf("%s %s: X-Request-ID %q, want exactly [rid-1]", tt.method, tt.path, ids)
		}
		if tt.want == http.StatusUnauthorized && rec.Header().Get("Content-Type") != "application/problem+json" {
			t.Errorf("401 is not problem+json")
		}
	}
	want := []string{"GET /api/v1/products/1 id=rid-1", "PATCH /api/v1/admin/products/1 id=rid-1", "GET /api/v1/administrators id=rid-1"}
	if strings.Join(seen, "|") != strings.Join(want, "|") {
		t.Errorf("upstream saw %q, want %q", seen, want)
	}
}

func TestGatewayAnswersProblemWhenUpstreamIsDown(t *testing.T) {
	upstream := httptest.NewServer(http.NotFoundHandler())
	upstream.Close() // nothing listens there now
	rec := httptest.NewRecorder()
	newGateway(t, upstream.URL).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/products", nil))
	if rec.Code != http.StatusBadGateway || rec.Header().Get("Content-Type") != "application/problem+json" {
		t.Fatalf("got %d %s, want 502 problem+json", rec.Code, rec.Header().Get("Content-Type"))
	}
}

func TestGatewayAnswers504WhenUpstreamIsSlow(t *testing.T) {
	release := make(chan struct{})
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer upstream.Close()
	defer close(release)
	gw, _ := newGatewayWith(t, upstream.URL, func(d *Deps) {
		tr := NewTransport(8)
		tr.ResponseHeaderTimeout = 50 * time.Millisecond
		d.Transport = tr
	})
	rec := httptest.NewRecorder()
	gw.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/products", nil))
	if rec.Code != http.StatusGatewayTimeout || rec.Header().Get("Content-Type") != "application/problem+json" {
		t.Fatalf("got %d %s, want 504 problem+json", rec.Code, rec.Header().Get("Content-Type"))
	}
}

func TestGatewayOperationalRoutes(t *testing.T) {
	gw := newGateway(t, "http://127.0.0.1:1")
	for _, c := range []struct {
		method, path string
		want         int
	}{
		{"GET", "/healthz", 200},
		{"GET", "/metrics", 200},
		{"GET", "/readyz", 503}, // no upstream
		{"POST", "/healthz", 405},
	} {
		rec := httptest.NewRecorder()
		gw.ServeHTTP(rec, httptest.NewRequest(c.method, c.path, nil))
		if rec.Code != c.want {
			t.Errorf("%s %s: %d, want %d", c.method, c.path, rec.Code, c.want)
		}
		if got := rec.Header().Get("X-Gateway"); got != "gateway-test" {
			t.Errorf("%s %s: X-Gateway %q, want the instance's name", c.method, c.path, got)
		}
	}
}

// The storefront gets every path outside the API and the operational routes.
func TestStorefrontGetsThePages(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"from":"catalog"}`)
	}))
	defer upstream.Close()
	shop := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "shop "+r.URL.Path) })
	h, _ := newGatewayWith(t, upstream.URL, func(d *Deps) { d.Storefront = func(http.Handler) http.Handler { return shop } })
	for path, want := range map[string]string{
		"/":                      "shop /",
		"/products/7":            "shop /products/7",
		"/assets/site.0.css":     "shop /assets/site.0.css",
		"/api/v1/products/7":     `{"from":"catalog"}`,
		"/healthz":               `"status":"ok"`,
		"/api/v1/no-such-thing":  `{"from":"catalog"}`,
		"/search?q=wireless+hed": "shop /search",
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("GET %s: %d %q, want %q in it", path, rec.Code, rec.Body, want)
		}
	}
}

// The storefront calls the API it is given in process, from inside a page's request: the call
// is routed as an API request (through the session handling to the upstream), not back to the
// storefront.
func TestStorefrontCallsTheAPIInProcess(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/api/v1/cart":
			if r.Header.Get(identity.Header) == "" {
				t.Errorf("the cart call reached the upstream without the signed identity")
			}
			io.WriteString(w, `{"items":[],"total_cents":0,"currency":"","item_count":0}`)
		default:
			io.WriteString(w, `{"items":[]}`)
		}
	}))
	defer upstream.Close()
	h, _ := newGatewayWith(t, upstream.URL, func(d *Deps) {
		mk, err := storefront.New(storefront.Deps{Log: d.Log, Catalog: d.Upstream, Transport: d.Transport})
		if err != nil {
			t.Fatal(err)
		}
		d.Storefront = mk
	})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/cart", nil))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "Your cart is empty") {
		t.Fatalf("GET /cart: %d\n%s", rec.Code, rec.Body)
	}
}

// HAProxy asks every gateway's /readyz every 2 s, and each asks the internal load balancer in
// turn: that must reuse one connection, not dial (and look the name up) every time.
func TestReadinessReusesItsConnectionToTheUpstream(t *testing.T) {
	upstream := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			t.Errorf("readiness asked the upstream for %s, want /healthz", r.URL.Path)
		}
		io.WriteString(w, "<html><body><h1>200 OK</h1>\nService ready.\n</body></html>\n") // as HAProxy's monitor-uri answers
	}))
	var conns atomic.Int32
	upstream.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	upstream.Start()
	defer upstream.Close()
	gw := newGateway(t, upstream.URL)

	for range 5 {
		rec := httptest.NewRecorder()
		gw.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		if rec.Code != http.StatusOK {
			t.Fatalf("GET /readyz: %d %s", rec.Code, rec.Body)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("five readiness checks opened %d connections to the upstream, want 1", n)
	}
}
