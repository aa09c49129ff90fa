//go:build integration

package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"testing"

	"github.com/flashcrowd/flashcrowd/foundation/webtest"
)

// run serves the real API on the stack's PgBouncer and Redis (make integration passes their
// URLs and passwords) until its context is cancelled.
func TestRunServesUntilCancelled(t *testing.T) {
	addr := webtest.FreeAddr(t)
	env := map[string]string{"FLASHCROWD_ENV": "development", "HTTP_ADDR": addr, "LOG_LEVEL": "error",
		"ADMIN_TOKEN": "dev-admin-token-for-run-test", "CATALOG_INTERNAL_TOKEN": "dev-internal-token-for-run-test", "S3_ACCESS_KEY": "catalog", "S3_SECRET_KEY": "dev-unused",
		"CACHE_PRELOAD_MAX": "0", // the stack's own catalogs keep Redis preloaded
		// The catalog's login on the queue Redis, under its .env name, as compose passes it.
		"REDIS_QUEUE_PASSWORD": os.Getenv("REDIS_QUEUE_CATALOG_PASSWORD")}
	getenv := func(k string) string {
		if v, ok := env[k]; ok {
			return v
		}
		return os.Getenv(k) // DATABASE_URL, DATABASE_READ_URL, REDIS_ADDR, REDIS_CACHE_USER and _PASSWORD, REDIS_QUEUE_ADDR
	}
	webtest.Start(t, addr, func(ctx context.Context) error {
		return run(ctx, []string{"catalog"}, getenv, &bytes.Buffer{})
	})
	for path, want := range map[string]int{"/readyz": 200, "/api/v1/products/1": 200, "/api/v1/categories": 200} {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", path, resp.StatusCode, want)
		}
	}
}
