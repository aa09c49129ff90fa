//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// mailpitURL is the mail catcher's API and UI, published on 127.0.0.1.
var mailpitURL = getenv("MAILPIT_URL", "http://127.0.0.1:"+dotenv("MAILPIT_PORT"))

// shopper is one browser: its own cookie jar, so its own session.
type shopper struct {
	t *testing.T
	c *http.Client
}

func newShopper(t *testing.T) *shopper {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &shopper{t: t, c: &http.Client{Jar: jar, Timeout: 15 * time.Second}}
}

// do sends one request as this shopper; header is pairs of name and value.
func (s *shopper) do(method, path string, body any, header ...string) response {
	s.t.Helper()
	h := map[string]string{}
	for i := 0; i+1 < len(header); i += 2 {
		h[header[i]] = header[i+1]
	}
	r, err := sendVia(s.c, method, path, body, h)
	if err != nil {
		s.t.Fatal(err)
	}
	return r
}

// want fails the test unless r has status; it returns r for chaining.
func want(t *testing.T, r response, status int, what string) response {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: %d %s, want %d", what, r.status, r.body, status)
	}
	return r
}

func (s *shopper) register(email, password string) {
	s.t.Helper()
	want(s.t, s.do("POST", "/api/v1/customers", map[string]string{"email": email, "password": password}), 201, "register")
}

func (s *shopper) addToCart(id int64, quantity int) response {
	s.t.Helper()
	return s.do("PUT", fmt.Sprintf("/api/v1/cart/items/%d", id), map[string]int{"quantity": quantity})
}

type cartView struct {
	Items []struct {
		ProductID      int64 `json:"product_id"`
		Quantity       int   `json:"quantity"`
		UnitPriceCents int64 `json:"unit_price_cents"`
	} `json:"items"`
	TotalCents int64 `json:"total_cents"`
}

type orderView struct {
	ID         int64  `json:"id"`
	Status     string `json:"status"`
	Email      string `json:"email"`
	TotalCents int64  `json:"total_cents"`
	Lines      []struct {
		ProductID      int64 `json:"product_id"`
		Quantity       int   `json:"quantity"`
		UnitPriceCents int64 `json:"unit_price_cents"`
	} `json:"lines"`
}

func (s *shopper) cart() cartView {
	s.t.Helper()
	r := want(s.t, s.do("GET", "/api/v1/cart", nil), 200, "GET cart")
	noStore(s.t, r, "GET cart")
	var c cartView
	r.json(s.t, &c)
	return c
}

func (s *shopper) checkout(key string, body any) response {
	s.t.Helper()
	if body == nil {
		body = map[string]string{}
	}
	return s.do("POST", "/api/v1/orders", body, "Idempotency-Key", key)
}

func noStore(t *testing.T, r response, what string) {
	t.Helper()
	cc := r.header.Get("Cache-Control")
	if !strings.Contains(cc, "private") || !strings.Contains(cc, "no-store") {
		t.Errorf("%s: Cache-Control %q, want private, no-store", what, cc)
	}
}

// unique is a word no other test run uses: in names, emails and keys.
func unique(prefix string) string { return fmt.Sprintf("%s%d", prefix, time.Now().UnixNano()) }

// mail is one message as the mail catcher's search lists it.
type mail struct {
	ID      string `json:"ID"`
	Subject string `json:"Subject"`
	To      []struct {
		Address string `json:"Address"`
	} `json:"To"`
}

// mails returns up to limit messages the mail catcher holds that match query (its search syntax).
func mails(t *testing.T, query string, limit int) []mail {
	t.Helper()
	resp, err := client.Get(fmt.Sprintf("%s/api/v1/search?limit=%d&query=%s", mailpitURL, limit, url.QueryEscape(query)))
	if err != nil {
		t.Fatalf("mail catcher: %v", err)
	}
	defer resp.Body.Close()
	var out struct {
		Messages []mail `json:"messages"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("mail catcher search: %v", err)
	}
	return out.Messages
}

var orderInSubject = regexp.MustCompile(`#(\d+)`)

// emailsPerOrder counts the confirmation emails the mail catcher holds for each order, among
// the messages that mention word.
func emailsPerOrder(t *testing.T, word string, limit int) map[int64]int {
	t.Helper()
	counts := map[int64]int{}
	for _, m := range mails(t, word, limit) {
		if sm := orderInSubject.FindStringSubmatch(m.Subject); sm != nil {
			id, _ := strconv.ParseInt(sm[1], 10, 64)
			counts[id]++
		}
	}
	return counts
}

// A shopper registers, fills a cart with three products, checks out with an Idempotency-Key and
// gets one order however often the request is repeated; the stock goes down by what was bought,
// the order list is private, and the confirmation email reaches the mail catcher.
func TestShopperJourney(t *testing.T) {
	word := unique("Journey")
	var products []product
	for i := range 3 {
		products = append(products, createProduct(t, map[string]any{
			"name": fmt.Sprintf("E2E %s item %d", word, i), "price_cents": 1000 + 100*i, "stock": 5,
		}))
	}
	s := newShopper(t)
	email := strings.ToLower(word) + "@shop.test"
	s.register(email, "correct horse battery staple")
	var session struct {
		SignedIn bool `json:"signed_in"`
		Customer struct {
			Email string `json:"email"`
		} `json:"customer"`
	}
	want(t, s.do("GET", "/api/v1/session", nil), 200, "GET session").json(t, &session)
	if !session.SignedIn || session.Customer.Email != email {
		t.Fatalf("session after register: %+v", session)
	}

	var total int64
	for i, p := range products {
		want(t, s.addToCart(p.ID, i+1), 200, "add to cart")
		total += p.PriceCents * int64(i+1)
	}
	c := s.cart()
	if len(c.Items) != 3 || c.TotalCents != total {
		t.Fatalf("cart: %+v, want 3 lines totalling %d", c, total)
	}

	key := unique("e2e-journey-")
	first := want(t, s.checkout(key, nil), 201, "checkout")
	var o orderView
	first.json(t, &o)
	if o.ID == 0 || o.TotalCents != total || len(o.Lines) != 3 || o.Email != email || o.Status != "placed" {
		t.Fatalf("order: %s", first.body)
	}
	if loc := first.header.Get("Location"); loc != fmt.Sprintf("/api/v1/orders/%d", o.ID) {
		t.Errorf("Location %q", loc)
	}
	again := want(t, s.checkout(key, nil), 201, "the same checkout again")
	if !bytes.Equal(again.body, first.body) {
		t.Errorf("replay answered\n%s\nwant\n%s", again.body, first.body)
	}
	want(t, s.checkout(key, map[string]string{"email": "someone-else@shop.test"}), 422, "the same key with another body")
	if c := s.cart(); len(c.Items) != 0 {
		t.Errorf("cart after checkout: %+v", c)
	}

	list := want(t, s.do("GET", "/api/v1/orders", nil), 200, "GET orders")
	noStore(t, list, "GET orders")
	if !strings.Contains(string(list.body), fmt.Sprintf(`"id":%d`, o.ID)) {
		t.Errorf("order list lacks order %d: %s", o.ID, list.body)
	}
	noStore(t, want(t, s.do("GET", fmt.Sprintf("/api/v1/orders/%d", o.ID), nil), 200, "GET order"), "GET order")

	for i, p := range products {
		stockBecomes(t, p.ID, p.Stock-(i+1))
	}

	eventually(t, 30*time.Second, "the confirmation email in the mail catcher", func() bool {
		m := mails(t, word, 50)
		return len(m) == 1 && len(m[0].To) == 1 && m[0].To[0].Address == email
	})
}

// stockBecomes waits for the catalog instances to show a product's new stock: the orders
// service tells the catalog after its commit, and every instance must have it within a second.
func stockBecomes(t *testing.T, id int64, stock int) {
	t.Helper()
	n := catalogInstances(t)
	eventually(t, time.Second, fmt.Sprintf("product %d shows stock %d", id, stock), func() bool {
		for range 2 * n {
			if p, _ := getProduct(t, id); p.Stock != stock {
				return false
			}
		}
		return true
	})
}

// A customer's orders are theirs alone: another shopper, signed in or not, gets a 404 for them
// (not a 403, which would say the order exists), and sees none of them in their list.
func TestOrdersAreTheirOwnersAlone(t *testing.T) {
	p := createProduct(t, map[string]any{"stock": 3})
	a := newShopper(t)
	a.register(unique("owner")+"@shop.test", "correct horse battery staple")
	want(t, a.addToCart(p.ID, 1), 200, "add to cart")
	var o orderView
	want(t, a.checkout(unique("k"), nil), 201, "checkout").json(t, &o)

	b := newShopper(t)
	want(t, b.do("GET", fmt.Sprintf("/api/v1/orders/%d", o.ID), nil), 404, "a guest reading another's order")
	b.register(unique("other")+"@shop.test", "correct horse battery staple")
	want(t, b.do("GET", fmt.Sprintf("/api/v1/orders/%d", o.ID), nil), 404, "a customer reading another's order")
	want(t, b.do("POST", fmt.Sprintf("/api/v1/orders/%d/cancel", o.ID), nil), 404, "a customer cancelling another's order")
	if list := want(t, b.do("GET", "/api/v1/orders", nil), 200, "the other's list"); strings.Contains(string(list.body), fmt.Sprintf(`"id":%d`, o.ID)) {
		t.Errorf("another customer's list shows order %d", o.ID)
	}
}

// A guest checks out with an email address; cancelling within the window puts the stock back.
func TestGuestCheckoutAndCancel(t *testing.T) {
	p := createProduct(t, map[string]any{"stock": 2})
	s := newShopper(t)
	want(t, s.addToCart(p.ID, 2), 200, "add to cart")
	want(t, s.checkout(unique("k"), nil), 422, "a guest checkout without an email")
	var o orderView
	want(t, s.checkout(unique("k"), map[string]string{"email": "guest@shop.test"}), 201, "guest checkout").json(t, &o)
	stockBecomes(t, p.ID, 0)
	var cancelled orderView
	want(t, s.do("POST", fmt.Sprintf("/api/v1/orders/%d/cancel", o.ID), nil), 200, "cancel").json(t, &cancelled)
	if cancelled.Status != "cancelled" {
		t.Errorf("status after cancel: %q", cancelled.Status)
	}
	want(t, s.do("POST", fmt.Sprintf("/api/v1/orders/%d/cancel", o.ID), nil), 409, "cancel twice")
	stockBecomes(t, p.ID, 2)
}

// The last unit sells once. A cart holds what it added, so the buyer who comes second hears
// "sold out" when adding it (a 409 naming the product, marked for the edge's gate), and the
// first buys it; then the product shows as sold out on every catalog instance and at the edge
// within a second.
func TestSoldOutIsAFast409AndShowsEverywhere(t *testing.T) {
	p := createProduct(t, map[string]any{"stock": 1})
	// Cached everywhere first: at the edge and in the catalogs.
	for range 2 * catalogInstances(t) {
		getProduct(t, p.ID)
		call(t, "GET", fmt.Sprintf("/api/v1/products/%d", p.ID), nil, nil)
	}
	a, b := newShopper(t), newShopper(t)
	want(t, a.addToCart(p.ID, 1), 200, "a adds")
	late := b.addToCart(p.ID, 1)
	want(t, late, 409, "b adds the unit a holds")
	if !strings.Contains(string(late.body), fmt.Sprint(p.ID)) || late.header.Get("X-Sold-Out") != "1" {
		t.Errorf("the 409 does not name product %d or is not marked sold out: %s %v", p.ID, late.body, late.header)
	}
	want(t, a.checkout(unique("k"), map[string]string{"email": "a@shop.test"}), 201, "a buys")
	sold := time.Now()
	n := catalogInstances(t)
	eventually(t, time.Second-time.Since(sold), "sold out on every instance and at the edge", func() bool {
		for range 2 * n {
			if q, _ := getProduct(t, p.ID); q.Stock != 0 {
				return false
			}
		}
		var q product
		call(t, "GET", fmt.Sprintf("/api/v1/products/%d", p.ID), nil, nil).json(t, &q)
		return q.Stock == 0
	})
}

// Once the orders service says a product is sold out, the edge refuses the next additions of
// it to a cart itself, the same problem, for 2 s; a restock shows a few seconds later.
func TestSoldOutGateAtTheEdge(t *testing.T) {
	p := createProduct(t, map[string]any{"stock": 0})
	first := newShopper(t).addToCart(p.ID, 1)
	want(t, first, 409, "add a sold-out product")
	if first.header.Get("X-Sold-Out") != "1" || first.header.Get("X-Gateway") == "" {
		t.Fatalf("first refusal: X-Sold-Out %q, X-Gateway %q: want the orders service's, marked sold out",
			first.header.Get("X-Sold-Out"), first.header.Get("X-Gateway"))
	}
	next := newShopper(t).addToCart(p.ID, 1)
	want(t, next, 409, "add it again at once")
	if next.header.Get("X-Gateway") != "" {
		t.Fatalf("the second refusal came from gateway %s, not from the edge", next.header.Get("X-Gateway"))
	}
	var prob struct {
		Status int    `json:"status"`
		Detail string `json:"detail"`
	}
	next.json(t, &prob)
	if prob.Status != 409 || !strings.Contains(prob.Detail, fmt.Sprintf("product %d ", p.ID)) ||
		next.header.Get("Content-Type") != "application/problem+json" || next.header.Get("Cache-Control") != "private, no-store" {
		t.Fatalf("the edge's refusal: %s %q %q", next.body, next.header.Get("Content-Type"), next.header.Get("Cache-Control"))
	}
	// A product that is not sold out is not gated: the gate is per product.
	want(t, newShopper(t).addToCart(createProduct(t, nil).ID, 1), 200, "add another product")

	r := call(t, http.MethodPost, fmt.Sprintf("/api/v1/admin/products/%d/stock-adjustments", p.ID), map[string]int{"delta": 3}, admin())
	want(t, r, 200, "restock")
	restocked := time.Now()
	// Within the gate's 2 s, and the orders instances' product copies (500 ms, answered stale
	// for a moment while refreshed: a stale refusal re-arms the gate once).
	eventually(t, 6*time.Second, "a restocked product can be added again", func() bool {
		return newShopper(t).addToCart(p.ID, 1).status == 200
	})
	t.Logf("a restock showed %v after it was made", time.Since(restocked).Round(100*time.Millisecond))
}

// Bad input gets a 4xx problem, never a 5xx.
func TestShopBadInputGetsAProblem(t *testing.T) {
	p := createProduct(t, map[string]any{"stock": 3})
	s := newShopper(t)
	want(t, s.addToCart(p.ID, 1), 200, "add to cart")
	item := fmt.Sprintf("/api/v1/cart/items/%d", p.ID)
	for _, c := range []struct {
		name, method, path string
		body               any
		header             []string
		status             int
	}{
		{"unknown product", "PUT", "/api/v1/cart/items/999999999", map[string]int{"quantity": 1}, nil, 404},
		{"product id not a number", "PUT", "/api/v1/cart/items/abc", map[string]int{"quantity": 1}, nil, 404},
		{"quantity 0", "PUT", item, map[string]int{"quantity": 0}, nil, 422},
		{"negative quantity", "PUT", item, map[string]int{"quantity": -1}, nil, 422},
		{"huge quantity", "PUT", item, map[string]any{"quantity": 1e12}, nil, 422},
		{"quantity not a number", "PUT", item, map[string]any{"quantity": "two"}, nil, 422},
		{"malformed body", "PUT", item, []byte(`{"quantity":`), nil, 400},
		{"unknown field", "PUT", item, map[string]any{"quantity": 1, "price_cents": 1}, nil, 400},
		{"more than the stock", "PUT", item, map[string]int{"quantity": 4}, nil, 409},
		{"no Idempotency-Key", "POST", "/api/v1/orders", map[string]string{"email": "x@shop.test"}, nil, 400},
		{"malformed Idempotency-Key", "POST", "/api/v1/orders", map[string]string{"email": "x@shop.test"}, []string{"Idempotency-Key", strings.Repeat("k", 300)}, 422},
		{"malformed checkout body", "POST", "/api/v1/orders", []byte(`{"email":`), []string{"Idempotency-Key", unique("k")}, 400},
		{"invalid email", "POST", "/api/v1/orders", map[string]string{"email": "not an address"}, []string{"Idempotency-Key", unique("k")}, 422},
		{"order id not a number", "GET", "/api/v1/orders/abc", nil, nil, 404},
		{"no such order", "GET", "/api/v1/orders/999999999", nil, nil, 404},
		{"wrong password", "POST", "/api/v1/session", map[string]string{"email": "nobody@shop.test", "password": "wrong password"}, nil, 401},
		{"register, short password", "POST", "/api/v1/customers", map[string]string{"email": unique("x") + "@shop.test", "password": "short"}, nil, 422},
	} {
		r := s.do(c.method, c.path, c.body, c.header...)
		if r.status != c.status {
			t.Errorf("%s: %d %s, want %d", c.name, r.status, r.body, c.status)
		}
		if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
			t.Errorf("%s: Content-Type %q, want application/problem+json", c.name, ct)
		}
	}
	// A taken email, in any case.
	email := unique("taken") + "@shop.test"
	newShopper(t).register(email, "correct horse battery staple")
	want(t, newShopper(t).do("POST", "/api/v1/customers", map[string]string{"email": strings.ToUpper(email), "password": "correct horse battery staple"}), 409, "register a taken email")
}

// A guest's cart follows them into their account when they log in; logging out ends the session.
func TestGuestCartMergesAtLogin(t *testing.T) {
	p := createProduct(t, map[string]any{"stock": 5})
	email, password := unique("merge")+"@shop.test", "correct horse battery staple"
	first := newShopper(t)
	first.register(email, password)
	want(t, first.do("DELETE", "/api/v1/session", nil), 204, "log out")

	s := newShopper(t)
	want(t, s.addToCart(p.ID, 2), 200, "guest adds")
	want(t, s.do("POST", "/api/v1/session", map[string]string{"email": email, "password": password}), 200, "log in")
	if c := s.cart(); len(c.Items) != 1 || c.Items[0].Quantity != 2 {
		t.Errorf("cart after login: %+v, want the guest's 2 units", c)
	}
	want(t, s.do("DELETE", "/api/v1/session", nil), 204, "log out")
	if c := s.cart(); len(c.Items) != 0 {
		t.Errorf("cart after logout: %+v, want empty", c)
	}
}

// The session cookie is HttpOnly and SameSite=Lax, and only a write makes a session.
func TestSessionCookie(t *testing.T) {
	r := call(t, "GET", "/api/v1/cart", nil, nil)
	if r.status != 200 || r.header.Get("Set-Cookie") != "" {
		t.Errorf("a cart read without a session: %d, Set-Cookie %q; want 200 and no session", r.status, r.header.Get("Set-Cookie"))
	}
	p := createProduct(t, map[string]any{"stock": 1})
	r = call(t, "PUT", fmt.Sprintf("/api/v1/cart/items/%d", p.ID), map[string]int{"quantity": 1}, nil)
	cookie := r.header.Get("Set-Cookie")
	for _, attr := range []string{"HttpOnly", "SameSite=Lax", "Path=/"} {
		if !strings.Contains(cookie, attr) {
			t.Errorf("session cookie %q lacks %s", cookie, attr)
		}
	}
}

// A cookie-authenticated write from another site's page is refused (CSRF); the same write from
// the shop's own origin passes.
func TestCrossSiteWritesAreRefused(t *testing.T) {
	p := createProduct(t, map[string]any{"stock": 5})
	s := newShopper(t)
	want(t, s.addToCart(p.ID, 1), 200, "add to cart")
	path := fmt.Sprintf("/api/v1/cart/items/%d", p.ID)
	want(t, s.do("PUT", path, map[string]int{"quantity": 2}, "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"), 403, "a cross-site write")
	want(t, s.do("PUT", path, map[string]int{"quantity": 2}, "Origin", baseURL, "Sec-Fetch-Site", "same-origin"), 200, "a same-origin write")
}

// Only the gateway can say who is asking: an identity header a client makes up is dropped at
// the gateway, and a caller inside the network without the gateway's signature gets a 401.
func TestOrdersTrustOnlyTheGatewaysSignature(t *testing.T) {
	forged := `eyJzaWQiOiJ4IiwiY2lkIjoxfQ.AAAA`
	r := call(t, "GET", "/api/v1/orders", nil, map[string]string{"X-Flashcrowd-Identity": forged})
	if r.status != 200 || strings.Contains(string(r.body), `"id"`) {
		t.Errorf("a forged identity at the edge: %d %s; want an empty list", r.status, r.body)
	}
	for _, target := range []string{"http://haproxy:8081/api/v1/orders", "http://orders:8080/api/v1/orders", "http://orders:8080/api/v1/cart"} {
		for _, h := range [][]string{nil, {"X-Flashcrowd-Identity: " + forged}} {
			if got := inNetwork(t, "GET", target, h...); got != "401" {
				t.Errorf("GET %s from inside the network with %v: %s, want 401", target, h, got)
			}
		}
	}
}

// Sessions live in Redis, not in a gateway: a cart survives the gateway instance that served it
// being killed, because any other instance finds the same session.
func TestCartSurvivesTheGatewayThatMadeIt(t *testing.T) {
	p := createProduct(t, map[string]any{"stock": 5})
	s := newShopper(t)
	r := want(t, s.addToCart(p.ID, 3), 200, "add to cart")
	served := r.header.Get("X-Gateway")
	if served == "" {
		t.Fatal("the gateway does not say which instance served (X-Gateway)")
	}
	// A container's hostname is the start of its id.
	var victim string
	for _, id := range strings.Fields(compose(t, "ps", "-q", "gateway")) {
		if strings.HasPrefix(id, served) {
			victim = id
		}
	}
	if victim == "" {
		t.Fatalf("no gateway container has id %s", served)
	}
	if out, err := exec.Command("docker", "kill", victim).CombinedOutput(); err != nil {
		t.Fatalf("docker kill: %v %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("docker", "start", victim).CombinedOutput(); err != nil {
			t.Errorf("docker start: %v %s", err, out)
		}
		compose(t, "up", "--wait", "--no-recreate", "gateway")
	})
	for range 5 {
		r := want(t, s.do("GET", "/api/v1/cart", nil), 200, "GET cart with a gateway gone")
		if by := r.header.Get("X-Gateway"); by == served {
			t.Fatalf("a killed gateway (%s) answered", by)
		}
		var c cartView
		r.json(t, &c)
		if len(c.Items) != 1 || c.Items[0].Quantity != 3 {
			t.Fatalf("cart after its gateway died: %+v", c)
		}
	}
}

// Login attempts are limited per account: past the limit a wrong password, or even the right
// one, gets a 429 with Retry-After until the window passes.
func TestLoginAttemptsAreLimited(t *testing.T) {
	email, password := unique("limited")+"@shop.test", "correct horse battery staple"
	newShopper(t).register(email, password)
	s := newShopper(t)
	var limited response
	for range 20 {
		limited = s.do("POST", "/api/v1/session", map[string]string{"email": email, "password": "wrong password"})
		if limited.status == http.StatusTooManyRequests {
			break
		}
		if limited.status != http.StatusUnauthorized {
			t.Fatalf("wrong password: %d %s", limited.status, limited.body)
		}
	}
	if limited.status != http.StatusTooManyRequests || limited.header.Get("Retry-After") == "" {
		t.Fatalf("20 wrong passwords: %d, Retry-After %q; want 429 with Retry-After", limited.status, limited.header.Get("Retry-After"))
	}
	want(t, s.do("POST", "/api/v1/session", map[string]string{"email": email, "password": password}), 429, "the right password while limited")
}

// Every order event reaches the configured webhook endpoint, signed with the shared secret.
func TestOrderEventsReachTheWebhookSigned(t *testing.T) {
	p := createProduct(t, map[string]any{"stock": 1})
	s := newShopper(t)
	want(t, s.addToCart(p.ID, 1), 200, "add to cart")
	var o orderView
	want(t, s.checkout(unique("k"), map[string]string{"email": "hook@shop.test"}), 201, "checkout").json(t, &o)
	eventually(t, 30*time.Second, "the order.created event at the webhook receiver, signed", func() bool {
		out := compose(t, "exec", "-T", "haproxy", "curl", "-fsS", "http://webhook-sink:8080/deliveries")
		var deliveries []struct {
			Body     json.RawMessage `json:"body"`
			Verified bool            `json:"signature_valid"`
		}
		if err := json.Unmarshal([]byte(out), &deliveries); err != nil {
			t.Fatalf("webhook receiver: %v: %s", err, out)
		}
		for _, d := range deliveries {
			var ev struct {
				Type  string `json:"type"`
				Order struct {
					ID int64 `json:"id"`
				} `json:"order"`
			}
			if json.Unmarshal(d.Body, &ev) == nil && ev.Type == "order.created" && ev.Order.ID == o.ID {
				if !d.Verified {
					t.Fatalf("the event for order %d arrived with a bad signature", o.ID)
				}
				return true
			}
		}
		return false
	})
}
