// Package httpapi is the gateway's HTTP API: the public face of the platform behind HAProxy. It
// owns customers' sessions (in Redis) and logins, authenticates admin calls, and forwards API
// calls to the internal services over one shared, tuned connection pool, stating who is asking
// with a signed identity where that matters (carts and orders).
package httpapi

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/go-chi/chi/v5"
	"github.com/go-redis/redis_rate/v10"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/flashcrowd/flashcrowd/foundation/web"
	"github.com/flashcrowd/flashcrowd/gateway/session"
)

// Deps is everything the gateway needs.
type Deps struct {
	Log        *slog.Logger
	Registry   *prometheus.Registry
	Upstream   *url.URL // HAProxy's internal frontend, which routes by path to catalog and orders
	Transport  http.RoundTripper
	AdminToken string

	Sessions    *session.Store
	Limiter     *redis_rate.Limiter // the gateway's rate limits, on the sessions' Redis
	Limits      Limits
	IdentityKey []byte // signs the identity the services behind the gateway trust (contracts/identity)
	// CrossOrigin refuses cross-origin browser writes that a cookie would authenticate (CSRF).
	CrossOrigin *http.CrossOriginProtection
	// Instance answers in X-Gateway (X-Served-By is the service's behind it), so a test can
	// find, and kill, the instance that served a request.
	Instance string
	// Storefront makes the handler of every path outside the API and the operational routes:
	// the shop's pages and assets (package storefront), which call the API it is given in
	// process. Nil: those paths are 404 problems.
	Storefront func(api http.Handler) http.Handler
}

// NewServer returns the gateway's handler. Catalog requests, the hot and edge-cached path,
// go straight to the proxy: they never read a cookie nor touch Redis.
func NewServer(d Deps) http.Handler {
	m := newMetrics(d.Registry)
	proxy := newProxy(d.Upstream, d.Transport)
	s := sessions{store: d.Sessions}
	orders := newOrdersClient(d.Upstream, d.Transport, d.IdentityKey)
	limiter := &limiter{rl: d.Limiter, limits: d.Limits, results: m.limits}
	csrf := d.CrossOrigin.Handler

	r := web.NewRouter(d.Log, d.Registry, map[string]web.Check{"upstream": upstreamCheck(d.Upstream, d.Transport)})
	// Subrouters, so that another method on these gets a 405 instead of falling through to
	// the proxy's /api/*.
	r.Route("/api/v1/session", func(r chi.Router) {
		r.Method(http.MethodGet, "/", handleSession(s))
		r.Method(http.MethodPost, "/", csrf(handleLogin(s, orders, limiter, m)))
		r.Method(http.MethodDelete, "/", csrf(handleLogout(s)))
	})
	r.Route("/api/v1/customers", func(r chi.Router) {
		r.Method(http.MethodPost, "/", csrf(handleRegister(s, orders)))
	})
	shop := csrf(handleShop(s, d.IdentityKey, limiter, proxy))
	r.Handle("/api/*", guardAdmin(d.AdminToken, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isShop(r.URL.Path) {
			shop.ServeHTTP(w, r)
			return
		}
		proxy.ServeHTTP(w, r)
	})))
	if d.Storefront != nil {
		// Its forms are cookie-authenticated writes like the API's: the same CSRF check.
		r.Mount("/", csrf(d.Storefront(r)))
	}
	return web.Announce("X-Gateway", d.Instance)(r)
}

// CrossOrigin returns the CSRF protection for the browser origins in trusted (besides the
// request's own, which is always allowed): its refusal is a 403 problem.
func CrossOrigin(trusted []string) (*http.CrossOriginProtection, error) {
	c := http.NewCrossOriginProtection()
	for _, o := range trusted {
		if err := c.AddTrustedOrigin(o); err != nil {
			return nil, fmt.Errorf("origin %q: %w", o, err)
		}
	}
	c.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		web.WriteProblem(w, r, web.NewProblem(http.StatusForbidden, "cross-origin request refused"))
	}))
	return c, nil
}

// isCheckout reports whether r places an order (POST /api/v1/orders, however spelt).
func isCheckout(r *http.Request) bool {
	return r.Method == http.MethodPost && path.Clean("/"+r.URL.Path) == "/api/v1/orders"
}

// isShop reports whether a decoded request path is a cart or orders resource: those carry
// the session's signed identity. Like isAdmin it reads the cleaned path, whatever the spelling.
func isShop(p string) bool {
	// Catalog paths, nearly all requests, leave at once: a path that cleans to a shop path
	// holds "/cart" or "/orders" as it is, since cleaning only drops segments.
	if !strings.Contains(p, "/cart") && !strings.Contains(p, "/orders") {
		return false
	}
	p = path.Clean("/" + p)
	for _, prefix := range []string{"/api/v1/cart", "/api/v1/orders"} {
		if rest, ok := strings.CutPrefix(p, prefix); ok && (rest == "" || rest[0] == '/') {
			return true
		}
	}
	return false
}

type metrics struct {
	logins *prometheus.CounterVec
	limits *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flashcrowd_logins_total",
			Help: "Login attempts by result: ok, refused (wrong email or password), limited (429).",
		}, []string{"result"}),
		limits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flashcrowd_rate_limit_total",
			Help: "Requests the gateway's rate limits refused (result limited, a 429) or let through because Redis could not answer (result error), by limit: login or checkout.",
		}, []string{"limit", "result"}),
	}
	reg.MustRegister(m.logins, m.limits)
	return m
}

// guardAdmin sends every request whose decoded path is under /api/v1/admin through the bearer
// check, whatever spelling reached the router: chi matches routes on the raw path, so a route
// pattern alone would let /api/v1/%61dmin/… through. (The catalog checks the token as well.)
func guardAdmin(token string, next http.Handler) http.Handler {
	guarded := web.RequireBearer(token)(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isAdmin(r.URL.Path) {
			guarded.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// isAdmin reports whether a decoded request path names an admin resource, in any case and with
// any dot segments or repeated slashes.
func isAdmin(p string) bool {
	const prefix = "/api/v1/admin"
	p = path.Clean("/" + p)
	return len(p) >= len(prefix) && strings.EqualFold(p[:len(prefix)], prefix) &&
		(len(p) == len(prefix) || p[len(prefix)] == '/')
}
