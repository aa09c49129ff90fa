package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

// The browse mix's checks must pass against the ceiling, or k6 would do other work there.
func TestAnswersAreShapedLikeTheCatalogs(t *testing.T) {
	h := handler()
	get := func(target string, v any) int {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", target, nil))
		if w.Code == http.StatusOK {
			if err := json.Unmarshal(w.Body.Bytes(), v); err != nil {
				t.Fatalf("%s: %v in %s", target, err, w.Body)
			}
		}
		return w.Code
	}
	var p struct {
		ID   int64  `json:"id"`
		Name string `json:"name"`
	}
	if code := get("/api/v1/products/4711", &p); code != 200 || p.ID != 4711 || p.Name == "" {
		t.Fatalf("product: %d %+v", code, p)
	}
	var page struct {
		Items      []json.RawMessage `json:"items"`
		NextCursor string            `json:"next_cursor"`
	}
	for _, target := range []string{"/api/v1/products?category=kitchen&limit=20", "/api/v1/search?q=kettle", "/api/v1/featured"} {
		if code := get(target, &page); code != 200 || len(page.Items) != 20 || page.NextCursor == "" {
			t.Fatalf("%s: %d, %d items", target, code, len(page.Items))
		}
	}
	if code := get("/api/v1/products/x", &p); code != http.StatusNotFound {
		t.Fatalf("a product id that is no number: %d, want 404", code)
	}
}
