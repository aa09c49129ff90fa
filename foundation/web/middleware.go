package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"regexp"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// RequestIDHeader carries a request's id from the edge through every hop and back to the client.
const RequestIDHeader = "X-Request-ID"

type ctxKey int

const (
	requestIDKey ctxKey = iota
	loggerKey
)

// RequestID returns the id the middleware gave the request, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// Log returns the request-scoped logger (carrying the request id), or slog.Default outside a request.
func Log(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(loggerKey).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}

// Metrics are the HTTP metrics every service exports.
type Metrics struct {
	duration *prometheus.HistogramVec
	inFlight prometheus.Gauge
}

// NewMetrics registers the HTTP metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := promauto.With(reg)
	return &Metrics{
		duration: f.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "flashcrowd_http_request_duration_seconds",
			Help:    "Time to serve an HTTP request, by route pattern, method and status code.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "method", "code"}),
		inFlight: f.NewGauge(prometheus.GaugeOpts{
			Name: "flashcrowd_http_requests_in_flight",
			Help: "HTTP requests being served now.",
		}),
	}
}

// Stack is the middleware every service puts first on its router, outermost first:
// request id, panic recovery, metrics and an access log (debug level; server errors at error level).
func Stack(logger *slog.Logger, m *Metrics) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			id := requestIDFrom(r)
			log := logger.With("request_id", id)
			ctx := context.WithValue(context.WithValue(r.Context(), requestIDKey, id), loggerKey, log)
			r = r.WithContext(ctx)
			w.Header().Set(RequestIDHeader, id)

			ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
			m.inFlight.Inc()
			defer func() {
				m.inFlight.Dec()
				if rec := recover(); rec != nil {
					if rec == http.ErrAbortHandler {
						panic(rec) // the server's own signal to abort the response
					}
					log.Error("panic", "panic", rec, "stack", string(debug.Stack()))
					if ww.Status() == 0 {
						WriteProblem(ww, r, NewProblem(http.StatusInternalServerError, "the server could not complete the request"))
					}
				}
				status := ww.Status()
				if status == 0 {
					status = http.StatusOK
				}
				route := chi.RouteContext(r.Context()).RoutePattern()
				if route == "" {
					route = "unmatched" // keeps label cardinality bounded
				}
				elapsed := time.Since(start)
				m.duration.WithLabelValues(route, r.Method, strconv.Itoa(status)).Observe(elapsed.Seconds())
				// One line per request costs real CPU at load-test rates: debug level, except server errors.
				level := slog.LevelDebug
				if status >= 500 {
					level = slog.LevelError
				}
				log.Log(r.Context(), level, "request", "method", r.Method, "path", r.URL.Path, "route", route,
					"status", status, "bytes", ww.BytesWritten(), "duration_ms", elapsed.Milliseconds())
			}()
			next.ServeHTTP(ww, r)
		})
	}
}

var validRequestID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// requestIDFrom keeps a well-formed id set by an earlier hop and makes a new one otherwise.
func requestIDFrom(r *http.Request) string {
	if id := r.Header.Get(RequestIDHeader); validRequestID.MatchString(id) {
		return id
	}
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	id := hex.EncodeToString(b[:])
	r.Header.Set(RequestIDHeader, id) // so a proxying service forwards it
	return id
}

// Announce sets header to value on every answer: which instance served it, so a learner sees
// the load balancer at work (X-Served-By) and a test can find the container that answered.
// Wrap the whole router with it: chi wants all middleware before the routes, and 404s and
// /healthz must carry the header too.
func Announce(header, value string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set(header, value)
			next.ServeHTTP(w, r)
		})
	}
}
