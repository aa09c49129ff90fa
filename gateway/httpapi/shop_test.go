package httpapi

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/flashcrowd/flashcrowd/contracts/identity"
	"github.com/flashcrowd/flashcrowd/foundation/web"
	"github.com/flashcrowd/flashcrowd/gateway/session"
)

// The catalog is the hot, edge-cached path: whatever a request carries, it costs Redis nothing.
func TestCatalogRequestsNeverTouchRedis(t *testing.T) {
	b, srv := newBackend(t)
	gw, mr := newGatewayWith(t, srv.URL, nil)
	br := &browser{t: t, gw: gw}
	br.do(http.MethodPut, "/api/v1/cart/items/1", `{"quantity":1}`) // a stored session and its cookie
	if br.cookie == "" {
		t.Fatal("no session cookie after a cart write")
	}
	forged, _ := identity.Sign(identityKey, identity.Identity{Session: "someone-else", Customer: 9}, time.Now())

	before := mr.CommandCount()
	for _, target := range []string{"/api/v1/products/1", "/api/v1/products?limit=5", "/api/v1/categories", "/api/v1/cartography"} {
		rec := br.do(http.MethodGet, target, "", identity.Header, forged)
		if rec.Code != http.StatusOK || rec.Header().Get("Cache-Control") != web.CachePublic {
			t.Errorf("GET %s: %d, Cache-Control %q: want the catalog's answer as it is", target, rec.Code, rec.Header().Get("Cache-Control"))
		}
		if sessionCookie(rec) != nil {
			t.Errorf("GET %s set a cookie", target)
		}
		got, _ := b.last()
		if got.rawIdentity != "" || got.cookie != "" {
			t.Errorf("GET %s reached the catalog with identity %q and cookie %q", target, got.rawIdentity, got.cookie)
		}
	}
	if n := mr.CommandCount() - before; n != 0 {
		t.Errorf("catalog requests sent %d commands to Redis, want 0", n)
	}
}

func TestGuestReadsStoreNoSession(t *testing.T) {
	b, srv := newBackend(t)
	gw, mr := newGatewayWith(t, srv.URL, nil)
	br := &browser{t: t, gw: gw}
	var sids []string
	for _, target := range []string{"/api/v1/cart", "/api/v1/orders", "/api/v1/session"} {
		rec := br.do(http.MethodGet, target, "")
		if rec.Code != http.StatusOK || sessionCookie(rec) != nil {
			t.Errorf("GET %s: %d, cookie %v; want 200 and no cookie", target, rec.Code, sessionCookie(rec))
		}
		if target == "/api/v1/session" {
			if s := decodeJSON[sessionState](t, rec); s.SignedIn || s.Customer != nil {
				t.Errorf("session of a guest: %+v", s)
			}
			continue
		}
		got, _ := b.last()
		if got.identity == nil || len(got.identity.Session) != 64 || got.identity.SignedIn() {
			t.Fatalf("GET %s reached orders with identity %+v, want a guest's", target, got.identity)
		}
		sids = append(sids, got.identity.Session)
	}
	if sids[0] == sids[1] {
		t.Error("two cookieless reads were signed with the same session")
	}
	if n := mr.CommandCount(); n != 0 {
		t.Errorf("guest reads sent %d commands to Redis, want 0", n)
	}
}

func TestFirstWriteStoresTheSession(t *testing.T) {
	b, srv := newBackend(t)
	gw, mr := newGatewayWith(t, srv.URL, nil)
	br := &browser{t: t, gw: gw}

	rec := br.do(http.MethodPut, "/api/v1/cart/items/1", `{"quantity":2}`)
	if rec.Code != http.StatusOK {
		t.Fatalf("cart write: %d %s", rec.Code, rec.Body)
	}
	c := sessionCookie(rec)
	if c == nil {
		t.Fatal("no session cookie after the first write")
	}
	if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.MaxAge != 7*24*3600 || c.Secure || len(c.Value) != 43 {
		t.Errorf("cookie %+v: want HttpOnly, SameSite=Lax, Path=/, Max-Age=604800, not Secure over plain HTTP, 43 characters", c)
	}
	key := keyOf(t, c.Value)
	if strings.Contains(mr.Dump(), c.Value) {
		t.Error("Redis holds the raw cookie value")
	}
	stored, err := mr.Get("session:" + key)
	if err != nil || !strings.Contains(stored, `"cid":0`) || !strings.Contains(stored, `"created":`) {
		t.Fatalf("session:%s = %q, %v", key, stored, err)
	}
	got, _ := b.last()
	if got.identity == nil || got.identity.Session != key {
		t.Fatalf("orders saw identity %+v, want session %s", got.identity, key)
	}
	if cc := rec.Header().Get("Cache-Control"); cc != web.CachePrivate {
		t.Errorf("cart answer Cache-Control %q, want %q whatever the service said", cc, web.CachePrivate)
	}

	// Each use restarts the TTL, in Redis and in the browser, and keeps the session.
	mr.FastForward(100 * time.Hour)
	rec = br.do(http.MethodGet, "/api/v1/cart", "")
	if again := sessionCookie(rec); again == nil || again.Value != c.Value || again.MaxAge != 7*24*3600 {
		t.Errorf("a read of the cart re-sent %+v, want the same cookie with a fresh Max-Age", again)
	}
	if ttl := mr.TTL("session:" + key); ttl != 168*time.Hour {
		t.Errorf("TTL after a use: %v, want 168h", ttl)
	}
	if got, _ := b.last(); got.identity == nil || got.identity.Session != key {
		t.Errorf("second request's identity %+v, want session %s", got.identity, key)
	}
	if n := len(mr.Keys()); n != 1 {
		t.Errorf("%d keys in Redis, want the one session", n)
	}

	// Past the TTL the session is gone: a read is a fresh guest's, a write a new session.
	mr.FastForward(169 * time.Hour)
	br.do(http.MethodGet, "/api/v1/cart", "")
	if got, _ := b.last(); got.identity.Session == key {
		t.Error("an expired session still named the cart")
	}
	rec = br.do(http.MethodDelete, "/api/v1/cart/items/1", "")
	if c2 := sessionCookie(rec); c2 == nil || c2.Value == c.Value {
		t.Errorf("a write after expiry set cookie %+v, want a new one", c2)
	}
}

// A guest's first write that the service refuses (a sold-out product, in a flash sale most
// buyers') stores no session and sets no cookie; the next accepted write starts one.
func TestRefusedFirstWriteStoresNoSession(t *testing.T) {
	b, srv := newBackend(t)
	gw, mr := newGatewayWith(t, srv.URL, nil)
	br := &browser{t: t, gw: gw}
	for _, status := range []int{http.StatusConflict, http.StatusUnprocessableEntity, http.StatusServiceUnavailable} {
		b.mu.Lock()
		b.status = status
		b.mu.Unlock()
		rec := br.do(http.MethodPut, "/api/v1/cart/items/1", `{"quantity":1}`)
		wantProblem(t, rec, status)
		if c := sessionCookie(rec); c != nil {
			t.Errorf("a %d set cookie %+v", status, c)
		}
		if got, _ := b.last(); got.identity == nil || len(got.identity.Session) != 64 {
			t.Errorf("the refused write reached orders with identity %+v, want a guest's", got.identity)
		}
	}
	if keys := mr.Keys(); len(keys) != 0 {
		t.Fatalf("refused writes left %v in Redis", keys)
	}
	b.mu.Lock()
	b.status = 0
	b.mu.Unlock()
	rec := br.do(http.MethodPut, "/api/v1/cart/items/1", `{"quantity":1}`)
	c := sessionCookie(rec)
	if rec.Code != http.StatusOK || c == nil {
		t.Fatalf("accepted write: %d, cookie %+v", rec.Code, c)
	}
	if got, _ := b.last(); got.identity == nil || got.identity.Session != keyOf(t, c.Value) || !mr.Exists("session:"+got.identity.Session) {
		t.Errorf("the cookie does not name the stored session the write was made under")
	}
}

// A write the service accepted under a session Redis then fails to store is a 503: the
// browser could never name that session again.
func TestFirstWriteWhoseSessionCannotBeStoredIs503(t *testing.T) {
	_, srv := newBackend(t)
	gw, mr := newGatewayWith(t, srv.URL, nil)
	mr.SetError("READONLY simulated")
	rec := (&browser{t: t, gw: gw}).do(http.MethodPut, "/api/v1/cart/items/1", `{"quantity":1}`)
	wantProblem(t, rec, http.StatusServiceUnavailable)
	if c := sessionCookie(rec); c != nil {
		t.Errorf("cookie %+v for a session that was not stored", c)
	}
}

func TestCookieIsSecureOverTLS(t *testing.T) {
	_, srv := newBackend(t)
	gw, _ := newGatewayWith(t, srv.URL, nil)
	for _, tt := range []struct {
		name, target, proto string
		want                bool
	}{
		{"plain HTTP", "http://shop.example/api/v1/cart/items/1", "", false},
		{"TLS to the gateway", "https://shop.example/api/v1/cart/items/1", "", true},
		{"TLS at the edge", "http://shop.example/api/v1/cart/items/1", "https", true},
		{"plain HTTP at the edge", "http://shop.example/api/v1/cart/items/1", "http", false},
	} {
		req := httptest.NewRequest(http.MethodPut, tt.target, strings.NewReader(`{"quantity":1}`))
		if tt.proto != "" {
			req.Header.Set("X-Forwarded-Proto", tt.proto)
		}
		rec := httptest.NewRecorder()
		gw.ServeHTTP(rec, req)
		if c := sessionCookie(rec); c == nil || c.Secure != tt.want {
			t.Errorf("%s: cookie %+v, want Secure=%v", tt.name, c, tt.want)
		}
	}
}

func TestClientIdentityIsNeverForwarded(t *testing.T) {
	b, srv := newBackend(t)
	gw, _ := newGatewayWith(t, srv.URL, nil)
	// A statement signed with the right key, as a leaked header would be: still dropped.
	forged, _ := identity.Sign(identityKey, identity.Identity{Session: "victim", Customer: 1, Email: "victim@example.com"}, time.Now())
	for _, tt := range []struct{ method, target string }{
		{http.MethodGet, "/api/v1/cart"},
		{http.MethodPut, "/api/v1/cart/items/1"},
		{http.MethodPost, "/api/v1/orders"},
		{http.MethodGet, "/api/v1/orders/5"},
		{http.MethodGet, "/api/v1/products/1"},
	} {
		br := &browser{t: t, gw: gw}
		br.do(tt.method, tt.target, `{}`, identity.Header, forged)
		got, ok := b.last()
		if !ok {
			t.Fatalf("%s %s reached nothing", tt.method, tt.target)
		}
		if got.rawIdentity == forged {
			t.Errorf("%s %s: the client's identity reached the service", tt.method, tt.target)
		}
		if got.identity != nil && (got.identity.SignedIn() || got.identity.Session == "victim") {
			t.Errorf("%s %s: identity %+v", tt.method, tt.target, got.identity)
		}
		if isShop(tt.target) && got.identity == nil {
			t.Errorf("%s %s: no valid identity of the gateway's own", tt.method, tt.target)
		}
	}
}

// A cookie the gateway did not make, or whose session is gone, names nothing: the first write
// gets a new session and cookie, so nobody can choose a victim's session id in advance.
func TestUnknownCookieGetsANewSession(t *testing.T) {
	b, srv := newBackend(t)
	gw, mr := newGatewayWith(t, srv.URL, nil)
	planted, plantedKey := session.New() // well-formed, never stored
	for _, cookie := range []string{"junk", planted} {
		br := &browser{t: t, gw: gw, cookie: cookie}
		rec := br.do(http.MethodPut, "/api/v1/cart/items/1", `{"quantity":1}`)
		c := sessionCookie(rec)
		if c == nil || c.Value == cookie {
			t.Fatalf("cookie %q: a write set %+v, want a new cookie", cookie, c)
		}
		if got, _ := b.last(); got.identity == nil || got.identity.Session != keyOf(t, c.Value) {
			t.Errorf("cookie %q: identity %+v, want the new session", cookie, got.identity)
		}
	}
	if mr.Exists("session:" + plantedKey) {
		t.Error("the planted session id was stored")
	}
}

func TestSessionsDownAnswers503(t *testing.T) {
	b, srv := newBackend(t)
	gw, mr := newGatewayWith(t, srv.URL, nil)
	br := &browser{t: t, gw: gw}
	br.do(http.MethodPut, "/api/v1/cart/items/1", `{"quantity":1}`)
	b.add("ada@example.com", "correct horse")
	mr.Close()

	calls := b.count()
	for _, tt := range []struct{ method, target, body string }{
		{http.MethodGet, "/api/v1/cart", ""},
		{http.MethodPut, "/api/v1/cart/items/1", `{"quantity":1}`},
		{http.MethodGet, "/api/v1/session", ""},
		{http.MethodDelete, "/api/v1/session", ""},
	} {
		rec := br.do(tt.method, tt.target, tt.body)
		if p := wantProblem(t, rec, http.StatusServiceUnavailable); p.Detail == "" || rec.Header().Get("Retry-After") == "" {
			t.Errorf("%s %s: %+v, Retry-After %q", tt.method, tt.target, p, rec.Header().Get("Retry-After"))
		}
	}
	if b.count() != calls {
		t.Error("a request went on without its session")
	}
	// The limiter fails open, the orders service checks the password, and only storing the
	// session fails.
	rec := br.do(http.MethodPost, "/api/v1/session", `{"email":"ada@example.com","password":"correct horse"}`)
	wantProblem(t, rec, http.StatusServiceUnavailable)
	// Browsing needs no session.
	if rec := br.do(http.MethodGet, "/api/v1/products/1", ""); rec.Code != http.StatusOK {
		t.Errorf("catalog read with Redis down: %d", rec.Code)
	}
}

func TestIsShop(t *testing.T) {
	for p, want := range map[string]bool{
		"/api/v1/cart": true, "/api/v1/cart/items/3": true, "/api/v1/orders": true, "/api/v1/orders/7/cancel": true,
		"/api/v1/cart/": true, "/api//v1/cart": true, "/api/v1/products/../cart": true,
		"/api/v1/cartography": false, "/api/v1/ordersx": false, "/api/v1/products": false, "/api/v1/CART": false,
		"/api/v1/cart/../products": false, "/api/v2/cart": false,
	} {
		if got := isShop(p); got != want {
			t.Errorf("isShop(%q) = %v, want %v", p, got, want)
		}
	}
}
