// Package httpapi is the gateway's HTTP API: the public face of the platform behind HAProxy. It
// authenticates admin calls and forwards API calls to the internal services over one shared,
// tuned connection pool.
package httpapi

import (
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/flashcrowd/flashcrowd/foundation/web"
)

// Deps is everything the gateway needs.
type Deps struct {
	Log        *slog.Logger
	Registry   *prometheus.Registry
	Upstream   *url.URL // HAProxy's internal frontend, which balances over the catalog instances
	Transport  http.RoundTripper
	AdminToken string
}

// NewServer returns the gateway's handler.
func NewServer(d Deps) http.Handler {
	proxy := newProxy(d.Upstream, d.Transport)
	r := web.NewRouter(d.Log, d.Registry, map[string]web.Check{"upstream": upstreamCheck(d.Upstream, d.Transport)})
	r.Handle("/api/*", guardAdmin(d.AdminToken, proxy))
	return r
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
