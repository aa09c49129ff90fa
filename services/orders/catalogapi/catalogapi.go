// Package catalogapi is the orders service's client of the catalog's HTTP API: product prices
// and stock from its public, cached product reads, and the stock changes it is told about
// after each order so it can drop the product from its caches and the edge.
package catalogapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"golang.org/x/sync/errgroup"

	"github.com/flashcrowd/flashcrowd/foundation/web"
	"github.com/flashcrowd/flashcrowd/services/orders"
)

// Errors of Product and Products.
var (
	ErrNotFound = errors.New("catalog: no such product")
	// ErrUnavailable means the catalog did not answer in time or answered with an error: the
	// caller should try again in a moment.
	ErrUnavailable = errors.New("catalog unavailable")
)

// Timeouts: the catalog answers product reads from its caches in about a millisecond, so a
// read that takes longer is better failed fast than queued behind.
const (
	readTimeout   = 1 * time.Second
	notifyTimeout = 2 * time.Second
	maxBody       = 1 << 20
	fanOut        = 8 // product reads in flight for one cart
)

// Product is what the orders service needs of a catalog product.
type Product struct {
	ID         int64  `json:"id"`
	SKU        string `json:"sku"`
	Name       string `json:"name"`
	PriceCents int64  `json:"price_cents"`
	Currency   string `json:"currency"`
	Stock      int32  `json:"stock"`
}

// Client talks to the catalog at one base URL through one shared transport.
type Client struct {
	base     string
	token    string
	http     *http.Client
	log      *slog.Logger
	notified *prometheus.CounterVec
	pending  sync.WaitGroup
}

// New returns a client of the catalog at base (CATALOG_URL), which sends stock changes with
// the bearer token. Its metrics are registered with reg.
func New(base *url.URL, token string, log *slog.Logger, reg prometheus.Registerer) *Client {
	// One transport for every call: keep-alive connections to the internal load balancer are
	// reused instead of dialled per request, and every phase has a short limit.
	transport := &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 500 * time.Millisecond, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: notifyTimeout,
		TLSHandshakeTimeout:   time.Second,
		ExpectContinueTimeout: time.Second,
		ForceAttemptHTTP2:     true,
	}
	return &Client{
		base:  strings.TrimSuffix(base.String(), "/"),
		token: token,
		http:  &http.Client{Transport: transport, Timeout: notifyTimeout},
		log:   log,
		notified: promauto.With(reg).NewCounterVec(prometheus.CounterOpts{
			Name: "flashcrowd_orders_stock_notifications_total",
			Help: "Stock changes sent to the catalog after a commit, by result (ok or error): an error leaves the catalog's caches to their TTL.",
		}, []string{"result"}),
	}
}

// Product reads product id from the catalog: ErrNotFound when it does not exist, an error
// wrapping ErrUnavailable when the catalog cannot answer.
func (c *Client) Product(ctx context.Context, id int64) (Product, error) {
	ctx, cancel := context.WithTimeout(ctx, readTimeout)
	defer cancel()
	var p Product
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/api/v1/products/"+strconv.FormatInt(id, 10), nil)
	if err != nil {
		return p, fmt.Errorf("product %d: %w", id, err)
	}
	req.Header.Set("Accept", "application/json")
	if rid := web.RequestID(ctx); rid != "" {
		req.Header.Set(web.RequestIDHeader, rid)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return p, fmt.Errorf("product %d: %w: %v", id, ErrUnavailable, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody)) // keeps the connection reusable
		return p, ErrNotFound
	case resp.StatusCode != http.StatusOK:
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
		return p, fmt.Errorf("product %d: %w: status %d", id, ErrUnavailable, resp.StatusCode)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxBody)).Decode(&p); err != nil {
		return p, fmt.Errorf("product %d: %w: %v", id, ErrUnavailable, err)
	}
	if p.ID != id {
		return p, fmt.Errorf("product %d: %w: the catalog answered with product %d", id, ErrUnavailable, p.ID)
	}
	return p, nil
}

// Products reads every product of ids, a few at a time. Products that do not exist are left
// out of the map; any other failure fails the whole read.
func (c *Client) Products(ctx context.Context, ids []int64) (map[int64]Product, error) {
	var mu sync.Mutex
	out := make(map[int64]Product, len(ids))
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(fanOut)
	for _, id := range ids {
		g.Go(func() error {
			p, err := c.Product(ctx, id)
			if errors.Is(err, ErrNotFound) {
				return nil
			}
			if err != nil {
				return err
			}
			mu.Lock()
			out[id] = p
			mu.Unlock()
			return nil
		})
	}
	return out, g.Wait()
}

// stockChanges is the body of POST /internal/v1/stock-changes.
type stockChanges struct {
	LSN     string               `json:"lsn"`
	Changes []orders.StockChange `json:"changes"`
}

// NotifyStock tells the catalog, in the background, that a commit at lsn changed the stock of
// some products. It is best effort: a failure is logged and counted, and the catalog's caches
// then keep the old stock until their TTL, which checkout does not trust anyway.
func (c *Client) NotifyStock(ctx context.Context, lsn string, changes []orders.StockChange) {
	if len(changes) == 0 {
		return
	}
	body, err := json.Marshal(stockChanges{LSN: lsn, Changes: changes})
	if err != nil {
		c.log.Error("stock changes", "err", err)
		return
	}
	rid := web.RequestID(ctx)
	c.pending.Add(1)
	go func() {
		defer c.pending.Done()
		if err := c.post(rid, body); err != nil {
			c.notified.WithLabelValues("error").Inc()
			c.log.Warn("stock changes not sent to the catalog", "request_id", rid, "err", err)
			return
		}
		c.notified.WithLabelValues("ok").Inc()
	}()
}

func (c *Client) post(rid string, body []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), notifyTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/internal/v1/stock-changes", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.token)
	if rid != "" {
		req.Header.Set(web.RequestIDHeader, rid)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

// Close waits, up to ctx's deadline, for the stock changes still being sent.
func (c *Client) Close(ctx context.Context) error {
	done := make(chan struct{})
	go func() { c.pending.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("catalog notifications: %w", ctx.Err())
	}
}
