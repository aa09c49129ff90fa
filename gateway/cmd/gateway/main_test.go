package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/flashcrowd/flashcrowd/foundation/config"
	"github.com/flashcrowd/flashcrowd/foundation/webtest"
)

func TestRunServesUntilCancelled(t *testing.T) {
	addr := webtest.FreeAddr(t)
	env := map[string]string{
		"FLASHCROWD_ENV": "development", "HTTP_ADDR": addr, "ADMIN_TOKEN": "dev-admin-token-change-me",
		"UPSTREAM_URL": "http://127.0.0.1:1", "LOG_LEVEL": "error",
	}
	var out bytes.Buffer
	webtest.Start(t, addr, func(ctx context.Context) error {
		return run(ctx, []string{"gateway"}, func(k string) string { return env[k] }, &out)
	})
	if err := run(context.Background(), []string{"gateway", "healthcheck"}, func(k string) string { return env[k] }, &out); err != nil {
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
}

func TestRunRefusesDevelopmentSecretsOutsideDevelopment(t *testing.T) {
	env := map[string]string{"FLASHCROWD_ENV": "production", "ADMIN_TOKEN": "dev-admin-token-change-me"}
	err := run(context.Background(), []string{"gateway"}, func(k string) string { return env[k] }, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "ADMIN_TOKEN") {
		t.Fatalf("run = %v, want an error naming ADMIN_TOKEN", err)
	}
}

// The gateway's table in docs/configuration.md is Config's (UPDATE_DOCS=1 rewrites it).
func TestConfigIsDocumented(t *testing.T) {
	if err := config.SyncDoc("../../../docs/configuration.md", "gateway", &Config{}, os.Getenv("UPDATE_DOCS") != ""); err != nil {
		t.Fatal(err)
	}
}

func TestRunRefusesABadUpstream(t *testing.T) {
	for _, upstream := range []string{"haproxy:8081", "ftp://haproxy:8081", "http://%zz"} {
		env := map[string]string{"FLASHCROWD_ENV": "development", "ADMIN_TOKEN": "dev-admin-token-change-me", "UPSTREAM_URL": upstream}
		err := run(context.Background(), []string{"gateway"}, func(k string) string { return env[k] }, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), "UPSTREAM_URL") {
			t.Errorf("UPSTREAM_URL=%s: run = %v, want an error naming UPSTREAM_URL", upstream, err)
		}
	}
}
