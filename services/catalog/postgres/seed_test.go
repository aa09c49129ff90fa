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
