package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/flashcrowd/flashcrowd/foundation/web"
	"github.com/flashcrowd/flashcrowd/services/orders"
	"github.com/flashcrowd/flashcrowd/services/orders/cart"
	"github.com/flashcrowd/flashcrowd/services/orders/catalogapi"
)

// cartAPI is what the cart handlers share: the carts, the catalog that prices them and the
// checkouts' shared stock count (nil: none).
type cartAPI struct {
	carts   *cart.Store
	catalog *catalogapi.Client
	stock   *cart.Stock
	log     *slog.Logger
}

// cartLine is a cart line as the API shows it, priced by the catalog now.
type cartLine struct {
	ProductID      int64  `json:"product_id"`
	SKU            string `json:"sku"`
	Name           string `json:"name"`
	Quantity       int32  `json:"quantity"`
	UnitPriceCents int64  `json:"unit_price_cents"`
	Currency       string `json:"currency"`
	LineTotalCents int64  `json:"line_total_cents"`
	Stock          int32  `json:"stock"`
	Available      bool   `json:"available"` // the stock covers the quantity now
}

type cartView struct {
	Items      []cartLine `json:"items"`
	TotalCents int64      `json:"total_cents"`
	Currency   string     `json:"currency"` // the first line's; empty for an empty cart
	ItemCount  int32      `json:"item_count"`
}

// cartItemRequest is the body of PUT /api/v1/cart/items/{product_id}. The quantity is kept
// raw so that 1.5, "2" or 1e3 are a 422 naming the field rather than a type error.
type cartItemRequest struct {
	Quantity json.RawMessage `json:"quantity"`
}

func (c cartItemRequest) Valid() map[string]string {
	if _, ok := c.quantity(); !ok {
		return map[string]string{"quantity": fmt.Sprintf("must be a whole number from 1 to %d", orders.MaxQuantity)}
	}
	return nil
}

func (c cartItemRequest) quantity() (int32, bool) {
	n, err := strconv.ParseInt(string(c.Quantity), 10, 32)
	if err != nil || n < 1 || n > orders.MaxQuantity {
		return 0, false
	}
	return int32(n), true
}

// decodeCartItem reads the body of a cart line write and returns its quantity.
func decodeCartItem(w http.ResponseWriter, r *http.Request) (int32, error) {
	var req cartItemRequest
	if err := web.Decode(w, r, &req); err != nil {
		return 0, err
	}
	q, _ := req.quantity()
	return q, nil
}

func handleGetCart(c cartAPI) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		owner := orders.Owner(who(r))
		items, err := c.carts.Get(r.Context(), owner)
		return c.respond(w, r, owner, items, err)
	}
}

func handlePutCartItem(c cartAPI) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathID(r, "product_id", "product")
		if err != nil {
			return err
		}
		q, err := decodeCartItem(w, r)
		if err != nil {
			return err
		}
		p, err := c.catalog.Product(r.Context(), id)
		if err != nil {
			return catalogProblem(r, err)
		}
		owner := orders.Owner(who(r))
		held, err := c.hold(w, r, owner, p, q)
		if err != nil {
			return err
		}
		items, err := c.carts.Set(r.Context(), owner, id, q)
		if errors.Is(err, cart.ErrFull) {
			if held {
				c.release(r.Context(), owner, id)
			}
			return web.NewProblem(http.StatusConflict, "the cart holds %d products, the most it may: remove one first", orders.MaxLines)
		}
		return c.respond(w, r, owner, items, err)
	}
}

// hold makes sure that q units of p can go into owner's cart: the catalog's figure covers
// them, and the shared count lets owner hold them (held reports a hold taken). Without the
// count (Redis failing) the catalog's figure stands, and checkout decides.
func (c cartAPI) hold(w http.ResponseWriter, r *http.Request, owner string, p catalogapi.Product, q int32) (held bool, err error) {
	ctx := r.Context()
	may := max(p.Stock, 0)
	if q <= may && c.stock != nil {
		ok, n, err := c.stock.Hold(ctx, owner, p.ID, q, may)
		switch {
		case err != nil:
			web.Log(ctx).Warn("cart without the stock count", "err", err)
		case ok:
			return true, nil
		default:
			may = n
		}
	}
	if q <= may {
		return false, nil
	}
	if may == 0 {
		// Sold out for every buyer, not only for this quantity: the edge may answer the next
		// additions of this product itself, for a moment (haproxy.cfg's sold-out gate),
		// instead of passing each one on to be refused here.
		w.Header().Set("X-Sold-Out", "1")
	}
	return false, web.NewProblem(http.StatusConflict, "only %d of product %d (%s) left", may, p.ID, p.Name)
}

// release drops owner's hold on product id (a failure only keeps the units held a while).
func (c cartAPI) release(ctx context.Context, owner string, id int64) {
	if c.stock == nil {
		return
	}
	if err := c.stock.Release(context.WithoutCancel(ctx), owner, id); err != nil {
		web.Log(ctx).Warn("stock hold not released", "product_id", id, "err", err)
	}
}

// moveHolds hands the holds of a guest cart's items to the account it merged into (a failure
// only lets them lapse: the account's checkout holds anew).
func (c cartAPI) moveHolds(ctx context.Context, from, to string, items []orders.Item) {
	if c.stock == nil || len(items) == 0 {
		return
	}
	ids := make([]int64, len(items))
	for i, it := range items {
		ids[i] = it.ProductID
	}
	if err := c.stock.Move(context.WithoutCancel(ctx), from, to, ids); err != nil {
		web.Log(ctx).Warn("stock holds not moved", "err", err)
	}
}

func handleDeleteCartItem(c cartAPI) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathID(r, "product_id", "product")
		if err != nil {
			return err
		}
		owner := orders.Owner(who(r))
		items, err := c.carts.Remove(r.Context(), owner, id)
		if err == nil {
			c.release(r.Context(), owner, id)
		}
		return c.respond(w, r, owner, items, err)
	}
}

// respond answers a cart read or write with the cart as it now is, priced; err is the cart
// store's (Redis) error, a 503.
func (c cartAPI) respond(w http.ResponseWriter, r *http.Request, owner string, items []orders.Item, err error) error {
	if err != nil {
		web.Log(r.Context()).Warn("cart", "err", err)
		return unavailable("the cart")
	}
	view, err := c.render(r.Context(), owner, items)
	if err != nil {
		return err
	}
	web.Respond(w, http.StatusOK, view)
	return nil
}

// render prices a cart with the catalog's current prices and stock. A product the catalog no
// longer has leaves the cart: nobody can buy it.
func (c cartAPI) render(ctx context.Context, owner string, items []orders.Item) (cartView, error) {
	view := cartView{Items: []cartLine{}}
	if len(items) == 0 {
		return view, nil
	}
	ids := make([]int64, len(items))
	for i, it := range items {
		ids[i] = it.ProductID
	}
	products, err := c.catalog.Products(ctx, ids)
	if err != nil {
		web.Log(ctx).Warn("price cart", "err", err)
		return view, unavailable("the catalog")
	}
	for _, it := range items {
		p, ok := products[it.ProductID]
		if !ok {
			if _, err := c.carts.Remove(ctx, owner, it.ProductID); err != nil {
				web.Log(ctx).Warn("drop deleted product from cart", "product_id", it.ProductID, "err", err)
			}
			continue
		}
		line := cartLine{
			ProductID: p.ID, SKU: p.SKU, Name: p.Name, Quantity: it.Quantity, UnitPriceCents: p.PriceCents,
			Currency: p.Currency, LineTotalCents: int64(it.Quantity) * p.PriceCents, Stock: p.Stock,
			Available: p.Stock >= it.Quantity,
		}
		if view.Currency == "" {
			view.Currency = p.Currency
		}
		view.Items = append(view.Items, line)
		view.TotalCents += line.LineTotalCents
		view.ItemCount += line.Quantity
	}
	return view, nil
}

// catalogProblem answers a failed product read: the product does not exist (404), or the
// catalog cannot say right now (503, never a 500: nothing is wrong here).
func catalogProblem(r *http.Request, err error) error {
	if errors.Is(err, catalogapi.ErrNotFound) {
		return web.NewProblem(http.StatusNotFound, "no such product")
	}
	web.Log(r.Context()).Warn("catalog", "err", err)
	return unavailable("the catalog")
}

// pathID reads a positive integer id from the URL; anything else names no resource (404).
func pathID(r *http.Request, param, what string) (int64, error) {
	raw := chi.URLParam(r, param)
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id <= 0 || strconv.FormatInt(id, 10) != raw {
		return 0, web.NewProblem(http.StatusNotFound, "no such %s", what)
	}
	return id, nil
}
