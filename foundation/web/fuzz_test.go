package web

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzDecode feeds arbitrary bodies to the one request decoder every handler uses: whatever
// arrives, it must answer nil or a 4xx problem, never panic or ask for a 5xx.
func FuzzDecode(f *testing.F) {
	for _, seed := range []string{`{"name":"x","price":3}`, `{"price":-1}`, `{"name":`, `[]`, `null`,
		`{"name":"x"} {}`, "{\"name\":\"\xff\"}", `{"price":1e400}`, `{"unknown":1}`, ``} {
		f.Add([]byte(seed), "application/json")
	}
	f.Add([]byte(`{}`), "text/plain; charset=\x00")
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(string(body)))
		r.Header.Set("Content-Type", contentType)
		var v widget
		err := Decode(httptest.NewRecorder(), r, &v)
		if err == nil {
			return
		}
		var p *Problem
		if !errors.As(err, &p) {
			t.Fatalf("error %v is not a *Problem", err)
		}
		if p.Status < 400 || p.Status > 499 {
			t.Fatalf("status %d for body %q", p.Status, body)
		}
	})
}
