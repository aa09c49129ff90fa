//go:build integration

package postgres

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/flashcrowd/flashcrowd/services/catalog"
	"github.com/flashcrowd/flashcrowd/services/catalog/postgres/internal/queries"
)

// TestQueryPlans runs EXPLAIN ANALYZE on the store's read queries against the seeded catalog
// and checks that each one uses the index it was built for: none may scan the whole table. The
// statements are the very ones the store runs: sqlc's generated constants, and listingQuery.
// `go test -tags integration -run QueryPlans -v` prints the plans (docs/catalog-performance.md
// shows them).
func TestQueryPlans(t *testing.T) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var products int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM products`).Scan(&products); err != nil {
		t.Fatal(err)
	}
	rows, err := queries.New(conn).Categories(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tree := make([]catalog.Category, len(rows))
	for i, r := range rows {
		tree[i] = catalog.Category(r)
	}
	home, _ := catalog.NewTree(tree).Subtree("home")
	lighting, _ := catalog.NewTree(tree).Subtree("lighting")
	listing := func(l catalog.Listing) (string, []any) {
		if l.MaxPrice == 0 {
			l.MaxPrice = catalog.MaxPriceCents
		}
		l.Limit = 20
		return listingQuery(l)
	}
	deep := catalog.Cursor{Sort: catalog.SortNewest, ID: 5000, Created: seedEpoch.Add(5000 * seedStep)}
	cheap := catalog.Cursor{Sort: catalog.SortPrice, ID: 100, Price: 2599}

	tests := []struct {
		name  string
		query func() (string, []any)
		index string // the plan must use it
	}{
		{"product by id", func() (string, []any) { return queries.Product, []any{int64(4242)} }, "products_pkey"},
		{"home page: all products by id", func() (string, []any) { return listing(catalog.Listing{Sort: catalog.SortID}) }, "products_pkey"},
		{"category subtree (a parent and its leaves) by price", func() (string, []any) {
			return listing(catalog.Listing{Categories: home, Sort: catalog.SortPrice})
		}, "products_category_price_idx"},
		{"leaf category, price range, in stock, by price, page 2", func() (string, []any) {
			return listing(catalog.Listing{Categories: lighting, MinPrice: 2000, MaxPrice: 5000, InStock: true, Sort: catalog.SortPrice, After: &cheap})
		}, "products_category_price_idx"},
		{"all products, most expensive first", func() (string, []any) { return listing(catalog.Listing{Sort: catalog.SortPriceDesc}) }, "products_price_idx"},
		{"all products by name", func() (string, []any) { return listing(catalog.Listing{Sort: catalog.SortName}) }, "products_name_idx"},
		{"newest first, a deep page", func() (string, []any) {
			return listing(catalog.Listing{Sort: catalog.SortNewest, After: &deep})
		}, "products_created_idx"},
		{"featured", func() (string, []any) { return queries.Featured, []any{int32(12)} }, "products_featured_idx"},
		{"search, misspelt", func() (string, []any) { return queries.Search, []any{"ketle", int32(20)} }, "products_name_trgm_idx"},
		{"search, two words", func() (string, []any) { return queries.Search, []any{"leather backpack", int32(20)} }, "products_search_idx"},
	}
	t.Logf("plans on %d products", products)
	for _, tt := range tests {
		q, args := tt.query()
		rows, err := conn.Query(ctx, `EXPLAIN (ANALYZE, BUFFERS, SUMMARY ON) `+q, args...)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		plan := strings.Join(lines, "\n")
		t.Logf("%s\n%s\n", tt.name, plan)
		if !strings.Contains(plan, tt.index) || strings.Contains(plan, "Seq Scan on products") {
			t.Errorf("%s: the plan does not use %s, or scans the whole table", tt.name, tt.index)
		}
	}
}
