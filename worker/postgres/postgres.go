// Package postgres reads the orders service's tables (customers, orders, order_lines) for the
// scheduled jobs, through the read pool: replicas, role flashcrowd_app. It never writes.
package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/flashcrowd/flashcrowd/worker/reports"
)

// Orders reads orders.
type Orders struct{ pool *pgxpool.Pool }

// NewOrders reads through pool.
func NewOrders(pool *pgxpool.Pool) *Orders { return &Orders{pool: pool} }

// salesLines lists the lines of the orders placed in [$1, $2), cancelled ones included (their
// status says so), oldest first. No email: the report leaves customers out.
const salesLines = `
SELECT o.id, o.placed_at, o.status, o.currency, o.total_cents,
       l.product_id, l.sku, l.name, l.quantity, l.unit_price_cents
FROM orders o
JOIN order_lines l ON l.order_id = o.id
WHERE o.placed_at >= $1 AND o.placed_at < $2
ORDER BY o.placed_at, o.id, l.product_id`

// SalesLines implements reports.Source. The rows stream to each as they arrive.
func (o *Orders) SalesLines(ctx context.Context, from, to time.Time, each func(reports.Line) error) error {
	rows, err := o.pool.Query(ctx, salesLines, from, to)
	if err != nil {
		return fmt.Errorf("sales lines: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var l reports.Line
		if err := rows.Scan(&l.OrderID, &l.PlacedAt, &l.Status, &l.Currency, &l.OrderTotalCents,
			&l.ProductID, &l.SKU, &l.Name, &l.Quantity, &l.UnitPriceCents); err != nil {
			return fmt.Errorf("sales lines: %w", err)
		}
		if err := each(l); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sales lines: %w", err)
	}
	return nil
}

// bestSellers ranks the products by units sold in orders placed since $1 and not cancelled.
const bestSellers = `
SELECT l.product_id
FROM order_lines l
JOIN orders o ON o.id = l.order_id
WHERE o.placed_at >= $1 AND o.status = 'placed'
GROUP BY l.product_id
ORDER BY sum(l.quantity) DESC, l.product_id
LIMIT $2`

// BestSellers returns the ids of the limit best-selling products since since, best first.
func (o *Orders) BestSellers(ctx context.Context, since time.Time, limit int) ([]int64, error) {
	rows, err := o.pool.Query(ctx, bestSellers, since, limit)
	if err != nil {
		return nil, fmt.Errorf("best sellers: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("best sellers: %w", err)
	}
	return ids, nil
}
