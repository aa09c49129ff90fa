//go:build e2e

package e2e

import (
	"context"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// inNetwork runs curl from the HAProxy container: a client inside the compose network, which
// reaches the internal frontend (:8081) and the catalogs directly. It returns the status code.
func inNetwork(t *testing.T, method, url string, header ...string) string {
	t.Helper()
	args := []string{"exec", "-T", "haproxy", "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", method, "--path-as-is"}
	if method != "GET" && method != "HEAD" {
		args = append(args, "-H", "Content-Type: application/json", "--data", `{"price_cents":1}`)
	}
	for _, h := range header {
		args = append(args, "-H", h)
	}
	return compose(t, append(args, url)...)
}

// The catalog authorizes its admin routes itself: a container on the private network gets 401
// without the token, through the internal load balancer and straight at a catalog, for every
// spelling of the path; with the token the same call succeeds.
func TestAdminRoutesAreAuthorizedByTheCatalogItself(t *testing.T) {
	for _, base := range []string{"http://haproxy:8081", "http://catalog:8080"} {
		for _, path := range []string{"/api/v1/admin/products/1", "/api/v1/%61dmin/products/1", "/api/v1/admin%2Fproducts/1",
			"/api//v1/admin/products/1", "/api/v1/./admin/products/1", "/api/v1/admin/products/%31"} {
			if got := inNetwork(t, "PATCH", base+path); got != "401" && got != "404" {
				t.Errorf("PATCH %s%s without a token: %s, want 401 (or 404 for a spelling no route has)", base, path, got)
			}
		}
	}
	if got := inNetwork(t, "PATCH", "http://catalog:8080/api/v1/admin/products/1", "Authorization: Bearer "+adminToken); got != "200" {
		t.Errorf("PATCH with the token: %s, want 200", got)
	}
	// From outside, through the edge and the gateway.
	for _, path := range []string{"/api/v1/%61dmin/products/1", "/api/v1/ADMIN/products/1", "/api//v1/admin/products/1"} {
		req, err := http.NewRequest("PATCH", baseURL+path, strings.NewReader(`{"price_cents":1}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusNotFound {
			t.Errorf("PATCH %s at the edge without a token: %d, want 401 or 404", path, resp.StatusCode)
		}
	}
}

// Outside development mode the development secrets of .env stop a service at start, with a
// message naming the variable.
func TestDevelopmentSecretsStopAServiceOutsideDevelopmentMode(t *testing.T) {
	for _, service := range []string{"gateway", "catalog", "worker"} {
		// A service that starts runs until the deadline kills it: that is a failure too.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		cmd := exec.CommandContext(ctx, "docker", "compose", "run", "--rm", "--no-deps", "-T", "-e", "FLASHCROWD_ENV=production", service)
		cmd.Dir = "../.."
		out, err := cmd.CombinedOutput()
		timedOut := ctx.Err() != nil
		cancel()
		if err == nil || timedOut {
			t.Errorf("%s started in production mode with the development secrets:\n%s", service, out)
			continue
		}
		if !strings.Contains(string(out), "development secret is accepted only with FLASHCROWD_ENV=development") {
			t.Errorf("%s: no message naming the development secret:\n%s", service, out)
		}
	}
}

// The public /readyz says ready or not, and nothing about the hosts behind it.
func TestPublicReadyzHidesItsDependencies(t *testing.T) {
	r := call(t, "GET", "/readyz", nil, nil)
	if r.status != http.StatusOK || strings.Contains(string(r.body), "haproxy") {
		t.Errorf("/readyz: %d %s", r.status, r.body)
	}
}
