// Package catalog holds the product catalog's domain: products, the changes an admin may make
// to them, and the rules those changes must follow. It knows nothing of storage or transport.
package catalog

import (
	"errors"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/flashcrowd/flashcrowd/contracts/media"
)

// Errors the storage layer returns, mapped to HTTP statuses by the API.
var (
	ErrNotFound = errors.New("product not found")
	ErrConflict = errors.New("product conflicts with an existing one")
	// ErrVersion means the product changed since the version the caller based its change on.
	ErrVersion = errors.New("product has changed since that version")
	// ErrStock means a stock adjustment would take the stock below zero or above MaxStock.
	ErrStock = errors.New("stock would leave its bounds")
	// ErrTimeout means a statement ran past its time limit (the app role's statement_timeout,
	// or the deadline of the load it ran for): the caller should try again later, or ask for less.
	ErrTimeout = errors.New("the query ran past its time limit")
	// ErrUnavailable means no database server could take the statement (no primary during a
	// failover, a server restarting): nothing is wrong with the request, and it will succeed
	// once one does.
	ErrUnavailable = errors.New("the database is unavailable")
)

// Product is one item for sale. Prices are in minor units (cents) of Currency.
type Product struct {
	ID          int64     `json:"id"`
	SKU         string    `json:"sku"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	PriceCents  int64     `json:"price_cents"`
	Currency    string    `json:"currency"`
	Stock       int32     `json:"stock"`
	CategoryID  int32     `json:"category_id,omitempty"` // 0: uncategorised
	Attributes  Attrs     `json:"attributes"`
	Featured    bool      `json:"featured"`
	ImageKey    string    `json:"image_key,omitempty"`
	Version     int32     `json:"version"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// Attrs are a product's free-form attributes, such as material or colour.
type Attrs map[string]string

// Page is one page of products. NextCursor, when not empty, asks for the page after it.
type Page struct {
	Items      []Product `json:"items"`
	NextCursor string    `json:"next_cursor,omitempty"`
}

// Limits on what a product may hold.
const (
	MaxNameLen        = 200
	MaxDescriptionLen = 5000
	MaxPriceCents     = 100_000_000_00 // a hundred million in major units
	MaxStock          = 1_000_000_000
)

var (
	skuPattern      = regexp.MustCompile(`^[A-Z0-9][A-Z0-9-]{2,31}$`)
	currencyPattern = regexp.MustCompile(`^[A-Z]{3}$`)
)

// NewProduct is what an admin sends to create a product.
type NewProduct struct {
	SKU         string `json:"sku"`
	Name        string `json:"name"`
	Description string `json:"description"`
	PriceCents  int64  `json:"price_cents"`
	Currency    string `json:"currency"`
	Stock       int32  `json:"stock"`
	CategoryID  int32  `json:"category_id"`
	Attributes  Attrs  `json:"attributes"`
	Featured    bool   `json:"featured"`
}

// Valid reports field → problem; empty when the product may be created. Whether the category
// exists is for the caller to check: it knows the tree.
func (n NewProduct) Valid() map[string]string {
	errs := map[string]string{}
	if !skuPattern.MatchString(n.SKU) {
		errs["sku"] = "must be 3 to 32 upper-case letters, digits or dashes"
	}
	checkName(errs, n.Name)
	checkDescription(errs, n.Description)
	checkPrice(errs, n.PriceCents)
	if !currencyPattern.MatchString(n.Currency) {
		errs["currency"] = "must be a three-letter ISO 4217 code such as EUR"
	}
	checkStock(errs, n.Stock)
	checkCategory(errs, n.CategoryID)
	checkAttrs(errs, n.Attributes)
	return errs
}

// ProductPatch is a partial update: nil fields stay as they are. Version, when set, is the
// version the change is based on: the update fails with ErrVersion if the product moved on.
type ProductPatch struct {
	Name        *string `json:"name"`
	Description *string `json:"description"`
	PriceCents  *int64  `json:"price_cents"`
	Stock       *int32  `json:"stock"`
	CategoryID  *int32  `json:"category_id"`
	Attributes  *Attrs  `json:"attributes"`
	Featured    *bool   `json:"featured"`
	Version     *int32  `json:"version"`
}

// Valid reports field → problem; empty when the patch may be applied.
func (p ProductPatch) Valid() map[string]string {
	errs := map[string]string{}
	if p.Name == nil && p.Description == nil && p.PriceCents == nil && p.Stock == nil &&
		p.CategoryID == nil && p.Attributes == nil && p.Featured == nil {
		errs["body"] = "change at least one of name, description, price_cents, stock, category_id, attributes, featured"
	}
	if p.Name != nil {
		checkName(errs, *p.Name)
	}
	if p.Description != nil {
		checkDescription(errs, *p.Description)
	}
	if p.PriceCents != nil {
		checkPrice(errs, *p.PriceCents)
	}
	if p.Stock != nil {
		checkStock(errs, *p.Stock)
	}
	if p.CategoryID != nil {
		checkCategory(errs, *p.CategoryID)
	}
	if p.Attributes != nil {
		checkAttrs(errs, *p.Attributes)
	}
	if p.Version != nil && *p.Version < 1 {
		errs["version"] = "must be a version the product had (1 or more)"
	}
	return errs
}

// StockAdjustment adds Delta (negative to remove) to a product's stock.
type StockAdjustment struct {
	Delta int32 `json:"delta"`
}

// Valid reports field → problem.
func (a StockAdjustment) Valid() map[string]string {
	if a.Delta == 0 || a.Delta < -MaxStock || a.Delta > MaxStock {
		return map[string]string{"delta": "must be a non-zero integer from -1000000000 to 1000000000"}
	}
	return nil
}

// Text reports whether s can be stored as Postgres text: valid UTF-8 without NUL characters
// (JSON's "\u0000" decodes to one, and Postgres refuses it).
func Text(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }

func checkName(errs map[string]string, name string) {
	if n := utf8.RuneCountInString(strings.TrimSpace(name)); n == 0 || n > MaxNameLen || !Text(name) {
		errs["name"] = "must be 1 to 200 characters, without NUL"
	}
}

func checkDescription(errs map[string]string, d string) {
	if utf8.RuneCountInString(d) > MaxDescriptionLen || !Text(d) {
		errs["description"] = "must be at most 5000 characters, without NUL"
	}
}

func checkPrice(errs map[string]string, cents int64) {
	if cents < 0 || cents > MaxPriceCents {
		errs["price_cents"] = "must be between 0 and 10000000000"
	}
}

func checkStock(errs map[string]string, stock int32) {
	if stock < 0 || stock > MaxStock {
		errs["stock"] = "must be between 0 and 1000000000"
	}
}

func checkCategory(errs map[string]string, id int32) {
	if id < 0 {
		errs["category_id"] = "must be the id of a category, or 0 for none"
	}
}

// Limits on attributes: a handful of short strings, not a document store.
const (
	MaxAttrs        = 20
	MaxAttrKeyLen   = 40
	MaxAttrValueLen = 200
)

var attrKeyPattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}$`)

func checkAttrs(errs map[string]string, attrs Attrs) {
	if len(attrs) > MaxAttrs {
		errs["attributes"] = "must have at most 20 entries"
		return
	}
	for k, v := range attrs {
		if !attrKeyPattern.MatchString(k) || utf8.RuneCountInString(v) > MaxAttrValueLen || !Text(v) {
			errs["attributes"] = "keys must be 1 to 40 lower-case letters, digits or _ starting with a letter; values at most 200 characters, without NUL"
			return
		}
	}
}

// ImageUpload asks for a presigned URL to upload one product image.
type ImageUpload struct {
	ContentType string `json:"content_type"`
	// ReturnPath, when set, is where storage sends a browser after a form upload (the
	// policy's success_action_redirect), on the shop's public address: a path, so the grant
	// can send nobody elsewhere. Storage adds ?bucket=…&key=…&etag=… to it.
	ReturnPath string `json:"return_path,omitempty"`
}

// Valid reports field → problem.
func (u ImageUpload) Valid() map[string]string {
	if _, ok := media.ImageTypes[u.ContentType]; !ok {
		return map[string]string{"content_type": "must be image/jpeg or image/png"}
	}
	if u.ReturnPath != "" && !localPath(u.ReturnPath) {
		return map[string]string{"return_path": "must be a path on this site, such as /admin/products/1/image, at most 200 characters"}
	}
	return nil
}

// localPath reports a path of this site without a query: "/x/y", never "//host" or a path with
// a backslash ("/\host"), which browsers take for another host.
func localPath(p string) bool {
	return len(p) <= 200 && Text(p) && strings.HasPrefix(p, "/") && !strings.HasPrefix(p, "//") &&
		!strings.ContainsAny(p, "\\?#") && !strings.ContainsFunc(p, unicode.IsSpace)
}

// ImageAttach records an uploaded image on its product.
type ImageAttach struct {
	Key string `json:"key"`
}

// Valid reports field → problem; it cannot know the product, so the API checks the key's prefix.
func (a ImageAttach) Valid() map[string]string {
	if a.Key == "" || len(a.Key) > 200 || !Text(a.Key) {
		return map[string]string{"key": "must be the key returned by the upload request"}
	}
	return nil
}
