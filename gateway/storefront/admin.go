package storefront

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
)

// The admin pages: whoever holds the admin token edits products and uploads their images.
// A form cannot send the token as a bearer header, so signing in trades it for a cookie: an
// expiry and its HMAC under a key derived from the token (a new token signs everyone out),
// HttpOnly, SameSite=Strict and sent only to /admin. Each page then calls the admin API in
// process with the token, exactly as a script would: the gateway and the catalog check it.
const (
	adminCookie = "fc_admin"
	adminTTL    = 8 * time.Hour
)

type admin struct {
	token string
	key   []byte
	now   func() time.Time
}

func newAdmin(token string) admin {
	key := sha256.Sum256([]byte("flashcrowd admin cookie\x00" + token))
	return admin{token: token, key: key[:], now: time.Now}
}

func (a admin) mac(expires string) string {
	m := hmac.New(sha256.New, a.key)
	m.Write([]byte(expires))
	return hex.EncodeToString(m.Sum(nil))
}

// cookie is a fresh sign-in's cookie.
func (a admin) cookie(r *http.Request) *http.Cookie {
	expires := strconv.FormatInt(a.now().Add(adminTTL).Unix(), 10)
	return &http.Cookie{
		Name: adminCookie, Value: expires + "." + a.mac(expires), Path: "/admin",
		MaxAge: int(adminTTL / time.Second), HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https",
	}
}

// signedIn reports whether the request carries an admin cookie this token signed, not expired.
func (a admin) signedIn(r *http.Request) bool {
	c, err := r.Cookie(adminCookie)
	if err != nil {
		return false
	}
	expires, mac, ok := strings.Cut(c.Value, ".")
	at, err := strconv.ParseInt(expires, 10, 64)
	return ok && err == nil && hmac.Equal([]byte(mac), []byte(a.mac(expires))) && a.now().Unix() < at
}

// tokenIs compares in constant time (hashes first, so the length leaks nothing either).
func (a admin) tokenIs(t string) bool {
	x, y := sha256.Sum256([]byte(t)), sha256.Sum256([]byte(a.token))
	return subtle.ConstantTimeCompare(x[:], y[:]) == 1
}

func (a admin) bearer() map[string]string {
	return map[string]string{"Authorization": "Bearer " + a.token}
}

// adminRoutes mounts the admin pages; without a token there are none (404s).
func (s *shop) adminRoutes(r chi.Router) {
	if s.admin.token == "" {
		return
	}
	r.Get("/admin", s.adminHome)
	r.Post("/admin/login", s.adminLogin)
	r.Group(func(r chi.Router) {
		r.Use(s.requireAdmin)
		r.Post("/admin/logout", s.adminLogout)
		r.Get("/admin/products/{id}", s.adminProduct)
		r.Post("/admin/products/{id}", s.adminSave)
		r.Post("/admin/products/{id}/image-uploads", s.adminGrant)
		r.Get("/admin/products/{id}/image", s.adminUploaded) // where storage sends the browser back
		r.Post("/admin/products/{id}/image", s.adminPublish)
	})
}

func (s *shop) requireAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.admin.signedIn(r) {
			s.fail(w, r, http.StatusUnauthorized, "Sign in as the shop's admin first, at /admin.")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// adminHomePage is the sign-in form, or once signed in, a product finder.
type adminHomePage struct {
	SignedIn bool
	Problem  string
	Query    string
	Page     page
}

func (s *shop) adminHome(w http.ResponseWriter, r *http.Request) {
	if !s.admin.signedIn(r) {
		s.private(w, r, http.StatusOK, "admin", view{Title: "Admin", Data: adminHomePage{}})
		return
	}
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	if id, err := strconv.ParseInt(q, 10, 64); err == nil && id > 0 {
		http.Redirect(w, r, "/admin/products/"+q, http.StatusSeeOther)
		return
	}
	var p page
	var err error
	if q != "" {
		p, err = s.catalog.search(r.Context(), q)
	} else {
		p, err = s.catalog.products(r.Context(), url.Values{"sort": {"newest"}})
	}
	if err != nil {
		s.failed(w, r, err)
		return
	}
	s.private(w, r, http.StatusOK, "admin", view{Title: "Admin", Data: adminHomePage{SignedIn: true, Query: q, Page: p}})
}

func (s *shop) adminLogin(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	if !s.admin.tokenIs(r.PostFormValue("token")) {
		s.private(w, r, http.StatusUnauthorized, "admin", view{Title: "Admin", Data: adminHomePage{Problem: "That is not the admin token."}})
		return
	}
	http.SetCookie(w, s.admin.cookie(r))
	http.Redirect(w, r, "/admin", http.StatusSeeOther)
}

func (s *shop) adminLogout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: adminCookie, Path: "/admin", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/admin", http.StatusSeeOther)
}

// adminProductPage is the product's edit form and its image's upload, in whichever step.
type adminProductPage struct {
	Product product
	ETag    string // the version the form edits: a save sends it as If-Match
	// The form's fields, as shown: the product's, or what was typed when it was refused.
	Name, Description, Price string
	Notice                   string // what just happened: saved, published
	Problem                  string
	Errors                   map[string]string
	Grant                    *uploadGrant // step 2: the form that posts the file straight to storage
	Uploaded                 string       // step 3: the key storage stored it under, to publish
}

// uploadGrant is the catalog's presigned POST policy: the form's action and its fields.
type uploadGrant struct {
	Key    string            `json:"key"`
	URL    string            `json:"url"`
	Fields map[string]string `json:"fields"`
}

// FieldNames are the grant's fields in a fixed order (a map has none), for the template.
func (g uploadGrant) FieldNames() []string {
	return slices.Sorted(maps.Keys(g.Fields))
}

// loadForAdmin reads the product and its ETag through the gateway's API, the way a script
// would before a conditional write; nil when it has answered the error page.
func (s *shop) loadForAdmin(w http.ResponseWriter, r *http.Request) (*adminProductPage, bool) {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil || id < 1 {
		s.fail(w, r, http.StatusNotFound, "There is no such product.")
		return nil, false
	}
	a := s.callAPI(w, r, http.MethodGet, "/api/v1/products/"+strconv.FormatInt(id, 10), nil, nil)
	var p product
	if a.status != http.StatusOK || json.Unmarshal(a.body, &p) != nil {
		s.failed(w, r, a.err())
		return nil, false
	}
	return &adminProductPage{
		Product: p, ETag: a.header.Get("ETag"),
		Name: p.Name, Description: p.Description, Price: priceInput(p.PriceCents),
	}, true
}

func (s *shop) showAdminProduct(w http.ResponseWriter, r *http.Request, code int, p *adminProductPage) {
	s.private(w, r, code, "adminproduct", view{Title: "Edit " + p.Product.Name, Data: p})
}

// adminFormFailed answers an admin form the API refused, as formFailed does the cart's: the
// error page when the refusal is not about what the form said, else the form again with the
// API's problem, field by field, under its status.
func (s *shop) adminFormFailed(w http.ResponseWriter, r *http.Request, a apiAnswer, p *adminProductPage) {
	if a.notTheForm() {
		s.failed(w, r, a.err())
		return
	}
	p.Problem, p.Errors = a.detail(), a.errors()
	s.showAdminProduct(w, r, a.status, p)
}

func (s *shop) adminProduct(w http.ResponseWriter, r *http.Request) {
	p, ok := s.loadForAdmin(w, r)
	if !ok {
		return
	}
	switch r.URL.Query().Get("done") {
	case "saved":
		p.Notice = "Saved. The shop shows the change now."
	case "published":
		p.Notice = "The image is published; its thumbnail follows in a moment."
	}
	s.showAdminProduct(w, r, http.StatusOK, p)
}

// adminSave sends the form's changes as a conditional PATCH: a product someone else changed
// since the form was shown is not overwritten (412), and the form comes back with it as it is now.
func (s *shop) adminSave(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	p, ok := s.loadForAdmin(w, r)
	if !ok {
		return
	}
	p.Name, p.Description, p.Price = r.PostFormValue("name"), r.PostFormValue("description"), strings.TrimSpace(r.PostFormValue("price"))
	cents, ok := parsePrice(p.Price)
	if !ok {
		p.Errors = map[string]string{"price": "must be an amount such as 19.99"}
		s.showAdminProduct(w, r, http.StatusUnprocessableEntity, p)
		return
	}
	body := map[string]any{"name": p.Name, "description": p.Description, "price_cents": cents}
	header := s.admin.bearer()
	header["If-Match"] = r.PostFormValue("etag")
	path := "/api/v1/admin/products/" + strconv.FormatInt(p.Product.ID, 10)
	a := s.callAPI(w, r, http.MethodPatch, path, body, header)
	switch {
	case a.status == http.StatusOK:
		http.Redirect(w, r, path[len("/api/v1"):]+"?done=saved", http.StatusSeeOther)
	case a.status == http.StatusPreconditionFailed:
		fresh, ok := s.loadForAdmin(w, r)
		if !ok {
			return
		}
		fresh.Problem = "Someone changed this product while you edited it. This is it now: make your change again."
		s.showAdminProduct(w, r, http.StatusPreconditionFailed, fresh)
	default:
		s.adminFormFailed(w, r, a, p)
	}
}

// adminGrant asks the catalog for an upload grant and shows the form that posts the file
// straight to storage (the edge's /media/), which then sends the browser back here.
func (s *shop) adminGrant(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	p, ok := s.loadForAdmin(w, r)
	if !ok {
		return
	}
	id := strconv.FormatInt(p.Product.ID, 10)
	body := map[string]string{"content_type": r.PostFormValue("content_type"), "return_path": "/admin/products/" + id + "/image"}
	a := s.callAPI(w, r, http.MethodPost, "/api/v1/admin/products/"+id+"/image-uploads", body, s.admin.bearer())
	var g uploadGrant
	switch {
	case a.status == http.StatusCreated && json.Unmarshal(a.body, &g) == nil:
		p.Grant = &g
		s.showAdminProduct(w, r, http.StatusOK, p)
	case a.status == http.StatusCreated: // a grant it cannot read
		s.failed(w, r, a.err())
	default:
		s.adminFormFailed(w, r, a, p)
	}
}

// adminUploaded is where storage sends the browser after the upload (with ?bucket, key and
// etag): it offers to publish that upload. Publishing is a POST, never a side effect of this GET.
func (s *shop) adminUploaded(w http.ResponseWriter, r *http.Request) {
	p, ok := s.loadForAdmin(w, r)
	if !ok {
		return
	}
	key := r.URL.Query().Get("key")
	if !strings.HasPrefix(key, "uploads/"+strconv.FormatInt(p.Product.ID, 10)+"/") {
		p.Problem = "Storage did not say which upload this was: upload the image again."
		s.showAdminProduct(w, r, http.StatusBadRequest, p)
		return
	}
	p.Uploaded = key
	s.showAdminProduct(w, r, http.StatusOK, p)
}

func (s *shop) adminPublish(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	p, ok := s.loadForAdmin(w, r)
	if !ok {
		return
	}
	path := "/api/v1/admin/products/" + strconv.FormatInt(p.Product.ID, 10) + "/image"
	a := s.callAPI(w, r, http.MethodPut, path, map[string]string{"key": r.PostFormValue("key")}, s.admin.bearer())
	switch {
	case a.status == http.StatusOK:
		http.Redirect(w, r, "/admin/products/"+strconv.FormatInt(p.Product.ID, 10)+"?done=published", http.StatusSeeOther)
	default:
		s.adminFormFailed(w, r, a, p)
	}
}

// priceInput is cents as the price field shows them: 19.99.
func priceInput(cents int64) string { return fmt.Sprintf("%d.%02d", cents/100, cents%100) }

var priceForm = regexp.MustCompile(`^([0-9]{1,9})(?:\.([0-9]{1,2}))?$`)

// parsePrice reads the price field (19.99, 19.9 or 19) as cents.
func parsePrice(s string) (int64, bool) {
	m := priceForm.FindStringSubmatch(s)
	if m == nil {
		return 0, false
	}
	whole, _ := strconv.ParseInt(m[1], 10, 64)
	frac := m[2] + "00"[len(m[2]):]
	cents, _ := strconv.ParseInt(frac, 10, 64)
	return whole*100 + cents, true
}
