package httpapi

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/flashcrowd/flashcrowd/services/orders"
)

// place puts n orders of owner straight in the store.
func (a *api) place(as caller, n int) []int64 {
	var ids []int64
	for range n {
		a.fill(as, map[string]int{"1": 1})
		body := `{"email":"ada@example.com"}`
		if as.customer > 0 {
			body = ""
		}
		rec := a.checkout(as, fmt.Sprintf("key-%d", a.store.places), body)
		want(a.t, rec, http.StatusCreated)
		ids = append(ids, decodeJSON[orderView](a.t, rec).ID)
		a.store.mu.Lock()
		a.store.stock[1] = 5 // keep it buyable
		a.store.mu.Unlock()
	}
	return ids
}

func TestListOrders(t *testing.T) {
	a := newAPI(t)
	mine := a.place(ada, 3)
	a.place(bob, 1)

	rec := a.do(req{method: "GET", path: "/api/v1/orders?limit=2", as: ada})
	want(t, rec, 200)
	page := decodeJSON[orderPage](t, rec)
	if len(page.Items) != 2 || page.Items[0].ID != mine[2] || page.Items[1].ID != mine[1] || page.NextCursor != fmt.Sprint(mine[1]) {
		t.Fatalf("first page: %+v", page)
	}
	rec = a.do(req{method: "GET", path: "/api/v1/orders?limit=2&cursor=" + page.NextCursor, as: ada})
	want(t, rec, 200)
	page = decodeJSON[orderPage](t, rec)
	if len(page.Items) != 1 || page.Items[0].ID != mine[0] || page.NextCursor != "" {
		t.Fatalf("last page: %+v", page)
	}
	// A session with no orders sees none, not somebody else's.
	rec = a.do(req{method: "GET", path: "/api/v1/orders", as: guest})
	want(t, rec, 200)
	if page := decodeJSON[orderPage](t, rec); len(page.Items) != 0 {
		t.Errorf("guest sees %+v", page)
	}

	for _, q := range []string{"cursor=abc", "cursor=-1", "cursor=0", "limit=0", "limit=101", "limit=x"} {
		want(t, a.do(req{method: "GET", path: "/api/v1/orders?" + q, as: ada}), http.StatusBadRequest)
	}
	for _, err := range []error{orders.ErrTimeout, orders.ErrUnavailable} {
		a.store.setErr(fmt.Errorf("orders: %w", err))
		want(t, a.do(req{method: "GET", path: "/api/v1/orders", as: ada}), http.StatusServiceUnavailable)
	}
}

func TestGetOrder(t *testing.T) {
	a := newAPI(t)
	id := a.place(ada, 1)[0]
	path := fmt.Sprintf("/api/v1/orders/%d", id)
	rec := a.do(req{method: "GET", path: path, as: ada})
	want(t, rec, 200)
	if o := decodeJSON[orderView](t, rec); o.ID != id || o.Status != "placed" || len(o.Lines) != 1 {
		t.Errorf("order: %+v", o)
	}
	// Someone else's order, one that does not exist and a malformed id: all the same 404.
	for _, r := range []req{
		{method: "GET", path: path, as: bob},
		{method: "GET", path: path, as: guest},
		{method: "GET", path: "/api/v1/orders/999", as: ada},
		{method: "GET", path: "/api/v1/orders/abc", as: ada},
		{method: "GET", path: "/api/v1/orders/0", as: ada},
	} {
		want(t, a.do(r), http.StatusNotFound)
	}
}

func TestCancelOrder(t *testing.T) {
	a := newAPI(t)
	id := a.place(ada, 1)[0]
	cancel := fmt.Sprintf("/api/v1/orders/%d/cancel", id)
	nudges := a.nudges

	want(t, a.do(req{method: "POST", path: cancel, as: bob}), http.StatusNotFound)
	want(t, a.do(req{method: "POST", path: "/api/v1/orders/999/cancel", as: ada}), http.StatusNotFound)
	want(t, a.do(req{method: "POST", path: "/api/v1/orders/x/cancel", as: ada}), http.StatusNotFound)

	a.advance(10 * time.Minute)
	rec := a.do(req{method: "POST", path: cancel, as: ada})
	want(t, rec, 200)
	o := decodeJSON[orderView](t, rec)
	if o.Status != "cancelled" || o.CancelledAt == nil {
		t.Errorf("cancelled order: %+v", o)
	}
	if a.store.stock[1] != 5+1 {
		t.Errorf("stock not returned: %d", a.store.stock[1])
	}
	if a.nudges != nudges+1 {
		t.Error("the relay was not nudged for the cancellation's outbox row")
	}
	want(t, a.do(req{method: "POST", path: cancel, as: ada}), http.StatusConflict)

	late := a.place(ada, 1)[0]
	a.advance(31 * time.Minute)
	want(t, a.do(req{method: "POST", path: fmt.Sprintf("/api/v1/orders/%d/cancel", late), as: ada}), http.StatusConflict)
}
