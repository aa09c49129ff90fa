package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"

	"github.com/flashcrowd/flashcrowd/foundation/config"
	"github.com/flashcrowd/flashcrowd/foundation/webtest"
)

// run starts the asynq server on Redis (miniredis speaks its protocol and runs its Lua) and
// serves /healthz until cancelled; the object store is only needed for tasks.
func TestRunServesUntilCancelled(t *testing.T) {
	rds := miniredis.RunT(t)
	rds.RequireUserAuth("queue", "dev-queue-password")
	addr := webtest.FreeAddr(t)
	env := map[string]string{
		"FLASHCROWD_ENV": "development", "HTTP_ADDR": addr, "LOG_LEVEL": "error",
		"REDIS_ADDR": rds.Addr(), "REDIS_QUEUE_PASSWORD": "dev-queue-password",
		"S3_ENDPOINT": "http://127.0.0.1:1", "S3_ACCESS_KEY": "worker", "S3_SECRET_KEY": "dev-minio-password",
		"TASK_DRAIN_TIMEOUT": "1s",
	}
	webtest.Start(t, addr, func(ctx context.Context) error {
		return run(ctx, []string{"worker"}, func(k string) string { return env[k] }, &bytes.Buffer{})
	})
}

func TestRunRefusesDevelopmentSecretsOutsideDevelopment(t *testing.T) {
	env := map[string]string{"REDIS_QUEUE_PASSWORD": "dev-queue-password", "S3_ACCESS_KEY": "worker", "S3_SECRET_KEY": "short"}
	err := run(context.Background(), []string{"worker"}, func(k string) string { return env[k] }, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "REDIS_QUEUE_PASSWORD") || !strings.Contains(err.Error(), "S3_SECRET_KEY") {
		t.Fatalf("run = %v, want an error naming REDIS_QUEUE_PASSWORD and S3_SECRET_KEY", err)
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
