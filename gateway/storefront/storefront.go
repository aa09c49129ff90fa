// Package storefront is the shop a person clicks through: server-rendered HTML pages
// (html/template) over the catalog's public API, served by the gateway. Pages work without
// JavaScript. Caching follows one rule per kind of answer (see the Cache-Control constants in
// foundation/web): stylesheets under content-hashed names are kept for a year and never
// revalidated; HTML is revalidated on every use, cheaply, with a weak ETag (a 304 carries no
// body); product images are the edge's /media/ answers, kept for a month.
package storefront

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/flashcrowd/flashcrowd/foundation/web"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// Deps is what the storefront needs: where the catalog's API is (the internal load balancer)
// and the transport to reach it.
type Deps struct {
	Log       *slog.Logger
	Catalog   *url.URL
	Transport http.RoundTripper
	// AdminToken is the admin API's bearer token: the admin pages trade it for a cookie and
	// call the API with it. Empty: no admin pages.
	AdminToken string
}

// New prepares the storefront (its templates and assets) and returns its handler's
// constructor: given the gateway's own API handler, which the cart and checkout pages call in
// process, the handler serves the pages and assets; every other path is its 404 page.
func New(d Deps) (func(api http.Handler) http.Handler, error) {
	a, err := loadAssets()
	if err != nil {
		return nil, err
	}
	pages, err := parsePages(a)
	if err != nil {
		return nil, err
	}
	return func(api http.Handler) http.Handler {
		cc := catalogClient{base: d.Catalog, client: &http.Client{Transport: d.Transport}}
		s := &shop{catalog: cc, status: &writeStatus{ask: cc.writable, log: d.Log}, pages: pages, log: d.Log, api: api, admin: newAdmin(d.AdminToken)}
		r := chi.NewRouter()
		r.Use(headAsGet)
		r.Get("/", s.home)
		r.Get("/products/{id}", s.product)
		r.Get("/categories/{slug}", s.category)
		r.Get("/search", s.search)
		r.Get("/assets/{name}", a.serve)
		r.Get("/cart", s.cart)
		r.Post("/cart/items", s.putItem)
		r.Post("/cart/items/{id}/remove", s.removeItem)
		r.Post("/checkout", s.checkout)
		r.Get("/orders/{id}", s.order)
		r.Get("/orders", s.orders)
		r.Get("/account", s.account)
		r.Post("/account/login", s.signIn("login", "/api/v1/session", http.StatusOK))
		r.Post("/account/register", s.signIn("register", "/api/v1/customers", http.StatusCreated))
		r.Post("/account/logout", s.signOut)
		s.adminRoutes(r)
		r.NotFound(func(w http.ResponseWriter, r *http.Request) {
			s.fail(w, r, http.StatusNotFound, "There is no such page.")
		})
		r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
			s.fail(w, r, http.StatusMethodNotAllowed, "This page does not take that method.")
		})
		return r
	}, nil
}

// headAsGet routes a HEAD as a GET (the pages leave the body out). chi's middleware.GetHead
// looks the route up in the outermost router, where the storefront is mounted for every
// method, so it never applied and HEAD was a 405.
func headAsGet(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rctx := chi.RouteContext(r.Context()); rctx != nil && r.Method == http.MethodHead {
			rctx.RouteMethod = http.MethodGet
		}
		next.ServeHTTP(w, r)
	})
}

type shop struct {
	catalog catalogClient
	status  *writeStatus // read-only mode, for the banner
	pages   map[string]*template.Template
	log     *slog.Logger
	api     http.Handler // the gateway's API, for the shopper's cart and orders
	admin   admin
}

// view is what every page template gets.
type view struct {
	Title      string
	Categories []category
	Query      string // the search box's text
	ReadOnly   bool   // no primary: the banner says checkout is paused
	Data       any
}

func (s *shop) home(w http.ResponseWriter, r *http.Request) {
	p, err := s.catalog.featured(r.Context())
	if err != nil {
		s.failed(w, r, err)
		return
	}
	s.render(w, r, "home", view{Title: "Flashcrowd", Data: p})
}

func (s *shop) product(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil || id < 1 {
		s.fail(w, r, http.StatusNotFound, "There is no such product.")
		return
	}
	p, err := s.catalog.product(r.Context(), id)
	if err != nil {
		s.failed(w, r, err)
		return
	}
	s.render(w, r, "product", view{Title: p.Name, Data: p})
}

// listing is a category page's data: its products and the filters that chose them.
type listing struct {
	Category category
	Children []category // its subcategories
	Page     page
	Sort     string
	MinPrice string // as typed, in whole currency units
	MaxPrice string
	InStock  bool
	Next     string // the next page's URL, empty on the last
	Sorts    []sortOption
}

type sortOption struct{ Value, Label string }

// sorts are the catalog's, in the order a shopper looks for them.
var sorts = []sortOption{
	{"id", "Catalog order"}, {"newest", "Newest first"}, {"price", "Price, low to high"}, {"-price", "Price, high to low"}, {"name", "Name"},
}

func (s *shop) category(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	cats, err := s.catalog.categories(ctx)
	if err != nil {
		s.failed(w, r, err)
		return
	}
	slug := chi.URLParam(r, "slug")
	var cat category
	for _, c := range cats {
		if c.Slug == slug {
			cat = c
		}
	}
	var children []category
	for _, c := range cats {
		if cat.ID != 0 && c.ParentID == cat.ID {
			children = append(children, c)
		}
	}
	if cat.ID == 0 {
		s.fail(w, r, http.StatusNotFound, "There is no such category.")
		return
	}
	in := r.URL.Query()
	l := listing{Category: cat, Children: children, Sort: in.Get("sort"), MinPrice: in.Get("min_price"), MaxPrice: in.Get("max_price"), InStock: in.Get("in_stock") == "true", Sorts: sorts}
	// The form speaks whole currency units; the API, cents.
	q := url.Values{"category": {slug}}
	for _, f := range []struct {
		name, value string
	}{{"min_price", l.MinPrice}, {"max_price", l.MaxPrice}} {
		if f.value == "" {
			continue
		}
		n, err := strconv.ParseInt(f.value, 10, 64)
		if err != nil || n < 0 || n > 1_000_000 {
			s.fail(w, r, http.StatusBadRequest, "Prices are whole numbers from 0 to 1000000.")
			return
		}
		q.Set(f.name, strconv.FormatInt(n*100, 10))
	}
	for _, k := range []string{"sort", "cursor"} {
		if v := in.Get(k); v != "" {
			q.Set(k, v)
		}
	}
	if l.InStock {
		q.Set("in_stock", "true")
	}
	l.Page, err = s.catalog.products(ctx, q)
	if err != nil {
		s.failed(w, r, err)
		return
	}
	if l.Page.NextCursor != "" {
		next := url.Values{}
		for k, v := range in {
			next[k] = v
		}
		next.Set("cursor", l.Page.NextCursor)
		l.Next = "/categories/" + url.PathEscape(slug) + "?" + next.Encode()
	}
	s.render(w, r, "category", view{Title: cat.Name, Categories: cats, Data: l})
}

func (s *shop) search(w http.ResponseWriter, r *http.Request) {
	text := strings.TrimSpace(r.URL.Query().Get("q"))
	if text == "" {
		s.render(w, r, "search", view{Title: "Search", Data: page{}})
		return
	}
	p, err := s.catalog.search(r.Context(), text)
	if err != nil {
		s.failed(w, r, err)
		return
	}
	s.render(w, r, "search", view{Title: "Search: " + text, Query: text, Data: p})
}

// failed answers the error page for err, the catalog's or the gateway API's.
func (s *shop) failed(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		return // the shopper left
	}
	code, msg := status(err)
	if code >= 500 {
		web.Log(r.Context()).Warn("storefront: upstream", "err", err)
	}
	s.fail(w, r, code, msg)
}

// fail answers an error page: never cached, so a passing failure does not stay.
func (s *shop) fail(w http.ResponseWriter, r *http.Request, code int, msg string) {
	var b bytes.Buffer
	if err := s.pages["error"].ExecuteTemplate(&b, "layout", view{Title: http.StatusText(code), Data: msg}); err != nil {
		web.Log(r.Context()).Error("storefront: render error page", "err", err)
		http.Error(w, msg, code)
		return
	}
	if code == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "2")
	}
	writeHTML(w, r, code, web.CachePrivate, b.Bytes())
}

// render writes a page that anyone may see (it holds nothing of the shopper's): browsers
// revalidate it on every use, with a weak ETag (the same page compressed or not is the same to
// the shopper), 304 when they have it; the edge may keep it a few seconds for everyone.
func (s *shop) render(w http.ResponseWriter, r *http.Request, name string, v view) {
	body, ok := s.execute(w, r, name, v)
	if !ok {
		return
	}
	sum := sha256.Sum256(body)
	etag := `W/"` + hex.EncodeToString(sum[:12]) + `"`
	w.Header().Set("ETag", etag)
	w.Header().Set("CDN-Cache-Control", web.EdgeRevalidated)
	code := http.StatusOK
	if web.NoneMatch(r.Header.Get("If-None-Match"), strings.TrimPrefix(etag, "W/")) {
		code = http.StatusNotModified
	}
	writeHTML(w, r, code, web.CacheRevalidate, body)
}

// private writes a page with a shopper's data: never kept by anyone.
func (s *shop) private(w http.ResponseWriter, r *http.Request, code int, name string, v view) {
	if body, ok := s.execute(w, r, name, v); ok {
		writeHTML(w, r, code, web.CachePrivate, body)
	}
}

// execute fills a page into the layout, with the navigation's categories unless v has them (a
// page still shows without). When it cannot, it has answered the error page, and says false.
func (s *shop) execute(w http.ResponseWriter, r *http.Request, name string, v view) ([]byte, bool) {
	if v.Categories == nil {
		v.Categories, _ = s.catalog.categories(r.Context())
	}
	v.ReadOnly = s.status.ReadOnly()
	var b bytes.Buffer
	if err := s.pages[name].ExecuteTemplate(&b, "layout", v); err != nil {
		web.Log(r.Context()).Error("storefront: render", "page", name, "err", err)
		s.fail(w, r, http.StatusInternalServerError, "This page could not be shown.")
		return nil, false
	}
	return b.Bytes(), true
}

// writeHTML answers an HTML page (a 304 without its body) with the storefront's headers.
func writeHTML(w http.ResponseWriter, r *http.Request, code int, cacheControl string, body []byte) {
	h := w.Header()
	securityHeaders(h)
	h.Set("Cache-Control", cacheControl)
	if code == http.StatusNotModified {
		w.WriteHeader(code)
		return
	}
	h.Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// securityHeaders: pages load nothing from outside the stack, run no inline script, and are
// never framed.
func securityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
}

// assets are the embedded stylesheets, each served under a name with its content's hash:
// site.css is /assets/site.3f2a9c1b0d4e.css. A changed file gets a new name, so a browser may
// keep any of them for a year without asking again.
type assets struct {
	byName map[string]asset // by hashed name
	url    map[string]string
}

type asset struct {
	body        []byte
	contentType string
}

func loadAssets() (*assets, error) {
	a := &assets{byName: map[string]asset{}, url: map[string]string{}}
	err := fs.WalkDir(assetFS, "assets", func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := assetFS.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		base := path.Base(p)
		ext := path.Ext(base)
		hashed := strings.TrimSuffix(base, ext) + "." + hex.EncodeToString(sum[:6]) + ext
		ct := map[string]string{".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml"}[ext]
		a.byName[hashed] = asset{body: b, contentType: ct}
		a.url[base] = "/assets/" + hashed
		return nil
	})
	return a, err
}

func (a *assets) serve(w http.ResponseWriter, r *http.Request) {
	f, ok := a.byName[chi.URLParam(r, "name")]
	if !ok {
		// An old name after a deploy: a 404 the edge may not keep.
		w.Header().Set("Cache-Control", web.CachePrivate)
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", f.contentType)
	h.Set("Cache-Control", web.CacheImmutable)
	h.Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(f.body)
}

// parsePages parses each page template with the layout it fills.
func parsePages(a *assets) (map[string]*template.Template, error) {
	funcs := template.FuncMap{
		"asset": func(name string) string { return a.url[name] },
		"money": money,
	}
	pages := map[string]*template.Template{}
	for _, name := range []string{"home", "product", "category", "search", "error", "cart", "order", "orders", "account", "admin", "adminproduct"} {
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, err
		}
		pages[name] = t
	}
	return pages, nil
}
