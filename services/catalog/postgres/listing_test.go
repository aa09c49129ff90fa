package postgres

import (
	"strings"
	"testing"

	"github.com/flashcrowd/flashcrowd/services/catalog"
	"github.com/flashcrowd/flashcrowd/services/catalog/postgres/internal/queries"
)

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

// The listing's columns are those of every generated product query (whose rows the compiler
// already checks against catalog.Product), expressions included.
func TestListingColumns(t *testing.T) {
	for name, q := range map[string]string{
		"Product": queries.Product, "Featured": queries.Featured, "Search": queries.Search,
		"CreateProduct": queries.CreateProduct, "UpdateProduct": queries.UpdateProduct,
		"AdjustStock": queries.AdjustStock, "SetImage": queries.SetImage,
	} {
		if !strings.Contains(q, productColumns) {
			t.Errorf("%s does not return productColumns:\n%s", name, q)
		}
	}
}
