package reports

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/minio/minio-go/v7"

	"github.com/flashcrowd/flashcrowd/worker/schedule"
)

type source struct {
	lines    []Line
	from, to time.Time
	err      error
}

func (s *source) SalesLines(_ context.Context, from, to time.Time, each func(Line) error) error {
	s.from, s.to = from, to
	for _, l := range s.lines {
		if err := each(l); err != nil {
			return err
		}
	}
	return s.err
}

type store struct {
	bucket, key string
	body        []byte
	opts        minio.PutObjectOptions
	err         error
}

func (s *store) PutObject(_ context.Context, bucket, key string, r io.Reader, size int64, opts minio.PutObjectOptions) (minio.UploadInfo, error) {
	b, _ := io.ReadAll(r)
	if int64(len(b)) != size {
		return minio.UploadInfo{}, errors.New("size does not match the body")
	}
	s.bucket, s.key, s.body, s.opts = bucket, key, b, opts
	return minio.UploadInfo{Size: size}, s.err
}

var placed = time.Date(2026, 12, 1, 21, 5, 9, 0, time.FixedZone("CET", 3600))

func lines() []Line {
	return []Line{
		{OrderID: 7, PlacedAt: placed, Status: "placed", Currency: "EUR", OrderTotalCents: 4797, ProductID: 1, SKU: "MUG-1", Name: "Blue mug, \"large\"", Quantity: 2, UnitPriceCents: 1299},
		{OrderID: 7, PlacedAt: placed, Status: "placed", Currency: "EUR", OrderTotalCents: 4797, ProductID: 2, SKU: "TEA-9", Name: "=HYPERLINK(\"x\")", Quantity: 1, UnitPriceCents: 2199},
		{OrderID: 8, PlacedAt: placed.Add(time.Minute), Status: "cancelled", Currency: "EUR", OrderTotalCents: 500, ProductID: 3, SKU: "-3", Name: "Spoon", Quantity: 1, UnitPriceCents: 500},
	}
}

func TestCSV(t *testing.T) {
	var b bytes.Buffer
	w, err := NewCSV(&b)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range lines() {
		if err := w.Write(l); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatalf("not CSV: %v\n%s", err, b.String())
	}
	want := [][]string{
		Header,
		{"7", "2026-12-01T20:05:09Z", "placed", "EUR", "4797", "1", "MUG-1", `Blue mug, "large"`, "2", "1299", "2598"},
		{"7", "2026-12-01T20:05:09Z", "placed", "EUR", "4797", "2", "TEA-9", `'=HYPERLINK("x")`, "1", "2199", "2199"},
		{"8", "2026-12-01T20:06:09Z", "cancelled", "EUR", "500", "3", "'-3", "Spoon", "1", "500", "500"},
	}
	if len(rows) != len(want) {
		t.Fatalf("%d rows, want %d:\n%s", len(rows), len(want), b.String())
	}
	for i := range want {
		if strings.Join(rows[i], "|") != strings.Join(want[i], "|") {
			t.Errorf("row %d: %q, want %q", i, rows[i], want[i])
		}
	}
	for _, col := range Header {
		if strings.Contains(col, "email") {
			t.Errorf("column %s: the report must not name customers", col)
		}
	}
}

func task(t *testing.T, start time.Time) *asynq.Task {
	b, err := json.Marshal(schedule.Payload{V: 1, Start: start, End: start.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	return asynq.NewTask(TypeSales, b)
}

func TestSalesReportGoesToTheObjectStore(t *testing.T) {
	src, st := &source{lines: lines()}, &store{}
	s := &Sales{Source: src, Store: st, Bucket: "media", Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	start := time.Date(2026, 12, 1, 20, 0, 0, 0, time.UTC)
	if err := s.ProcessTask(context.Background(), task(t, start)); err != nil {
		t.Fatal(err)
	}
	if !src.from.Equal(start) || !src.to.Equal(start.Add(time.Hour)) {
		t.Errorf("read %s to %s, want the task's period", src.from, src.to)
	}
	if st.bucket != "media" || st.key != "reports/sales/2026-12-01T20:00:00Z.csv" || st.opts.ContentType != "text/csv; charset=utf-8" {
		t.Errorf("put %s/%s (%s)", st.bucket, st.key, st.opts.ContentType)
	}
	if n := strings.Count(string(st.body), "\n"); n != 4 {
		t.Errorf("%d rows, want a header and 3 lines:\n%s", n, st.body)
	}
	// An empty period still gets its report: the header alone says "no sales", not "no report".
	src.lines = nil
	if err := s.ProcessTask(context.Background(), task(t, start)); err != nil || string(st.body) != strings.Join(Header, ",")+"\n" {
		t.Errorf("empty period: err %v, body %q", err, st.body)
	}
	// Failures are returned, for asynq to retry.
	src.err = errors.New("replica gone")
	if err := s.ProcessTask(context.Background(), task(t, start)); err == nil || errors.Is(err, asynq.SkipRetry) {
		t.Errorf("database failure: err = %v, want a retried error", err)
	}
	src.err, st.err = nil, errors.New("access denied")
	if err := s.ProcessTask(context.Background(), task(t, start)); err == nil || errors.Is(err, asynq.SkipRetry) {
		t.Errorf("object store failure: err = %v, want a retried error", err)
	}
}
