package httpapi

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/flashcrowd/flashcrowd/foundation/web"
)

func TestRegisterSignsInUnderANewSession(t *testing.T) {
	b, srv := newBackend(t)
	gw, mr := newGatewayWith(t, srv.URL, nil)
	br := &browser{t: t, gw: gw}
	br.do(http.MethodPut, "/api/v1/cart/items/1", `{"quantity":1}`) // a guest with a cart
	guest := br.cookie
	guestKey := keyOf(t, guest)

	rec := br.do(http.MethodPost, "/api/v1/customers", `{"email":"Ada@Example.com","password":"correct horse"}`)
	if rec.Code != http.StatusCreated {
		t.Fatalf("register: %d %s", rec.Code, rec.Body)
	}
	if c := decodeJSON[customer](t, rec); c.ID != 1 || c.Email != "ada@example.com" {
		t.Errorf("register answered %+v", c)
	}
	if br.cookie == "" || br.cookie == guest {
		t.Fatal("registration did not rotate the session id")
	}
	if mr.Exists("session:" + guestKey) {
		t.Error("the guest session outlived the rotation")
	}
	// Registration logs in, so the orders service merges the guest's cart.
	if got, _ := b.last(); got.path != "/internal/v1/customers/login" || got.identity == nil || got.identity.Session != guestKey {
		t.Errorf("last call to orders: %s with identity %+v, want the login with the guest session %s", got.path, got.identity, guestKey)
	}
	rec = br.do(http.MethodGet, "/api/v1/session", "")
	if s := decodeJSON[sessionState](t, rec); !s.SignedIn || s.Customer == nil || s.Customer.ID != 1 || s.Customer.Email != "ada@example.com" {
		t.Errorf("session after registration: %s", rec.Body)
	}
	br.do(http.MethodGet, "/api/v1/cart", "")
	if got, _ := b.last(); got.identity == nil || got.identity.Customer != 1 || got.identity.Email != "ada@example.com" || got.identity.Session != keyOf(t, br.cookie) {
		t.Errorf("cart identity after registration: %+v", got.identity)
	}

	// The same address again.
	other := &browser{t: t, gw: gw}
	rec = other.do(http.MethodPost, "/api/v1/customers", `{"email":"ada@example.com","password":"another one"}`)
	if p := wantProblem(t, rec, http.StatusConflict); !strings.Contains(p.Detail, "exists") || sessionCookie(rec) != nil {
		t.Errorf("taken email: %+v, cookie %v", p, sessionCookie(rec))
	}
	// What the orders service refuses passes through, field errors included.
	rec = other.do(http.MethodPost, "/api/v1/customers", `{"email":"refused@example.com","password":"correct horse"}`)
	if p := wantProblem(t, rec, http.StatusUnprocessableEntity); p.Errors["email"] != "not deliverable" || p.Instance != "/api/v1/customers" {
		t.Errorf("orders' 422: %+v", p)
	}
}

func TestLoginRotatesAndLogoutEnds(t *testing.T) {
	b, srv := newBackend(t)
	gw, mr := newGatewayWith(t, srv.URL, nil)
	b.add("ada@example.com", "correct horse")
	br := &browser{t: t, gw: gw}
	br.do(http.MethodPut, "/api/v1/cart/items/1", `{"quantity":1}`)
	guest := br.cookie

	rec := br.do(http.MethodPost, "/api/v1/session", `{"email":"ada@example.com","password":"wrong horse"}`)
	if p := wantProblem(t, rec, http.StatusUnauthorized); p.Detail != "wrong email or password" || sessionCookie(rec) != nil {
		t.Errorf("wrong password: %+v, cookie %v", p, sessionCookie(rec))
	}
	rec = br.do(http.MethodPost, "/api/v1/session", `{"email":"nobody@example.com","password":"correct horse"}`)
	if p := wantProblem(t, rec, http.StatusUnauthorized); p.Detail != "wrong email or password" {
		t.Errorf("unknown account: %+v", p)
	}

	rec = br.do(http.MethodPost, "/api/v1/session", `{"email":"ada@example.com","password":"correct horse"}`)
	if rec.Code != http.StatusOK || rec.Header().Get("Cache-Control") != web.CachePrivate {
		t.Fatalf("login: %d %s", rec.Code, rec.Body)
	}
	if c := decodeJSON[customer](t, rec); c.ID != 1 || c.Email != "ada@example.com" {
		t.Errorf("login answered %+v", c)
	}
	if br.cookie == guest || br.cookie == "" {
		t.Fatal("login did not rotate the session id")
	}
	if mr.Exists("session:" + keyOf(t, guest)) {
		t.Error("the guest session outlived the login")
	}
	if got, _ := b.last(); got.identity == nil || got.identity.Session != keyOf(t, guest) {
		t.Errorf("login identity %+v: want the guest session, whose cart orders merges", got.identity)
	}
	stored, _ := mr.Get("session:" + keyOf(t, br.cookie))
	if !strings.Contains(stored, `"cid":1`) || !strings.Contains(stored, `"email":"ada@example.com"`) {
		t.Errorf("signed-in session holds %q", stored)
	}
	// The old cookie, were it stolen before the login, is worth nothing now.
	thief := &browser{t: t, gw: gw, cookie: guest}
	if s := decodeJSON[sessionState](t, thief.do(http.MethodGet, "/api/v1/session", "")); s.SignedIn {
		t.Error("the pre-login cookie is signed in")
	}

	signedIn := br.cookie
	rec = br.do(http.MethodDelete, "/api/v1/session", "")
	if rec.Code != http.StatusNoContent {
		t.Fatalf("logout: %d %s", rec.Code, rec.Body)
	}
	if c := sessionCookie(rec); c == nil || c.MaxAge >= 0 || c.Value != "" {
		t.Errorf("logout cookie %+v, want it expired", c)
	}
	if mr.Exists("session:" + keyOf(t, signedIn)) {
		t.Error("logout left the session in Redis")
	}
	replay := &browser{t: t, gw: gw, cookie: signedIn}
	if s := decodeJSON[sessionState](t, replay.do(http.MethodGet, "/api/v1/session", "")); s.SignedIn {
		t.Error("the cookie is still signed in after logout")
	}
	// Logging out without a session is not an error.
	if rec := (&browser{t: t, gw: gw}).do(http.MethodDelete, "/api/v1/session", ""); rec.Code != http.StatusNoContent || sessionCookie(rec) != nil {
		t.Errorf("logout without a session: %d, cookie %v", rec.Code, sessionCookie(rec))
	}
}

func TestBadInputGetsA4xxProblem(t *testing.T) {
	b, srv := newBackend(t)
	gw, mr := newGatewayWith(t, srv.URL, nil)
	long := strings.Repeat("p", 129)
	tests := []struct {
		name, target, contentType, body string
		want                            int
		field                           string
	}{
		{"malformed", "/api/v1/session", "application/json", `{"email":`, 400, ""},
		{"not an object", "/api/v1/session", "application/json", `["a"]`, 400, ""},
		{"wrong type", "/api/v1/session", "application/json", `{"email":1,"password":"x"}`, 400, ""},
		{"unknown field", "/api/v1/session", "application/json", `{"email":"a@b.c","password":"x","admin":true}`, 400, ""},
		{"empty body", "/api/v1/session", "application/json", ``, 400, ""},
		{"two objects", "/api/v1/session", "application/json", `{} {}`, 400, ""},
		{"form", "/api/v1/session", "application/x-www-form-urlencoded", `email=a&password=b`, 415, ""},
		{"no email", "/api/v1/session", "application/json", `{"password":"x"}`, 422, "email"},
		{"no password", "/api/v1/session", "application/json", `{"email":"a@b.c"}`, 422, "password"},
		{"huge password", "/api/v1/session", "application/json", `{"email":"a@b.c","password":"` + long + `"}`, 422, "password"},
		{"register malformed", "/api/v1/customers", "application/json", `{"email"`, 400, ""},
		{"register text", "/api/v1/customers", "text/plain", `{}`, 415, ""},
		{"register no email", "/api/v1/customers", "application/json", `{"password":"correct horse"}`, 422, "email"},
		{"register bad email", "/api/v1/customers", "application/json", `{"email":"ada","password":"correct horse"}`, 422, "email"},
		{"register named email", "/api/v1/customers", "application/json", `{"email":"Ada <ada@example.com>","password":"correct horse"}`, 422, "email"},
		{"register short password", "/api/v1/customers", "application/json", `{"email":"ada@example.com","password":"short"}`, 422, "password"},
		{"register long password", "/api/v1/customers", "application/json", `{"email":"ada@example.com","password":"` + long + `"}`, 422, "password"},
	}
	for _, tt := range tests {
		req := httptest.NewRequest(http.MethodPost, tt.target, strings.NewReader(tt.body))
		req.Header.Set("Content-Type", tt.contentType)
		rec := httptest.NewRecorder()
		gw.ServeHTTP(rec, req)
		p := wantProblem(t, rec, tt.want)
		if tt.field != "" && p.Errors[tt.field] == "" {
			t.Errorf("%s: errors %v, want one for %s", tt.name, p.Errors, tt.field)
		}
	}
	if b.count() != 0 || mr.CommandCount() != 0 {
		t.Errorf("bad input reached orders (%d calls) or Redis (%d commands)", b.count(), mr.CommandCount())
	}
}

func TestLoginLimits(t *testing.T) {
	b, srv := newBackend(t)
	gw, _ := newGatewayWith(t, srv.URL, func(d *Deps) { d.Limits = Limits{LoginPerAccount: 3, LoginPerClient: 5, CheckoutPerSession: 10} })
	b.add("ada@example.com", "correct horse")
	login := func(client, email, password string) *httptest.ResponseRecorder {
		br := &browser{t: t, gw: gw}
		return br.do(http.MethodPost, "/api/v1/session", `{"email":"`+email+`","password":"`+password+`"}`, "X-Forwarded-For", client)
	}

	// Per account, whatever the case of the address and the client: 3 attempts, then 429.
	clients := []string{"198.51.100.1", "198.51.100.2", "198.51.100.3", "198.51.100.4"}
	for i, email := range []string{"ada@example.com", "ADA@example.com", "Ada@Example.com"} {
		if rec := login(clients[i], email, "guess"); rec.Code != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d %s", i+1, rec.Code, rec.Body)
		}
	}
	calls := b.count()
	rec := login(clients[3], "ada@example.com", "correct horse")
	wantProblem(t, rec, http.StatusTooManyRequests)
	if s, err := strconv.Atoi(rec.Header().Get("Retry-After")); err != nil || s < 1 || s > 60 {
		t.Errorf("Retry-After %q, want 1 to 60 seconds", rec.Header().Get("Retry-After"))
	}
	if b.count() != calls {
		t.Error("a limited attempt reached the password check")
	}

	// Per client, whatever the account: 5 attempts from one address, then 429; the next
	// address is not limited. The edge's address comes first in X-Forwarded-For.
	for i := range 5 {
		if rec := login("203.0.113.9, 10.0.0.2", "user"+strconv.Itoa(i)+"@example.com", "guess"); rec.Code != http.StatusUnauthorized {
			t.Fatalf("client attempt %d: %d %s", i+1, rec.Code, rec.Body)
		}
	}
	rec = login("203.0.113.9, 10.0.0.3", "someone@example.com", "guess")
	if p := wantProblem(t, rec, http.StatusTooManyRequests); !strings.Contains(p.Detail, "address") || rec.Header().Get("Retry-After") == "" {
		t.Errorf("client limit: %+v, Retry-After %q", p, rec.Header().Get("Retry-After"))
	}
	if rec := login("203.0.113.10", "someone@example.com", "guess"); rec.Code != http.StatusUnauthorized {
		t.Errorf("another client: %d, want 401", rec.Code)
	}
}

func TestClientAddr(t *testing.T) {
	for _, tt := range []struct{ xff, remote, want string }{
		{"203.0.113.9", "10.0.0.1:5000", "203.0.113.9"},
		{"203.0.113.9, 10.0.0.2", "10.0.0.1:5000", "203.0.113.9"},
		{"::ffff:203.0.113.9", "10.0.0.1:5000", "203.0.113.9"},
		{"2001:db8:1:2:3:4:5:6", "10.0.0.1:5000", "2001:db8:1:2::/64"},
		{"", "192.0.2.4:5000", "192.0.2.4"},
		{"junk", "192.0.2.4:5000", "192.0.2.4"},
		{"", "pipe", "unknown"},
	} {
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		r.RemoteAddr = tt.remote
		if tt.xff != "" {
			r.Header.Set("X-Forwarded-For", tt.xff)
		}
		if got := clientAddr(r); got != tt.want {
			t.Errorf("clientAddr(XFF %q, peer %q) = %q, want %q", tt.xff, tt.remote, got, tt.want)
		}
	}
}

// A limiter that cannot reach Redis lets the attempt through (and counts it): see allow.
func TestLoginLimiterFailsOpen(t *testing.T) {
	b, srv := newBackend(t)
	reg := prometheus.NewRegistry()
	gw, _ := newGatewayWith(t, srv.URL, func(d *Deps) {
		dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialerRetries: 1})
		t.Cleanup(func() { dead.Close() })
		d.Limiter = redis_rate.NewLimiter(dead)
		d.Registry = reg
	})
	b.add("ada@example.com", "correct horse")
	rec := (&browser{t: t, gw: gw}).do(http.MethodPost, "/api/v1/session", `{"email":"ada@example.com","password":"correct horse"}`)
	if rec.Code != http.StatusOK {
		t.Fatalf("login with the limiter down: %d %s", rec.Code, rec.Body)
	}
	want := `# HELP flashcrowd_rate_limit_total Requests the gateway's rate limits refused (result limited, a 429) or let through because Redis could not answer (result error), by limit: login or checkout.
# TYPE flashcrowd_rate_limit_total counter
flashcrowd_rate_limit_total{limit="login",result="error"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "flashcrowd_rate_limit_total"); err != nil {
		t.Error(err)
	}
}

func TestCrossOriginWritesAreRefused(t *testing.T) {
	b, srv := newBackend(t)
	gw, _ := newGatewayWith(t, srv.URL, nil)
	b.add("ada@example.com", "correct horse")
	creds := `{"email":"ada@example.com","password":"correct horse"}`
	writes := []struct{ method, target, body string }{
		{http.MethodPost, "/api/v1/session", creds},
		{http.MethodPost, "/api/v1/customers", `{"email":"new@example.com","password":"correct horse"}`},
		{http.MethodDelete, "/api/v1/session", ""},
		{http.MethodPut, "/api/v1/cart/items/1", `{"quantity":1}`},
		{http.MethodPost, "/api/v1/orders", `{"email":"ada@example.com"}`},
		{http.MethodPost, "/api/v1/orders/1/cancel", ""},
	}
	for _, w := range writes {
		for _, headers := range [][]string{
			{"Sec-Fetch-Site", "cross-site"},
			{"Sec-Fetch-Site", "same-site"}, // a sibling subdomain is another origin
			{"Origin", "https://evil.example"},
		} {
			calls := b.count()
			rec := (&browser{t: t, gw: gw}).do(w.method, w.target, w.body, headers...)
			if p := wantProblem(t, rec, http.StatusForbidden); p.Instance != w.target {
				t.Errorf("%s %s %v: %+v", w.method, w.target, headers, p)
			}
			if b.count() != calls || sessionCookie(rec) != nil {
				t.Errorf("%s %s %v: a refused request went on", w.method, w.target, headers)
			}
		}
		for _, headers := range [][]string{
			nil, // not a browser: curl, k6, the services' tests
			{"Sec-Fetch-Site", "same-origin"},
			{"Sec-Fetch-Site", "none"},       // typed in the address bar
			{"Origin", "http://example.com"}, // the request's own host (httptest's)
			{"Origin", publicOrigin, "Sec-Fetch-Site", "cross-site"}, // PUBLIC_ORIGINS
		} {
			rec := (&browser{t: t, gw: gw}).do(w.method, w.target, w.body, headers...)
			if rec.Code == http.StatusForbidden {
				t.Errorf("%s %s %v: 403 %s", w.method, w.target, headers, rec.Body)
			}
		}
	}
	// Reads are never refused: they change nothing.
	for _, target := range []string{"/api/v1/cart", "/api/v1/session", "/api/v1/products/1"} {
		if rec := (&browser{t: t, gw: gw}).do(http.MethodGet, target, "", "Sec-Fetch-Site", "cross-site"); rec.Code != http.StatusOK {
			t.Errorf("cross-site GET %s: %d", target, rec.Code)
		}
	}
	// Admin writes authenticate with a bearer token, which a browser never adds by itself.
	rec := (&browser{t: t, gw: gw}).do(http.MethodPatch, "/api/v1/admin/products/1", `{}`, "Sec-Fetch-Site", "cross-site", "Authorization", "Bearer "+token)
	if rec.Code != http.StatusOK {
		t.Errorf("admin write from another origin: %d", rec.Code)
	}
}

func TestOrdersFailuresAreAnswered5xxNot500(t *testing.T) {
	b, srv := newBackend(t)
	gw, _ := newGatewayWith(t, srv.URL, nil)
	b.add("ada@example.com", "correct horse")
	creds := `{"email":"ada@example.com","password":"correct horse"}`
	signup := `{"email":"new@example.com","password":"correct horse"}`

	for status, want := range map[int]int{400: 502, 404: 502, 500: 502, 502: 502, 503: 503, 504: 504} {
		b.mu.Lock()
		b.status = status
		b.mu.Unlock()
		for _, target := range []string{"/api/v1/session", "/api/v1/customers"} {
			// An account of its own per status: the login limit would count them all.
			body := `{"email":"user` + strconv.Itoa(status) + `@example.com","password":"correct horse"}`
			rec := (&browser{t: t, gw: gw}).do(http.MethodPost, target, body)
			wantProblem(t, rec, want)
			if status == 503 && rec.Header().Get("Retry-After") != "7" {
				t.Errorf("%s: Retry-After %q, want the service's 7", target, rec.Header().Get("Retry-After"))
			}
		}
	}

	// A gateway whose key the orders service does not share: registration cannot be
	// refused for the client's sake, so it is the gateway's failure.
	wrongKey, _ := newGatewayWith(t, srv.URL, func(d *Deps) { d.IdentityKey = []byte("another-identity-key-0123456789abcdef") })
	b.mu.Lock()
	b.status = 0
	b.mu.Unlock()
	wantProblem(t, (&browser{t: t, gw: wrongKey}).do(http.MethodPost, "/api/v1/customers", signup), http.StatusBadGateway)

	// Nothing listening, and too slow.
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	gwDown, _ := newGatewayWith(t, down.URL, nil)
	wantProblem(t, (&browser{t: t, gw: gwDown}).do(http.MethodPost, "/api/v1/session", creds), http.StatusBadGateway)

	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(release)
	gwSlow, _ := newGatewayWith(t, slow.URL, func(d *Deps) {
		tr := NewTransport(8)
		tr.ResponseHeaderTimeout = 50 * time.Millisecond
		d.Transport = tr
	})
	wantProblem(t, (&browser{t: t, gw: gwSlow}).do(http.MethodPost, "/api/v1/session", creds), http.StatusGatewayTimeout)
}

// Should the login that follows a registration fail, the new customer is signed in anyway.
func TestRegisterSignsInWhenTheMergeFails(t *testing.T) {
	b, _ := newBackend(t)
	failLogin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/internal/v1/customers/login" {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		b.ServeHTTP(w, r)
	}))
	defer failLogin.Close()
	gw, _ := newGatewayWith(t, failLogin.URL, nil)
	br := &browser{t: t, gw: gw}
	rec := br.do(http.MethodPost, "/api/v1/customers", `{"email":"ada@example.com","password":"correct horse"}`)
	if rec.Code != http.StatusCreated || br.cookie == "" {
		t.Fatalf("register: %d %s", rec.Code, rec.Body)
	}
	if s := decodeJSON[sessionState](t, br.do(http.MethodGet, "/api/v1/session", "")); !s.SignedIn || s.Customer.ID != 1 {
		t.Errorf("session: %+v", s)
	}
}

func TestOtherMethodsOnTheGatewaysOwnResources(t *testing.T) {
	b, srv := newBackend(t)
	gw, _ := newGatewayWith(t, srv.URL, nil)
	for _, tt := range []struct{ method, target string }{
		{http.MethodPut, "/api/v1/session"},
		{http.MethodPatch, "/api/v1/session"},
		{http.MethodGet, "/api/v1/customers"},
		{http.MethodDelete, "/api/v1/customers"},
	} {
		wantProblem(t, (&browser{t: t, gw: gw}).do(tt.method, tt.target, ""), http.StatusMethodNotAllowed)
	}
	if b.count() != 0 {
		t.Error("a request for the gateway's own resources was forwarded")
	}
}

// Checkouts are limited per guest session, and per customer across every session of theirs;
// other requests of a limited session, and other sessions, go on.
func TestCheckoutLimits(t *testing.T) {
	b, srv := newBackend(t)
	gw, _ := newGatewayWith(t, srv.URL, func(d *Deps) { d.Limits = Limits{LoginPerAccount: 30, LoginPerClient: 30, CheckoutPerSession: 3} })
	b.add("ada@example.com", "correct horse")
	checkout := func(br *browser) *httptest.ResponseRecorder {
		return br.do(http.MethodPost, "/api//v1/orders", `{"email":"x@example.com"}`, "Idempotency-Key", "k")
	}
	guest := &browser{t: t, gw: gw}
	guest.do(http.MethodPut, "/api/v1/cart/items/1", `{"quantity":1}`) // a session
	for i := range 3 {
		if rec := checkout(guest); rec.Code != http.StatusOK {
			t.Fatalf("checkout %d: %d %s", i+1, rec.Code, rec.Body)
		}
	}
	calls := b.count()
	rec := checkout(guest)
	if p := wantProblem(t, rec, http.StatusTooManyRequests); !strings.Contains(p.Detail, "checkouts in this session") || rec.Header().Get("Retry-After") == "" {
		t.Errorf("limited checkout: %+v, Retry-After %q", p, rec.Header().Get("Retry-After"))
	}
	if b.count() != calls {
		t.Error("a limited checkout reached the orders service")
	}
	if rec := guest.do(http.MethodGet, "/api/v1/cart", ""); rec.Code != http.StatusOK {
		t.Errorf("the limited session's cart: %d", rec.Code)
	}
	other := &browser{t: t, gw: gw}
	other.do(http.MethodPut, "/api/v1/cart/items/1", `{"quantity":1}`)
	if rec := checkout(other); rec.Code != http.StatusOK {
		t.Errorf("another session's checkout: %d", rec.Code)
	}

	// Strangers without a session share no allowance: each is a session of its own (and has
	// no cart to order); the edge limits their address.
	for i := range 4 {
		if rec := checkout(&browser{t: t, gw: gw}); rec.Code != http.StatusOK {
			t.Fatalf("checkout %d without a session: %d %s", i+1, rec.Code, rec.Body)
		}
	}

	// A customer: the limit follows the account into a new session.
	ada := &browser{t: t, gw: gw}
	if rec := ada.do(http.MethodPost, "/api/v1/session", `{"email":"ada@example.com","password":"correct horse"}`); rec.Code != http.StatusOK {
		t.Fatalf("login: %d %s", rec.Code, rec.Body)
	}
	for range 3 {
		checkout(ada)
	}
	again := &browser{t: t, gw: gw}
	again.do(http.MethodPost, "/api/v1/session", `{"email":"ada@example.com","password":"correct horse"}`)
	if p := wantProblem(t, checkout(again), http.StatusTooManyRequests); !strings.Contains(p.Detail, "for this account") {
		t.Errorf("the account's fourth checkout, in a new session: %+v", p)
	}
}
