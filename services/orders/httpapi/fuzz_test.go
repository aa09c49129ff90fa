package httpapi

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/flashcrowd/flashcrowd/foundation/web"
	"github.com/flashcrowd/flashcrowd/services/orders"
)

// Both fuzz tests feed arbitrary bodies to the decoders a shopper's requests go through:
// whatever arrives, the answer is a decoded request within the limits, or a 4xx problem, never
// a panic or a 5xx.

func FuzzDecodeCart(f *testing.F) {
	for _, seed := range []string{`{"quantity":1}`, `{"quantity":99}`, `{"quantity":0}`, `{"quantity":-1}`,
		`{"quantity":100}`, `{"quantity":1.5}`, `{"quantity":"2"}`, `{"quantity":1e400}`, `{"quantity":null}`,
		`{"quantity":99999999999999999999}`, `{}`, `{"quantity":`, `[]`, `null`, `{"quantity":1} {}`,
		"{\"quantity\":1,\"\xff\":2}", `{"quantity":1,"extra":1}`, `{"quantity":-0}`, `{"quantity":01}`, ``} {
		f.Add([]byte(seed), "application/json")
	}
	f.Add([]byte(`{"quantity":1}`), "text/plain")
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		r := httptest.NewRequest(http.MethodPut, "/api/v1/cart/items/1", strings.NewReader(string(body)))
		r.Header.Set("Content-Type", contentType)
		q, err := decodeCartItem(httptest.NewRecorder(), r)
		if err == nil {
			if q < 1 || q > orders.MaxQuantity {
				t.Fatalf("quantity %d accepted from %q", q, body)
			}
			return
		}
		check4xx(t, err, body)
	})
}

func FuzzDecodeCheckout(f *testing.F) {
	for _, seed := range []string{`{"email":"ada@example.com"}`, `{"email":""}`, `{}`, `{"email":"ada"}`,
		`{"email":"Ada <ada@example.com>"}`, `{"email":42}`, `{"email":"a@b.c","x":1}`, `{"email":`, `[]`,
		"{\"email\":\"\xff@example.com\"}", `{"email":"\u0000@example.com"}`, ``} {
		f.Add([]byte(seed), "application/json", false)
	}
	f.Add([]byte(``), "", true)
	f.Add([]byte(`{"email":"ada@example.com"}`), "text/html", true)
	f.Fuzz(func(t *testing.T, body []byte, contentType string, signedIn bool) {
		r := httptest.NewRequest(http.MethodPost, "/api/v1/orders", strings.NewReader(string(body)))
		r.Header.Set("Content-Type", contentType)
		req, err := decodeCheckout(httptest.NewRecorder(), r, signedIn)
		if err == nil {
			if req.Email != "" && orders.ValidEmail(orders.NormalizeEmail(req.Email)) != "" {
				t.Fatalf("invalid email %q accepted", req.Email)
			}
			return
		}
		check4xx(t, err, body)
	})
}

func check4xx(t *testing.T, err error, body []byte) {
	t.Helper()
	var p *web.Problem
	if !errors.As(err, &p) {
		t.Fatalf("error %v is not a *web.Problem (body %q)", err, body)
	}
	if p.Status < 400 || p.Status > 499 {
		t.Fatalf("status %d for body %q", p.Status, body)
	}
}
