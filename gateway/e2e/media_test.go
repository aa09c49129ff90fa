//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"net/http"
	"strings"
	"testing"
)

func grant(t *testing.T, id int, contentType string) upload {
	t.Helper()
	r := call(t, http.MethodPost, fmt.Sprintf("/api/v1/admin/products/%d/image-uploads", id), map[string]string{"content_type": contentType}, admin())
	if r.status != http.StatusCreated {
		t.Fatalf("upload grant: %d %s", r.status, r.body)
	}
	var up upload
	r.json(t, &up)
	return up
}

// The grant's policy bounds the upload: the object store refuses a file over 10 MiB or of
// another type than granted, so nothing unbounded ever lands in the bucket.
func TestUploadGrantBoundsSizeAndType(t *testing.T) {
	up := grant(t, 6, "image/png")
	big := bytes.Repeat([]byte{0}, 10<<20+1)
	if r := up.post(t, big); r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "EntityTooLarge") {
		t.Errorf("10 MiB + 1 byte: %d %s, want 400 EntityTooLarge", r.status, r.body)
	}
	up.Fields["Content-Type"] = "text/html"
	if r := up.post(t, []byte("<script>alert(1)</script>")); r.status != http.StatusForbidden {
		t.Errorf("another content type: %d %s, want 403", r.status, r.body)
	}
}

// A deleted product's image and thumbnail go with it.
func TestDeletedProductTakesItsImages(t *testing.T) {
	r := call(t, http.MethodPost, "/api/v1/admin/products", map[string]any{
		"sku": "E2E-MEDIA-DEL", "name": "Doomed lamp", "price_cents": 100, "currency": "EUR", "stock": 1,
	}, admin())
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	var p product
	r.json(t, &p)
	up := grant(t, int(p.ID), "image/png")
	if r := up.post(t, tinyPNG(t)); r.status != http.StatusNoContent {
		t.Fatalf("upload: %d %s", r.status, r.body)
	}
	r = call(t, http.MethodPut, fmt.Sprintf("/api/v1/admin/products/%d/image", p.ID), map[string]string{"key": up.Key}, admin())
	if r.status != http.StatusOK {
		t.Fatalf("attach: %d %s", r.status, r.body)
	}
	r.json(t, &p)
	if r := call(t, http.MethodGet, p.ImageURL, nil, nil); r.status != http.StatusOK {
		t.Fatalf("GET %s: %d", p.ImageURL, r.status)
	}
	if r := call(t, http.MethodDelete, fmt.Sprintf("/api/v1/admin/products/%d", p.ID), nil, admin()); r.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	// The edge keeps an image 30 days in browsers but not itself (media is not in its cache).
	if r := call(t, http.MethodGet, p.ImageURL, nil, nil); r.status == http.StatusOK {
		t.Errorf("GET %s after delete: %d, want it gone", p.ImageURL, r.status)
	}
}

// s3As sends a signed S3 request to MinIO as user, with curl in the HAProxy container (on MinIO's
// network), and returns curl's output; format, when set, is curl's -w. The secrets are those
// compose hands minio-setup, which makes every user.
func s3As(t *testing.T, user, method, path, format string) string {
	t.Helper()
	var cfg struct {
		Services map[string]struct{ Environment map[string]string }
	}
	if err := json.Unmarshal([]byte(compose(t, "config", "--format", "json")), &cfg); err != nil {
		t.Fatal(err)
	}
	env := cfg.Services["minio-setup"].Environment
	secret := map[string]string{"root": env["MINIO_ROOT_PASSWORD"], "catalog": env["MINIO_CATALOG_PASSWORD"],
		"worker": env["MINIO_WORKER_PASSWORD"], "pgbackrest": env["MINIO_PGBACKREST_PASSWORD"]}[user]
	if user == "root" {
		user = env["MINIO_ROOT_USER"]
	}
	if secret == "" {
		t.Fatalf("no MinIO secret for %s in minio-setup's environment", user)
	}
	flags := "-fsS"
	if format != "" {
		flags = "-s -o /dev/null -w '" + format + "'"
	}
	return compose(t, "exec", "-T", "-e", "S3_USER="+user+":"+secret, "haproxy", "sh", "-c", fmt.Sprintf(
		`curl %s -X %s --aws-sigv4 aws:amz:us-east-1:s3 --user "$S3_USER" 'http://minio:9000%s'`, flags, method, path))
}

// Uploads never attached expire: the bucket carries the lifecycle rule (MinIO's scanner applies
// it after a day, too long for a test to wait). Asked as root.
func TestUnattachedUploadsExpire(t *testing.T) {
	out := s3As(t, "root", "GET", "/media?lifecycle", "")
	for _, want := range []string{"<Prefix>uploads/</Prefix>", "<Days>1</Days>", "<Status>Enabled</Status>"} {
		if !strings.Contains(out, want) {
			t.Errorf("lifecycle of media lacks %s:\n%s", want, out)
		}
	}
}

// The apps hold their own MinIO users, not root, and each may do only its own job.
func TestAppsUseLeastPrivilegeMinIOUsers(t *testing.T) {
	for _, c := range []struct{ user, method, path, want string }{
		{"catalog", "GET", "/media?list-type=2", "403"}, // no listing
		{"catalog", "GET", "/media?policy", "403"},      // no bucket settings
		{"worker", "GET", "/media/uploads/1/x.png", "403"},
		{"worker", "DELETE", "/media/products/1/x.png", "403"},
		{"worker", "GET", "/media?list-type=2", "403"},
		// The backups bucket is pgBackRest's alone, and pgBackRest's user has nothing else.
		{"catalog", "GET", "/backups?list-type=2", "403"},
		{"worker", "GET", "/backups/flashcrowd/backup/flashcrowd/backup.info", "403"},
		{"pgbackrest", "GET", "/media?list-type=2", "403"},
		{"pgbackrest", "GET", "/backups?list-type=2", "200"},
	} {
		if got := s3As(t, c.user, c.method, c.path, "%{http_code}"); got != c.want {
			t.Errorf("%s %s as %s: %s, want %s", c.method, c.path, c.user, got, c.want)
		}
	}
	// No service but MinIO and minio-setup is handed the root password.
	var cfg struct {
		Services map[string]struct{ Environment map[string]*string }
	}
	if err := json.Unmarshal([]byte(compose(t, "config", "--format", "json")), &cfg); err != nil {
		t.Fatal(err)
	}
	root := dotenv("MINIO_ROOT_PASSWORD")
	for name, svc := range cfg.Services {
		for k, v := range svc.Environment {
			if name != "minio" && name != "minio-setup" && v != nil && *v == root {
				t.Errorf("service %s gets MinIO's root password in %s", name, k)
			}
		}
	}
}

// tinyPNG is a 2×2 image.
func tinyPNG(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewRGBA(image.Rect(0, 0, 2, 2))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
