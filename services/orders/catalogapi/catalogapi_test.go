package catalogapi

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/flashcrowd/flashcrowd/services/orders"
)

func newClient(t *testing.T, h http.Handler) *Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL + "/") // a trailing slash must not double the path's
	return New(u, "internal-token", slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry())
}

func TestProduct(t *testing.T) {
	c := newClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/v1/products/1":
			_, _ = io.WriteString(w, `{"id":1,"sku":"FC-1","name":"Lamp","price_cents":1999,"currency":"EUR","stock":4,"attributes":{}}`)
		case "/api/v1/products/2":
			http.Error(w, "overloaded", http.StatusServiceUnavailable)
		case "/api/v1/products/3":
			_, _ = io.WriteString(w, `<html>`)
		case "/api/v1/products/4":
			_, _ = io.WriteString(w, `{"id":5}`)
		case "/api/v1/products/5":
			time.Sleep(readTimeout + 500*time.Millisecond)
		default:
			http.NotFound(w, r)
		}
	}))
	ctx := context.Background()
	p, err := c.Product(ctx, 1)
	if err != nil || p != (Product{ID: 1, SKU: "FC-1", Name: "Lamp", PriceCents: 1999, Currency: "EUR", Stock: 4}) {
		t.Errorf("Product(1) = %+v, %v", p, err)
	}
	if _, err := c.Product(ctx, 99); !errors.Is(err, ErrNotFound) {
		t.Errorf("Product(99): %v, want ErrNotFound", err)
	}
	for _, id := range []int64{2, 3, 4, 5} {
		if _, err := c.Product(ctx, id); !errors.Is(err, ErrUnavailable) {
			t.Errorf("Product(%d): %v, want ErrUnavailable", id, err)
		}
	}
	got, err := c.Products(ctx, []int64{1, 99})
	if err != nil || len(got) != 1 || got[1].Name != "Lamp" {
		t.Errorf("Products = %v, %v", got, err)
	}
	if _, err := c.Products(ctx, []int64{1, 2}); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Products with one failing: %v", err)
	}
}

func TestNotifyStock(t *testing.T) {
	var fail atomic.Bool
	got := make(chan string, 2)
	c := newClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/internal/v1/stock-changes" || r.Header.Get("Authorization") != "Bearer internal-token" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		b, _ := io.ReadAll(r.Body)
		got <- string(b)
		if fail.Load() {
			http.Error(w, "no", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	c.NotifyStock(context.Background(), "0/16B3748", []orders.StockChange{{ProductID: 1, Stock: 0, Was: 1}})
	if b := <-got; b != `{"lsn":"0/16B3748","changes":[{"product_id":1,"stock":0,"was":1}]}` {
		t.Errorf("body %s", b)
	}
	fail.Store(true)
	c.NotifyStock(context.Background(), "0/1", []orders.StockChange{{ProductID: 2, Stock: 3, Was: 4}})
	<-got
	c.NotifyStock(context.Background(), "0/1", nil) // nothing changed: nothing sent
	if err := c.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ok, bad := testutil.ToFloat64(c.notified.WithLabelValues("ok")), testutil.ToFloat64(c.notified.WithLabelValues("error")); ok != 1 || bad != 1 {
		t.Errorf("counted ok %v, error %v", ok, bad)
	}
	if !strings.HasPrefix(c.base, "http://") || strings.HasSuffix(c.base, "/") {
		t.Errorf("base %q", c.base)
	}
}
