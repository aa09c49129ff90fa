// Package purge drops products from the edge cache (HAProxy's, in front of the gateways) after
// a write. HAProxy has no purge command, but it drops its copy of a URL when an unsafe method on
// that URL succeeds: so a purge is a PURGE request to the edge's private purge port, which
// answers it itself. An edge of several nodes (the HA pair) has a cache in each: every node
// gets every purge.
package purge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// repurgeAfter are the moments a product is purged again. A shopper's request answered by an
// instance just before the write's invalidation reached it can bring a stale answer to the edge
// after the first purge: almost always within a second, and under heavy load a few more.
var repurgeAfter = []time.Duration{time.Second, 5 * time.Second}

// Client purges products from the edge cache. It owns the repurges it schedules: Close waits
// for them, so a shutdown does not drop the purges of the last writes.
type Client struct {
	urls     []string // each edge node's purge port, e.g. http://haproxy:8082; none without an edge cache
	client   *http.Client
	outcomes *prometheus.CounterVec
	after    []time.Duration // repurgeAfter; tests shorten it

	// base ends the repurges still in flight when Close gives up on them.
	base   context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	closed  bool
	timers  map[*time.Timer]struct{} // repurges not yet started, so Close can stop them
	pending sync.WaitGroup           // repurges scheduled and not yet finished
}

// New returns a client that purges through purgeURLs, a comma-separated list of the edge
// nodes' purge ports; with none, Product does nothing.
func New(purgeURLs string, reg prometheus.Registerer) *Client {
	base, cancel := context.WithCancel(context.Background())
	var urls []string
	for _, u := range strings.Split(purgeURLs, ",") {
		if u = strings.TrimSpace(u); u != "" {
			urls = append(urls, u)
		}
	}
	return &Client{
		urls:   urls,
		client: &http.Client{Timeout: 2 * time.Second},
		outcomes: promauto.With(reg).NewCounterVec(prometheus.CounterOpts{
			Name: "flashcrowd_edge_purges_total",
			Help: "Edge cache purges after a write, one per edge node, by result (ok or error).",
		}, []string{"result"}),
		after:  repurgeAfter,
		base:   base,
		cancel: cancel,
		timers: map[*time.Timer]struct{}{},
	}
}

// Product drops the edge's copies of product id (its JSON and its storefront page) now, and
// schedules the repurges unless the client is closed. The error is the first immediate purge's
// (with several edge nodes, the failed nodes' joined).
func (c *Client) Product(ctx context.Context, id int64) error {
	if len(c.urls) == 0 {
		return nil
	}
	// The product's JSON, and its storefront page.
	var first error
	for _, path := range []string{"/api/v1/products/" + strconv.FormatInt(id, 10), "/products/" + strconv.FormatInt(id, 10)} {
		c.schedule(path)
		if err := c.purge(ctx, path); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Path drops the edge's copy of one path now, once: for objects that are gone (a deleted
// product's images), where no racing read can bring an old copy back.
func (c *Client) Path(ctx context.Context, path string) error {
	if len(c.urls) == 0 {
		return nil
	}
	return c.purge(ctx, path)
}

func (c *Client) schedule(path string) {
	// The lock also keeps a timer's callback from reading t before it is assigned.
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	for _, after := range c.after {
		c.pending.Add(1)
		var t *time.Timer
		t = time.AfterFunc(after, func() {
			defer c.pending.Done()
			c.mu.Lock()
			delete(c.timers, t)
			c.mu.Unlock()
			ctx, cancel := context.WithTimeout(c.base, c.client.Timeout)
			defer cancel()
			_ = c.purge(ctx, path)
		})
		c.timers[t] = struct{}{}
	}
}

// Close stops scheduling repurges and waits for those pending to be sent. When ctx ends first,
// it stops the ones not yet started, cancels those in flight and returns ctx's error.
func (c *Client) Close(ctx context.Context) error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()

	done := make(chan struct{})
	go func() {
		c.pending.Wait()
		close(done)
	}()
	select {
	case <-done:
		c.cancel()
		return nil
	case <-ctx.Done():
	}

	c.mu.Lock()
	abandoned := 0
	for t := range c.timers {
		if t.Stop() {
			abandoned++
			c.pending.Done()
		}
		delete(c.timers, t)
	}
	c.mu.Unlock()
	c.cancel()
	return fmt.Errorf("purge: %d repurges not sent: %w", abandoned, ctx.Err())
}

// purge sends path's PURGE to every edge node at once, so that a node that is slow or gone
// delays no other; the error joins the failed nodes'.
func (c *Client) purge(ctx context.Context, path string) error {
	errs := make([]error, len(c.urls))
	var wg sync.WaitGroup
	for i, u := range c.urls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.send(ctx, u, path)
			result := "ok"
			if errs[i] != nil {
				result = "error"
			}
			c.outcomes.WithLabelValues(result).Inc()
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (c *Client) send(ctx context.Context, url, path string) error {
	req, err := http.NewRequestWithContext(ctx, "PURGE", url+path, nil)
	if err != nil {
		return fmt.Errorf("purge %s: %w", path, err)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return fmt.Errorf("purge %s: %w", path, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("purge %s: edge answered %s", path, resp.Status)
	}
	return nil
}
