package storefront

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// fakeAPI plays the gateway's API for the cart and orders: one cart per session cookie, a
// session started (Set-Cookie) by the first accepted write, product 8 sold out.
type fakeAPI struct {
	mu     sync.Mutex
	carts  map[string]map[int64]int32
	orders map[string][]int64 // by session
	keys   map[string]int64   // Idempotency-Key → order
	seen   []string           // "METHOD path key" of every call
}

func newFakeAPI() *fakeAPI {
	return &fakeAPI{carts: map[string]map[int64]int32{}, orders: map[string][]int64{}, keys: map[string]int64{}}
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seen = append(f.seen, r.Method+" "+r.URL.Path+" "+r.Header.Get("Idempotency-Key"))
	sess := ""
	if c, err := r.Cookie("sid"); err == nil {
		sess = c.Value
	}
	problem := func(code int, detail string) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(map[string]any{"status": code, "detail": detail})
	}
	cart := func() {
		v := cartView{Currency: "EUR"}
		for id, q := range f.carts[sess] {
			v.Items = append(v.Items, cartLine{ProductID: id, Name: "Desk lamp", Quantity: q, UnitPriceCents: 1999, Currency: "EUR", LineTotalCents: int64(q) * 1999, Stock: 3, Available: q <= 3})
			v.TotalCents += int64(q) * 1999
		}
		w.Header().Set("Cache-Control", "private, no-store")
		_ = json.NewEncoder(w).Encode(v)
	}
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/api/v1/cart":
		cart()
	case r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, "/api/v1/cart/items/"):
		var body struct {
			Quantity json.RawMessage `json:"quantity"`
		}
		_ = json.NewDecoder(r.Body).Decode(&body)
		var q int32
		if json.Unmarshal(body.Quantity, &q) != nil || q < 1 || q > 99 {
			problem(http.StatusUnprocessableEntity, "quantity: must be a whole number from 1 to 99")
			return
		}
		if strings.HasSuffix(r.URL.Path, "/8") {
			problem(http.StatusConflict, "only 0 of product 8 (Mug) left")
			return
		}
		if sess == "" {
			sess = "s1"
			http.SetCookie(w, &http.Cookie{Name: "sid", Value: sess, Path: "/", HttpOnly: true})
		}
		if f.carts[sess] == nil {
			f.carts[sess] = map[int64]int32{}
		}
		f.carts[sess][7] = q
		cart()
	case r.Method == http.MethodDelete && strings.HasPrefix(r.URL.Path, "/api/v1/cart/items/"):
		delete(f.carts[sess], 7)
		cart()
	case r.Method == http.MethodPost && r.URL.Path == "/api/v1/orders":
		key := r.Header.Get("Idempotency-Key")
		if key == "" {
			problem(http.StatusBadRequest, "a checkout needs an Idempotency-Key header")
			return
		}
		if id, ok := f.keys[key]; ok {
			w.WriteHeader(http.StatusCreated)
			_ = json.NewEncoder(w).Encode(map[string]any{"id": id})
			return
		}
		if len(f.carts[sess]) == 0 {
			problem(http.StatusUnprocessableEntity, "the cart is empty")
			return
		}
		var body struct{ Email string }
		_ = json.NewDecoder(r.Body).Decode(&body)
		if body.Email == "" {
			problem(http.StatusUnprocessableEntity, "email: required: where the confirmation goes")
			return
		}
		id := int64(100 + len(f.keys))
		f.keys[key] = id
		f.orders[sess] = append(f.orders[sess], id)
		f.carts[sess] = nil
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(map[string]any{"id": id, "email": body.Email})
	case r.Method == http.MethodGet && r.URL.Path == "/api/v1/session":
		signedIn := strings.HasPrefix(sess, "customer-")
		v := map[string]any{"signed_in": signedIn}
		if signedIn {
			v["customer"] = map[string]any{"id": 1, "email": strings.TrimPrefix(sess, "customer-")}
		}
		_ = json.NewEncoder(w).Encode(v)
	case r.Method == http.MethodPost && (r.URL.Path == "/api/v1/session" || r.URL.Path == "/api/v1/customers"):
		var in struct{ Email, Password string }
		_ = json.NewDecoder(r.Body).Decode(&in)
		switch {
		case r.URL.Path == "/api/v1/customers" && len(in.Password) < 8:
			problem(http.StatusUnprocessableEntity, "password: must be 8 to 128 characters")
			return
		case r.URL.Path == "/api/v1/session" && in.Password != "correct horse":
			problem(http.StatusUnauthorized, "wrong email or password")
			return
		}
		// The guest's cart follows the customer.
		f.carts["customer-"+in.Email] = f.carts[sess]
		http.SetCookie(w, &http.Cookie{Name: "sid", Value: "customer-" + in.Email, Path: "/"})
		if r.URL.Path == "/api/v1/customers" {
			w.WriteHeader(http.StatusCreated)
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"id": 1, "email": in.Email})
	case r.Method == http.MethodDelete && r.URL.Path == "/api/v1/session":
		http.SetCookie(w, &http.Cookie{Name: "sid", Value: "", Path: "/", MaxAge: -1})
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodGet && r.URL.Path == "/api/v1/orders":
		items := []any{}
		for _, id := range f.orders[sess] {
			items = append(items, map[string]any{"id": id, "status": "placed", "currency": "EUR", "total_cents": 1999, "placed_at": "2026-12-02T10:00:00Z"})
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"items": items})
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/api/v1/orders/"):
		for _, id := range f.orders[sess] {
			if r.URL.Path == "/api/v1/orders/"+jsonInt(id) {
				w.Header().Set("Cache-Control", "private, no-store")
				_ = json.NewEncoder(w).Encode(map[string]any{"id": id, "status": "placed", "email": "a@example.com", "currency": "EUR", "total_cents": 1999,
					"lines": []any{map[string]any{"product_id": 7, "name": "Desk lamp", "quantity": 1, "unit_price_cents": 1999, "line_total_cents": 1999}}})
				return
			}
		}
		problem(http.StatusNotFound, "no such order")
	default:
		problem(http.StatusNotFound, "no such resource")
	}
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }

// browser is a shopper with a cookie jar, posting forms and following no redirect by itself.
type browser struct {
	h      http.Handler
	cookie string
}

func (b *browser) do(method, target string, form url.Values) *httptest.ResponseRecorder {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequest(method, target, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if b.cookie != "" {
		req.Header.Set("Cookie", b.cookie)
	}
	rec := httptest.NewRecorder()
	b.h.ServeHTTP(rec, req)
	for _, c := range rec.Result().Cookies() {
		b.cookie = c.Name + "=" + c.Value
	}
	return rec
}

func newBrowser(t *testing.T) (*browser, *fakeAPI) {
	t.Helper()
	h, _, api := newShop(t)
	return &browser{h: h}, api
}

// A guest's way from a product to an order, by forms alone.
func TestShopperJourneyByForms(t *testing.T) {
	b, api := newBrowser(t)
	if page := b.do(http.MethodGet, "/products/7", nil).Body.String(); !strings.Contains(page, `action="/cart/items"`) {
		t.Fatalf("product page without an add-to-cart form:\n%s", page)
	}
	if page := b.do(http.MethodGet, "/products/8", nil).Body.String(); strings.Contains(page, `action="/cart/items"`) {
		t.Errorf("a sold-out product offers to add it to the cart")
	}

	rec := b.do(http.MethodPost, "/cart/items", url.Values{"product_id": {"7"}, "quantity": {"2"}})
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/cart" {
		t.Fatalf("add to cart: %d Location %q\n%s", rec.Code, rec.Header().Get("Location"), rec.Body)
	}
	if b.cookie != "sid=s1" {
		t.Fatalf("the API's new session cookie did not reach the browser: %q", b.cookie)
	}

	cart := b.do(http.MethodGet, "/cart", nil)
	page := cart.Body.String()
	if cart.Code != 200 || cart.Header().Get("Cache-Control") != "private, no-store" || cart.Header().Get("ETag") != "" {
		t.Fatalf("cart page: %d %v", cart.Code, cart.Header())
	}
	for _, want := range []string{"Desk lamp", `value="2"`, "39.98 EUR", `action="/checkout"`, `name="key" value="web-`} {
		if !strings.Contains(page, want) {
			t.Errorf("cart page lacks %q:\n%s", want, page)
		}
	}
	key := page[strings.Index(page, `name="key" value="`)+len(`name="key" value="`):]
	key = key[:strings.Index(key, `"`)]

	// No email: the API's refusal, on the cart page, with its status.
	rec = b.do(http.MethodPost, "/checkout", url.Values{"key": {key}})
	if rec.Code != http.StatusUnprocessableEntity || !strings.Contains(rec.Body.String(), "where the confirmation goes") {
		t.Fatalf("checkout without an email: %d\n%s", rec.Code, rec.Body)
	}
	rec = b.do(http.MethodPost, "/checkout", url.Values{"key": {key}, "email": {"a@example.com"}})
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/orders/100" {
		t.Fatalf("checkout: %d Location %q\n%s", rec.Code, rec.Header().Get("Location"), rec.Body)
	}
	// The same form sent again (a double click, a reload) is the same order.
	rec = b.do(http.MethodPost, "/checkout", url.Values{"key": {key}, "email": {"a@example.com"}})
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/orders/100" {
		t.Fatalf("the same checkout again: %d Location %q", rec.Code, rec.Header().Get("Location"))
	}
	order := b.do(http.MethodGet, "/orders/100", nil)
	if order.Code != 200 || order.Header().Get("Cache-Control") != "private, no-store" || !strings.Contains(order.Body.String(), "Order 100 is placed") {
		t.Fatalf("order page: %d %v\n%s", order.Code, order.Header(), order.Body)
	}
	// Another shopper cannot see it.
	other := &browser{h: b.h}
	if rec := other.do(http.MethodGet, "/orders/100", nil); rec.Code != http.StatusNotFound {
		t.Errorf("another shopper's order page: %d, want 404", rec.Code)
	}
	if n := len(api.keys); n != 1 {
		t.Errorf("%d orders placed, want 1", n)
	}
}

func TestFormRefusals(t *testing.T) {
	b, _ := newBrowser(t)
	for _, tc := range []struct {
		form url.Values
		want int
		text string
	}{
		{url.Values{"product_id": {"8"}}, http.StatusConflict, "only 0 of product 8"},
		{url.Values{"product_id": {"7"}, "quantity": {"0"}}, http.StatusUnprocessableEntity, "quantity: must be"},
		{url.Values{"product_id": {"7"}, "quantity": {"lots"}}, http.StatusUnprocessableEntity, "quantity: must be"},
		{url.Values{"product_id": {"x"}}, http.StatusBadRequest, "did not say which product"},
	} {
		rec := b.do(http.MethodPost, "/cart/items", tc.form)
		if rec.Code != tc.want || !strings.Contains(rec.Body.String(), tc.text) {
			t.Errorf("POST /cart/items %v: %d, want %d with %q\n%s", tc.form, rec.Code, tc.want, tc.text, rec.Body)
		}
		if cc := rec.Header().Get("Cache-Control"); cc != "private, no-store" {
			t.Errorf("POST /cart/items %v: Cache-Control %q", tc.form, cc)
		}
	}
	if rec := b.do(http.MethodPost, "/checkout", url.Values{"key": {"k1"}, "email": {"a@example.com"}}); rec.Code != http.StatusUnprocessableEntity || !strings.Contains(rec.Body.String(), "the cart is empty") {
		t.Errorf("checkout of an empty cart: %d\n%s", rec.Code, rec.Body)
	}
	if rec := b.do(http.MethodGet, "/orders/abc", nil); rec.Code != http.StatusNotFound {
		t.Errorf("GET /orders/abc: %d", rec.Code)
	}
}

// Sign up, sign in with a wrong password and a right one, see the orders, sign out.
func TestAccountByForms(t *testing.T) {
	b, _ := newBrowser(t)
	page := b.do(http.MethodGet, "/account", nil)
	if page.Code != 200 || page.Header().Get("Cache-Control") != "private, no-store" ||
		!strings.Contains(page.Body.String(), `action="/account/login"`) || !strings.Contains(page.Body.String(), `action="/account/register"`) {
		t.Fatalf("account page for a guest: %d\n%s", page.Code, page.Body)
	}
	rec := b.do(http.MethodPost, "/account/register", url.Values{"email": {"a@example.com"}, "password": {"short"}})
	if rec.Code != http.StatusUnprocessableEntity || !strings.Contains(rec.Body.String(), "must be 8 to 128 characters") || !strings.Contains(rec.Body.String(), `value="a@example.com"`) {
		t.Fatalf("short password: %d\n%s", rec.Code, rec.Body)
	}
	rec = b.do(http.MethodPost, "/account/login", url.Values{"email": {"a@example.com"}, "password": {"wrong"}})
	if rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Body.String(), "wrong email or password") {
		t.Fatalf("wrong password: %d\n%s", rec.Code, rec.Body)
	}
	rec = b.do(http.MethodPost, "/account/login", url.Values{"email": {"a@example.com"}, "password": {"correct horse"}})
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/orders" || b.cookie != "sid=customer-a@example.com" {
		t.Fatalf("login: %d Location %q cookie %q", rec.Code, rec.Header().Get("Location"), b.cookie)
	}
	if page := b.do(http.MethodGet, "/account", nil).Body.String(); !strings.Contains(page, "Signed in as <strong>a@example.com</strong>") {
		t.Fatalf("account page when signed in:\n%s", page)
	}
	b.do(http.MethodPost, "/cart/items", url.Values{"product_id": {"7"}})
	b.do(http.MethodPost, "/checkout", url.Values{"key": {"k-1"}, "email": {"a@example.com"}})
	list := b.do(http.MethodGet, "/orders", nil)
	if list.Code != 200 || list.Header().Get("Cache-Control") != "private, no-store" || !strings.Contains(list.Body.String(), `href="/orders/100"`) {
		t.Fatalf("order history: %d\n%s", list.Code, list.Body)
	}
	rec = b.do(http.MethodPost, "/account/logout", url.Values{})
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/" {
		t.Fatalf("logout: %d %q", rec.Code, rec.Header().Get("Location"))
	}
	if page := b.do(http.MethodGet, "/orders", nil).Body.String(); !strings.Contains(page, "No orders yet") {
		t.Errorf("order history after signing out still shows orders:\n%s", page)
	}
}
