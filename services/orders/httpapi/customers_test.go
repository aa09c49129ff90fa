package httpapi

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

func (a *api) register(email, password string) *httptest.ResponseRecorder {
	return a.do(req{method: "POST", path: "/internal/v1/customers", as: guest,
		body: body(a.t, map[string]string{"email": email, "password": password})})
}

func (a *api) login(as caller, email, password string) *httptest.ResponseRecorder {
	return a.do(req{method: "POST", path: "/internal/v1/customers/login", as: as,
		body: body(a.t, map[string]string{"email": email, "password": password})})
}

func TestRegister(t *testing.T) {
	a := newAPI(t)
	rec := a.register(" Ada@Example.COM", "correct horse battery")
	want(t, rec, http.StatusCreated)
	c := decodeJSON[customerView](t, rec)
	if c.ID == 0 || c.Email != "ada@example.com" {
		t.Errorf("customer: %+v", c)
	}
	stored := a.store.customers["ada@example.com"]
	if !strings.HasPrefix(stored.hash, "$2a$10$") || strings.Contains(stored.hash, "horse") {
		t.Errorf("stored hash %q: want bcrypt, cost 10", stored.hash)
	}
	// Taken, whatever the case of the address.
	want(t, a.register("ADA@example.com", "another password"), http.StatusConflict)
}

func TestRegisterRefusesBadInput(t *testing.T) {
	tests := []struct {
		name, body string
		want       int
	}{
		{"no email", `{"password":"long enough"}`, http.StatusUnprocessableEntity},
		{"bad email", `{"email":"ada","password":"long enough"}`, http.StatusUnprocessableEntity},
		{"email without domain dot", `{"email":"ada@localhost","password":"long enough"}`, http.StatusUnprocessableEntity},
		{"short password", `{"email":"ada@example.com","password":"short"}`, http.StatusUnprocessableEntity},
		{"long password", `{"email":"ada@example.com","password":"` + strings.Repeat("p", 129) + `"}`, http.StatusUnprocessableEntity},
		{"malformed", `{"email":"ada@example.com",`, http.StatusBadRequest},
		{"unknown field", `{"email":"ada@example.com","password":"long enough","admin":true}`, http.StatusBadRequest},
		{"password not a string", `{"email":"ada@example.com","password":12345678}`, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newAPI(t)
			want(t, a.do(req{method: "POST", path: "/internal/v1/customers", body: tt.body, as: guest}), tt.want)
			if len(a.store.customers) != 0 {
				t.Error("a refused registration was stored")
			}
		})
	}
	a := newAPI(t)
	want(t, a.do(req{method: "POST", path: "/internal/v1/customers", body: `{}`, as: guest,
		header: map[string]string{"Content-Type": "text/plain"}}), http.StatusUnsupportedMediaType)
}

func TestLoginMergesTheGuestCart(t *testing.T) {
	a := newAPI(t)
	want(t, a.register("ada@example.com", "correct horse battery"), http.StatusCreated)
	id := a.store.customers["ada@example.com"].c.ID
	account := caller{session: "other", customer: id, email: "ada@example.com"}
	a.catalog.setStock(1, 500)
	a.fill(account, map[string]int{"1": 98, "2": 1})
	// The guest's cart, before the login: 3 more of product 1.
	a.fill(guest, map[string]int{"1": 3})

	rec := a.login(guest, "ADA@example.com", "correct horse battery")
	want(t, rec, http.StatusOK)
	if c := decodeJSON[customerView](t, rec); c.ID != id || c.Email != "ada@example.com" {
		t.Errorf("login: %+v", c)
	}
	if a.redis.Exists("cart:s:guest-session-1") {
		t.Error("the guest cart is still there")
	}
	cart := decodeJSON[cartView](t, a.do(req{method: "GET", path: "/api/v1/cart", as: account}))
	if len(cart.Items) != 2 || cart.Items[0].Quantity != 99 || cart.Items[1].Quantity != 1 {
		t.Errorf("merged cart (capped at 99): %+v", cart.Items)
	}
	// What the guest held, the account holds now.
	if got := a.redis.HGet("stock:1:held", "c:"+strconv.FormatInt(id, 10)); got != "101" {
		t.Errorf("the account holds %q of product 1, want 101 (98 + the guest's 3)", got)
	}
	if got := a.redis.HGet("stock:1:held", "s:guest-session-1"); got != "" {
		t.Errorf("the guest still holds %q", got)
	}
}

func TestLoginRefusesWrongCredentialsAlike(t *testing.T) {
	a := newAPI(t)
	want(t, a.register("ada@example.com", "correct horse battery"), http.StatusCreated)
	a.fill(guest, map[string]int{"1": 1})

	timeOf := func(email, password string) time.Duration {
		start := time.Now()
		rec := a.login(guest, email, password)
		want(t, rec, http.StatusUnauthorized)
		if p := problem(t, rec); p.Detail != "wrong email or password" {
			t.Errorf("detail %q", p.Detail)
		}
		return time.Since(start)
	}
	wrong := timeOf("ada@example.com", "wrong password!")
	unknown := timeOf("eve@example.com", "wrong password!")
	timeOf("ada@example.com", "short")
	// Both paths do one bcrypt comparison at cost 10 (tens of milliseconds); an unknown email
	// must not answer at once.
	if unknown < wrong/4 {
		t.Errorf("unknown email answered in %v, wrong password in %v: the timing tells them apart", unknown, wrong)
	}
	if !a.redis.Exists("cart:s:guest-session-1") {
		t.Error("a failed login touched the guest cart")
	}
	for _, b := range []string{`{"email":"ada@example.com"}`, `{"password":"x"}`, `{"email":"ada@example.com","password":"` + strings.Repeat("p", 129) + `"}`} {
		want(t, a.do(req{method: "POST", path: "/internal/v1/customers/login", body: b, as: guest}), http.StatusUnprocessableEntity)
	}
	want(t, a.do(req{method: "POST", path: "/internal/v1/customers/login", body: `{"email":`, as: guest}), http.StatusBadRequest)
}

func TestLoginWhenRedisIsDown(t *testing.T) {
	a := newAPI(t)
	want(t, a.register("ada@example.com", "correct horse battery"), http.StatusCreated)
	a.redis.Close()
	want(t, a.login(guest, "ada@example.com", "correct horse battery"), http.StatusServiceUnavailable)
}
