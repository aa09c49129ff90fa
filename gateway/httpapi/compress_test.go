package httpapi

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
)

func TestCompression(t *testing.T) {
	compress, err := Compress()
	if err != nil {
		t.Fatal(err)
	}
	page := strings.Repeat("<p>Flashcrowd</p>\n", 200)
	h := compress(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/page":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			io.WriteString(w, page)
		case "/small":
			w.Header().Set("Content-Type", "application/problem+json")
			io.WriteString(w, `{"status":409,"detail":"sold out"}`)
		case "/image":
			w.Header().Set("Content-Type", "image/jpeg")
			io.WriteString(w, page) // compressible bytes, but an image is never recompressed
		}
	}))
	decode := map[string]func(io.Reader) (io.Reader, error){
		"br":   func(r io.Reader) (io.Reader, error) { return brotli.NewReader(r), nil },
		"gzip": func(r io.Reader) (io.Reader, error) { return gzip.NewReader(r) },
		"":     func(r io.Reader) (io.Reader, error) { return r, nil },
	}
	for _, tc := range []struct {
		path, accept, want string
	}{
		{"/page", "gzip, deflate, br", "br"},
		{"/page", "gzip", "gzip"},
		{"/page", "br;q=0, gzip", "gzip"},
		{"/page", "", ""},
		{"/page", "identity", ""},
		{"/small", "br, gzip", ""},
		{"/image", "br, gzip", ""},
	} {
		req := httptest.NewRequest(http.MethodGet, tc.path, nil)
		if tc.accept != "" {
			req.Header.Set("Accept-Encoding", tc.accept)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if got := rec.Header().Get("Content-Encoding"); got != tc.want {
			t.Errorf("%s with %q: Content-Encoding %q, want %q", tc.path, tc.accept, got, tc.want)
			continue
		}
		if !strings.Contains(rec.Header().Get("Vary"), "Accept-Encoding") {
			t.Errorf("%s with %q: Vary %q", tc.path, tc.accept, rec.Header().Get("Vary"))
		}
		r, err := decode[tc.want](bytes.NewReader(rec.Body.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(r)
		if err != nil {
			t.Fatalf("%s with %q: %v", tc.path, tc.accept, err)
		}
		if tc.path == "/page" && string(body) != page {
			t.Errorf("%s with %q: the body did not survive", tc.path, tc.accept)
		}
		if tc.want != "" && rec.Body.Len() >= len(page)/2 {
			t.Errorf("%s with %q: %d bytes for %d", tc.path, tc.accept, rec.Body.Len(), len(page))
		}
	}
}
