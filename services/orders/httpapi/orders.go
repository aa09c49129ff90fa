package httpapi

import (
	"context"
	"errors"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/flashcrowd/flashcrowd/foundation/web"
	"github.com/flashcrowd/flashcrowd/services/orders"
)

// Order list limits.
const (
	defaultOrdersLimit = 20
	maxOrdersLimit     = 100
)

type orderLine struct {
	ProductID      int64  `json:"product_id"`
	SKU            string `json:"sku"`
	Name           string `json:"name"`
	Quantity       int32  `json:"quantity"`
	UnitPriceCents int64  `json:"unit_price_cents"`
	LineTotalCents int64  `json:"line_total_cents"`
}

// orderView is an order as the API shows it to its owner.
type orderView struct {
	ID               int64       `json:"id"`
	Status           string      `json:"status"`
	Email            string      `json:"email"`
	Currency         string      `json:"currency"`
	TotalCents       int64       `json:"total_cents"`
	Lines            []orderLine `json:"lines"`
	PlacedAt         time.Time   `json:"placed_at"`
	CancellableUntil time.Time   `json:"cancellable_until"`
	CancelledAt      *time.Time  `json:"cancelled_at,omitempty"`
}

func viewOrder(o orders.Order, window time.Duration) orderView {
	v := orderView{
		ID: o.ID, Status: o.Status, Email: o.Email, Currency: o.Currency, TotalCents: o.TotalCents,
		Lines: make([]orderLine, len(o.Lines)), PlacedAt: o.PlacedAt, CancellableUntil: o.PlacedAt.Add(window),
		CancelledAt: o.CancelledAt,
	}
	for i, l := range o.Lines {
		v.Lines[i] = orderLine{
			ProductID: l.ProductID, SKU: l.SKU, Name: l.Name, Quantity: l.Quantity,
			UnitPriceCents: l.UnitPriceCents, LineTotalCents: int64(l.Quantity) * l.UnitPriceCents,
		}
	}
	return v
}

type orderPage struct {
	Items      []orderView `json:"items"`
	NextCursor string      `json:"next_cursor,omitempty"`
}

func handleListOrders(store Store, window time.Duration) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		before, limit, err := parsePage(r.URL.Query())
		if err != nil {
			return err
		}
		// One more than asked: whether it exists says whether there is a next page.
		list, err := store.Orders(r.Context(), orders.Owner(who(r)), before, limit+1)
		if err != nil {
			return storeProblem(r, err)
		}
		page := orderPage{Items: make([]orderView, 0, min(len(list), limit))}
		for i, o := range list {
			if i == limit {
				page.NextCursor = strconv.FormatInt(list[i-1].ID, 10)
				break
			}
			page.Items = append(page.Items, viewOrder(o, window))
		}
		web.Respond(w, http.StatusOK, page)
		return nil
	}
}

// parsePage reads the keyset cursor (the last id of the page before) and the page size.
func parsePage(q url.Values) (before int64, limit int, err error) {
	before, limit = math.MaxInt64, defaultOrdersLimit
	if c := q.Get("cursor"); c != "" {
		n, perr := strconv.ParseInt(c, 10, 64)
		if perr != nil || n <= 0 {
			return 0, 0, web.NewProblem(http.StatusBadRequest, "query parameter cursor must be a next_cursor this list returned")
		}
		before = n
	}
	if l := q.Get("limit"); l != "" {
		n, perr := strconv.Atoi(l)
		if perr != nil || n < 1 || n > maxOrdersLimit {
			return 0, 0, web.NewProblem(http.StatusBadRequest, "query parameter limit must be a whole number from 1 to %d", maxOrdersLimit)
		}
		limit = n
	}
	return before, limit, nil
}

func handleGetOrder(store Store, window time.Duration) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathID(r, "id", "order")
		if err != nil {
			return err
		}
		o, err := store.Order(r.Context(), orders.Owner(who(r)), id)
		if errors.Is(err, orders.ErrNotFound) {
			// Also for someone else's order: whether it exists is none of the caller's business.
			return web.NewProblem(http.StatusNotFound, "no such order")
		}
		if err != nil {
			return storeProblem(r, err)
		}
		web.Respond(w, http.StatusOK, viewOrder(o, window))
		return nil
	}
}

func handleCancelOrder(co *checkout) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathID(r, "id", "order")
		if err != nil {
			return err
		}
		c, err := co.store.Cancel(r.Context(), orders.Owner(who(r)), id, co.window, co.now())
		switch {
		case errors.Is(err, orders.ErrNotFound):
			return web.NewProblem(http.StatusNotFound, "no such order")
		case errors.Is(err, orders.ErrCancelled):
			return web.NewProblem(http.StatusConflict, "the order is cancelled already")
		case errors.Is(err, orders.ErrCancelWindow):
			return web.NewProblem(http.StatusConflict, "an order can be cancelled only within %s of its checkout", co.window)
		case err != nil:
			return storeProblem(r, err)
		}
		co.committed(r, c)
		if co.carts.stock != nil {
			// Units came back: the counts start again from the next figure.
			ids := make([]int64, len(c.Changes))
			for i, ch := range c.Changes {
				ids[i] = ch.ProductID
			}
			if err := co.carts.stock.Forget(context.WithoutCancel(r.Context()), ids); err != nil {
				web.Log(r.Context()).Warn("stock count not dropped", "err", err)
			}
		}
		web.Respond(w, http.StatusOK, viewOrder(c.Order, co.window))
		return nil
	}
}
