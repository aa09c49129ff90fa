package storefront

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/flashcrowd/flashcrowd/foundation/web"
)

// product is what the storefront shows of a catalog product (the catalog API's JSON).
type product struct {
	ID           int64             `json:"id"`
	SKU          string            `json:"sku"`
	Name         string            `json:"name"`
	Description  string            `json:"description"`
	PriceCents   int64             `json:"price_cents"`
	Currency     string            `json:"currency"`
	Stock        int32             `json:"stock"`
	CategoryID   int32             `json:"category_id"`
	Attributes   map[string]string `json:"attributes"`
	ImageURL     string            `json:"image_url"`
	ThumbnailURL string            `json:"thumbnail_url"`
}

// Price is the product's price as a person reads it: 19.99 EUR.
func (p product) Price() string { return money(p.PriceCents, p.Currency) }

// money is an amount as a person reads it: 19.99 EUR.
func money(cents int64, currency string) string {
	return fmt.Sprintf("%d.%02d %s", cents/100, cents%100, currency)
}

type page struct {
	Items      []product `json:"items"`
	NextCursor string    `json:"next_cursor"`
}

type category struct {
	ID       int32  `json:"id"`
	ParentID int32  `json:"parent_id"`
	Slug     string `json:"slug"`
	Name     string `json:"name"`
}

// catalogClient reads the catalog's public API through the internal load balancer, as the
// browser would through the edge: the same answers, the same caches behind them.
type catalogClient struct {
	base   *url.URL
	client *http.Client
}

// apiError is the catalog's refusal (a 4xx problem), or its absence (5xx, unreachable).
type apiError struct {
	Status int    // the catalog's status; 503 when it could not be asked
	Detail string // the problem's detail, for the page
}

func (e *apiError) Error() string { return fmt.Sprintf("catalog: %d %s", e.Status, e.Detail) }

// get decodes the JSON answer to GET path?query into v.
func (c catalogClient) get(ctx context.Context, path string, query url.Values, v any) error {
	u := c.base.JoinPath(path)
	u.RawQuery = query.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	// One id follows a page's requests through the logs.
	if id := web.RequestID(ctx); id != "" {
		req.Header.Set("X-Request-ID", id)
	}
	res, err := c.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &apiError{Status: http.StatusServiceUnavailable, Detail: "the catalog cannot be reached"}
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 4<<20))
	if err != nil {
		return &apiError{Status: http.StatusServiceUnavailable, Detail: "the catalog's answer was cut short"}
	}
	switch {
	case res.StatusCode == http.StatusOK:
		return json.Unmarshal(body, v)
	case res.StatusCode >= 400 && res.StatusCode < 500:
		var p struct {
			Detail string `json:"detail"`
		}
		_ = json.Unmarshal(body, &p)
		return &apiError{Status: res.StatusCode, Detail: p.Detail}
	default:
		return &apiError{Status: http.StatusServiceUnavailable, Detail: "the catalog is not answering right now"}
	}
}

func (c catalogClient) featured(ctx context.Context) (page, error) {
	var p page
	return p, c.get(ctx, "/api/v1/featured", nil, &p)
}

func (c catalogClient) product(ctx context.Context, id int64) (product, error) {
	var p product
	return p, c.get(ctx, "/api/v1/products/"+strconv.FormatInt(id, 10), nil, &p)
}

func (c catalogClient) products(ctx context.Context, q url.Values) (page, error) {
	var p page
	return p, c.get(ctx, "/api/v1/products", q, &p)
}

func (c catalogClient) search(ctx context.Context, text string) (page, error) {
	var p page
	return p, c.get(ctx, "/api/v1/search", url.Values{"q": {text}}, &p)
}

func (c catalogClient) categories(ctx context.Context) ([]category, error) {
	var v struct {
		Items []category `json:"items"`
	}
	return v.Items, c.get(ctx, "/api/v1/categories", nil, &v)
}

// writable asks whether the shop takes changes now (false while there is no primary).
func (c catalogClient) writable(ctx context.Context) (bool, error) {
	var v struct {
		Writes string `json:"writes"`
	}
	err := c.get(ctx, "/api/v1/status", nil, &v)
	return v.Writes == "available", err
}

// status is the HTTP status and message of the page that answers err, the catalog's or the
// gateway API's: its refusal (a 4xx) with its detail, or, when it could not answer, a 503.
func status(err error) (int, string) {
	var ae *apiError
	switch {
	case errors.As(err, &ae) && ae.Status == http.StatusNotFound:
		return http.StatusNotFound, "There is no such page."
	case errors.As(err, &ae) && ae.Status >= 400 && ae.Status < 500:
		if d := strings.TrimSpace(ae.Detail); d != "" {
			return ae.Status, d
		}
		return ae.Status, http.StatusText(ae.Status)
	default:
		return http.StatusServiceUnavailable, "The shop cannot show this right now. Please try again in a moment."
	}
}
