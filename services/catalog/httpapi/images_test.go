package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/flashcrowd/flashcrowd/contracts/media"
	"github.com/flashcrowd/flashcrowd/foundation/web"
)

func TestImageUpload(t *testing.T) {
	for _, c := range []struct {
		name, path, body string
		status           int
	}{
		{"png", "/api/v1/admin/products/1/image-uploads", `{"content_type":"image/png"}`, 201},
		{"jpeg", "/api/v1/admin/products/1/image-uploads", `{"content_type":"image/jpeg"}`, 201},
		{"gif", "/api/v1/admin/products/1/image-uploads", `{"content_type":"image/gif"}`, 422},
		{"unknown product", "/api/v1/admin/products/999/image-uploads", `{"content_type":"image/png"}`, 404},
		{"padded id", "/api/v1/admin/products/01/image-uploads", `{"content_type":"image/png"}`, 404},
		{"bad id", "/api/v1/admin/products/one/image-uploads", `{"content_type":"image/png"}`, 400},
		{"malformed JSON", "/api/v1/admin/products/1/image-uploads", `{"content_type":`, 400},
		{"return path", "/api/v1/admin/products/1/image-uploads", `{"content_type":"image/png","return_path":"/admin/products/1/image"}`, 201},
		{"return to another host", "/api/v1/admin/products/1/image-uploads", `{"content_type":"image/png","return_path":"//evil.test/x"}`, 422},
		{"return to a backslash host", "/api/v1/admin/products/1/image-uploads", `{"content_type":"image/png","return_path":"/\\evil.test"}`, 422},
		{"return to a URL", "/api/v1/admin/products/1/image-uploads", `{"content_type":"image/png","return_path":"http://evil.test/"}`, 422},
		{"return path with a query", "/api/v1/admin/products/1/image-uploads", `{"content_type":"image/png","return_path":"/a?next=//evil.test"}`, 422},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := newAPI(t)
			w := a.admin("POST", c.path, c.body)
			checkAnswer(t, w, c.status, "Cache-Control", web.CachePrivate)
			if c.status != 201 {
				return
			}
			var up uploadView
			if err := json.Unmarshal(w.Body.Bytes(), &up); err != nil {
				t.Fatal(err)
			}
			// The grant is a POST policy: it fixes the key (a private upload, not a published
			// image), the content type and the size, which a presigned PUT could not bound.
			if !strings.HasPrefix(up.Key, media.UploadPrefix(1)) || up.Method != http.MethodPost ||
				up.URL != "http://media.test/media/" || up.ExpiresAt.IsZero() || up.Fields["key"] != up.Key ||
				!strings.HasPrefix(up.Fields["Content-Type"], "image/") ||
				up.Fields["content-length-range"] != fmt.Sprint(1, "-", media.MaxUploadBytes) {
				t.Errorf("upload grant %+v", up)
			}
			// A return path becomes the policy's redirect, on the shop's public address only.
			if want := strings.Contains(c.body, "return_path"); want != (up.Fields["success_action_redirect"] == "http://media.test/admin/products/1/image") {
				t.Errorf("success_action_redirect %q for %s", up.Fields["success_action_redirect"], c.body)
			}
		})
	}
}

func TestAttachImage(t *testing.T) {
	const key = "uploads/1/0123456789abcdef.png"
	const published = "products/1/0123456789abcdef.png"
	for _, c := range []struct {
		name      string
		path, key string
		uploaded  string // the uploaded object's content type; "" for none
		size      int64
		queueDown bool
		status    int
		want      []string
	}{
		{name: "attach", path: "/api/v1/admin/products/1/image", key: key, uploaded: "image/png", size: 1000, status: 200},
		{name: "another product's upload", path: "/api/v1/admin/products/1/image", key: "uploads/10/0123456789abcdef.png",
			uploaded: "image/png", size: 1000, status: 422},
		{name: "a published image", path: "/api/v1/admin/products/1/image", key: published, uploaded: "image/png", size: 1000, status: 422},
		{name: "a nested key", path: "/api/v1/admin/products/1/image", key: "uploads/1/x/y.png", uploaded: "image/png", size: 1000, status: 422},
		{name: "nothing uploaded", path: "/api/v1/admin/products/1/image", key: key, status: 422},
		{name: "not an image", path: "/api/v1/admin/products/1/image", key: key, uploaded: "text/html", size: 1000, status: 422},
		{name: "upload too large", path: "/api/v1/admin/products/1/image", key: key, uploaded: "image/png",
			size: media.MaxUploadBytes + 1, status: 413},
		{name: "unknown product", path: "/api/v1/admin/products/999/image", key: "uploads/999/0123456789abcdef.png",
			uploaded: "image/png", size: 1000, status: 404},
		{name: "bad id", path: "/api/v1/admin/products/-1/image", key: key, status: 400},
		{name: "thumbnail not queued", path: "/api/v1/admin/products/1/image", key: key, uploaded: "image/png", size: 1000,
			queueDown: true, status: 503, want: []string{"Retry-After", strconv.Itoa(retryAfter)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := newAPI(t)
			if c.uploaded != "" {
				a.objects.put(c.key, c.uploaded, c.size)
			}
			if c.queueDown {
				a.queue.Close()
			}
			w := a.admin("PUT", c.path, `{"key":"`+c.key+`"}`)
			checkAnswer(t, w, c.status, append([]string{"Cache-Control", web.CachePrivate}, c.want...)...)
			if c.status != 200 {
				return
			}
			var p productView
			if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
				t.Fatal(err)
			}
			if p.ImageKey != published || p.ImageURL != "http://media.test/media/"+published ||
				p.ThumbnailURL != "http://media.test/media/"+media.ThumbnailKey(published) {
				t.Errorf("product after attach: %+v", p)
			}
			if !a.objects.has(published) || a.objects.has(key) {
				t.Errorf("after attach: published %v, upload still there %v", a.objects.has(published), a.objects.has(key))
			}
			if !a.queue.Exists("asynq:{default}:t:thumbnail:" + published) {
				t.Errorf("no thumbnail task queued; keys %v", a.queue.Keys())
			}
			// Attaching the same upload again is harmless: it is already published.
			checkAnswer(t, a.admin("PUT", c.path, `{"key":"`+c.key+`"}`), 200)
		})
	}
}

// A product's images go when it gets a new one, and when it is deleted.
func TestImagesAreRemovedWithTheirProduct(t *testing.T) {
	a := newAPI(t)
	attach := func(name string) string {
		a.objects.put("uploads/1/"+name, "image/png", 1000)
		checkAnswer(t, a.admin("PUT", "/api/v1/admin/products/1/image", `{"key":"uploads/1/`+name+`"}`), 200)
		a.objects.put(media.ThumbnailKey("products/1/"+name), "image/jpeg", 100) // the worker's
		return "products/1/" + name
	}
	first := attach("aaaaaaaaaaaaaaaa.png")
	second := attach("bbbbbbbbbbbbbbbb.png")
	if a.objects.has(first) || a.objects.has(media.ThumbnailKey(first)) || !a.objects.has(second) {
		t.Errorf("after a second image: first %v (thumb %v), second %v", a.objects.has(first), a.objects.has(media.ThumbnailKey(first)), a.objects.has(second))
	}
	checkAnswer(t, a.admin("DELETE", "/api/v1/admin/products/1", ""), 204)
	if a.objects.has(second) || a.objects.has(media.ThumbnailKey(second)) {
		t.Errorf("after delete: image %v, thumbnail %v", a.objects.has(second), a.objects.has(media.ThumbnailKey(second)))
	}
	// The edge caches media: its copies go too.
	for _, key := range []string{first, media.ThumbnailKey(first), second, media.ThumbnailKey(second)} {
		if n := a.edge.count("PURGE /media/" + key); n != 1 {
			t.Errorf("PURGE /media/%s sent %d times, want once", key, n)
		}
	}
}
