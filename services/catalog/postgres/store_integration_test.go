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

	"github.com/flashcrowd/flashcrowd/services/catalog"
	"github.com/flashcrowd/flashcrowd/services/catalog/postgres"
	"github.com/flashcrowd/flashcrowd/services/foundation/db"
)

// newStore connects to the stack's real PgBouncer: DATABASE_URL (primary) and DATABASE_READ_URL (replicas).
func newStore(t *testing.T) (*postgres.Store, *prometheus.Registry) {
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
	replica, err := db.Open(ctx, readURL, db.Replica, 4, m)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(replica.Close)
	return postgres.NewStore(primary, replica, slog.New(slog.NewTextHandler(io.Discard, nil)), reg), reg
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

func TestKeysetPagination(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	seen := map[int64]bool{}
	var after int64
	for range 5 {
		page, err := s.Products(ctx, after, 7, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Items) != 7 || page.NextAfter != page.Items[6].ID {
			t.Fatalf("page after %d: %d items, next %d", after, len(page.Items), page.NextAfter)
		}
		for _, p := range page.Items {
			if p.ID <= after || seen[p.ID] {
				t.Fatalf("id %d out of order or repeated (after %d)", p.ID, after)
			}
			seen[p.ID] = true
		}
		after = page.NextAfter
	}
}
