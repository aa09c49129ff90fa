package catalogapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
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
	return New(u, "internal-token", 0, slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry())
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
	got := make(chan string, 2)
	c := newClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/internal/v1/stock-changes" || r.Header.Get("Authorization") != "Bearer internal-token" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		b, _ := io.ReadAll(r.Body)
		got <- string(b)
		if strings.Contains(string(b), `"product_id":2`) { // the second notice fails

			http.Error(w, "no", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	c.NotifyStock("0/16B3748", []orders.StockChange{{ProductID: 1, Stock: 0, Was: 1}})
	if b := <-got; b != `{"lsn":"0/16B3748","changes":[{"product_id":1,"stock":0,"was":1}]}` {
		t.Errorf("body %s", b)
	}
	c.NotifyStock("0/1", []orders.StockChange{{ProductID: 2, Stock: 3, Was: 4}})
	<-got
	c.NotifyStock("0/1", nil) // nothing changed: nothing sent
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

// Within the TTL, a product is read from the catalog once, however many ask; a commit here
// updates the copy's stock at once.
func TestProductCopies(t *testing.T) {
	var reads atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reads.Add(1)
		time.Sleep(20 * time.Millisecond) // long enough for the concurrent reads to share it
		_, _ = io.WriteString(w, `{"id":1,"sku":"FC-1","name":"Lamp","price_cents":1999,"currency":"EUR","stock":4}`)
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	c := New(u, "internal-token", time.Minute, slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry())
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			if p, err := c.Product(context.Background(), 1); err != nil || p.Stock != 4 {
				t.Errorf("product: %+v, %v", p, err)
			}
		})
	}
	wg.Wait()
	if p, _ := c.Product(context.Background(), 1); p.Stock != 4 {
		t.Errorf("stock %d", p.Stock)
	}
	if n := reads.Load(); n != 1 {
		t.Errorf("%d catalog reads, want 1", n)
	}
	c.Learned([]orders.StockChange{{ProductID: 1, Stock: 0, Was: 4}})
	if p, _ := c.Product(context.Background(), 1); p.Stock != 0 {
		t.Errorf("stock after a commit here: %d, want 0", p.Stock)
	}
}

// Past its TTL a copy answers at once while a background read refreshes it, also while the
// catalog cannot answer, for up to maxStale; a product the catalog says is gone is gone.
func TestStaleCopies(t *testing.T) {
	var reads atomic.Int32
	var status atomic.Int32
	status.Store(http.StatusOK)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := reads.Add(1)
		if s := int(status.Load()); s != http.StatusOK {
			http.Error(w, "no", s)
			return
		}
		_, _ = fmt.Fprintf(w, `{"id":1,"sku":"FC-1","name":"Lamp","price_cents":1999,"currency":"EUR","stock":%d}`, n)
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	c := New(u, "internal-token", time.Second, slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry())
	now := time.Now()
	c.now = func() time.Time { return now }
	stock := func() int32 {
		t.Helper()
		p, err := c.Product(context.Background(), 1)
		if err != nil {
			t.Fatalf("product: %v", err)
		}
		return p.Stock
	}
	if s := stock(); s != 1 {
		t.Fatalf("first read: stock %d, want 1", s)
	}
	now = now.Add(2 * time.Second)
	if s := stock(); s != 1 {
		t.Errorf("past the TTL: stock %d, want the copy's 1 at once", s)
	}
	deadline := time.Now().Add(5 * time.Second)
	for c.products.Len() == 0 || func() bool { e, _ := c.products.Peek(1); return e.p.Stock != 2 }() {
		if time.Now().After(deadline) {
			t.Fatal("the background read did not refresh the copy")
		}
		time.Sleep(time.Millisecond)
	}
	status.Store(http.StatusServiceUnavailable)
	now = now.Add(10 * time.Second)
	if s := stock(); s != 2 {
		t.Errorf("catalog failing: stock %d, want the copy's 2 at once", s)
	}
	now = now.Add(maxStale)
	if _, err := c.Product(context.Background(), 1); !errors.Is(err, ErrUnavailable) {
		t.Errorf("catalog failing, copy too old: %v, want ErrUnavailable", err)
	}
	status.Store(http.StatusNotFound)
	if _, err := c.Product(context.Background(), 1); !errors.Is(err, ErrNotFound) || c.products.Contains(1) {
		t.Errorf("gone: %v, copy kept: %v", err, c.products.Contains(1))
	}
	// The read after the copy grew too old may join the failing background read (shared).
	read := func(source string) float64 { return testutil.ToFloat64(c.reads.WithLabelValues(source)) }
	if got := read("catalog") + read("shared"); got != 3 {
		t.Errorf("reads that waited for the catalog: %v, want 3", got)
	}
	if got := read("stale"); got != 2 {
		t.Errorf("stale copies answered: %v, want 2", got)
	}
}

// Changes that come within NotifyEvery share a batch (the first may go alone, at once): each
// product's latest stock, and the highest LSN.
func TestNotifyBatches(t *testing.T) {
	got := make(chan string, 4)
	c := newClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- string(b)
		w.WriteHeader(http.StatusNoContent)
	}))
	c.NotifyStock("0/20", []orders.StockChange{{ProductID: 1, Stock: 1, Was: 2}})
	c.NotifyStock("1/10", []orders.StockChange{{ProductID: 1, Stock: 0, Was: 1}, {ProductID: 2, Stock: 5, Was: 6}})
	c.NotifyStock("0/30", []orders.StockChange{{ProductID: 2, Stock: 4, Was: 5}})
	if err := c.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	close(got)
	changes := map[int64]orders.StockChange{}
	lsns := map[string]bool{}
	if len(got) > 2 {
		t.Errorf("%d notices for three commits within %v, want at most 2", len(got), NotifyEvery)
	}
	for b := range got {
		var n struct {
			LSN     string               `json:"lsn"`
			Changes []orders.StockChange `json:"changes"`
		}
		if err := json.Unmarshal([]byte(b), &n); err != nil {
			t.Fatal(err)
		}
		lsns[n.LSN] = true
		for _, ch := range n.Changes {
			changes[ch.ProductID] = ch
		}
	}
	if changes[1].Stock != 0 || changes[2].Stock != 4 {
		t.Errorf("changes sent: %+v", changes)
	}
	if !lsns["1/10"] {
		t.Errorf("LSNs sent: %v, want the highest, 1/10", lsns)
	}
}
