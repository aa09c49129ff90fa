package main

import (
	"bytes"
	"context"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/flashcrowd/flashcrowd/foundation/config"
	"github.com/flashcrowd/flashcrowd/foundation/webtest"
)

// run starts the asynq server on Redis (miniredis speaks its protocol and runs its Lua) and
// serves /healthz until cancelled; the object store, SMTP and the database are only needed for
// tasks. Its scheduler enqueues the cache warm-up at once, and its server runs it: the catalog
// is asked for the featured list.
func TestRunServesUntilCancelled(t *testing.T) {
	rds := miniredis.RunT(t)
	rds.RequireUserAuth("worker", "dev-queue-password") // the ACL user, as the queue Redis has it
	warmed := make(chan string, 10)
	catalog := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { warmed <- r.URL.Path }))
	defer catalog.Close()
	addr := webtest.FreeAddr(t)
	env := map[string]string{
		"FLASHCROWD_ENV": "development", "HTTP_ADDR": addr, "LOG_LEVEL": "error",
		"REDIS_QUEUE_ADDR": rds.Addr(), "REDIS_QUEUE_PASSWORD": "dev-queue-password",
		"S3_ENDPOINT": "http://127.0.0.1:1", "S3_ACCESS_KEY": "worker", "S3_SECRET_KEY": "dev-minio-password",
		"TASK_DRAIN_TIMEOUT": "1s", "CATALOG_URL": catalog.URL, "CACHE_WARM_PERIOD": "1h",
		"WEBHOOK_URLS": "http://127.0.0.1:1/hook", "WEBHOOK_SECRET": "dev-webhook-secret",
	}
	webtest.Start(t, addr, func(ctx context.Context) error {
		return run(ctx, []string{"worker"}, func(k string) string { return env[k] }, &bytes.Buffer{})
	})
	select {
	case path := <-warmed:
		if path != "/api/v1/featured" {
			t.Errorf("warm-up asked for %s", path)
		}
	case <-time.After(10 * time.Second):
		t.Error("the catalog was never warmed")
	}
}

func TestRunRefusesDevelopmentSecretsOutsideDevelopment(t *testing.T) {
	env := map[string]string{"REDIS_QUEUE_PASSWORD": "dev-queue-password", "S3_ACCESS_KEY": "worker", "S3_SECRET_KEY": "short",
		"WEBHOOK_URLS": "http://webhook-sink:8080/hook", "WEBHOOK_SECRET": "dev-webhook-secret",
		"DATABASE_READ_URL": "postgres://flashcrowd_app:dev-app-password@pgbouncer:6432/flashcrowd_ro"}
	err := run(context.Background(), []string{"worker"}, func(k string) string { return env[k] }, &bytes.Buffer{})
	for _, name := range []string{"REDIS_QUEUE_PASSWORD", "S3_SECRET_KEY", "WEBHOOK_SECRET", "DATABASE_READ_URL"} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("run = %v, want an error naming %s", err, name)
		}
	}
}

// Each bad setting is named, in development too.
func TestBadConfig(t *testing.T) {
	base := map[string]string{"FLASHCROWD_ENV": "development", "REDIS_QUEUE_PASSWORD": "dev-queue-password",
		"S3_ACCESS_KEY": "worker", "S3_SECRET_KEY": "dev-minio-worker-password"}
	for name, bad := range map[string]map[string]string{
		"WEBHOOK_SECRET":      {"WEBHOOK_URLS": "http://sink:8080/hook"}, // URLs without a secret
		"WEBHOOK_URLS":        {"WEBHOOK_URLS": "http://sink:8080/hook,ftp://x/y", "WEBHOOK_SECRET": "dev-webhook-secret"},
		"WEBHOOK_MAX_RETRY":   {"WEBHOOK_MAX_RETRY": "-1"},
		"WEBHOOK_TIMEOUT":     {"WEBHOOK_TIMEOUT": "1m"},
		"SMTP_ADDR":           {"SMTP_ADDR": "mailpit"},
		"MAIL_FROM":           {"MAIL_FROM": "not an address"},
		"SALES_REPORT_PERIOD": {"SALES_REPORT_PERIOD": "500ms"},
		"CACHE_WARM_PERIOD":   {"CACHE_WARM_PERIOD": "soon"},
		"CATALOG_URL":         {"CATALOG_URL": "haproxy:8081"},
		"DB_MAX_CONNS":        {"DB_MAX_CONNS": "0"},
	} {
		t.Run(name, func(t *testing.T) {
			env := maps.Clone(base)
			maps.Copy(env, bad)
			var cfg Config
			if err := config.Load(&cfg, func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), name) {
				t.Fatalf("Load(%v) = %v, want an error naming %s", bad, err, name)
			}
		})
	}
	var cfg Config
	env := maps.Clone(base)
	env["SALES_REPORT_PERIOD"], env["CACHE_WARM_PERIOD"] = "0", "0" // 0 disables a job
	env["WEBHOOK_URLS"], env["WEBHOOK_SECRET"] = " http://a/hook, http://b/hook,", "dev-webhook-secret"
	if err := config.Load(&cfg, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.Webhooks.URLs, []string{"http://a/hook", "http://b/hook"}) {
		t.Errorf("WEBHOOK_URLS read as %q", cfg.Webhooks.URLs)
	}
}

func TestConfigIsDocumented(t *testing.T) {
	if err := config.SyncDoc("../../../docs/configuration.md", "worker", &Config{}, os.Getenv("UPDATE_DOCS") != ""); err != nil {
		t.Fatal(err)
	}
}

// The decode budget must hold the largest image the worker accepts, or that image would wait
// for ever.
func TestDecodeBudgetFitsTheLargestImage(t *testing.T) {
	env := map[string]string{"FLASHCROWD_ENV": "development", "REDIS_QUEUE_PASSWORD": "dev-queue-password",
		"S3_ACCESS_KEY": "worker", "S3_SECRET_KEY": "dev-minio-worker-password", "WORKER_DECODE_MEMORY_MIB": "239"}
	var cfg Config
	err := config.Load(&cfg, func(k string) string { return env[k] })
	if err == nil || !strings.Contains(err.Error(), "WORKER_DECODE_MEMORY_MIB") {
		t.Fatalf("Load = %v, want an error naming WORKER_DECODE_MEMORY_MIB", err)
	}
	env["WORKER_DECODE_MEMORY_MIB"] = "240"
	if err := config.Load(&cfg, func(k string) string { return env[k] }); err != nil {
		t.Fatalf("240 MiB holds the largest thumbnail (251 MB): %v", err)
	}
}
