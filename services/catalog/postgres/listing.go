package postgres

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/flashcrowd/flashcrowd/services/catalog"
)

// productColumns are the columns every product query returns, in the order of catalog.Product's
// fields. The generated queries spell them out in internal/queries/products.sql; the listing,
// the one query built here, uses this copy, and a test checks the two agree.
const productColumns = `id, sku, name, description, price_cents, currency, stock, coalesce(category_id, 0) AS category_id,
    attributes, featured, coalesce(image_key, '') AS image_key, version, created_at, updated_at`

// orders maps each sort to its column and direction. Every order ends with id, and a page
// after a cursor starts with a row comparison on (column, id): both match the order's index
// (see migration 00003), so any page is one index range scan.
var orders = map[catalog.Sort]struct {
	column string // "" for id alone
	desc   bool
}{
	catalog.SortID:        {"", false},
	catalog.SortPrice:     {"price_cents", false},
	catalog.SortPriceDesc: {"price_cents", true},
	catalog.SortName:      {"name", false},
	catalog.SortNewest:    {"created_at", true},
}

// listingQuery builds the SQL for a listing: its filters, order and number of categories vary,
// which sqlc's fixed statements cannot express. Only fixed SQL text is concatenated; every
// value is a parameter. A listing of several categories (a parent and its children) is one
// ordered branch per category, merged: each branch reads the (category_id, price_cents, id)
// index in order and stops after a page, where a single "category_id = ANY(…)" scan would
// walk the price index of the whole catalog and discard the other categories' rows.
func listingQuery(l catalog.Listing) (string, []any) {
	var where []string
	var args []any
	param := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if l.MinPrice > 0 {
		where = append(where, "price_cents >= "+param(l.MinPrice))
	}
	if l.MaxPrice < catalog.MaxPriceCents {
		where = append(where, "price_cents <= "+param(l.MaxPrice))
	}
	if l.InStock {
		where = append(where, "stock > 0")
	}
	o := orders[l.Sort]
	cmp, dir := ">", ""
	if o.desc {
		cmp, dir = "<", " DESC"
	}
	orderBy := "id" + dir
	if o.column != "" {
		orderBy = o.column + dir + ", " + orderBy
	}
	if c := l.After; c != nil {
		var key any
		switch o.column {
		case "":
			where = append(where, "id "+cmp+" "+param(c.ID))
		case "price_cents":
			key = c.Price
		case "name":
			key = c.Name
		case "created_at":
			key = c.Created
		}
		if key != nil {
			where = append(where, fmt.Sprintf("(%s, id) %s (%s, %s)", o.column, cmp, param(key), param(c.ID)))
		}
	}
	limit := param(l.Limit + 1)
	branch := func(conds []string) string {
		q := `SELECT ` + productColumns + ` FROM products`
		if len(conds) > 0 {
			q += ` WHERE ` + strings.Join(conds, " AND ")
		}
		return q + ` ORDER BY ` + orderBy + ` LIMIT ` + limit
	}
	switch len(l.Categories) {
	case 0:
		return branch(where), args
	case 1:
		return branch(append([]string{"category_id = " + param(l.Categories[0])}, where...)), args
	}
	branches := make([]string, len(l.Categories))
	for i, id := range l.Categories {
		branches[i] = "(" + branch(append([]string{"category_id = " + param(id)}, where...)) + ")"
	}
	return `SELECT * FROM (` + strings.Join(branches, " UNION ALL ") + `) AS page ORDER BY ` + orderBy + ` LIMIT ` + limit, args
}
