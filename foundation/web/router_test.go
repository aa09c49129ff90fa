package web

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRouterOperationalRoutes(t *testing.T) {
	var healthy bool
	r := NewRouter(slog.New(slog.NewTextHandler(io.Discard, nil)), NewRegistry(), map[string]Check{
		"database": func(context.Context) error {
			if healthy {
				return nil
			}
			return errors.New("dial tcp postgres-primary:5432: connection refused")
		},
	})
	r.Method(http.MethodGet, "/boom", HandlerFunc(func(http.ResponseWriter, *http.Request) error {
		return NewProblem(http.StatusConflict, "taken")
	}))
	get := func(method, path string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
		return rec
	}
	if rec := get("GET", "/healthz"); rec.Code != 200 {
		t.Errorf("/healthz: %d", rec.Code)
	}
	rec := get("GET", "/readyz")
	if rec.Code != 503 || strings.Contains(rec.Body.String(), "postgres") || strings.Contains(rec.Body.String(), "database") {
		t.Errorf("/readyz while failing: %d %s (must not name the dependency or its host)", rec.Code, rec.Body)
	}
	healthy = true
	if rec := get("GET", "/readyz"); rec.Code != 200 {
		t.Errorf("/readyz: %d", rec.Code)
	}
	if rec := get("GET", "/metrics"); rec.Code != 200 || !strings.Contains(rec.Body.String(), "go_goroutines") {
		t.Errorf("/metrics: %d", rec.Code)
	}
	if rec := get("GET", "/boom"); rec.Code != 409 || rec.Header().Get("Content-Type") != "application/problem+json" {
		t.Errorf("/boom: %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	if rec := get("GET", "/nowhere"); rec.Code != 404 || rec.Header().Get("Content-Type") != "application/problem+json" {
		t.Errorf("/nowhere: %d", rec.Code)
	}
	if rec := get("POST", "/healthz"); rec.Code != 405 || rec.Header().Get("Content-Type") != "application/problem+json" {
		t.Errorf("POST /healthz: %d", rec.Code)
	}
}

func TestRequireBearer(t *testing.T) {
	h := RequireBearer("0123456789abcdef-token")(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	for header, want := range map[string]int{
		"": 401, "Bearer": 401, "Bearer wrong": 401, "Basic 0123456789abcdef-token": 401,
		"Bearer 0123456789abcdef-token": 204,
	} {
		r := httptest.NewRequest("PATCH", "/", nil)
		if header != "" {
			r.Header.Set("Authorization", header)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code != want {
			t.Errorf("Authorization %q: %d, want %d", header, rec.Code, want)
		}
		if want == 401 && rec.Header().Get("WWW-Authenticate") == "" {
			t.Errorf("Authorization %q: no WWW-Authenticate", header)
		}
	}
	// An empty configured token must never admit anyone.
	open := RequireBearer("")(http.NotFoundHandler())
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer ")
	rec := httptest.NewRecorder()
	open.ServeHTTP(rec, r)
	if rec.Code != 401 {
		t.Errorf("empty token admitted: %d", rec.Code)
	}
}
