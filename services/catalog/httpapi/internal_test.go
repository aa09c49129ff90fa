package httpapi

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// A stock change from the orders service drops the product everywhere, like an admin write,
// but keeps the listing pages unless the product sold out or came back.
func TestStockChanges(t *testing.T) {
	a := newAPI(t)
	post := func(body string, header ...string) int {
		t.Helper()
		return a.do("POST", "/internal/v1/stock-changes", body, header...).Code
	}
	auth := []string{"Authorization", "Bearer " + testInternalToken}
	warm := func() {
		t.Helper()
		a.do("GET", "/api/v1/products/1", "")
		a.do("GET", "/api/v1/search?q=lamp", "")
		checkAnswer(t, a.do("GET", "/api/v1/products/1", ""), 200, "X-Cache", "l1-hit")
	}

	warm()
	if code := post(`{"lsn":"0/16B3748","changes":[{"product_id":1,"stock":4,"was":5}]}`, auth...); code != http.StatusNoContent {
		t.Fatalf("stock change: %d, want 204", code)
	}
	checkAnswer(t, a.do("GET", "/api/v1/products/1", ""), 200, "X-Cache", "miss")
	// Only L1 lost the page (every invalidation empties it); Redis keeps it.
	checkAnswer(t, a.do("GET", "/api/v1/search?q=lamp", ""), 200, "X-Cache", "redis-hit")
	if n := a.edge.count("PURGE /api/v1/products/1"); n != 1 {
		t.Errorf("%d purges of the product at the edge, want 1", n)
	}

	warm()
	if code := post(`{"lsn":"23803720","changes":[{"product_id":1,"stock":0,"was":1}]}`, auth...); code != http.StatusNoContent {
		t.Fatalf("sold out: %d, want 204", code)
	}
	checkAnswer(t, a.do("GET", "/api/v1/products/1", ""), 200, "X-Cache", "miss")
	checkAnswer(t, a.do("GET", "/api/v1/search?q=lamp", ""), 200, "X-Cache", "miss")

	for name, c := range map[string]struct {
		body   string
		header []string
		want   int
	}{
		"no token":       {`{"lsn":"1","changes":[{"product_id":1,"stock":0,"was":1}]}`, nil, 401},
		"admin token":    {`{"lsn":"1","changes":[{"product_id":1,"stock":0,"was":1}]}`, []string{"Authorization", "Bearer " + testToken}, 401},
		"no changes":     {`{"lsn":"1","changes":[]}`, auth, 422},
		"bad lsn":        {`{"lsn":"zz/1","changes":[{"product_id":1,"stock":0,"was":1}]}`, auth, 422},
		"negative stock": {`{"lsn":"1","changes":[{"product_id":1,"stock":-1,"was":1}]}`, auth, 422},
		"no product":     {`{"lsn":"1","changes":[{"stock":1,"was":1}]}`, auth, 422},
		"malformed":      {`{"lsn":`, auth, 400},
		"unknown field":  {`{"lsn":"1","changes":[],"x":1}`, auth, 400},
		"too many":       {fmt.Sprintf(`{"lsn":"1","changes":[%s{"product_id":1,"stock":0,"was":0}]}`, strings.Repeat(`{"product_id":1,"stock":0,"was":0},`, MaxStockChanges)), auth, 422},
	} {
		if code := post(c.body, c.header...); code != c.want {
			t.Errorf("%s: %d, want %d", name, code, c.want)
		}
	}
	if code := a.do("GET", "/internal/v1/stock-changes", "", auth...).Code; code != 405 {
		t.Errorf("GET: %d, want 405", code)
	}
}

func TestParseLSN(t *testing.T) {
	for in, want := range map[string]string{"": "", "0/16B3748": "23803720", "1/0": "4294967296", "42": "42"} {
		if got, err := parseLSN(in); err != nil || got != want {
			t.Errorf("parseLSN(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"x", "-1", "1/", "/1", "g/1", "1.5"} {
		if _, err := parseLSN(in); err == nil {
			t.Errorf("parseLSN(%q) accepted", in)
		}
	}
}
