package postgres

import (
	"strings"
	"testing"

	"github.com/flashcrowd/flashcrowd/services/catalog"
)

func TestSeedProducts(t *testing.T) {
	all, leafRows, leaves := categories()
	tree := catalog.NewTree(all)
	perCategory := map[int32]int{}
	soldOut := 0
	const n = 20_000
	for i := int64(1); i <= n; i++ {
		p := seedProduct(i, leafRows, leaves)
		np := catalog.NewProduct{SKU: p.SKU, Name: p.Name, Description: p.Description, PriceCents: p.PriceCents,
			Currency: p.Currency, Stock: p.Stock, CategoryID: p.CategoryID, Attributes: p.Attributes}
		if errs := np.Valid(); len(errs) != 0 {
			t.Fatalf("product %d is not valid: %v (%+v)", i, errs, p)
		}
		if !tree.Has(p.CategoryID) {
			t.Fatalf("product %d: category %d not in the tree", i, p.CategoryID)
		}
		if again := seedProduct(i, leafRows, leaves); again.Name != p.Name || again.PriceCents != p.PriceCents || again.Stock != p.Stock {
			t.Fatalf("product %d differs between two calls", i)
		}
		perCategory[p.CategoryID]++
		if p.Stock == 0 {
			soldOut++
		}
	}
	if len(perCategory) != len(leaves) {
		t.Errorf("products in %d categories, want all %d leaves", len(perCategory), len(leaves))
	}
	for id, count := range perCategory {
		if count < n/len(leaves)/2 {
			t.Errorf("category %d has only %d of %d products", id, count, n)
		}
	}
	if soldOut < n/20 || soldOut > n/5 {
		t.Errorf("%d of %d sold out; want about one in ten", soldOut, n)
	}
	if p := seedProduct(1, leafRows, leaves); !strings.HasPrefix(p.SKU, "FC-0000001") || p.ID != 1 {
		t.Errorf("product 1: %+v", p)
	}
}

func TestListingQuery(t *testing.T) {
	after := catalog.Cursor{Sort: catalog.SortPriceDesc, ID: 9, Price: 1500}
	q, args := listingQuery(catalog.Listing{
		Categories: []int32{1, 100}, MinPrice: 100, MaxPrice: 5000, InStock: true,
		Sort: catalog.SortPriceDesc, After: &after, Limit: 20,
	})
	branch := func(cat string) string {
		return ` FROM products WHERE category_id = ` + cat + ` AND price_cents >= $1 AND price_cents <= $2 AND stock > 0` +
			` AND (price_cents, id) < ($3, $4) ORDER BY price_cents DESC, id DESC LIMIT $5)`
	}
	if !strings.Contains(q, branch("$6")) || !strings.Contains(q, branch("$7")) ||
		!strings.HasSuffix(q, `) AS page ORDER BY price_cents DESC, id DESC LIMIT $5`) ||
		len(args) != 7 || args[2] != int64(1500) || args[3] != int64(9) || args[4] != 21 || args[6] != int32(100) {
		t.Errorf("query %q with %v", q, args)
	}
	q, args = listingQuery(catalog.Listing{Sort: catalog.SortID, MaxPrice: catalog.MaxPriceCents,
		After: &catalog.Cursor{Sort: catalog.SortID, ID: 7}, Limit: 5})
	if !strings.HasSuffix(q, ` FROM products WHERE id > $1 ORDER BY id LIMIT $2`) || len(args) != 2 || args[0] != int64(7) {
		t.Errorf("query %q with %v", q, args)
	}
	q, _ = listingQuery(catalog.Listing{Categories: []int32{103}, Sort: catalog.SortNewest, MaxPrice: catalog.MaxPriceCents, Limit: 5})
	if !strings.HasSuffix(q, ` FROM products WHERE category_id = $2 ORDER BY created_at DESC, id DESC LIMIT $1`) {
		t.Errorf("query %q", q)
	}
}
