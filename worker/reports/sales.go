// Package reports writes the periodic sales report: each period's orders and their lines, as
// CSV, to the object store. It never writes a customer's email address.
package reports

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/minio/minio-go/v7"

	"github.com/flashcrowd/flashcrowd/worker/schedule"
)

// TypeSales is the scheduled task that writes one period's report.
const TypeSales = "report:sales"

// Line is one order line with its order, as the report shows it.
type Line struct {
	OrderID         int64
	PlacedAt        time.Time
	Status          string
	Currency        string
	OrderTotalCents int64
	ProductID       int64
	SKU             string
	Name            string
	Quantity        int32
	UnitPriceCents  int64
}

// Source reads the lines of the orders placed in [from, to), in order.
type Source interface {
	SalesLines(ctx context.Context, from, to time.Time, each func(Line) error) error
}

// Store is the part of the object store client the report uses.
type Store interface {
	PutObject(ctx context.Context, bucket, key string, r io.Reader, size int64, opts minio.PutObjectOptions) (minio.UploadInfo, error)
}

// Sales handles report:sales tasks.
type Sales struct {
	Source Source
	Store  Store
	Bucket string
	Log    *slog.Logger
}

// Key is where the report of the period starting at start goes.
func Key(start time.Time) string {
	return "reports/sales/" + start.UTC().Format(time.RFC3339) + ".csv"
}

// ProcessTask implements asynq.Handler. The report is rebuilt whole each time, so a retry (or
// an operator re-running the task) overwrites the object with the same period's report.
func (s *Sales) ProcessTask(ctx context.Context, t *asynq.Task) error {
	p, err := schedule.ParsePayload(t)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	w, err := NewCSV(&buf)
	if err != nil {
		return err
	}
	orders := map[int64]bool{}
	err = s.Source.SalesLines(ctx, p.Start, p.End, func(l Line) error {
		orders[l.OrderID] = true
		return w.Write(l)
	})
	if err != nil {
		return fmt.Errorf("sales report %s: %w", p.Start.Format(time.RFC3339), err)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	key := Key(p.Start)
	_, err = s.Store.PutObject(ctx, s.Bucket, key, bytes.NewReader(buf.Bytes()), int64(buf.Len()),
		minio.PutObjectOptions{ContentType: "text/csv; charset=utf-8"})
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	s.Log.InfoContext(ctx, "sales report written", "key", key, "orders", len(orders), "bytes", buf.Len())
	return nil
}

// Header is the report's first row. Amounts are in minor units of the order's currency;
// placed_at is RFC 3339 in UTC; an order of n lines is n rows.
var Header = []string{"order_id", "placed_at", "status", "currency", "order_total_cents",
	"product_id", "sku", "name", "quantity", "unit_price_cents", "line_total_cents"}

// CSV writes report rows.
type CSV struct{ w *csv.Writer }

// NewCSV writes the header to w and returns the writer of the rows.
func NewCSV(w io.Writer) (*CSV, error) {
	c := &CSV{csv.NewWriter(w)}
	if err := c.w.Write(Header); err != nil {
		return nil, fmt.Errorf("csv: %w", err)
	}
	return c, nil
}

// Write adds one row.
func (c *CSV) Write(l Line) error {
	i := func(n int64) string { return strconv.FormatInt(n, 10) }
	err := c.w.Write([]string{
		i(l.OrderID), l.PlacedAt.UTC().Format(time.RFC3339), l.Status, l.Currency, i(l.OrderTotalCents),
		i(l.ProductID), text(l.SKU), text(l.Name), i(int64(l.Quantity)), i(l.UnitPriceCents),
		i(int64(l.Quantity) * l.UnitPriceCents),
	})
	if err != nil {
		return fmt.Errorf("csv: %w", err)
	}
	return nil
}

// Flush writes out what is buffered.
func (c *CSV) Flush() error {
	c.w.Flush()
	if err := c.w.Error(); err != nil {
		return fmt.Errorf("csv: %w", err)
	}
	return nil
}

// text defuses a cell a spreadsheet would run as a formula (product names are typed by
// people): a leading =, +, -, @, tab or carriage return gets a quote in front, as OWASP advises.
func text(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
