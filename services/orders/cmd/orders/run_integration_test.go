//go:build integration

package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/flashcrowd/flashcrowd/contracts/identity"
	"github.com/flashcrowd/flashcrowd/foundation/webtest"
)

// run serves the real API on the stack's PgBouncer and Redis (make integration passes their
// URLs and passwords) until its context is cancelled.
func TestRunServesUntilCancelled(t *testing.T) {
	addr := webtest.FreeAddr(t)
	key := "dev-identity-key-for-the-run-test-0123456789"
	env := map[string]string{"FLASHCROWD_ENV": "development", "HTTP_ADDR": addr, "LOG_LEVEL": "error",
		"IDENTITY_KEY": key, "CATALOG_INTERNAL_TOKEN": "dev-unused",
		// The orders service's login on the queue Redis, under its .env name, as compose passes it.
		"REDIS_QUEUE_PASSWORD": os.Getenv("REDIS_QUEUE_ORDERS_PASSWORD")}
	getenv := func(k string) string {
		if v, ok := env[k]; ok {
			return v
		}
		return os.Getenv(k) // DATABASE_URL, REDIS_ADDR, REDIS_CARTS_PASSWORD, REDIS_QUEUE_ADDR, CATALOG_URL
	}
	webtest.Start(t, addr, func(ctx context.Context) error {
		return run(ctx, []string{"orders"}, getenv, &bytes.Buffer{})
	})
	token, err := identity.Sign([]byte(key), identity.Identity{Session: "run-test-session"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		path, token string
		want        int
	}{
		{"/readyz", "", 200},
		{"/api/v1/cart", "", 401},
		{"/api/v1/cart", token, 200},
		{"/api/v1/orders", token, 200},
	} {
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+tt.path, nil)
		if tt.token != "" {
			req.Header.Set(identity.Header, tt.token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("GET %s: %d, want %d", tt.path, resp.StatusCode, tt.want)
		}
	}
}
