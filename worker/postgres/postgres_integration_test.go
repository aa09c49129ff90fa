//go:build integration

package postgres_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/flashcrowd/flashcrowd/foundation/db"
	"github.com/flashcrowd/flashcrowd/worker/postgres"
	"github.com/flashcrowd/flashcrowd/worker/reports"
)

// The report's queries against the orders service's real tables (its migrations applied), on
// the stack's PgBouncer. Rows are written through DATABASE_URL at a random instant of 2001, a
// period no real order falls in, and read back through the same primary (no replica lag).
func TestReportQueries(t *testing.T) {
	url := os.Getenv("DATABASE_URL")
	if url == "" {
		t.Fatal("integration tests need DATABASE_URL (make integration sets it)")
	}
	ctx := context.Background()
	pool, err := db.Open(ctx, url, db.Primary, 2, db.NewMetrics(prometheus.NewRegistry()))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()

	from := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(rand.N(300*24)) * time.Hour)
	key := fmt.Sprintf("it-%d", time.Now().UnixNano())
	var ids []int64
	for i, status := range []string{"placed", "cancelled"} {
		var id int64
		err := pool.QueryRow(ctx, `
			INSERT INTO orders (owner, email, status, currency, total_cents, idempotency_key, request_hash, placed_at)
			VALUES ('s:integration', 'it@example.com', $1, 'EUR', 3097, $2, '\x00', $3) RETURNING id`,
			status, fmt.Sprintf("%s-%d", key, i), from.Add(time.Duration(i)*time.Minute)).Scan(&id)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
		if _, err := pool.Exec(ctx, `
			INSERT INTO order_lines (order_id, product_id, sku, name, quantity, unit_price_cents)
			VALUES ($1, 900001, 'IT-A', 'Kettle', 2, 999), ($1, 900002, 'IT-B', 'Cup', 1, 1099)`, id); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		pool.Exec(ctx, `DELETE FROM order_lines WHERE order_id = ANY($1)`, ids)
		pool.Exec(ctx, `DELETE FROM orders WHERE id = ANY($1)`, ids)
	})

	o := postgres.NewOrders(pool)
	var got []reports.Line
	if err := o.SalesLines(ctx, from, from.Add(time.Hour), func(l reports.Line) error { got = append(got, l); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 || got[0].OrderID != ids[0] || got[0].ProductID != 900001 || got[0].Quantity != 2 ||
		got[0].UnitPriceCents != 999 || got[0].OrderTotalCents != 3097 || got[0].Currency != "EUR" ||
		!got[0].PlacedAt.Equal(from) || got[3].Status != "cancelled" {
		t.Fatalf("lines %+v", got)
	}
	// The period is half-open: an order placed at its end belongs to the next one.
	var none int
	if err := o.SalesLines(ctx, from.Add(-time.Hour), from, func(reports.Line) error { none++; return nil }); err != nil || none != 0 {
		t.Fatalf("the period before: %d lines, %v", none, err)
	}
	best, err := o.BestSellers(ctx, from, 1000)
	if err != nil {
		t.Fatal(err)
	}
	// Real orders since 2001 rank too, so look at ours: 2 units of 900001 before 1 of 900002
	// (the cancelled order's do not count).
	if i, j := slices.Index(best, 900001), slices.Index(best, 900002); i < 0 || j < 0 || i > j {
		t.Fatalf("best sellers %v: want 900001 before 900002", best)
	}
}
