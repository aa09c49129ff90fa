package httpapi

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/flashcrowd/flashcrowd/foundation/web"
	"github.com/flashcrowd/flashcrowd/services/orders/catalogapi"
)

func (a *api) putItem(as caller, id, body string) *httptest.ResponseRecorder {
	return a.do(req{method: "PUT", path: "/api/v1/cart/items/" + id, body: body, as: as})
}

func TestCartGetEmpty(t *testing.T) {
	a := newAPI(t)
	rec := a.do(req{method: "GET", path: "/api/v1/cart", as: guest})
	want(t, rec, 200)
	v := decodeJSON[cartView](t, rec)
	if len(v.Items) != 0 || v.TotalCents != 0 || v.ItemCount != 0 || !strings.Contains(rec.Body.String(), `"items":[]`) {
		t.Errorf("empty cart: %s", rec.Body)
	}
	if a.redis.Exists("cart:s:guest-session-1") {
		t.Error("reading an empty cart created it")
	}
}

func TestCartPutAndGet(t *testing.T) {
	a := newAPI(t)
	want(t, a.putItem(guest, "1", `{"quantity":2}`), 200)
	rec := a.putItem(guest, "2", `{"quantity": 1}`)
	want(t, rec, 200)
	v := decodeJSON[cartView](t, rec)
	if len(v.Items) != 2 || v.TotalCents != 2*1999+4500 || v.ItemCount != 3 || v.Currency != "EUR" {
		t.Fatalf("cart: %+v", v)
	}
	l := v.Items[0]
	if l.ProductID != 1 || l.SKU != "FC-0000001" || l.Name != "Lamp" || l.Quantity != 2 || l.UnitPriceCents != 1999 ||
		l.LineTotalCents != 3998 || l.Stock != 5 || !l.Available || l.Currency != "EUR" {
		t.Errorf("line: %+v", l)
	}
	// Setting replaces the quantity; the cart is the session's and lives CART_TTL.
	want(t, a.putItem(guest, "1", `{"quantity":5}`), 200)
	rec = a.do(req{method: "GET", path: "/api/v1/cart", as: guest})
	want(t, rec, 200)
	if v := decodeJSON[cartView](t, rec); v.Items[0].Quantity != 5 || v.ItemCount != 6 {
		t.Errorf("after replace: %+v", v)
	}
	if ttl := a.redis.TTL("cart:s:guest-session-1"); ttl <= 0 {
		t.Errorf("cart TTL %v", ttl)
	}
	// Another session sees its own (empty) cart; a signed-in customer's is keyed by the account.
	if v := decodeJSON[cartView](t, a.do(req{method: "GET", path: "/api/v1/cart", as: guest2})); len(v.Items) != 0 {
		t.Errorf("another session sees %+v", v)
	}
	want(t, a.putItem(ada, "2", `{"quantity":1}`), 200)
	if !a.redis.Exists("cart:c:7") {
		t.Error("a customer's cart is not keyed by the customer")
	}
	// Stock fell below the quantity since: the line shows as unavailable.
	a.catalog.setStock(1, 3)
	if v := decodeJSON[cartView](t, a.do(req{method: "GET", path: "/api/v1/cart", as: guest})); v.Items[0].Available {
		t.Errorf("line over stock shown available: %+v", v.Items[0])
	}
}

func TestCartPutRefusesBadInput(t *testing.T) {
	tests := []struct {
		name, id, body, contentType string
		want                        int
	}{
		{"unknown product", "404", `{"quantity":1}`, "", http.StatusNotFound},
		{"id not a number", "lamp", `{"quantity":1}`, "", http.StatusNotFound},
		{"id zero", "0", `{"quantity":1}`, "", http.StatusNotFound},
		{"id negative", "-1", `{"quantity":1}`, "", http.StatusNotFound},
		{"id padded", "01", `{"quantity":1}`, "", http.StatusNotFound},
		{"id too large", "99999999999999999999", `{"quantity":1}`, "", http.StatusNotFound},
		{"quantity zero", "1", `{"quantity":0}`, "", http.StatusUnprocessableEntity},
		{"quantity negative", "1", `{"quantity":-3}`, "", http.StatusUnprocessableEntity},
		{"quantity over 99", "1", `{"quantity":100}`, "", http.StatusUnprocessableEntity},
		{"quantity huge", "1", `{"quantity":99999999999999999999999}`, "", http.StatusUnprocessableEntity},
		{"quantity exponent", "1", `{"quantity":1e400}`, "", http.StatusUnprocessableEntity},
		{"quantity fraction", "1", `{"quantity":1.5}`, "", http.StatusUnprocessableEntity},
		{"quantity string", "1", `{"quantity":"2"}`, "", http.StatusUnprocessableEntity},
		{"quantity null", "1", `{"quantity":null}`, "", http.StatusUnprocessableEntity},
		{"quantity missing", "1", `{}`, "", http.StatusUnprocessableEntity},
		{"quantity object", "1", `{"quantity":{"n":1}}`, "", http.StatusUnprocessableEntity},
		{"malformed", "1", `{"quantity":`, "", http.StatusBadRequest},
		{"not an object", "1", `[1]`, "", http.StatusBadRequest},
		{"two objects", "1", `{"quantity":1}{}`, "", http.StatusBadRequest},
		{"unknown field", "1", `{"quantity":1,"price_cents":1}`, "", http.StatusBadRequest},
		{"empty body", "1", ``, "", http.StatusBadRequest},
		{"invalid utf-8", "1", "{\"quantity\":1,\"x\xff\":1}", "", http.StatusBadRequest},
		{"wrong content type", "1", `{"quantity":1}`, "text/plain", http.StatusUnsupportedMediaType},
		{"form content type", "1", `quantity=1`, "application/x-www-form-urlencoded", http.StatusUnsupportedMediaType},
		{"too large", "1", `{"quantity":1,"x":"` + strings.Repeat("a", web.MaxBodyBytes) + `"}`, "", http.StatusRequestEntityTooLarge},
		{"more than stock", "1", `{"quantity":6}`, "", http.StatusConflict},
		{"sold out", "3", `{"quantity":1}`, "", http.StatusConflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newAPI(t)
			r := req{method: "PUT", path: "/api/v1/cart/items/" + tt.id, body: tt.body, as: guest}
			if tt.contentType != "" {
				r.header = map[string]string{"Content-Type": tt.contentType}
			}
			rec := a.do(r)
			want(t, rec, tt.want)
			if a.redis.Exists("cart:s:guest-session-1") {
				t.Error("a refused write changed the cart")
			}
			if tt.want == http.StatusConflict {
				if p := problem(t, rec); !strings.Contains(p.Detail, "product "+tt.id) {
					t.Errorf("409 does not name the product: %q", p.Detail)
				}
			}
			// Only a product nobody can add any more is marked sold out for the edge.
			if got, want := rec.Header().Get("X-Sold-Out"), map[bool]string{true: "1"}[tt.name == "sold out"]; got != want {
				t.Errorf("X-Sold-Out %q, want %q", got, want)
			}
		})
	}
}

// In a sale the checkouts' shared count knows before the catalog that units are gone: a cart
// write asks it, and never lets it raise the catalog's figure.
func TestCartWriteHeedsTheStockCount(t *testing.T) {
	a := newAPI(t)
	a.redis.Set("stock:1", "0") // product 1: the catalog still shows 5
	rec := a.putItem(guest, "1", `{"quantity":1}`)
	want(t, rec, http.StatusConflict)
	if p := problem(t, rec); !strings.Contains(p.Detail, "only 0 of product 1") || rec.Header().Get("X-Sold-Out") != "1" {
		t.Errorf("detail %q, X-Sold-Out %q", p.Detail, rec.Header().Get("X-Sold-Out"))
	}
	a.redis.Set("stock:1", "2")
	want(t, a.putItem(guest, "1", `{"quantity":2}`), 200)
	want(t, a.putItem(guest, "1", `{"quantity":3}`), http.StatusConflict)
	a.redis.Set("stock:2", "50") // product 2: the catalog shows 2
	want(t, a.putItem(guest, "2", `{"quantity":3}`), http.StatusConflict)
}

// Adding to a cart holds the units: once every unit is held, other buyers hear "sold out" when
// adding (with X-Sold-Out, for the edge), the holders still buy, and a line leaving a cart frees
// its units.
func TestCartHoldsWhatItAdds(t *testing.T) {
	a := newAPI(t) // product 2: 2 units
	want(t, a.putItem(guest, "2", `{"quantity":2}`), 200)
	rec := a.putItem(guest2, "2", `{"quantity":1}`)
	want(t, rec, http.StatusConflict)
	if p := problem(t, rec); !strings.Contains(p.Detail, "only 0 of product 2") || rec.Header().Get("X-Sold-Out") != "1" {
		t.Errorf("detail %q, X-Sold-Out %q", p.Detail, rec.Header().Get("X-Sold-Out"))
	}
	// The holder may still change its own quantity within what it holds.
	want(t, a.putItem(guest, "2", `{"quantity":1}`), 200)
	want(t, a.putItem(guest2, "2", `{"quantity":1}`), 200)
	want(t, a.checkout(guest, "k", `{"email":"ada@example.com"}`), http.StatusCreated)
	want(t, a.checkout(guest2, "k", `{"email":"bob@example.com"}`), http.StatusCreated)

	// Product 1 (5 units): guest holds 4, lets one go by removing the line.
	want(t, a.putItem(guest, "1", `{"quantity":4}`), 200)
	want(t, a.putItem(guest2, "1", `{"quantity":2}`), http.StatusConflict)
	want(t, a.do(req{method: "DELETE", path: "/api/v1/cart/items/1", as: guest}), 200)
	want(t, a.putItem(guest2, "1", `{"quantity":5}`), 200)
}

func TestCartIsFullAtFiftyLines(t *testing.T) {
	a := newAPI(t)
	a.catalog.mu.Lock()
	for id := int64(1); id <= 51; id++ {
		a.catalog.products[id] = catalogapi.Product{ID: id, SKU: "FC-" + strconv.FormatInt(id, 10), Name: "Thing", PriceCents: 100, Currency: "EUR", Stock: 10}
	}
	a.catalog.mu.Unlock()
	for id := 1; id <= 50; id++ {
		want(t, a.putItem(guest, strconv.Itoa(id), `{"quantity":1}`), 200)
	}
	want(t, a.putItem(guest, "51", `{"quantity":1}`), http.StatusConflict)
	// A line already there can still change.
	want(t, a.putItem(guest, "50", `{"quantity":2}`), 200)
}

func TestCartDelete(t *testing.T) {
	a := newAPI(t)
	want(t, a.putItem(guest, "1", `{"quantity":1}`), 200)
	want(t, a.putItem(guest, "2", `{"quantity":1}`), 200)
	rec := a.do(req{method: "DELETE", path: "/api/v1/cart/items/1", as: guest})
	want(t, rec, 200)
	if v := decodeJSON[cartView](t, rec); len(v.Items) != 1 || v.Items[0].ProductID != 2 {
		t.Errorf("after delete: %+v", v)
	}
	// Deleting what is not there is no error; a malformed id names nothing.
	want(t, a.do(req{method: "DELETE", path: "/api/v1/cart/items/1", as: guest}), 200)
	want(t, a.do(req{method: "DELETE", path: "/api/v1/cart/items/x", as: guest}), 404)
}

func TestCartDropsProductsTheCatalogNoLongerHas(t *testing.T) {
	a := newAPI(t)
	want(t, a.putItem(guest, "1", `{"quantity":1}`), 200)
	want(t, a.putItem(guest, "2", `{"quantity":1}`), 200)
	a.catalog.mu.Lock()
	delete(a.catalog.products, 2)
	a.catalog.mu.Unlock()
	rec := a.do(req{method: "GET", path: "/api/v1/cart", as: guest})
	want(t, rec, 200)
	if v := decodeJSON[cartView](t, rec); len(v.Items) != 1 || v.Items[0].ProductID != 1 {
		t.Errorf("cart: %+v", v)
	}
	if got, _ := a.redis.HKeys("cart:s:guest-session-1"); len(got) != 1 {
		t.Errorf("deleted product still in Redis: %v", got)
	}
}

func TestCartWhenDependenciesFail(t *testing.T) {
	a := newAPI(t)
	want(t, a.putItem(guest, "1", `{"quantity":1}`), 200)

	a.catalog.setDown(true)
	for _, r := range []req{
		{method: "GET", path: "/api/v1/cart", as: guest},
		{method: "PUT", path: "/api/v1/cart/items/2", body: `{"quantity":1}`, as: guest},
	} {
		rec := a.do(r)
		want(t, rec, http.StatusServiceUnavailable)
		if rec.Header().Get("Retry-After") == "" {
			t.Errorf("%s %s: 503 without Retry-After", r.method, r.path)
		}
	}
	a.catalog.setDown(false)

	a.redis.Close()
	for _, r := range []req{
		{method: "GET", path: "/api/v1/cart", as: guest},
		{method: "PUT", path: "/api/v1/cart/items/2", body: `{"quantity":1}`, as: guest},
		{method: "DELETE", path: "/api/v1/cart/items/1", as: guest},
	} {
		rec := a.do(r)
		want(t, rec, http.StatusServiceUnavailable)
		if rec.Header().Get("Retry-After") == "" {
			t.Errorf("%s %s: 503 without Retry-After", r.method, r.path)
		}
	}
}
