//go:build integration

package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/flashcrowd/flashcrowd/foundation/db"
	"github.com/flashcrowd/flashcrowd/services/catalog"
	"github.com/flashcrowd/flashcrowd/services/catalog/postgres"
)

// newStore connects to the stack's real PgBouncer: DATABASE_URL (primary) and DATABASE_READ_URL
// (replicas).
func newStore(t *testing.T) (*postgres.Store, *prometheus.Registry) {
	return openStore(t, true)
}

// openStore is newStore, or without replicas a store on the primary alone.
func openStore(t *testing.T, replicas bool) (*postgres.Store, *prometheus.Registry) {
	t.Helper()
	url, readURL := os.Getenv("DATABASE_URL"), os.Getenv("DATABASE_READ_URL")
	if url == "" || readURL == "" {
		t.Fatal("integration tests need DATABASE_URL and DATABASE_READ_URL (make integration sets them)")
	}
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	m := db.NewMetrics(reg)
	primary, err := db.Open(ctx, url, db.Primary, 4, m)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(primary.Close)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if !replicas {
		return postgres.NewStore(primary, nil, log, reg), reg
	}
	replica, err := db.Open(ctx, readURL, db.Replica, 4, m)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(replica.Close)
	return postgres.NewStore(primary, replica, log, reg), reg
}

func newProduct(t *testing.T, s *postgres.Store) (catalog.Product, string) {
	t.Helper()
	p, lsn, err := s.Create(context.Background(), catalog.NewProduct{
		SKU: fmt.Sprintf("IT-%d", time.Now().UnixNano()), Name: "Integration kettle", PriceCents: 500, Currency: "EUR", Stock: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	return p, lsn
}

func TestWriteThenReadYourWrite(t *testing.T) {
	s, reg := newStore(t)
	ctx := context.Background()
	p, lsn := newProduct(t, s)
	if lsn == "" {
		t.Fatal("no commit LSN returned")
	}
	price := int64(777)
	updated, lsn2, err := s.Update(ctx, p.ID, catalog.ProductPatch{PriceCents: &price})
	if err != nil {
		t.Fatal(err)
	}
	if updated.PriceCents != price || updated.Version != p.Version+1 {
		t.Fatalf("update returned %+v", updated)
	}
	// Read with the write's LSN: a replica answers only once it has replayed it; else the primary does.
	got, err := s.Product(ctx, p.ID, lsn2)
	if err != nil || got.PriceCents != price {
		t.Fatalf("read-your-write: %+v, %v", got, err)
	}

	// An LSN no replica can have reached forces the primary, and the fallback is counted.
	before := fallbacks(t, reg, "replica_behind")
	got, err = s.Product(ctx, p.ID, "18446744073709551615") // the highest possible LSN
	if err != nil || got.PriceCents != price {
		t.Fatalf("read from primary: %+v, %v", got, err)
	}
	if after := fallbacks(t, reg, "replica_behind"); after != before+1 {
		t.Fatalf("replica_behind fallbacks %v → %v, want one more", before, after)
	}
}

// Without replicas every read goes to the primary, which has every write: an LSN no replica
// could have reached is met at once, and nothing counts as a fallback.
func TestWithoutReplicas(t *testing.T) {
	s, reg := openStore(t, false)
	ctx := context.Background()
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	p, _ := newProduct(t, s)
	got, err := s.Product(ctx, p.ID, "18446744073709551615") // the highest possible LSN
	if err != nil || got.ID != p.ID {
		t.Fatalf("read: %+v, %v", got, err)
	}
	if _, err := s.Product(ctx, 1<<60, ""); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("missing product: err = %v, want ErrNotFound", err)
	}
	for _, reason := range []string{"replica_behind", "replica_error"} {
		if n := fallbacks(t, reg, reason); n != 0 {
			t.Errorf("%v %s fallbacks without replicas", n, reason)
		}
	}
}

// fallbacks reads flashcrowd_db_read_fallbacks_total{reason} from reg.
func fallbacks(t *testing.T, reg *prometheus.Registry, reason string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "flashcrowd_db_read_fallbacks_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if m.GetLabel()[0].GetValue() == reason {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func TestNotFoundAndConflict(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	if _, err := s.Product(ctx, 1<<60, ""); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("missing product: err = %v, want ErrNotFound", err)
	}
	if _, _, err := s.Update(ctx, 1<<60, catalog.ProductPatch{}); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("update of missing product: err = %v, want ErrNotFound", err)
	}
	p, _ := newProduct(t, s)
	_, _, err := s.Create(ctx, catalog.NewProduct{SKU: p.SKU, Name: "Twin", PriceCents: 1, Currency: "EUR"})
	if !errors.Is(err, catalog.ErrConflict) {
		t.Errorf("duplicate SKU: err = %v, want ErrConflict", err)
	}
}

// Every order pages through a filtered listing with products inserted between pages: each
// product that matched before is returned exactly once, in order.
func TestKeysetPaginationUnderInserts(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	tree, err := s.Categories(ctx)
	if err != nil {
		t.Fatal(err)
	}
	lighting, ok := tree.Subtree("lighting")
	if !ok {
		t.Fatal("the seed has no lighting category")
	}
	base := catalog.Listing{Categories: lighting, MinPrice: 2000, MaxPrice: 2600, InStock: true, Limit: 100}
	walk := func(sort catalog.Sort, between func()) []catalog.Product {
		l := base
		l.Sort = sort
		var all []catalog.Product
		for {
			page, err := s.Products(ctx, l, "")
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, page.Items...)
			if page.NextCursor == "" {
				return all
			}
			c, err := catalog.ParseCursor(page.NextCursor, sort)
			if err != nil {
				t.Fatal(err)
			}
			l.After = &c
			between()
		}
	}
	before := walk(catalog.SortID, func() {})
	if len(before) < 200 {
		t.Fatalf("only %d products match; the test needs several pages", len(before))
	}
	for _, sort := range catalog.Sorts {
		got := walk(sort, func() {
			for range 3 { // new products that match the filter, at both ends of every order
				for _, price := range []int64{2000, 2600} {
					_, _, err := s.Create(ctx, catalog.NewProduct{SKU: fmt.Sprintf("IT-%d", time.Now().UnixNano()),
						Name: "Inserted lamp", PriceCents: price, Currency: "EUR", Stock: 1, CategoryID: lighting[0]})
					if err != nil {
						t.Fatal(err)
					}
				}
			}
		})
		seen := map[int64]int{}
		for i, p := range got {
			seen[p.ID]++
			if i > 0 && !inOrder(sort, got[i-1], p) {
				t.Fatalf("%s: %d then %d is out of order", sort, got[i-1].ID, p.ID)
			}
		}
		for _, p := range before {
			if seen[p.ID] != 1 {
				t.Fatalf("%s: product %d returned %d times", sort, p.ID, seen[p.ID])
			}
		}
	}
}

func inOrder(sort catalog.Sort, a, b catalog.Product) bool {
	switch sort {
	case catalog.SortPrice:
		return a.PriceCents < b.PriceCents || a.PriceCents == b.PriceCents && a.ID < b.ID
	case catalog.SortPriceDesc:
		return a.PriceCents > b.PriceCents || a.PriceCents == b.PriceCents && a.ID > b.ID
	case catalog.SortNewest:
		return a.CreatedAt.After(b.CreatedAt) || a.CreatedAt.Equal(b.CreatedAt) && a.ID > b.ID
	case catalog.SortName:
		return a.Name <= b.Name // the database's collation decides ties of case and accents
	}
	return a.ID < b.ID
}

func TestConditionalWritesAndStock(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	p, _ := newProduct(t, s)
	stale := p.Version
	price := int64(900)
	if _, _, err := s.Update(ctx, p.ID, catalog.ProductPatch{PriceCents: &price, Version: &stale}); err != nil {
		t.Fatalf("update at the current version: %v", err)
	}
	if _, _, err := s.Update(ctx, p.ID, catalog.ProductPatch{PriceCents: &price, Version: &stale}); !errors.Is(err, catalog.ErrVersion) {
		t.Fatalf("update at a stale version: err = %v, want ErrVersion", err)
	}
	got, _, err := s.AdjustStock(ctx, p.ID, 4)
	if err != nil || got.Stock != 5 {
		t.Fatalf("stock +4 from 1: %+v, %v", got, err)
	}
	if _, _, err := s.AdjustStock(ctx, p.ID, -6); !errors.Is(err, catalog.ErrStock) {
		t.Fatalf("stock -6 from 5: err = %v, want ErrStock", err)
	}
	if _, _, err := s.AdjustStock(ctx, p.ID, catalog.MaxStock); !errors.Is(err, catalog.ErrStock) {
		t.Fatalf("stock above the maximum: err = %v, want ErrStock", err)
	}
	if _, _, err := s.Delete(ctx, p.ID, &stale); !errors.Is(err, catalog.ErrVersion) {
		t.Fatalf("delete at a stale version: err = %v, want ErrVersion", err)
	}
	// Each image write learns the image it replaced, and the delete the image it removed.
	for _, c := range []struct{ key, previous string }{{"products/x/a.png", ""}, {"products/x/b.png", "products/x/a.png"}} {
		if got, previous, _, err := s.SetImage(ctx, p.ID, c.key); err != nil || got.ImageKey != c.key || previous != c.previous {
			t.Fatalf("SetImage %s: image %q, previous %q, %v; want previous %q", c.key, got.ImageKey, previous, err, c.previous)
		}
	}
	if _, _, _, err := s.SetImage(ctx, 1<<40, "products/x/c.png"); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("SetImage of a missing product: %v, want ErrNotFound", err)
	}
	if imageKey, _, err := s.Delete(ctx, p.ID, nil); err != nil || imageKey != "products/x/b.png" {
		t.Fatalf("delete: image %q, %v", imageKey, err)
	}
	if _, _, err := s.Delete(ctx, p.ID, nil); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("second delete: err = %v, want ErrNotFound", err)
	}
	if _, err := s.Current(ctx, p.ID); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("deleted product still there: %v", err)
	}
}

// The preload's batches: products in id order after an id, and each includes every write
// committed before it was asked for (it reads a replica only once that has replayed them).
func TestProductsAfterSeesEveryEarlierWrite(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	p, _ := newProduct(t, s)
	got, err := s.ProductsAfter(ctx, p.ID-1, 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 || got[0].ID != p.ID || got[0].Name != p.Name {
		t.Fatalf("ProductsAfter(%d) = %v, want the product just created first", p.ID-1, got)
	}
	for i := 1; i < len(got); i++ {
		if got[i].ID <= got[i-1].ID {
			t.Fatalf("ids not in ascending order: %d after %d", got[i].ID, got[i-1].ID)
		}
	}
	first, err := s.ProductsAfter(ctx, 0, 3)
	if err != nil || len(first) != 3 || first[0].ID != 1 || first[2].ID != 3 {
		t.Fatalf("ProductsAfter(0, 3) = %v (%v), want products 1, 2, 3", first, err)
	}
}
