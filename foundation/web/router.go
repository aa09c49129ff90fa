package web

import (
	"log/slog"
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// NewRegistry returns a Prometheus registry with the Go runtime and process collectors: each
// binary registers its own metrics on it and serves it at /metrics through NewRouter.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// NewRouter is where every binary's HTTP API starts: the middleware stack, problem+json answers
// for unknown routes and methods, and the operational routes /healthz (liveness), /readyz
// (readiness: every check in ready passes) and /metrics (reg).
func NewRouter(log *slog.Logger, reg *prometheus.Registry, ready map[string]Check) chi.Router {
	r := chi.NewRouter()
	r.Use(Stack(log, NewMetrics(reg)))
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		WriteProblem(w, r, NewProblem(http.StatusNotFound, "no such resource"))
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		WriteProblem(w, r, NewProblem(http.StatusMethodNotAllowed, "method %s not allowed here", r.Method))
	})
	r.Method(http.MethodGet, "/healthz", Healthz())
	r.Method(http.MethodGet, "/readyz", Readyz(ready))
	r.Method(http.MethodGet, "/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return r
}
