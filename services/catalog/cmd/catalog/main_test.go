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
	if err := config.SyncDoc("../../../../docs/configuration.md", "catalog", &Config{}, update); err != nil {
		t.Error(err)
	}
	if err := config.SyncDoc("../../../../docs/configuration.md", "catalog-migrate", &MigrateConfig{}, update); err != nil {
		t.Error(err)
	}
}

func TestRunRefusesDevelopmentSecretsOutsideDevelopment(t *testing.T) {
	env := map[string]string{
		"FLASHCROWD_ENV": "staging", "ADMIN_TOKEN": "dev-admin-token-change-me",
		"CATALOG_INTERNAL_TOKEN": "dev-internal-token-change-me",
		"DATABASE_URL":           "postgres://flashcrowd_app:dev-app-password@pgbouncer:6432/flashcrowd",
		"REDIS_CACHE_PASSWORD":   "0123456789abcdef0123", "REDIS_QUEUE_PASSWORD": "tooshort",
		"S3_ACCESS_KEY": "catalog", "S3_SECRET_KEY": "0123456789abcdef0123",
	}
	for _, cmd := range []string{"serve", "healthcheck"} {
		err := run(context.Background(), []string{"catalog", cmd}, func(k string) string { return env[k] }, &bytes.Buffer{})
		for _, name := range []string{"ADMIN_TOKEN", "CATALOG_INTERNAL_TOKEN", "DATABASE_URL", "REDIS_QUEUE_PASSWORD"} {
			if err == nil || !strings.Contains(err.Error(), name) {
				t.Errorf("%s: run = %v, want an error naming %s", cmd, err, name)
			}
		}
	}
	env = map[string]string{"MIGRATE_DATABASE_URL": "postgres://flashcrowd_owner:dev-owner-password@haproxy:5432/flashcrowd"}
	err := run(context.Background(), []string{"catalog", "migrate"}, func(k string) string { return env[k] }, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "MIGRATE_DATABASE_URL") {
		t.Errorf("migrate: run = %v, want an error naming MIGRATE_DATABASE_URL", err)
	}
}

// SERVICE_VERSION goes into a header and a load balancer's report: a label, not free text.
func TestConfigRefusesAVersionThatIsNotALabel(t *testing.T) {
	for version, ok := range map[string]bool{"stable": true, "canary": true, "v1.2.3-rc_1": true,
		"two words": false, "a\r\nX-Evil: 1": false, strings.Repeat("v", 33): false} {
		c := Config{Version: version, DBMaxConns: 10, CacheTTL: 600e9, CacheProductTTL: 3600e9, CacheNotFoundTTL: 10e9, CacheL1TTL: 5e9, CacheL1Size: 10}
		if err := c.Validate(); (err == nil) != ok {
			t.Errorf("SERVICE_VERSION=%q: Validate = %v, want ok=%v", version, err, ok)
		}
	}
}
