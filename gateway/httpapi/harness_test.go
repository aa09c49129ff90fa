package httpapi

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

	"github.com/alicebob/miniredis/v2"
	"github.com/go-redis/redis_rate/v10"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/flashcrowd/flashcrowd/contracts/identity"
	"github.com/flashcrowd/flashcrowd/foundation/web"
	"github.com/flashcrowd/flashcrowd/gateway/session"
)

var identityKey = []byte("test-identity-key-0123456789abcdef")

const publicOrigin = "https://shop.example"

// newGatewayWith is the gateway in-process over a fresh miniredis (a real Redis protocol, Lua
// included, so the login limiter's script runs) and the given upstream; tweak changes Deps.
func newGatewayWith(t *testing.T, upstream string, tweak func(*Deps)) (http.Handler, *miniredis.Miniredis) {
	t.Helper()
	u, err := url.Parse(upstream)
	if err != nil {
		t.Fatal(err)
	}
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), MaxRetries: -1, DialerRetries: 1})
	t.Cleanup(func() { rdb.Close() })
	csrf, err := CrossOrigin([]string{publicOrigin})
	if err != nil {
		t.Fatal(err)
	}
	d := Deps{
		Log:         slog.New(slog.NewTextHandler(io.Discard, nil)),
		Registry:    prometheus.NewRegistry(),
		Upstream:    u,
		Transport:   NewTransport(8),
		AdminToken:  token,
		Sessions:    session.NewStore(rdb, 168*time.Hour),
		Limiter:     redis_rate.NewLimiter(rdb),
		Limits:      Limits{LoginPerAccount: 5, LoginPerClient: 30, CheckoutPerSession: 10},
		IdentityKey: identityKey,
		CrossOrigin: csrf,
		Instance:    "gateway-test",
	}
	if tweak != nil {
		tweak(&d)
	}
	return NewServer(d), mr
}

// seen is one request the fake backend received.
type seen struct {
	method, path string
	identity     *identity.Identity // nil: no valid identity header
	rawIdentity  string
	cookie       string
}

// backend plays the services behind HAProxy's internal frontend: the orders service (its
// customer endpoints, carts and orders) and the catalog (everything else).
type backend struct {
	mu        sync.Mutex
	requests  []seen
	customers map[string]string // email → password
	ids       map[string]int64
	status    int // when set, every answer of the orders service has this status
}

func newBackend(t *testing.T) (*backend, *httptest.Server) {
	b := &backend{customers: map[string]string{}, ids: map[string]int64{}}
	srv := httptest.NewServer(b)
	t.Cleanup(srv.Close)
	return b, srv
}

func (b *backend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s := seen{method: r.Method, path: r.URL.Path, rawIdentity: r.Header.Get(identity.Header), cookie: r.Header.Get("Cookie")}
	if id, err := identity.Verify(identityKey, s.rawIdentity, time.Now()); err == nil {
		s.identity = &id
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.requests = append(b.requests, s)

	problem := func(status int, detail string, fields map[string]string) {
		p := web.NewProblem(status, "%s", detail)
		p.Errors = fields
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(p)
	}
	orders := strings.HasPrefix(r.URL.Path, "/internal/") || isShop(r.URL.Path)
	switch {
	case r.URL.Path == "/healthz":
		return
	case !orders: // the catalog
		w.Header().Set("Cache-Control", web.CachePublic)
		web.Respond(w, http.StatusOK, map[string]string{"from": "catalog"})
		return
	case s.identity == nil:
		problem(http.StatusUnauthorized, "no valid identity", nil)
		return
	case b.status != 0:
		if b.status == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", "7")
		}
		problem(b.status, "as told", nil)
		return
	}
	var creds struct{ Email, Password string }
	if strings.HasPrefix(r.URL.Path, "/internal/") {
		if err := json.NewDecoder(r.Body).Decode(&creds); err != nil {
			problem(http.StatusBadRequest, "malformed", nil)
			return
		}
	}
	email := strings.ToLower(creds.Email)
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/internal/v1/customers":
		switch {
		case email == "refused@example.com":
			problem(http.StatusUnprocessableEntity, "the request has invalid fields", map[string]string{"email": "not deliverable"})
		case b.customers[email] != "":
			problem(http.StatusConflict, "an account with this email exists", nil)
		default:
			b.customers[email] = creds.Password
			b.ids[email] = int64(len(b.ids) + 1)
			web.Respond(w, http.StatusCreated, customer{ID: b.ids[email], Email: email})
		}
	case r.Method == http.MethodPost && r.URL.Path == "/internal/v1/customers/login":
		if pw, ok := b.customers[email]; !ok || pw != creds.Password {
			problem(http.StatusUnauthorized, "wrong email or password", nil)
			return
		}
		web.Respond(w, http.StatusOK, customer{ID: b.ids[email], Email: email})
	default: // cart and orders: say whom they were for
		w.Header().Set("Cache-Control", "public, max-age=60") // wrong on purpose: the gateway must fix it
		web.Respond(w, http.StatusOK, s.identity)
	}
}

// last returns the last request the backend got, and whether there was one.
func (b *backend) last() (seen, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.requests) == 0 {
		return seen{}, false
	}
	return b.requests[len(b.requests)-1], true
}

func (b *backend) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.requests)
}

func (b *backend) add(email, password string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.customers[email] = password
	b.ids[email] = int64(len(b.ids) + 1)
}

// browser sends requests as a browser would: it keeps the session cookie it was given.
type browser struct {
	t      *testing.T
	gw     http.Handler
	cookie string // the fc_session value, "" for none
}

// do sends a request (with the kept cookie) and applies any Set-Cookie of fc_session.
func (br *browser) do(method, target, body string, headers ...string) *httptest.ResponseRecorder {
	br.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, r)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	if br.cookie != "" {
		req.AddCookie(&http.Cookie{Name: session.CookieName, Value: br.cookie})
	}
	rec := httptest.NewRecorder()
	br.gw.ServeHTTP(rec, req)
	if c := sessionCookie(rec); c != nil {
		br.cookie = c.Value
		if c.MaxAge < 0 {
			br.cookie = ""
		}
	}
	return rec
}

// sessionCookie returns the fc_session cookie a response sets, nil when it sets none.
func sessionCookie(rec *httptest.ResponseRecorder) *http.Cookie {
	var found *http.Cookie
	for _, c := range rec.Result().Cookies() {
		if c.Name == session.CookieName {
			if found != nil {
				panic("two fc_session cookies in one response")
			}
			found = c
		}
	}
	return found
}

// keyOf is the session key (and identity Session) of a cookie value.
func keyOf(t *testing.T, cookie string) string {
	t.Helper()
	key, ok := session.KeyOf(cookie)
	if !ok {
		t.Fatalf("cookie %q is not a session cookie", cookie)
	}
	return key
}

func decodeJSON[T any](t *testing.T, rec *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("body %q: %v", rec.Body, err)
	}
	return v
}

func wantProblem(t *testing.T, rec *httptest.ResponseRecorder, status int) web.Problem {
	t.Helper()
	if rec.Code != status || rec.Header().Get("Content-Type") != "application/problem+json" {
		t.Fatalf("got %d %s %s, want %d problem+json", rec.Code, rec.Header().Get("Content-Type"), rec.Body, status)
	}
	return decodeJSON[web.Problem](t, rec)
}
