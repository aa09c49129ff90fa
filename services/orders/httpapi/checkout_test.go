package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/flashcrowd/flashcrowd/services/orders"
)

func (a *api) checkout(as caller, key, body string) *httptest.ResponseRecorder {
	return a.do(req{method: "POST", path: "/api/v1/orders", body: body, as: as, header: map[string]string{IdempotencyHeader: key}})
}

func (a *api) fill(as caller, quantities map[string]int) {
	a.t.Helper()
	for id, q := range quantities {
		want(a.t, a.do(req{method: "PUT", path: "/api/v1/cart/items/" + id, body: fmt.Sprintf(`{"quantity":%d}`, q), as: as}), 200)
	}
}

func TestCheckoutPlacesAnOrder(t *testing.T) {
	a := newAPI(t)
	a.fill(guest, map[string]int{"1": 2, "2": 1})
	rec := a.checkout(guest, "order-1", `{"email":" Ada@Example.com "}`)
	want(t, rec, http.StatusCreated)
	o := decodeJSON[orderView](t, rec)
	if rec.Header().Get("Location") != fmt.Sprintf("/api/v1/orders/%d", o.ID) {
		t.Errorf("Location %q for order %d", rec.Header().Get("Location"), o.ID)
	}
	if o.Status != "placed" || o.Email != "ada@example.com" || o.TotalCents != 2*1999+4500 || len(o.Lines) != 2 ||
		o.Lines[0].LineTotalCents != 3998 || !o.CancellableUntil.Equal(o.PlacedAt.Add(30*time.Minute)) {
		t.Errorf("order: %+v", o)
	}
	// The cart is empty, the relay was woken, the catalog told of both products' new stock.
	if a.redis.Exists("cart:s:guest-session-1") {
		t.Error("cart not emptied")
	}
	if a.nudges != 1 {
		t.Errorf("relay nudged %d times", a.nudges)
	}
	select {
	case <-a.catalog.noticed:
	case <-time.After(5 * time.Second):
		t.Fatal("the catalog was not told of the stock change")
	}
	var notice struct {
		LSN     string               `json:"lsn"`
		Changes []orders.StockChange `json:"changes"`
	}
	a.catalog.mu.Lock()
	_ = json.Unmarshal(a.catalog.notices[0], &notice)
	a.catalog.mu.Unlock()
	if notice.LSN != "0/16B3748" || len(notice.Changes) != 2 || notice.Changes[0] != (orders.StockChange{ProductID: 1, Stock: 3, Was: 5}) {
		t.Errorf("notice: %+v", notice)
	}
}

func TestCheckoutIsIdempotent(t *testing.T) {
	a := newAPI(t)
	a.fill(guest, map[string]int{"1": 1})
	first := a.checkout(guest, "key_A-1", `{"email":"ada@example.com"}`)
	want(t, first, http.StatusCreated)

	// The same key and request again, spelled differently: the same answer, no second order.
	again := a.checkout(guest, "key_A-1", `{ "email" : "ADA@example.com" }`)
	want(t, again, http.StatusCreated)
	if again.Body.String() != first.Body.String() || again.Header().Get("Location") != first.Header().Get("Location") {
		t.Errorf("replay differs:\n%s\n%s", first.Body, again.Body)
	}
	// The same key with another request.
	want(t, a.checkout(guest, "key_A-1", `{"email":"bob@example.com"}`), http.StatusUnprocessableEntity)
	if a.store.places != 1 {
		t.Errorf("%d placements, want 1", a.store.places)
	}
	// The key is the owner's: another session may use it for its own order.
	a.fill(guest2, map[string]int{"1": 1})
	want(t, a.checkout(guest2, "key_A-1", `{"email":"bob@example.com"}`), http.StatusCreated)
}

func TestCheckoutLostRaceAnswersTheWinnersOrder(t *testing.T) {
	a := newAPI(t)
	a.fill(guest, map[string]int{"1": 1})
	// Another request with the same key commits between this one's look-up and its insert.
	a.store.race = func() {
		a.store.race = nil
		a.store.mu.Lock()
		a.store.orders = append(a.store.orders, orders.Order{ID: 41, Owner: "s:guest-session-1", Key: "k", Status: "placed",
			Email: "ada@example.com", RequestHash: requestHash("ada@example.com"), Currency: "EUR"})
		a.store.mu.Unlock()
	}
	rec := a.checkout(guest, "k", `{"email":"ada@example.com"}`)
	want(t, rec, http.StatusCreated)
	if o := decodeJSON[orderView](t, rec); o.ID != 41 {
		t.Errorf("answered order %d, want the winner's 41", o.ID)
	}
}

func TestCheckoutSignedIn(t *testing.T) {
	a := newAPI(t)
	a.fill(ada, map[string]int{"2": 2})
	// No body at all: the account's address.
	rec := a.do(req{method: "POST", path: "/api/v1/orders", as: ada, header: map[string]string{IdempotencyHeader: "k"}})
	want(t, rec, http.StatusCreated)
	if o := decodeJSON[orderView](t, rec); o.Email != "ada@example.com" {
		t.Errorf("email %q", o.Email)
	}
	if a.store.orders[0].Owner != "c:7" || a.store.orders[0].CustomerID != 7 {
		t.Errorf("owner %q customer %d", a.store.orders[0].Owner, a.store.orders[0].CustomerID)
	}
	// The same key again is the same order; with another body it is refused, although the
	// body's address would be ignored: a retry must be the same request.
	want(t, a.checkout(ada, "k", `{}`), http.StatusCreated)
	want(t, a.checkout(ada, "k", `{"email":"other@example.com"}`), http.StatusUnprocessableEntity)
	if a.store.places != 1 {
		t.Errorf("%d placements", a.store.places)
	}
}

func TestCheckoutRefusesBadInput(t *testing.T) {
	tests := []struct {
		name, key, body, contentType string
		as                           caller
		want                         int
	}{
		{"no key", "", `{"email":"ada@example.com"}`, "", guest, http.StatusBadRequest},
		{"key too long", strings.Repeat("k", 65), `{"email":"ada@example.com"}`, "", guest, http.StatusUnprocessableEntity},
		{"key with spaces", "my key", `{"email":"ada@example.com"}`, "", guest, http.StatusUnprocessableEntity},
		{"key with unicode", "ключ", `{"email":"ada@example.com"}`, "", guest, http.StatusUnprocessableEntity},
		{"guest without email", "k", `{}`, "", guest, http.StatusUnprocessableEntity},
		{"guest without body", "k", ``, "", guest, http.StatusBadRequest},
		{"invalid email", "k", `{"email":"not-an-address"}`, "", guest, http.StatusUnprocessableEntity},
		{"email with a name", "k", `{"email":"Ada <ada@example.com>"}`, "", guest, http.StatusUnprocessableEntity},
		{"email too long", "k", `{"email":"` + strings.Repeat("a", 250) + `@example.com"}`, "", guest, http.StatusUnprocessableEntity},
		{"email not a string", "k", `{"email":42}`, "", guest, http.StatusBadRequest},
		{"malformed", "k", `{"email":`, "", guest, http.StatusBadRequest},
		{"unknown field", "k", `{"email":"ada@example.com","total_cents":1}`, "", guest, http.StatusBadRequest},
		{"wrong content type", "k", `{"email":"ada@example.com"}`, "text/plain", guest, http.StatusUnsupportedMediaType},
		{"too large", "k", `{"email":"` + strings.Repeat("a", 70000) + `"}`, "", guest, http.StatusRequestEntityTooLarge},
		{"signed in, malformed", "k", `{"email"`, "", ada, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newAPI(t)
			a.fill(tt.as, map[string]int{"1": 1})
			r := req{method: "POST", path: "/api/v1/orders", body: tt.body, as: tt.as, header: map[string]string{IdempotencyHeader: tt.key}}
			if tt.contentType != "" {
				r.header["Content-Type"] = tt.contentType
			}
			want(t, a.do(r), tt.want)
			if a.store.places != 0 {
				t.Error("a refused checkout reached the store")
			}
		})
	}
}

func TestCheckoutEmptyCart(t *testing.T) {
	a := newAPI(t)
	want(t, a.checkout(guest, "k", `{"email":"ada@example.com"}`), http.StatusUnprocessableEntity)
}

func TestCheckoutSoldOutIsRefusedBeforeTheDatabase(t *testing.T) {
	a := newAPI(t)
	a.fill(guest, map[string]int{"1": 2})
	a.catalog.setStock(1, 1) // sold down since the cart was filled
	rec := a.checkout(guest, "k", `{"email":"ada@example.com"}`)
	want(t, rec, http.StatusConflict)
	if p := problem(t, rec); !strings.Contains(p.Detail, "product 1") || !strings.Contains(p.Detail, "Lamp") || p.Errors["product_id"] != "1" {
		t.Errorf("409 does not name the product: %+v", p)
	}
	if a.store.places != 0 || a.store.lookups != 0 {
		t.Error("a sold-out checkout reached the store")
	}
	// A product deleted since: the same.
	a.catalog.mu.Lock()
	delete(a.catalog.products, 1)
	a.catalog.mu.Unlock()
	want(t, a.checkout(guest, "k", `{"email":"ada@example.com"}`), http.StatusConflict)
	if a.store.places != 0 || a.store.lookups != 0 {
		t.Error("a checkout of a deleted product reached the store")
	}
}

func TestCheckoutOutOfStockInTheTransaction(t *testing.T) {
	a := newAPI(t)
	a.fill(guest, map[string]int{"2": 2}) // both units held for guest
	a.store.mu.Lock()
	a.store.stock[2] = 1 // one went another way (an operator's correction, say): the gate does not know
	a.store.mu.Unlock()
	rec := a.checkout(guest, "k", `{"email":"ada@example.com"}`)
	want(t, rec, http.StatusConflict)
	if p := problem(t, rec); !strings.Contains(p.Detail, "product 2") {
		t.Errorf("409 does not name the product: %q", p.Detail)
	}
	// This instance now knows one is left: asking for two is refused without the store...
	places, lookups := a.store.places, a.store.lookups
	want(t, a.checkout(guest, "k2", `{"email":"ada@example.com"}`), http.StatusConflict)
	if a.store.places != places || a.store.lookups != lookups {
		t.Error("the memo did not spare the store")
	}
	// ...but one may still be held and bought (the refusal gave the count the store's figure);
	// once the memo expires, the shared count (that figure, less the unit just sold) still
	// refuses two without the store.
	a.fill(guest2, map[string]int{"2": 1})
	want(t, a.checkout(guest2, "k", `{"email":"bob@example.com"}`), http.StatusCreated)
	a.advance(2 * memoTTL)
	want(t, a.checkout(guest, "k3", `{"email":"ada@example.com"}`), http.StatusConflict)
	if a.store.places != places+1 {
		t.Errorf("places %d, want %d", a.store.places, places+1)
	}
	if n, _ := a.redis.Get("stock:2"); n != "0" {
		t.Errorf("stock:2 = %q, want 0", n)
	}
}

func TestCheckoutWhenDependenciesFail(t *testing.T) {
	t.Run("catalog down: the database decides", func(t *testing.T) {
		a := newAPI(t)
		a.fill(guest, map[string]int{"1": 1})
		a.catalog.setDown(true)
		want(t, a.checkout(guest, "k", `{"email":"ada@example.com"}`), http.StatusCreated)
		if held := a.redis.HGet("stock:1:held", "s:guest-session-1"); held != "" {
			t.Errorf("the cart's hold outlived its order: %q", held)
		}
	})
	for name, err := range map[string]error{"database timeout": orders.ErrTimeout, "no primary": orders.ErrUnavailable} {
		t.Run(name, func(t *testing.T) {
			a := newAPI(t)
			a.fill(guest, map[string]int{"1": 1})
			a.store.placeErr = fmt.Errorf("place: %w", err)
			rec := a.checkout(guest, "k", `{"email":"ada@example.com"}`)
			want(t, rec, http.StatusServiceUnavailable)
			if rec.Header().Get("Retry-After") == "" {
				t.Error("503 without Retry-After")
			}
		})
	}
	t.Run("answer lost: 503, and the retry finds the order", func(t *testing.T) {
		a := newAPI(t)
		a.fill(guest, map[string]int{"1": 1})
		a.store.placeErr = fmt.Errorf("place: %w: connection reset", orders.ErrOutcomeUnknown)
		rec := a.checkout(guest, "k", `{"email":"ada@example.com"}`)
		want(t, rec, http.StatusServiceUnavailable)
		if p := problem(t, rec); !strings.Contains(p.Detail, "same Idempotency-Key") || rec.Header().Get("Retry-After") == "" {
			t.Errorf("503 %q, Retry-After %q: want the advice to retry with the same key", problem(t, rec).Detail, rec.Header().Get("Retry-After"))
		}
		// It had committed: the retry answers the order and empties the cart.
		a.store.mu.Lock()
		a.store.placeErr = nil
		a.store.orders = append(a.store.orders, orders.Order{ID: 7, Owner: "s:guest-session-1", Key: "k", Status: "placed",
			Email: "ada@example.com", RequestHash: requestHash("ada@example.com"), Currency: "EUR"})
		a.store.mu.Unlock()
		rec = a.checkout(guest, "k", `{"email":"ada@example.com"}`)
		want(t, rec, http.StatusCreated)
		if o := decodeJSON[orderView](t, rec); o.ID != 7 {
			t.Errorf("retry answered order %d, want 7", o.ID)
		}
		if a.redis.Exists("cart:s:guest-session-1") {
			t.Error("the cart of the placed order is still full")
		}
	})
	t.Run("database broken", func(t *testing.T) {
		a := newAPI(t)
		a.fill(guest, map[string]int{"1": 1})
		a.store.placeErr = errBroken
		rec := a.checkout(guest, "k", `{"email":"ada@example.com"}`)
		want(t, rec, http.StatusInternalServerError)
		if strings.Contains(rec.Body.String(), "reset") {
			t.Error("the 500 leaks the error")
		}
	})
	t.Run("redis down", func(t *testing.T) {
		a := newAPI(t)
		a.fill(guest, map[string]int{"1": 1})
		a.redis.Close()
		want(t, a.checkout(guest, "k", `{"email":"ada@example.com"}`), http.StatusServiceUnavailable)
	})
	t.Run("mixed currencies", func(t *testing.T) {
		a := newAPI(t)
		a.fill(guest, map[string]int{"1": 1})
		a.store.placeErr = orders.ErrCurrencies
		want(t, a.checkout(guest, "k", `{"email":"ada@example.com"}`), http.StatusConflict)
	})
}

func TestCheckoutMetrics(t *testing.T) {
	a := newAPI(t)
	a.fill(guest, map[string]int{"1": 1})
	want(t, a.checkout(guest, "k", `{"email":"ada@example.com"}`), http.StatusCreated)
	want(t, a.checkout(guest, "k", `{"email":"ada@example.com"}`), http.StatusCreated)
	want(t, a.checkout(guest, "", `{"email":"ada@example.com"}`), http.StatusBadRequest)
	rec := a.do(req{method: "GET", path: "/metrics"})
	for _, line := range []string{
		`flashcrowd_orders_total{result="placed"} 1`,
		`flashcrowd_orders_total{result="replayed"} 1`,
		`flashcrowd_orders_total{result="rejected"} 1`,
		`flashcrowd_checkout_duration_seconds_count{result="placed"} 1`,
	} {
		if !strings.Contains(rec.Body.String(), line) {
			t.Errorf("/metrics lacks %s", line)
		}
	}
}

// A burst passes the first look together; those that waited for their turn at the database see
// what the first transactions learned, and are refused without one.
func TestCheckoutBurstWaitsItsTurnAndLearns(t *testing.T) {
	a := newAPI(t)
	a.store.mu.Lock()
	a.store.stock[1] = 1 // the catalog still says 5
	a.store.mu.Unlock()
	buyers := []caller{{session: "b0"}, {session: "b1"}, {session: "b2"}, {session: "b3"}}
	for _, b := range buyers {
		a.fill(b, map[string]int{"1": 1})
	}
	entered, release := make(chan struct{}), make(chan struct{})
	a.store.race = func() {
		a.store.race = nil // only the first transaction is held
		close(entered)
		<-release
	}
	codes := make(chan int, len(buyers))
	go func() { codes <- a.checkout(buyers[0], "k", `{"email":"ada@example.com"}`).Code }()
	<-entered
	for _, b := range buyers[1:] {
		go func() { codes <- a.checkout(b, "k", `{"email":"ada@example.com"}`).Code }()
	}
	time.Sleep(100 * time.Millisecond) // the others pass the catalog's look and queue for their turn
	close(release)
	got := map[int]int{}
	for range buyers {
		got[<-codes]++
	}
	if got[http.StatusCreated] != 1 || got[http.StatusConflict] != 3 {
		t.Errorf("answers %v, want one 201 and three 409", got)
	}
	if a.store.places != 1 {
		t.Errorf("%d transactions, want 1: the others should have learned the product sold out", a.store.places)
	}
}
