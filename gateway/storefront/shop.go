package storefront

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
)

// cartLine and cartView are the orders API's cart.
type cartLine struct {
	ProductID      int64  `json:"product_id"`
	SKU            string `json:"sku"`
	Name           string `json:"name"`
	Quantity       int32  `json:"quantity"`
	UnitPriceCents int64  `json:"unit_price_cents"`
	Currency       string `json:"currency"`
	LineTotalCents int64  `json:"line_total_cents"`
	Stock          int32  `json:"stock"`
	Available      bool   `json:"available"`
}

type cartView struct {
	Items      []cartLine `json:"items"`
	TotalCents int64      `json:"total_cents"`
	Currency   string     `json:"currency"`
	ItemCount  int32      `json:"item_count"`
}

// cartPage is the cart page's data.
type cartPage struct {
	Cart    cartView
	Problem string // what went wrong with the last form, if anything
	Email   string // as typed in the checkout form
	Key     string // the checkout's Idempotency-Key: one per cart page, so a resent form is one order
}

// orderView is the orders API's order.
type orderView struct {
	ID         int64     `json:"id"`
	Status     string    `json:"status"`
	Email      string    `json:"email"`
	Currency   string    `json:"currency"`
	TotalCents int64     `json:"total_cents"`
	PlacedAt   time.Time `json:"placed_at"`
	Lines      []struct {
		ProductID      int64  `json:"product_id"`
		SKU            string `json:"sku"`
		Name           string `json:"name"`
		Quantity       int32  `json:"quantity"`
		UnitPriceCents int64  `json:"unit_price_cents"`
		LineTotalCents int64  `json:"line_total_cents"`
	} `json:"lines"`
}

func (s *shop) cart(w http.ResponseWriter, r *http.Request) {
	s.showCart(w, r, http.StatusOK, "", "")
}

// showCart renders the shopper's cart, with the problem of the last form when there is one
// (and that form's status).
func (s *shop) showCart(w http.ResponseWriter, r *http.Request, code int, problem, email string) {
	a := s.callAPI(w, r, http.MethodGet, "/api/v1/cart", nil, nil)
	var c cartView
	if a.status != http.StatusOK || json.Unmarshal(a.body, &c) != nil {
		s.failed(w, r, a.err())
		return
	}
	s.private(w, r, code, "cart", view{Title: "Your cart", Data: cartPage{Cart: c, Problem: problem, Email: email, Key: newKey()}})
}

// maxForm bounds a form's body: the shop's forms are a few fields.
const maxForm = 16 << 10

// parseForm reads a posted form, or answers why not.
func (s *shop) parseForm(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		s.fail(w, r, http.StatusBadRequest, "The form could not be read.")
		return false
	}
	return true
}

// putItem sets a cart line from a form (product_id, quantity), then shows the cart.
func (s *shop) putItem(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	id, err := strconv.ParseInt(r.PostFormValue("product_id"), 10, 64)
	if err != nil || id < 1 {
		s.fail(w, r, http.StatusBadRequest, "The form did not say which product.")
		return
	}
	q := strings.TrimSpace(r.PostFormValue("quantity"))
	if q == "" {
		q = "1"
	}
	// The API checks the quantity (a whole number in range) and answers a problem otherwise.
	a := s.callAPI(w, r, http.MethodPut, "/api/v1/cart/items/"+strconv.FormatInt(id, 10), json.RawMessage(jsonNumberOrString(q)), nil)
	if a.status/100 != 2 {
		s.formFailed(w, r, a, "")
		return
	}
	http.Redirect(w, r, "/cart", http.StatusSeeOther)
}

// jsonNumberOrString passes a whole number on as a JSON number, anything else as a string, so
// the API names the field in its refusal.
func jsonNumberOrString(q string) string {
	if _, err := strconv.ParseInt(q, 10, 64); err == nil {
		return `{"quantity":` + q + `}`
	}
	b, _ := json.Marshal(map[string]string{"quantity": q})
	return string(b)
}

func (s *shop) removeItem(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil || id < 1 {
		s.fail(w, r, http.StatusNotFound, "There is no such cart line.")
		return
	}
	a := s.callAPI(w, r, http.MethodDelete, "/api/v1/cart/items/"+strconv.FormatInt(id, 10), nil, nil)
	if a.status/100 != 2 {
		s.formFailed(w, r, a, "")
		return
	}
	http.Redirect(w, r, "/cart", http.StatusSeeOther)
}

// checkout places the cart's order with the form's key, then shows the order.
func (s *shop) checkout(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	key := r.PostFormValue("key")
	email := strings.TrimSpace(r.PostFormValue("email"))
	body := map[string]string{}
	if email != "" {
		body["email"] = email
	}
	a := s.callAPI(w, r, http.MethodPost, "/api/v1/orders", body, map[string]string{"Idempotency-Key": key})
	if a.status != http.StatusCreated {
		s.formFailed(w, r, a, email)
		return
	}
	var o orderView
	if err := json.Unmarshal(a.body, &o); err != nil || o.ID == 0 {
		s.failed(w, r, &apiError{Status: http.StatusBadGateway})
		return
	}
	http.Redirect(w, r, "/orders/"+strconv.FormatInt(o.ID, 10), http.StatusSeeOther)
}

func (s *shop) order(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil || id < 1 {
		s.fail(w, r, http.StatusNotFound, "There is no such order.")
		return
	}
	a := s.callAPI(w, r, http.MethodGet, "/api/v1/orders/"+strconv.FormatInt(id, 10), nil, nil)
	var o orderView
	if a.status != http.StatusOK || json.Unmarshal(a.body, &o) != nil {
		s.failed(w, r, a.err())
		return
	}
	s.private(w, r, http.StatusOK, "order", view{Title: "Order " + strconv.FormatInt(o.ID, 10), Data: o})
}

// formFailed shows the cart again with the API's refusal of a form (sold out, a bad quantity,
// a cart that cannot be ordered), under the API's status; a failure of the API itself is an
// error page.
func (s *shop) formFailed(w http.ResponseWriter, r *http.Request, a apiAnswer, email string) {
	if a.notTheForm() {
		s.failed(w, r, a.err())
		return
	}
	s.showCart(w, r, a.status, a.detail(), email)
}

// newKey is a checkout form's Idempotency-Key.
func newKey() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return "web-" + hex.EncodeToString(b)
}
