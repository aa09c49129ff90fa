package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/flashcrowd/flashcrowd/foundation/config"
)

func TestConfigIsDocumented(t *testing.T) {
	update := os.Getenv("UPDATE_DOCS") != ""
	if err := config.SyncDoc("../../../../docs/configuration.md", "orders", &Config{}, update); err != nil {
		t.Error(err)
	}
	if err := config.SyncDoc("../../../../docs/configuration.md", "orders-migrate", &MigrateConfig{}, update); err != nil {
		t.Error(err)
	}
}

// validEnv is a development configuration that loads.
func validEnv() map[string]string {
	return map[string]string{
		"FLASHCROWD_ENV":         "development",
		"DATABASE_URL":           "postgres://flashcrowd_app:dev-app-password@pgbouncer:6432/flashcrowd",
		"REDIS_CARTS_PASSWORD":   "dev-carts-password",
		"REDIS_QUEUE_PASSWORD":   "dev-queue-password",
		"IDENTITY_KEY":           "dev-identity-key-0123456789abcdef0123",
		"CATALOG_INTERNAL_TOKEN": "dev-catalog-internal-token",
	}
}

func runWith(cmd string, env map[string]string) error {
	return run(context.Background(), []string{"orders", cmd}, func(k string) string { return env[k] }, &bytes.Buffer{})
}

func TestConfigLoads(t *testing.T) {
	var cfg Config
	if err := config.Load(&cfg, func(k string) string { return validEnv()[k] }); err != nil {
		t.Fatal(err)
	}
	if cfg.CatalogURL.String() != "http://haproxy:8081" || cfg.OrderCancelWindow.Minutes() != 30 || cfg.CartTTL.Hours() != 168 {
		t.Errorf("defaults: %+v", cfg)
	}
}

func TestRunRefusesDevelopmentSecretsOutsideDevelopment(t *testing.T) {
	env := validEnv()
	env["FLASHCROWD_ENV"] = "staging"
	env["REDIS_CARTS_PASSWORD"] = "0123456789abcdef0123"
	env["REDIS_QUEUE_PASSWORD"] = "tooshort"
	for _, cmd := range []string{"serve", "healthcheck"} {
		err := runWith(cmd, env)
		for _, name := range []string{"DATABASE_URL", "REDIS_QUEUE_PASSWORD", "IDENTITY_KEY", "CATALOG_INTERNAL_TOKEN"} {
			if err == nil || !strings.Contains(err.Error(), name) {
				t.Errorf("%s: run = %v, want an error naming %s", cmd, err, name)
			}
		}
		if err != nil && strings.Contains(err.Error(), "REDIS_CARTS_PASSWORD") {
			t.Errorf("%s: a good secret refused: %v", cmd, err)
		}
	}
	env = map[string]string{"MIGRATE_DATABASE_URL": "postgres://flashcrowd_owner:dev-owner-password@haproxy:5432/flashcrowd"}
	if err := runWith("migrate", env); err == nil || !strings.Contains(err.Error(), "MIGRATE_DATABASE_URL") {
		t.Errorf("migrate: run = %v, want an error naming MIGRATE_DATABASE_URL", err)
	}
}

func TestRunFailsClearlyOnBadConfig(t *testing.T) {
	tests := []struct{ key, value, want string }{
		{"DATABASE_URL", "", "DATABASE_URL"},
		{"IDENTITY_KEY", "dev-short", "IDENTITY_KEY"},
		{"CATALOG_URL", "haproxy:8081", "CATALOG_URL"},
		{"CATALOG_URL", "http://haproxy:8081/api", "CATALOG_URL"},
		{"CART_TTL", "soon", "CART_TTL"},
		{"CART_TTL", "1s", "CART_TTL"},
		{"ORDER_CANCEL_WINDOW", "-1m", "ORDER_CANCEL_WINDOW"},
		{"OUTBOX_POLL_INTERVAL", "1ms", "OUTBOX_POLL_INTERVAL"},
		{"DB_MAX_CONNS", "0", "DB_MAX_CONNS"},
		{"DB_MAX_CONNS", "many", "DB_MAX_CONNS"},
		{"LOG_LEVEL", "loud", "log level"},
	}
	for _, tt := range tests {
		env := validEnv()
		env[tt.key] = tt.value
		if err := runWith("serve", env); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s=%q: run = %v, want an error naming %s", tt.key, tt.value, err, tt.want)
		}
	}
	if err := runWith("launch", validEnv()); err == nil || !strings.Contains(err.Error(), "unknown command") {
		t.Errorf("unknown command: %v", err)
	}
}
