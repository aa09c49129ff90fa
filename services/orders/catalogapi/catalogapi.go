// Package catalogapi is the orders service's client of the catalog's HTTP API: product prices
// and stock from its public, cached product reads, and the stock changes it is told about
// after each order so it can drop the product from its caches and the edge.
//
// In a flash sale every buyer asks about the same product, and every order changes it: were
// each cart write and checkout to read it from the catalog, and each order drop it from the
// catalog's caches, every read would be a miss waiting for the next fill. So product reads are
// kept here for ProductTTL (one read per product per instance and period, shared by the
// requests that want it meanwhile), and stock changes are sent in batches, at most one per
// NotifyEvery. Both bound how stale a stock figure can be at about a second while the catalog
// answers in time: checkout does not trust it anyway (the database decides, and the shared
// stock count refuses first in a sale), and a sold-out product still shows as sold out
// everywhere within a second.
//
// A copy past its TTL still answers at once, for up to maxStale, while one read refreshes it in
// the background (HTTP's stale-while-revalidate, RFC 5861): a request never waits for the
// catalog while a recent copy exists. A catalog slowed by a crowd (a flash sale's first
// seconds) or failing then costs freshness, not latency, nor 503s on cart writes. Were requests
// to wait on the refresh past some shorter window, as before, a slow catalog would make every
// cart write wait up to readTimeout at exactly the moment the machine is busiest.
package catalogapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/singleflight"

	"github.com/flashcrowd/flashcrowd/foundation/db"
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

	// ProductTTL is how long a product read is kept in this instance (New's default).
	ProductTTL = 500 * time.Millisecond
	// Past its TTL a copy answers at once while it is read again, for up to this long.
	maxStale = 30 * time.Second
	// NotifyEvery is the longest a stock change waits to be sent with the next batch.
	NotifyEvery = 100 * time.Millisecond
	cacheSize   = 10_000
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
	reads    *prometheus.CounterVec

	ttl      time.Duration
	now      func() time.Time
	products *lru.Cache[int64, copied]
	loads    singleflight.Group

	mu      sync.Mutex
	batch   map[int64]orders.StockChange // the changes not sent yet, by product
	lsn     uint64                       // the highest commit LSN among them
	flushed chan struct{}                // closed when the loop has sent its last batch
	wake    chan struct{}
	stop    chan struct{}
}

// copied is a product as the catalog showed it at a moment.
type copied struct {
	p  Product
	at time.Time
}

// New returns a client of the catalog at base (CATALOG_URL), which sends stock changes with
// the bearer token and keeps product reads for ttl (0: not at all). Its metrics are registered
// with reg.
func New(base *url.URL, token string, ttl time.Duration, log *slog.Logger, reg prometheus.Registerer) *Client {
	// One transport for every call: keep-alive connections to the internal load balancer are
	// reused instead of dialled per request, and every phase has a short limit.
	transport := &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 500 * time.Millisecond, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       60 * time.Second, // below HAProxy's internal keep-alive timeout (75 s)
		ResponseHeaderTimeout: notifyTimeout,
		TLSHandshakeTimeout:   time.Second,
		ExpectContinueTimeout: time.Second,
		ForceAttemptHTTP2:     true,
	}
	f := promauto.With(reg)
	c := &Client{
		base:  strings.TrimSuffix(base.String(), "/"),
		token: token,
		http:  &http.Client{Transport: transport, Timeout: notifyTimeout},
		log:   log,
		notified: f.NewCounterVec(prometheus.CounterOpts{
			Name: "flashcrowd_orders_stock_notifications_total",
			Help: "Batches of stock changes sent to the catalog after commits, by result (ok or error): an error leaves the catalog's caches to their TTL.",
		}, []string{"result"}),
		reads: f.NewCounterVec(prometheus.CounterOpts{
			Name: "flashcrowd_orders_product_reads_total",
			Help: "Product look-ups, by source: this instance's short-lived copy (cached), its copy past the TTL while a background read refreshes it (stale), a read another request had in flight (shared), or the catalog (catalog).",
		}, []string{"source"}),
		batch:   map[int64]orders.StockChange{},
		flushed: make(chan struct{}),
		wake:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
	}
	if ttl > 0 {
		c.ttl, c.now = ttl, time.Now
		c.products, _ = lru.New[int64, copied](cacheSize) // fails only for a size below 1
	}
	go c.notifyLoop()
	return c
}

// Product returns product id as the catalog showed it at most ProductTTL ago (or a little
// longer, see the package's doc): ErrNotFound when it does not exist, an error wrapping
// ErrUnavailable when the catalog cannot answer and no copy is recent enough to stand in.
func (c *Client) Product(ctx context.Context, id int64) (Product, error) {
	if c.products == nil {
		c.reads.WithLabelValues("catalog").Inc()
		return c.fetch(ctx, id)
	}
	e, ok := c.products.Get(id)
	age := c.now().Sub(e.at)
	switch {
	case ok && age < c.ttl:
		c.reads.WithLabelValues("cached").Inc()
		return e.p, nil
	case ok && age < maxStale:
		c.reads.WithLabelValues("stale").Inc()
		c.loads.DoChan(strconv.FormatInt(id, 10), func() (any, error) { return c.load(context.Background(), id) })
		return e.p, nil
	}
	// No copy recent enough: one read for every request that wants the product meanwhile; it
	// outlives the request that started it, so that one giving up does not fail the others.
	ran := false
	v, err, _ := c.loads.Do(strconv.FormatInt(id, 10), func() (any, error) {
		ran = true
		return c.load(context.WithoutCancel(ctx), id)
	})
	switch {
	case ran:
		c.reads.WithLabelValues("catalog").Inc()
	default:
		c.reads.WithLabelValues("shared").Inc()
	}
	return v.(Product), err
}

// load reads product id from the catalog into this instance's copies (out of them when it is
// gone).
func (c *Client) load(ctx context.Context, id int64) (Product, error) {
	p, err := c.fetch(ctx, id)
	switch {
	case err == nil:
		c.products.Add(id, copied{p: p, at: c.now()})
	case errors.Is(err, ErrNotFound):
		c.products.Remove(id)
	}
	return p, err
}

// Learned records the stock a commit of this instance left, so that its next look-ups see it
// before the catalog does.
func (c *Client) Learned(changes []orders.StockChange) {
	if c.products == nil {
		return
	}
	for _, ch := range changes {
		if e, ok := c.products.Peek(ch.ProductID); ok {
			e.p.Stock = ch.Stock
			c.products.Add(ch.ProductID, e)
		}
	}
}

func (c *Client) fetch(ctx context.Context, id int64) (Product, error) {
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
// some products. Changes wait up to NotifyEvery and go in one batch: per product the latest
// stock and the first "was" (so a product that crossed zero in between still says so), with
// the highest LSN. It is best effort: a failure is logged and counted, and the catalog's caches
// then keep the old stock until their TTL, which checkout does not trust anyway.
func (c *Client) NotifyStock(lsn string, changes []orders.StockChange) {
	if len(changes) == 0 {
		return
	}
	n, err := db.ParseLSN(lsn)
	if err != nil {
		c.log.Error("stock changes", "err", err)
	}
	c.mu.Lock()
	c.lsn = max(c.lsn, n)
	for _, ch := range changes {
		if prev, ok := c.batch[ch.ProductID]; ok {
			ch.Was = prev.Was
		}
		c.batch[ch.ProductID] = ch
	}
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// notifyLoop sends the waiting changes, at most one batch per NotifyEvery, until Close.
func (c *Client) notifyLoop() {
	defer close(c.flushed)
	for {
		select {
		case <-c.wake:
		case <-c.stop:
			c.send()
			return
		}
		c.send()
		select {
		case <-time.After(NotifyEvery):
		case <-c.stop:
			c.send()
			return
		}
	}
}

func (c *Client) send() {
	c.mu.Lock()
	batch, lsn := c.batch, c.lsn
	c.batch, c.lsn = map[int64]orders.StockChange{}, 0
	c.mu.Unlock()
	for len(batch) > 0 {
		changes := make([]orders.StockChange, 0, min(len(batch), MaxStockChanges))
		for _, id := range slices.Sorted(maps.Keys(batch)) {
			ch := batch[id]
			changes = append(changes, ch)
			delete(batch, id)
			if len(changes) == MaxStockChanges {
				break
			}
		}
		body, err := json.Marshal(stockChanges{LSN: db.FormatLSN(lsn), Changes: changes})
		if err == nil {
			err = c.post(body)
		}
		if err != nil {
			c.notified.WithLabelValues("error").Inc()
			c.log.Warn("stock changes not sent to the catalog", "products", len(changes), "err", err)
			continue
		}
		c.notified.WithLabelValues("ok").Inc()
	}
}

// MaxStockChanges is the most changes one notice carries (the catalog's bound).
const MaxStockChanges = 100

func (c *Client) post(body []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), notifyTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/internal/v1/stock-changes", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.token)
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

// Close sends the changes still waiting, and waits for that up to ctx's deadline.
func (c *Client) Close(ctx context.Context) error {
	close(c.stop)
	select {
	case <-c.flushed:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("catalog notifications: %w", ctx.Err())
	}
}
