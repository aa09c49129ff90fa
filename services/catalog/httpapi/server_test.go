package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/hibiken/asynq"
	"github.com/minio/minio-go/v7"
	"github.com/redis/go-redis/v9"

	"github.com/flashcrowd/flashcrowd/foundation/web"
	"github.com/flashcrowd/flashcrowd/services/catalog"
	"github.com/flashcrowd/flashcrowd/services/catalog/cache"
	"github.com/flashcrowd/flashcrowd/services/catalog/postgres"
	"github.com/flashcrowd/flashcrowd/services/catalog/purge"
)

// The store the binary passes in must keep the signatures the handlers were written against.
var _ Store = (*postgres.Store)(nil)

const (
	testToken         = "test-admin-token-0123456789"
	testInternalToken = "test-internal-token-0123456789"
)

// api is the catalog API in-process: the real cache over miniredis and a real task queue over
// a second miniredis (closed to make enqueueing fail), with the database and the object store
// faked.
type api struct {
	t       testing.TB
	h       http.Handler
	store   *fakeStore
	objects *fakeObjects
	media   Media
	queue   *miniredis.Miniredis
	edge    *edge
	// noPrimary fails the Writable check; checks counts the checks.
	noPrimary atomic.Bool
	checks    atomic.Int32
}

func newAPI(t testing.TB) *api {
	t.Helper()
	a := &api{t: t, store: newFakeStore(), objects: &fakeObjects{objects: map[string]minio.ObjectInfo{}}}
	a.media = Media{Store: a.objects, Presign: a.objects, Bucket: "media", PublicURL: "http://media.test"}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg := web.NewRegistry()

	// No retries: a test that stops Redis wants the failure at once.
	cacheRedis := redisClient(t, miniredis.RunT(t))
	a.queue = miniredis.RunT(t)
	queue := asynq.NewClientFromRedisClient(redisClient(t, a.queue))

	var edgeURL string
	a.edge, edgeURL = newEdge(t)
	purges := purge.New(edgeURL, reg)
	t.Cleanup(func() {
		// Give up on the repurges (+1 s, +5 s) at once: the purge package tests them.
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_ = purges.Close(ctx)
	})

	a.h = NewServer(Deps{
		Log:      log,
		Registry: reg,
		Ready:    map[string]web.Check{"database": func(context.Context) error { return nil }},
		Writable: func(context.Context) error {
			a.checks.Add(1)
			if a.noPrimary.Load() {
				return catalog.ErrUnavailable
			}
			return nil
		},
		Store: a.store,
		Cache: cache.New(cacheRedis, cache.Config{
			TTL: time.Minute, NotFoundTTL: time.Second, LocalTTL: time.Minute, LocalSize: 100,
		}, log, reg),
		Media:         a.media,
		Queue:         queue,
		Tree:          testTree,
		Purge:         purges,
		AdminToken:    testToken,
		InternalToken: testInternalToken,
		Instance:      "catalog-test",
		Version:       "v-test",
	})
	return a
}

func redisClient(t testing.TB, mr *miniredis.Miniredis) *redis.Client {
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// do sends a request; header is pairs of name and value.
func (a *api) do(method, target, body string, header ...string) *httptest.ResponseRecorder {
	a.t.Helper()
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	a.h.ServeHTTP(w, r)
	return w
}

// admin sends a request with the admin token.
func (a *api) admin(method, target, body string, header ...string) *httptest.ResponseRecorder {
	a.t.Helper()
	return a.do(method, target, body, append([]string{"Authorization", "Bearer " + testToken}, header...)...)
}

// etag is the ETag GET gives product id now.
func (a *api) etag(id int64) string {
	a.t.Helper()
	p, err := a.store.Current(context.Background(), id)
	if err != nil {
		a.t.Fatal(err)
	}
	tag, err := web.ETag(a.media.view(p))
	if err != nil {
		a.t.Fatal(err)
	}
	return tag
}

// checkAnswer asserts the status and the given headers, and that an error is problem+json
// whose status matches.
func checkAnswer(t *testing.T, w *httptest.ResponseRecorder, status int, header ...string) {
	t.Helper()
	if w.Code != status {
		t.Errorf("status %d, want %d; body %s", w.Code, status, w.Body)
		return
	}
	for i := 0; i+1 < len(header); i += 2 {
		if got := w.Header().Get(header[i]); got != header[i+1] {
			t.Errorf("%s: %q, want %q", header[i], got, header[i+1])
		}
	}
	if status < 400 {
		return
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("error answered as %q, want application/problem+json", ct)
	}
	if cc := w.Header().Get("Cache-Control"); cc != web.CachePrivate {
		t.Errorf("error with Cache-Control %q, want %q", cc, web.CachePrivate)
	}
	var p web.Problem
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || p.Status != status {
		t.Errorf("problem %s (%v), want status %d", w.Body, err, status)
	}
}

// fakeStore keeps products in memory with the store's rules: unique SKUs, versions that
// conditional writes compare, stock bounds. err, when set, fails every call.
type fakeStore struct {
	mu       sync.Mutex
	products map[int64]catalog.Product
	lastID   int64
	lsn      int
	err      error
	// afterCurrent, when set, runs after Current has read: a write that lands in between.
	afterCurrent func()
}

func newFakeStore() *fakeStore {
	s := &fakeStore{products: map[int64]catalog.Product{}}
	for _, p := range []catalog.Product{
		{SKU: "LAMP-001", Name: "Brass lamp", PriceCents: 4900, Currency: "EUR", Stock: 5, CategoryID: 100, Featured: true},
		{SKU: "THROW-002", Name: "Linen throw", PriceCents: 3900, Currency: "EUR", Stock: 0, CategoryID: 101},
	} {
		s.lastID++
		p.ID, p.Version, p.Attributes = s.lastID, 1, catalog.Attrs{}
		p.CreatedAt = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
		p.UpdatedAt = p.CreatedAt
		s.products[p.ID] = p
	}
	return s
}

func (s *fakeStore) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = err
}

func (s *fakeStore) Product(_ context.Context, id int64, _ string) (catalog.Product, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.get(id)
}

func (s *fakeStore) Current(ctx context.Context, id int64) (catalog.Product, error) {
	p, err := s.Product(ctx, id, "")
	if s.afterCurrent != nil {
		s.afterCurrent()
	}
	return p, err
}

func (s *fakeStore) get(id int64) (catalog.Product, error) {
	if s.err != nil {
		return catalog.Product{}, fmt.Errorf("product %d: %w", id, s.err)
	}
	p, ok := s.products[id]
	if !ok {
		return p, catalog.ErrNotFound
	}
	return p, nil
}

func (s *fakeStore) page(limit int, keep func(catalog.Product) bool) (catalog.Page, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return catalog.Page{}, fmt.Errorf("products: %w", s.err)
	}
	page := catalog.Page{Items: []catalog.Product{}}
	for _, p := range s.products {
		if keep(p) {
			page.Items = append(page.Items, p)
		}
	}
	slices.SortFunc(page.Items, func(a, b catalog.Product) int { return int(a.ID - b.ID) })
	page.Items = page.Items[:min(limit, len(page.Items))]
	return page, nil
}

func (s *fakeStore) Products(_ context.Context, l catalog.Listing, _ string) (catalog.Page, error) {
	return s.page(l.Limit, func(p catalog.Product) bool {
		return (len(l.Categories) == 0 || slices.Contains(l.Categories, p.CategoryID)) && (!l.InStock || p.Stock > 0)
	})
}

func (s *fakeStore) Featured(_ context.Context, limit int, _ string) (catalog.Page, error) {
	return s.page(limit, func(p catalog.Product) bool { return p.Featured })
}

func (s *fakeStore) Search(_ context.Context, text string, limit int, _ string) (catalog.Page, error) {
	return s.page(limit, func(p catalog.Product) bool { return strings.Contains(strings.ToLower(p.Name), text) })
}

func (s *fakeStore) Create(_ context.Context, n catalog.NewProduct) (catalog.Product, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return catalog.Product{}, "", s.err
	}
	for _, p := range s.products {
		if p.SKU == n.SKU {
			return catalog.Product{}, "", fmt.Errorf("create product %s: %w", n.SKU, catalog.ErrConflict)
		}
	}
	s.lastID++
	p := catalog.Product{ID: s.lastID, SKU: n.SKU, Name: n.Name, Description: n.Description, PriceCents: n.PriceCents,
		Currency: n.Currency, Stock: n.Stock, CategoryID: n.CategoryID, Attributes: n.Attributes, Featured: n.Featured,
		Version: 1, CreatedAt: time.Now().UTC(), UpdatedAt: time.Now().UTC()}
	s.products[p.ID] = p
	return p, s.commit(), nil
}

// change applies fn to product id (only at version, when not nil) as one write.
func (s *fakeStore) change(id int64, version *int32, fn func(*catalog.Product) error) (catalog.Product, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.get(id)
	if err != nil {
		return p, "", err
	}
	if version != nil && *version != p.Version {
		return p, "", catalog.ErrVersion
	}
	if err := fn(&p); err != nil {
		return p, "", err
	}
	p.Version++
	p.UpdatedAt = time.Now().UTC()
	s.products[id] = p
	return p, s.commit(), nil
}

func (s *fakeStore) commit() string {
	s.lsn++
	return strconv.Itoa(s.lsn)
}

func (s *fakeStore) Update(_ context.Context, id int64, patch catalog.ProductPatch) (catalog.Product, string, error) {
	return s.change(id, patch.Version, func(p *catalog.Product) error {
		if patch.Name != nil {
			p.Name = *patch.Name
		}
		if patch.Stock != nil {
			p.Stock = *patch.Stock
		}
		if patch.PriceCents != nil {
			p.PriceCents = *patch.PriceCents
		}
		return nil
	})
}

func (s *fakeStore) AdjustStock(_ context.Context, id int64, delta int32) (catalog.Product, string, error) {
	return s.change(id, nil, func(p *catalog.Product) error {
		if n := int64(p.Stock) + int64(delta); n < 0 || n > catalog.MaxStock {
			return fmt.Errorf("update product %d: %w", id, catalog.ErrStock)
		}
		p.Stock += delta
		return nil
	})
}

func (s *fakeStore) SetImage(_ context.Context, id int64, key string) (catalog.Product, string, string, error) {
	var previous string
	p, lsn, err := s.change(id, nil, func(p *catalog.Product) error {
		previous, p.ImageKey = p.ImageKey, key
		return nil
	})
	return p, previous, lsn, err
}

func (s *fakeStore) Delete(_ context.Context, id int64, version *int32) (string, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.get(id)
	if err != nil {
		return "", "", err
	}
	if version != nil && *version != p.Version {
		return "", "", catalog.ErrVersion
	}
	delete(s.products, id)
	return p.ImageKey, s.commit(), nil
}

// fakeObjects is the object store: what was uploaded under each key.
type fakeObjects struct {
	mu      sync.Mutex
	objects map[string]minio.ObjectInfo
}

func (o *fakeObjects) put(key, contentType string, size int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.objects[key] = minio.ObjectInfo{Key: key, ContentType: contentType, Size: size}
}

func (o *fakeObjects) StatObject(_ context.Context, _, key string, _ minio.StatObjectOptions) (minio.ObjectInfo, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	info, ok := o.objects[key]
	if !ok {
		return info, minio.ErrorResponse{Code: "NoSuchKey", StatusCode: http.StatusNotFound, Key: key}
	}
	return info, nil
}

// PresignedPostPolicy answers the grant a real store would: the bucket's URL and, as form
// fields, every exact condition of the policy (key, content type, …).
func (o *fakeObjects) PresignedPostPolicy(_ context.Context, p *minio.PostPolicy) (*url.URL, map[string]string, error) {
	var doc struct{ Conditions [][]any }
	if err := json.Unmarshal([]byte(p.String()), &doc); err != nil {
		return nil, nil, err
	}
	fields := map[string]string{"policy": "base64-policy", "x-amz-signature": "sig"}
	var bucket string
	for _, c := range doc.Conditions {
		if len(c) == 3 && c[0] == "eq" {
			name, _ := c[1].(string)
			value, _ := c[2].(string)
			if name == "$bucket" {
				bucket = value
				continue
			}
			fields[strings.TrimPrefix(name, "$")] = value
		}
		if len(c) == 3 && c[0] == "content-length-range" {
			fields["content-length-range"] = fmt.Sprintf("%.0f-%.0f", c[1], c[2])
		}
	}
	u, err := url.Parse("http://media.test/" + bucket + "/")
	return u, fields, err
}

func (o *fakeObjects) CopyObject(_ context.Context, dst minio.CopyDestOptions, src minio.CopySrcOptions) (minio.UploadInfo, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	info, ok := o.objects[src.Object]
	if !ok {
		return minio.UploadInfo{}, minio.ErrorResponse{Code: "NoSuchKey", StatusCode: http.StatusNotFound, Key: src.Object}
	}
	info.Key = dst.Object
	o.objects[dst.Object] = info
	return minio.UploadInfo{Key: dst.Object, Size: info.Size}, nil
}

func (o *fakeObjects) RemoveObject(_ context.Context, _, key string, _ minio.RemoveObjectOptions) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	delete(o.objects, key)
	return nil
}

func (o *fakeObjects) has(key string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	_, ok := o.objects[key]
	return ok
}

// edge stands for HAProxy's purge port: it counts PURGE requests by path.
type edge struct {
	mu     sync.Mutex
	purges map[string]int
}

func newEdge(t testing.TB) (*edge, string) {
	e := &edge{purges: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		e.purges[r.Method+" "+r.URL.Path]++
		e.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	return e, srv.URL
}

func (e *edge) count(purge string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.purges[purge]
}
