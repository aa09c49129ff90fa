package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"

	"github.com/flashcrowd/flashcrowd/foundation/config"
	"github.com/flashcrowd/flashcrowd/foundation/webtest"
	"github.com/flashcrowd/flashcrowd/gateway/session"
)

// devEnv is a development configuration as .env gives it, with overrides.
func devEnv(overrides map[string]string) func(string) string {
	env := map[string]string{
		"FLASHCROWD_ENV": "development", "ADMIN_TOKEN": "dev-admin-token-change-me",
		"REDIS_SESSIONS_PASSWORD": "dev-sessions-password", "IDENTITY_KEY": "dev-identity-key-0123456789abcdef",
		"UPSTREAM_URL": "http://127.0.0.1:1", "LOG_LEVEL": "error",
	}
	for k, v := range overrides {
		env[k] = v
	}
	return func(k string) string { return env[k] }
}

func TestRunServesUntilCancelled(t *testing.T) {
	addr := webtest.FreeAddr(t)
	mr := miniredis.RunT(t)
	mr.RequireUserAuth("sessions", "dev-sessions-password") // the ACL user, as Redis has it
	getenv := devEnv(map[string]string{"HTTP_ADDR": addr, "REDIS_ADDR": mr.Addr(), "HTTP_UNREADY_DELAY": "0s"})
	var out bytes.Buffer
	webtest.Start(t, addr, func(ctx context.Context) error {
		return run(ctx, []string{"gateway"}, getenv, &out)
	})
	if err := run(context.Background(), []string{"gateway", "healthcheck"}, getenv, &out); err != nil {
		t.Errorf("healthcheck: %v", err)
	}
	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/readyz with no upstream: %d, want 503", resp.StatusCode)
	}

	// A cart write with a session cookie looks the session up in Redis, logged in as user
	// sessions (a failed login would be a 503), before the (absent) upstream fails it: a 502,
	// and no session stored for a write that was not made.
	cookie, _ := session.New()
	req, _ := http.NewRequest(http.MethodPut, "http://"+addr+"/api/v1/cart/items/1", strings.NewReader(`{"quantity":1}`))
	req.Header.Set("Content-Type", "application/json")
	req.AddCookie(&http.Cookie{Name: session.CookieName, Value: cookie})
	before := mr.CommandCount()
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway || len(resp.Cookies()) != 0 {
		t.Errorf("cart write with no upstream: %d, cookies %v; want 502 and no cookie", resp.StatusCode, resp.Cookies())
	}
	if mr.CommandCount() == before {
		t.Error("the session was not looked up in Redis")
	}
	if keys := mr.Keys(); len(keys) != 0 {
		t.Errorf("Redis keys %q, want none", keys)
	}
}

func TestRunRefusesDevelopmentSecretsOutsideDevelopment(t *testing.T) {
	err := run(context.Background(), []string{"gateway"}, devEnv(map[string]string{"FLASHCROWD_ENV": "production"}), &bytes.Buffer{})
	for _, name := range []string{"ADMIN_TOKEN", "REDIS_SESSIONS_PASSWORD", "IDENTITY_KEY"} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("run = %v, want an error naming %s", err, name)
		}
	}
}

// The gateway's table in docs/configuration.md is Config's (UPDATE_DOCS=1 rewrites it).
func TestConfigIsDocumented(t *testing.T) {
	if err := config.SyncDoc("../../../docs/configuration.md", "gateway", &Config{}, os.Getenv("UPDATE_DOCS") != ""); err != nil {
		t.Fatal(err)
	}
}

func TestRunRefusesBadSettings(t *testing.T) {
	tests := []struct{ name, value string }{
		{"UPSTREAM_URL", "haproxy:8081"},
		{"UPSTREAM_URL", "ftp://haproxy:8081"},
		{"UPSTREAM_URL", "http://%zz"},
		{"IDENTITY_KEY", "dev-too-short-for-hmac-sha256"}, // even in development: signing would fail
		{"REDIS_SESSIONS_PASSWORD", ""},
		{"SESSION_TTL", "30s"},
		{"SESSION_TTL", "forever"},
		{"PUBLIC_ORIGINS", "http://127.0.0.1:8080,127.0.0.1:8443"},
		{"PUBLIC_ORIGINS", "https://shop.example/path"},
		{"LOGIN_LIMIT_PER_ACCOUNT", "0"},
		{"LOGIN_LIMIT_PER_CLIENT", "-3"},
		{"LOGIN_LIMIT_PER_CLIENT", "many"},
	}
	for _, tt := range tests {
		getenv := devEnv(map[string]string{tt.name: tt.value})
		err := run(context.Background(), []string{"gateway"}, getenv, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), tt.name) {
			t.Errorf("%s=%q: run = %v, want an error naming %s", tt.name, tt.value, err, tt.name)
		}
	}
}
