package web

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestRespondCacheable(t *testing.T) {
	get := func(inm string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		if inm != "" {
			r.Header.Set("If-None-Match", inm)
		}
		w := httptest.NewRecorder()
		RespondCacheable(w, r, CachePublic, map[string]int{"price": 5})
		return w
	}
	first := get("")
	etag := first.Header().Get("ETag")
	if first.Code != 200 || len(etag) != 34 || first.Header().Get("Cache-Control") != CachePublic {
		t.Fatalf("first: %d etag %q cc %q", first.Code, etag, first.Header().Get("Cache-Control"))
	}
	for _, inm := range []string{etag, "W/" + etag, `"other", ` + etag, "*"} {
		if w := get(inm); w.Code != http.StatusNotModified || w.Body.Len() != 0 || w.Header().Get("ETag") != etag {
			t.Errorf("If-None-Match %s: %d with %d bytes", inm, w.Code, w.Body.Len())
		}
	}
	if w := get(`"stale"`); w.Code != 200 || w.Body.String() != first.Body.String() {
		t.Errorf("stale tag: %d", w.Code)
	}
}

func TestMatch(t *testing.T) {
	v := map[string]int{"price": 5}
	etag, err := ETag(v)
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	RespondCacheable(w, httptest.NewRequest(http.MethodGet, "/", nil), CachePublic, v)
	if got := w.Header().Get("ETag"); got != etag {
		t.Fatalf("ETag(v) = %s, response has %s", etag, got)
	}
	for header, want := range map[string]bool{
		etag: true, "*": true, `"other", ` + etag: true,
		"W/" + etag: false, `"other"`: false, "": false, etag[:10]: false,
	} {
		if got := Match(header, etag); got != want {
			t.Errorf("Match(%q) = %v, want %v", header, got, want)
		}
	}
}
